"""The one error family tinymask raises on purpose (README, "When something goes wrong").

Every refusal of a bad input is a :class:`TinymaskError` whose message names the input and the fix. Each one also
derives from the built-in exception a caller would expect (a bad value is a ``ValueError``, a missing file a
``FileNotFoundError``), so ``except ValueError`` keeps working; the command line reports any of them as one line,
never a traceback. Modules add their own subclasses (``deploy.BundleError``, ``footprint.UnsupportedOpError``,
``camera.CameraError``, ...).
"""

__all__ = ["TinymaskError", "InputError", "InputTypeError", "MissingPathError", "NotAFolderError",
           "OutputExistsError", "ToolError"]


class TinymaskError(Exception):
    """Base of every error tinymask raises on purpose: a bad input or a refusal, with what to do about it."""


class InputError(TinymaskError, ValueError):
    """An argument, file or dataset whose value cannot be used as given."""


class InputTypeError(TinymaskError, TypeError):
    """An argument of the wrong type (bytes expected, a list given, ...)."""


class MissingPathError(TinymaskError, FileNotFoundError):
    """A file or folder that does not exist."""


class NotAFolderError(TinymaskError, NotADirectoryError):
    """A file given where a folder is expected."""


class OutputExistsError(TinymaskError, FileExistsError):
    """An output that would overwrite something the user made."""


class ToolError(TinymaskError, RuntimeError):
    """A tool tinymask drives (the converter, TensorFlow Lite Micro, a download, the camera) failed; the message
    says what it printed and what to try."""
