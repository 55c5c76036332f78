"""Run OpenMV camera scripts on a PC against stand-ins of the firmware modules (notebooks/07_openmv_deployment.ipynb).

:func:`run_script` executes a camera script (e.g. ``openmv_scripts/classify.py`` or a bundle's ``main.py``) with host
stand-ins for the modules it imports (``sensor``/``csi``, ``image``, ``ml``, ``time``, ``machine``, ``pyb``, ``gc``,
``os``, ``omv``), fed with a list of frames, and returns what it printed and, per frame, the model's inputs and
scores, the labels it printed and the LED states. This module holds the board a run shares (frames, virtual time,
LEDs, printed lines), its file system, the run records (:class:`FrameRecord`, :class:`RunResult`) and
:func:`run_script`. The stand-in modules are built in :mod:`tinymask.openmv_stubs` (one ``_<name>_module`` function
each, whose docstring names the firmware source it follows) and the firmware's classes (``Image``, ``HaarCascade``,
``Model``) are :mod:`tinymask.openmv_classes`; both are re-exported here, so ``openmv_emu.Image`` still works.

The firmware's preprocessing (:func:`firmware_pixels`, :func:`firmware_input`, the RGB565 conversions,
:func:`draw_image`) lives in :mod:`tinymask.openmv_pixels`, which needs none of this sandbox; every name there is
re-exported here, so ``openmv_emu.firmware_input`` is ``openmv_pixels.firmware_input``. The ``ml.Model`` stand-in
feeds the model exactly that input.

What is a stand-in and not the firmware: the camera returns the frames it is given whatever frame size or
window the script asks for (pass frames of the size the script would see); GRAYSCALE frames are made from the
RGB565 frame with the firmware's ``COLOR_RGB565_TO_Y`` (a real sensor makes Y in its own DSP);
``image.HaarCascade`` does not run a cascade: it returns one centred square "face" per frame (or the boxes you
pass as ``faces=``); ``draw_string`` only records the text; time is virtual (``capture_ms`` a snapshot,
``inference_ms`` a predict), so the FPS a script prints here follows from those two numbers, not from a
measurement. Modules are handed to the script through its own ``__import__``: ``sys.modules`` is not touched.
"""

import builtins
import io
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import openmv_pixels
from .dataset import labels_from_scores
from .errors import InputError, TinymaskError
from .openmv_classes import CURRENT_BOARD, GRAYSCALE, RGB565, HaarCascade, Image, Model  # noqa: F401 (GRAYSCALE: re-exported)
from .openmv_pixels import *  # noqa: F403 - the pixel maths, re-exported (openmv_pixels.__all__)
from .openmv_pixels import camera_pixels
from .openmv_stubs import BoardReset, make_modules

__all__ = [
    "FIRMWARES",
    "FIRMWARE_MODULES",
    *openmv_pixels.__all__,  # re-exported: the firmware's pixel maths
    # re-exported from openmv_classes and openmv_stubs
    "Image",
    "HaarCascade",
    "Model",
    "BoardReset",
    "FramesExhausted",
    "ScriptError",
    "FrameRecord",
    "RunResult",
    "run_script",
]

#: Firmware versions the stand-ins know how to behave like (``run_script(firmware=...)``).
FIRMWARES = ("4.5.6", "4.7.0", "4.8.1", "5.0.0")
#: Modules a camera script may import: MicroPython's and OpenMV's own (the ones the emulator has no stand-in for
#: are the host's ``math``, ``struct``, ``sys``, ``json`` and ``random``).
FIRMWARE_MODULES = frozenset({
    "os", "time", "gc", "math", "sys", "struct", "random", "json", "micropython", "uos", "utime",
    "sensor", "csi", "image", "ml", "machine", "pyb", "display", "tf", "omv",
})
_HOST_MODULES = {"math", "struct", "sys", "json", "random"}


# --------------------------------------------------------------------------------------------- the board
class FramesExhausted(BaseException):
    """Raised by the camera stand-in when the frames run out: it ends the script's loop (a BaseException, so a
    script's ``except Exception`` does not swallow it)."""


class ScriptError(TinymaskError, RuntimeError):
    """The script raised an exception; ``.printed`` holds what it printed before, ``.error`` the exception."""

    def __init__(self, message, printed, error):
        super().__init__(message)
        self.printed, self.error = printed, error


@dataclass
class FrameRecord:
    """What happened between one snapshot and the next: printed lines, the model's int8/float inputs and float
    score arrays (one per ``predict`` call), the ``label=``/``class=`` values the script printed, the LED states
    at the end of the frame and the drawing calls made on the frame."""

    index: int
    printed: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    leds: dict = field(default_factory=dict)
    drawn: list = field(default_factory=list)

    def _values(self, key):
        return [m.group(1) for line in self.printed for m in re.finditer(rf"\b{key}=(\S+)", line)]

    @property
    def labels(self):
        return self._values("label")

    @property
    def classes(self):
        return self._values("class")

    @property
    def predicted(self):
        """Arg-max class index of each prediction (score >= 0.5 for a single output)."""
        return [int(labels_from_scores(np.asarray(scores[0]).reshape(1, -1))[0]) for scores in self.scores]


@dataclass
class RunResult:
    """:func:`run_script`'s answer: everything printed, per-frame :class:`FrameRecord` rows, what was printed before
    the first frame (``setup``), calls the stand-ins noted (``events``) and how the script ended (``ended``:
    ``"frames exhausted"``, ``"returned"`` or ``"board reset"``)."""

    printed: list
    frames: list
    setup: list
    events: list
    ended: str
    firmware: str

    @property
    def labels(self):
        """The first ``label=`` the script printed in each frame (None where it printed none)."""
        return [f.labels[0] if f.labels else None for f in self.frames]

    @property
    def classes(self):
        return [f.classes[0] if f.classes else None for f in self.frames]

    @property
    def predicted(self):
        """Arg-max class index of the first prediction in each frame (None where the model did not run)."""
        return [f.predicted[0] if f.predicted else None for f in self.frames]

    @property
    def leds(self):
        return [f.leds for f in self.frames]

    @property
    def text(self):
        return "\n".join(self.printed)


class _FS:
    """A tiny file system: absolute paths -> bytes. Relative paths and ``/flash/...`` name the drive root."""

    def __init__(self, files, sd_card, version=(5, 0, 0)):
        # The SD card is mounted at /sdcard from firmware 4.6 (scripts/libraries/_boot.py v4.6.0); on 4.5.6 it
        # replaces the internal drive as /.
        self.files, self.sd_card = {}, sd_card
        self.sd_mount = "/sdcard" if version >= (4, 6, 0) else "/"
        self.dirs = {"/"} | ({self.sd_mount} if sd_card else set())
        for name, content in (files or {}).items():
            if isinstance(content, Path):
                content = content.read_bytes()
            self.write(name, content.encode() if isinstance(content, str) else bytes(content))

    @staticmethod
    def norm(path):
        path = str(path)
        if path.startswith("/flash/"):
            path = path[len("/flash"):]
        if not path.startswith("/"):
            path = "/" + path
        parts = [p for p in path.split("/") if p and p != "."]
        return "/" + "/".join(parts)

    def read(self, path):
        key = self.norm(path)
        if key not in self.files:
            raise OSError(2, f"No such file or directory: {path!r}")
        return self.files[key]

    def write(self, path, data):
        key = self.norm(path)
        parent = key.rsplit("/", 1)[0] or "/"
        if parent.startswith("/sdcard") and not (self.sd_card and self.sd_mount == "/sdcard"):
            raise OSError(2, f"No such file or directory: {path!r} (no SD card)")
        self.files[key] = bytes(data)
        while parent not in self.dirs:
            self.dirs.add(parent)
            parent = parent.rsplit("/", 1)[0] or "/"

    def stat(self, path):
        """``os.stat(path)``: a file's or folder's mode and size (the ``os`` stand-in's ``stat``)."""
        key = self.norm(path)
        if key in self.files:
            return (0o100000, 0, 0, 0, 0, 0, len(self.files[key]), 0, 0, 0)
        if key in self.dirs:
            return (0o040000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2, f"No such file or directory: {path!r}")

    def listdir(self, path="/"):
        key = self.norm(path)
        if key not in self.dirs:
            raise OSError(2, f"No such file or directory: {path!r}")
        prefix = key.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in (*self.files, *self.dirs) if p.startswith(prefix) and p != key}
        return sorted(n for n in names if n)

    def mkdir(self, path):
        key = self.norm(path)
        if key in self.dirs or key in self.files:
            raise OSError(17, f"File exists: {path!r}")
        self.dirs.add(key)

    def open(self, path, mode="r", *args, **kwargs):
        if "w" in mode or "a" in mode:
            fs, binary = self, "b" in mode
            stream = io.BytesIO() if binary else io.StringIO()
            close = stream.close

            def closer():
                data = stream.getvalue()
                fs.write(path, data if binary else data.encode())
                close()

            stream.close = closer
            return stream
        data = self.read(path)
        return io.BytesIO(data) if "b" in mode else io.StringIO(data.decode())


class _Board:
    """State shared by the stand-in modules during one run."""

    def __init__(self, frames, firmware, files, max_frames, cycle, faces, capture_ms, inference_ms, board,
                 sd_card, preprocess):
        self.firmware = firmware
        self.version = tuple(int(v) for v in (firmware.split(".") + ["0", "0"])[:3])
        self.frames = frames
        self.limit = max_frames if max_frames is not None else (None if cycle else len(frames))
        self.cycle, self.faces, self.preprocess = cycle, faces, preprocess
        self.capture_us, self.inference_us = 1000.0 * capture_ms, 1000.0 * inference_ms
        self.board_type = board
        self.fs = _FS(files, sd_card, self.version)
        self.now_us = 0.0
        self.frame_index = -1
        self.pixformat = RGB565
        self.printed, self.setup, self.records, self.events = [], [], [], []
        self.leds = {"red": False, "green": False, "blue": False, "ir": False}
        self._line = ""
        self._current = None

    # time
    def advance_ms(self, ms):
        self.now_us += 1000.0 * float(ms)

    # output
    def write(self, text):
        self._line += text
        *lines, self._line = self._line.split("\n")
        for line in lines:
            self.printed.append(line)
            (self.records[-1].printed if self.records else self.setup).append(line)

    def flush(self):
        if self._line:
            self.write("\n")

    def event(self, name, **details):
        self.events.append((name, details))

    # camera
    def snapshot(self, settle=False):
        if settle:  # skip_frames / snapshot(time=...): let the (stand-in) sensor settle, use no frame
            return self._image(max(self.frame_index, 0) % len(self.frames))
        if self.limit is not None and self.frame_index + 1 >= self.limit:
            raise FramesExhausted
        self._close_frame()
        self.frame_index += 1
        self.now_us += self.capture_us
        self.records.append(FrameRecord(self.frame_index))
        img = self._image(self.frame_index % len(self.frames))
        self._current = img
        return img

    def _image(self, i):
        return Image.from_frame(self.frames[i], self.pixformat, self)

    def _close_frame(self):
        if self.records:
            self.records[-1].leds = dict(self.leds)
            self.records[-1].drawn = list(self._current.drawn) if self._current is not None else []

    def record_prediction(self, tensors, outputs):
        self.now_us += self.inference_us
        target = self.records[-1] if self.records else None
        if target is not None:
            target.inputs.append(tensors[0] if len(tensors) == 1 else tensors)
            target.scores.append([np.asarray(o) for o in outputs])


def _source(script):
    if isinstance(script, Path) or (isinstance(script, str) and "\n" not in script and script.endswith(".py")):
        path = Path(script)
        return path.read_text(), path.name
    return str(script), "<script>"


def _frames(frames):
    frames = getattr(frames, "images", frames)
    out = [np.asarray(f) for f in frames]
    if not out:
        raise InputError("no frames: pass a list or an (n, h, w, 3) array of images, e.g. synth.samples('camera')")
    for f in out:
        camera_pixels(f)
    return out


def run_script(script, frames, *, files=None, firmware="4.7.0", max_frames=None, cycle=False, faces=None,
               capture_ms=10.0, inference_ms=150.0, board="EMULATOR", sd_card=False, preprocess=None,
               raise_errors=True):
    """Run a camera script on the PC with the stand-in modules; returns a :class:`RunResult`.

    ``script``: a path to a .py file or its source. ``frames``: images the camera returns one per ``snapshot()``
    (an (n, h, w, 3) uint8 array, a list of frames, or a ``synth`` Batch); when they run out (or after
    ``max_frames`` snapshots) the camera raises :class:`FramesExhausted`, which ends the run. ``cycle=True``
    repeats the frames (then give ``max_frames``). ``files``: the camera's drive, ``{name: bytes | str | Path}``
    (e.g. a bundle's model and labels). ``firmware``: one of :data:`FIRMWARES`; 5.x adds the ``csi`` module,
    refuses ``load_to_fb`` and takes ``find_features(scale=)``; 4.x takes ``scale_factor=``; 4.7+ reads
    ``<model>.txt`` into ``model.labels`` and has the cascade at ``/rom/haarcascade_frontalface.cascade``.
    ``faces``: boxes the Haar stand-in returns, a list per frame or ``callable(frame_index, image)``.
    ``capture_ms``/``inference_ms``: virtual time a snapshot and a predict take. ``preprocess``: replaces
    :func:`firmware_input` as ``preprocess(image, input_shape, dtype)`` (to show what a wrong preprocessing
    does). An exception in the script is raised as :class:`ScriptError` (``raise_errors=False``: the run stops
    and ``ended`` names it).
    """
    if firmware not in FIRMWARES:
        close = [f for f in FIRMWARES if f.startswith(str(firmware))]
        if len(close) != 1:
            raise InputError(f"firmware {firmware!r}: choose one of {FIRMWARES}")
        firmware = close[0]
    if cycle and max_frames is None:
        raise InputError("cycle=True repeats the frames forever: give max_frames too")
    source, name = _source(script)
    b = _Board(_frames(frames), firmware, files, max_frames, cycle, faces, capture_ms, inference_ms, board,
               sd_card, preprocess)
    modules = make_modules(b)

    def fake_import(mod, globals=None, locals=None, fromlist=(), level=0):
        top = mod.split(".")[0]
        if top in modules:
            return modules[top]
        if top in _HOST_MODULES:
            return builtins.__import__(mod, globals, locals, fromlist, level)
        raise ImportError(f"no module named '{mod}'" + ("" if top in FIRMWARE_MODULES else
                                                        " (not a module of the OpenMV firmware)"))

    def fake_print(*args, sep=" ", end="\n", file=None, flush=False):
        b.write(sep.join(str(a) for a in args) + end)

    fake_builtins = dict(vars(builtins), __import__=fake_import, print=fake_print, open=b.fs.open)
    namespace = {"__name__": "__main__", "__builtins__": fake_builtins, "__file__": name}
    ended = "returned"
    token = CURRENT_BOARD.set(b)
    try:
        exec(compile(source, name, "exec"), namespace)
    except FramesExhausted:
        ended = "frames exhausted"
    except BoardReset:
        ended = "board reset"
    except Exception as error:  # noqa: BLE001 - the script's own error, reported with what it printed
        b.flush()
        if raise_errors:
            tb = "".join(traceback.format_exception_only(type(error), error)).strip()
            raise ScriptError(f"{name} raised {tb} (after {len(b.records)} frames)", b.printed, error) from error
        ended = f"error: {type(error).__name__}: {error}"
    finally:
        CURRENT_BOARD.reset(token)
    b.flush()
    b._close_frame()
    return RunResult(b.printed, b.records, b.setup, b.events, ended, firmware)
