"""The one error family tinymask raises on purpose (README, "When something goes wrong").

Every refusal of a bad input is a :class:`TinymaskError` whose message names the input and the fix. Each one also
derives from the built-in exception a caller would expect (a bad value is a ``ValueError``, a missing file a
``FileNotFoundError``), so ``except ValueError`` keeps working; the command line reports any of them as one line,
never a traceback. Modules add their own subclasses (``deploy.BundleError``, ``footprint.UnsupportedOpError``,
``camera.CameraError``, ...).
"""

__all__ = ["TinymaskError", "InputError", "InputTypeError", "MissingPathError", "NotAFolderError",
           "OutputExistsError", "ToolError", "is_int", "is_number", "describe_error"]


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


# --------------------------------------------------------------------------------------------- checks
def is_int(value):
    """True for an ``int`` that is not a ``bool`` (``True`` is an int in Python, and never a count or a seed).

    The one type check behind every "must be an int" refusal (``memory.tensor_bytes``, ``models.mobilenet_v1``,
    ``quantize.calibration_images``, ``setup``, ...); each caller keeps its own message."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    """True for an ``int`` or ``float`` that is not a ``bool`` (used by ``latency``, ``board_fit``, ``models``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def describe_error(error, limit=120):
    """``"TypeName: message"`` on one line, the message cut to ``limit`` characters: how a caught error is quoted
    inside another message (``weight_files.load_weights``, ``quantize.to_int8``)."""
    text = " ".join(str(error).split())
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
