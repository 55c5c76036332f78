"""Run OpenMV camera scripts on a PC against stand-ins of the firmware modules (notebooks/06_openmv_deployment.ipynb).

:func:`run_script` executes a camera script (e.g. ``openmv_scripts/classify.py`` or a bundle's ``main.py``) with host
stand-ins for the modules it imports (``sensor``/``csi``, ``image``, ``ml``, ``time``, ``machine``, ``pyb``, ``gc``,
``os``, ``omv``), fed with a list of frames, and returns what it printed and, per frame, the model's inputs and
scores, the labels it printed and the LED states. Each stand-in module is built by one ``_<name>_module`` function
whose docstring names the firmware source it follows.

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
import contextvars
import io
import re
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, InputTypeError, TinymaskError
from .openmv_pixels import (
    ASPECT,
    aspect_for,
    camera_pixels,
    draw_image,
    firmware_input,
    firmware_inputs,
    firmware_pixels,
    gray_to_rgb565,
    rgb565_round_trip,
    rgb565_to_gray,
    rgb565_to_rgb888,
    rgb888_to_rgb565,
)

__all__ = [
    "FIRMWARES",
    "FIRMWARE_MODULES",
    # re-exported from openmv_pixels
    "rgb888_to_rgb565",
    "rgb565_to_rgb888",
    "rgb565_round_trip",
    "rgb565_to_gray",
    "gray_to_rgb565",
    "ASPECT",
    "aspect_for",
    "draw_image",
    "camera_pixels",
    "firmware_pixels",
    "firmware_input",
    "firmware_inputs",
    "Image",
    "HaarCascade",
    "Model",
    "FramesExhausted",
    "BoardReset",
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

RGB565, GRAYSCALE = "RGB565", "GRAYSCALE"
_BOARD = contextvars.ContextVar("tinymask_openmv_board", default=None)  # the board of the run in progress
_FRAMESIZES = {"QQVGA": (160, 120), "QVGA": (320, 240), "VGA": (640, 480), "HQVGA": (240, 160),
               "B64X64": (64, 64), "B128X128": (128, 128), "QCIF": (176, 144), "HVGA": (480, 320)}


# --------------------------------------------------------------------------------------------- image module
def _colour(value, pixformat):
    if value is None:
        value = (255, 255, 255)
    if isinstance(value, (tuple, list)):
        rgb = np.array(value[:3], dtype=np.uint8)
        p = int(rgb888_to_rgb565(rgb))
        return p if pixformat == RGB565 else int(rgb565_to_gray(np.uint16(p)))
    return int(value)


def _rect(args, kwargs, version):
    """A rectangle as the firmware parses it: v5.0.0 takes one (x, y, w, h) tuple and refuses four ints ("object
    'int' isn't a tuple or list", seen on the real 5.0.0 firmware); 4.x takes four ints or one 4-tuple."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)) and len(args[0]) == 4:
        return tuple(int(v) for v in args[0])
    if len(args) >= 4 and version < (5, 0, 0):
        return tuple(int(v) for v in args[:4])
    if len(args) >= 1 and not isinstance(args[0], (tuple, list)):
        raise InputTypeError("object 'int' isn't a tuple or list")
    raise InputTypeError("draw_rectangle takes a rectangle (x, y, w, h)")


def _point(args, version):
    """A draw_string position: ``(x, y)`` on v5.0.0 (flat ints raise); ``x, y`` on 4.x, where a 2-tuple raises."""
    if version >= (5, 0, 0):
        if not isinstance(args[0], (tuple, list)):
            raise InputTypeError("object 'int' isn't a tuple or list")
        return (int(args[0][0]), int(args[0][1])), args[1:]
    if isinstance(args[0], (tuple, list)):  # py_helper_consume_array in 4.x: (x, y, text) read as one array
        raise InputError(f"requested length 3 but object has length {len(args[0])}")
    return (int(args[0]), int(args[1])), args[2:]


class Image:
    """Stand-in for OpenMV's ``image.Image``: RGB565 (uint16) or GRAYSCALE (uint8) pixels, (h, w).

    Scripts make one with ``image.Image(width, height, pixformat)``; the camera stand-in makes them from frames.
    ``draw_rectangle`` draws pixels (as the firmware does, so drawing before ``predict`` would change what the model
    sees); ``draw_string`` and the other drawing calls only record the call in ``drawn``.
    """

    def __init__(self, width, height=None, pixformat=RGB565, *, _data=None, _board=None, **kwargs):
        if _data is None:
            dtype = np.uint16 if pixformat == RGB565 else np.uint8
            _data = np.zeros((int(height), int(width)), dtype=dtype)
        self._data = _data
        self._board = _board if _board is not None else _BOARD.get()
        self.drawn = []

    @classmethod
    def from_frame(cls, frame, pixformat=RGB565, board=None):
        """An Image of a frame (uint8 RGB, uint16 RGB565 or uint8 grayscale) in ``pixformat``."""
        data = camera_pixels(frame)
        if pixformat == GRAYSCALE and data.dtype == np.uint16:
            data = rgb565_to_gray(data)
        elif pixformat == RGB565 and data.dtype == np.uint8:
            data = gray_to_rgb565(data)
        return cls(0, _data=np.array(data), _board=board)

    def __array__(self, dtype=None, copy=None):
        """Host-only: the pixels as numpy sees them (uint16 RGB565 or uint8 grayscale, (h, w)), e.g. for
        :func:`~tinymask.openmv_pixels.firmware_pixels`."""
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return np.asarray(self._data, dtype=dtype)

    def width(self):
        return int(self._data.shape[1])

    def height(self):
        return int(self._data.shape[0])

    def format(self):
        return RGB565 if self._data.dtype == np.uint16 else GRAYSCALE

    def size(self):
        return int(self._data.nbytes)

    def to_rgb888(self):
        """Host-only: the pixels as uint8 RGB (h, w, 3), e.g. for plotting."""
        if self._data.dtype == np.uint16:
            return rgb565_to_rgb888(self._data)
        return np.repeat(self._data[..., None], 3, axis=-1)

    def _roi(self, roi):
        if roi is None:
            return 0, 0, self.width(), self.height()
        x, y, w, h = (int(v) for v in roi)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width()), min(y + h, self.height())
        if x1 <= x0 or y1 <= y0:
            raise InputError("ROI does not overlap on the image!")
        return x0, y0, x1 - x0, y1 - y0

    def copy(self, roi=None, x_scale=1.0, y_scale=1.0, copy_to_fb=False, **kwargs):
        if x_scale != 1.0 or y_scale != 1.0:
            raise NotImplementedError("the emulator's Image.copy only crops (roi=); scaling is not emulated")
        x, y, w, h = self._roi(roi)
        return Image(0, _data=self._data[y:y + h, x:x + w].copy(), _board=self._board)

    def crop(self, roi=None, **kwargs):
        """In place, as on the camera; returns the image."""
        x, y, w, h = self._roi(roi)
        self._data = self._data[y:y + h, x:x + w].copy()
        return self

    def to_grayscale(self, copy=False, **kwargs):
        data = rgb565_to_gray(self._data) if self._data.dtype == np.uint16 else self._data.copy()
        if copy:
            return Image(0, _data=data, _board=self._board)
        self._data = data
        return self

    def get_pixel(self, x, y, rgbtuple=None):
        if not (0 <= x < self.width() and 0 <= y < self.height()):
            return None
        p = self._data[y, x]
        if rgbtuple is None:
            rgbtuple = self._data.dtype == np.uint16
        if rgbtuple:
            rgb = rgb565_to_rgb888(p) if self._data.dtype == np.uint16 else np.repeat(p, 3)
            return tuple(int(v) for v in rgb)
        return int(p)

    def _version(self):
        return self._board.version if self._board is not None else (5, 0, 0)

    def draw_rectangle(self, *args, color=None, thickness=1, fill=False, **kwargs):
        rx, ry, rw, rh = _rect(args, kwargs, self._version())
        c = _colour(color, self.format())
        H, W = self._data.shape

        def paint(x0, x1, y0, y1):  # inclusive bounds, clipped
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W - 1), min(y1, H - 1)
            if x0 <= x1 and y0 <= y1:
                self._data[y0:y1 + 1, x0:x1 + 1] = c

        if fill:
            paint(rx, rx + rw - 1, ry, ry + rh - 1)
        elif thickness > 0:
            t0, t1 = thickness // 2, (thickness - 1) // 2
            paint(rx - t0, rx + rw + t1 - 1, ry - t0, ry + t1)  # top
            paint(rx - t0, rx + rw + t1 - 1, ry + rh - 1 - t0, ry + rh - 1 + t1)  # bottom
            paint(rx - t0, rx + t1, ry - t0, ry + rh + t1 - 1)  # left
            paint(rx + rw - 1 - t0, rx + rw - 1 + t1, ry - t0, ry + rh + t1 - 1)  # right
        self.drawn.append(("rectangle", (rx, ry, rw, rh), color))
        return self

    def draw_string(self, *args, color=None, scale=1.0, **kwargs):
        (x, y), rest = _point(args, self._version())
        self.drawn.append(("string", (x, y), str(rest[0] if rest else kwargs.get("text", ""))))
        return self

    def _record(name):
        def method(self, *args, **kwargs):
            self.drawn.append((name, args, kwargs.get("color")))
            return self

        method.__name__ = name
        return method

    draw_cross = _record("cross")
    draw_circle = _record("circle")
    draw_line = _record("line")
    del _record

    def find_features(self, cascade, threshold=0.5, roi=None, **kwargs):
        board = self._board
        major = board.version[0] if board is not None else 5
        # v5.0.0 parses keywords strictly (scale_factor= raises "extra keyword arguments given"); 4.x looks its
        # keywords up by name (py_image.c) and silently ignores others, such as 5.0's scale=.
        if major >= 5 and set(kwargs) - {"scale"}:
            raise InputTypeError("extra keyword arguments given")
        if board is not None:
            board.event("find_features", **kwargs)
        return cascade.detect(self, board)

    def save(self, path, quality=90, **kwargs):
        """Stores the RGB888 pixels (not a real JPEG) under ``path`` in the virtual file system."""
        if self._board is not None:
            self._board.fs.write(path, self.to_rgb888().tobytes())

    def __repr__(self):
        return f"<emulated image {self.width()}x{self.height()} {self.format()}>"


class HaarCascade:
    """Stand-in for ``image.HaarCascade``: no cascade runs. ``detect`` returns the boxes ``faces=`` gave
    :func:`run_script` for the current frame, else one centred square covering ``FACE_FRACTION`` of the shorter
    side. It checks the path as the firmware would: ``/rom/haarcascade_frontalface.cascade`` from 4.7,
    ``frontalface`` before."""

    FACE_FRACTION = 0.7

    def __init__(self, path, stages=25, _board=None):
        version = _board.version if _board is not None else (5, 0, 0)
        valid = "/rom/haarcascade_frontalface.cascade" if version >= (4, 7, 0) else "frontalface"
        if path != valid:
            raise OSError(2, f"No such file or directory: {path!r} (firmware {'.'.join(map(str, version))} "
                             f"has the frontal-face cascade at {valid!r})")
        self.path, self.stages, self._board = path, stages, _board
        if _board is not None:
            _board.event("haar_cascade", path=path, stages=stages)

    def detect(self, img, board=None):
        board = board or self._board
        if board is not None and board.faces is not None:
            faces = board.faces
            boxes = faces(board.frame_index, img) if callable(faces) else faces[board.frame_index]
            return [tuple(int(v) for v in box) for box in boxes]
        side = int(self.FACE_FRACTION * min(img.width(), img.height()))
        return [((img.width() - side) // 2, (img.height() - side) // 2, side, side)]

    def __repr__(self):
        return f"<emulated HaarCascade {self.path!r} stages={self.stages}>"


# --------------------------------------------------------------------------------------------- ml module
class Model:
    """Stand-in for ``ml.Model``: the .tflite file from the virtual file system, run by the LiteRT interpreter on
    exactly the input the firmware makes (:func:`firmware_input`), outputs dequantized to float32 as the firmware
    does. Attributes as on the camera: ``input_shape``, ``input_dtype``, ``input_scale``, ``input_zero_point``,
    ``output_*`` (lists, one entry per tensor), ``labels`` (firmware 4.7+: the lines of ``<path up to the first
    dot>.txt``, else None) and ``len`` (bytes)."""

    def __init__(self, path, *args, _board, **kwargs):
        board = _board
        if args:  # scripts/libraries/ml/ml-core/ml/model.py v5.0.0: one positional argument (4.x's C Model alike)
            raise InputTypeError("extra positional arguments given")
        # v5.0.0's ml/model.py reads only ``postprocess`` from its keywords: ``load_to_fb`` is accepted and ignored
        # (seen on the real 5.0.0 firmware in QEMU); on 4.x it puts the model in the frame buffer.
        data = board.fs.read(path)
        from . import quantize

        self._board = board
        self._interpreter = quantize.Runner(data).interpreter
        ins, outs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        self.len = len(data)
        self.input_shape = [tuple(int(d) for d in t["shape"]) for t in ins]
        self.input_dtype = [np.dtype(t["dtype"]).char for t in ins]
        self.input_scale = [float(t["quantization"][0]) for t in ins]
        self.input_zero_point = [int(t["quantization"][1]) for t in ins]
        self.output_shape = [tuple(int(d) for d in t["shape"]) for t in outs]
        self.output_dtype = [np.dtype(t["dtype"]).char for t in outs]
        self.output_scale = [float(t["quantization"][0]) for t in outs]
        self.output_zero_point = [int(t["quantization"][1]) for t in outs]
        self._ins, self._outs = ins, outs
        self.labels = None
        if board.version >= (4, 7, 0):
            try:
                text = board.fs.read(path.split(".")[0] + ".txt").decode()
                self.labels = [line.rstrip("\n") for line in text.splitlines(True)]
            except OSError:
                pass
        board.event("model", path=path, **kwargs)

    def _tensor(self, arg, i):
        shape, char = self.input_shape[i], self.input_dtype[i]
        if char == "B":
            raise InputError("uint8 models no longer run on OpenMV firmware: convert with quantize.to_int8 "
                             "(int8 input)")
        dtype = np.int8 if char == "b" else np.float32
        if isinstance(arg, Image):
            hook = self._board.preprocess
            tensor = hook(arg, shape, dtype) if hook is not None else \
                firmware_input(arg, shape, dtype, firmware=self._board.firmware)
            return np.asarray(tensor, dtype=dtype).reshape(shape)
        array = np.asarray(arg, dtype=np.float32)
        if array.size != int(np.prod(shape)):
            raise InputError("Input shape does not match the model input shape")
        if dtype == np.float32:
            return array.reshape(shape)
        q = np.trunc(array * np.float32(1.0 / self.input_scale[i]) + self.input_zero_point[i])
        return np.clip(q, -128, 127).astype(np.int8).reshape(shape)

    def predict(self, inputs, callback=None, **kwargs):
        if not isinstance(inputs, list):
            raise InputError("Unsupported input type. Expected a list")
        tensors = [self._tensor(arg, i) for i, arg in enumerate(inputs)]
        for detail, tensor in zip(self._ins, tensors):
            self._interpreter.set_tensor(detail["index"], tensor)
        self._interpreter.invoke()
        outputs = []
        for i, detail in enumerate(self._outs):
            raw = self._interpreter.get_tensor(detail["index"])
            if self.output_dtype[i] == "f":
                outputs.append(raw.astype(np.float32).copy())
            else:
                value = raw.astype(np.float32) - np.float32(self.output_zero_point[i])
                outputs.append(value * np.float32(self.output_scale[i]))
        self._board.record_prediction(tensors, outputs)
        if callback is not None:
            return callback(self, inputs, outputs)
        return outputs

    def __repr__(self):
        return (f"<emulated ml.Model {self.len} B, input {self.input_shape} {self.input_dtype}, "
                f"output {self.output_shape}>")


# --------------------------------------------------------------------------------------------- the board
class FramesExhausted(BaseException):
    """Raised by the camera stand-in when the frames run out: it ends the script's loop (a BaseException, so a
    script's ``except Exception`` does not swallow it)."""


class BoardReset(BaseException):
    """Raised by ``machine.deepsleep``/``machine.reset`` stand-ins: on the camera the board restarts."""


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
        out = []
        for scores in self.scores:
            s = np.asarray(scores[0]).ravel()
            out.append(int(s[0] >= 0.5) if s.size == 1 else int(np.argmax(s)))
        return out


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


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    return m


def _noop(*args, **kwargs):
    """A call the stand-ins accept and do not emulate (auto gain, contrast, ``gc.collect``, ...)."""


_FRAMESIZE_NAMES = {k: k for k in _FRAMESIZES}
_SENSOR_SETTINGS = ("set_auto_gain", "set_auto_whitebal", "set_auto_exposure", "set_contrast", "set_brightness",
                    "set_saturation", "set_gainceiling", "set_hmirror", "set_vflip")


def _sensor_module(b):
    """``sensor``: src/omv/modules/py_sensor.c (v4.5.6), py_csi.c (v4.6.0; modules/py_csi.c v4.7.0 to v5.0.0)."""

    def skip_frames(n=None, time=None):
        b.advance_ms(time or 0)
        b.snapshot(settle=True)

    def set_pixformat(fmt):
        b.pixformat = fmt

    return _module(
        "sensor", RGB565=RGB565, GRAYSCALE=GRAYSCALE, **_FRAMESIZE_NAMES, reset=_noop, set_pixformat=set_pixformat,
        set_framesize=lambda size: b.event("framesize", size=size),
        set_windowing=lambda *w: b.event("window", window=w), skip_frames=skip_frames, snapshot=b.snapshot,
        sleep=lambda enable: b.event("sensor_sleep", enable=bool(enable)),
        shutdown=lambda enable: b.event("sensor_shutdown", enable=bool(enable)),
        width=lambda: Image.from_frame(b.frames[0]).width(), height=lambda: Image.from_frame(b.frames[0]).height(),
        **{k: _noop for k in _SENSOR_SETTINGS},
    )


def _csi_module(b, sensor):
    """``csi``: ``csi.CSI`` of modules/py_csi_ng.c (v4.8.0+); py_csi.c's sensor module (v4.6-4.7); None (v4.5.6)."""
    if b.version < (4, 6, 0):
        return None
    if b.version < (4, 8, 0):  # 4.6-4.7: `import csi` gives the old sensor-style module, with no CSI class
        return _module("csi", **{k: v for k, v in vars(sensor).items() if not k.startswith("__")})

    class CSI:  # csi.CSI() arrives in 4.8.0
        def __init__(self, *args, **kwargs):
            pass

        reset = staticmethod(_noop)
        pixformat = staticmethod(sensor.set_pixformat)

        def framesize(self, size):
            b.event("framesize", size=size)

        def window(self, *w):
            b.event("window", window=w)

        def snapshot(self, time=None, frames=None, **kwargs):
            if time is not None or frames is not None:
                b.advance_ms(time or 0)
                return b.snapshot(settle=True)
            return b.snapshot()

        def sleep(self, enable):
            b.event("sensor_sleep", enable=bool(enable))

        def width(self):
            return Image.from_frame(b.frames[0]).width()

        def height(self):
            return Image.from_frame(b.frames[0]).height()

        def __getattr__(self, name):  # auto_gain, auto_whitebal, contrast, ...: accepted, not emulated
            if name.startswith("_"):
                raise AttributeError(name)
            return _noop

    return _module("csi", CSI=CSI, RGB565=RGB565, GRAYSCALE=GRAYSCALE, **_FRAMESIZE_NAMES)


def _image_module(b):
    """``image``: modules/py_image.c (v4.7.0 to v5.0.0; src/omv/modules/ on v4.5.6); hint values are placeholders."""
    # The hint constants are named as in py_image.c but do not hold lib/imlib/imlib.h's values (v5.0.0: BILINEAR is
    # 1 << 1, CENTER 1 << 7, ...): the stand-in Image takes no hints, so a script can only pass them along.
    return _module(
        "image", Image=Image,
        HaarCascade=lambda path, stages=25, **k: HaarCascade(path, stages, _board=b),
        RGB565=RGB565, GRAYSCALE=GRAYSCALE, BILINEAR=1, BICUBIC=2, AREA=4, CENTER=8, SCALE_ASPECT_KEEP=16,
        SCALE_ASPECT_EXPAND=32, SCALE_ASPECT_IGNORE=64, BLACK_BACKGROUND=128,
    )


def _ml_module(b):
    """``ml``: ``ml.Model`` of modules/py_ml.c (4.x) and scripts/libraries/ml/ml-core/ml/model.py (v5.0.0)."""
    return _module("ml", Model=lambda *a, **k: Model(*a, _board=b, **k))


def _tf_module(ml):
    """``tf``: the old name of ``ml`` (modules/py_ml.c registers both, v4.5.6 to v5.0.0); no tf.load, tf.classify."""
    return _module("tf", Model=ml.Model)  # the old name still imports; tf.load and tf.classify are gone


def _time_module(b):
    """``time``/``utime``: MicroPython's ticks and sleeps on virtual time; ``clock`` as modules/py_clock.c (v4.5.6+)."""

    class Clock:
        def __init__(self):
            self._tick = None

        def tick(self):
            self._tick = b.now_us

        def fps(self):
            if self._tick is None or b.now_us <= self._tick:
                return 0.0
            return 1e6 / (b.now_us - self._tick)

        def avg(self):
            return 0.0 if self._tick is None else (b.now_us - self._tick) / 1000.0

    return _module(
        "time", ticks_ms=lambda: int(b.now_us // 1000), ticks_us=lambda: int(b.now_us),
        ticks_diff=lambda new, old: new - old, ticks_add=lambda t, d: t + d, sleep_ms=b.advance_ms,
        sleep_us=lambda us: b.advance_ms(us / 1000.0), sleep=lambda s: b.advance_ms(1000.0 * s),
        time=lambda: int(b.now_us // 1e6), time_ns=lambda: int(1000 * b.now_us), clock=Clock,
    )


class _LED:
    """An LED of the board ``b``: on/off/toggle/value as the LED class of scripts/libraries/machine.py (v4.5.6+)."""

    def __init__(self, b, colour):
        self._board, self.colour = b, colour

    def on(self):
        self._board.leds[self.colour] = True

    def off(self):
        self._board.leds[self.colour] = False

    def toggle(self):
        self._board.leds[self.colour] = not self._board.leds[self.colour]

    def value(self, v=None):
        if v is None:
            return int(self._board.leds[self.colour])
        self._board.leds[self.colour] = bool(v)


_MACHINE_LEDS = {"LED_RED": "red", "LED_GREEN": "green", "LED_BLUE": "blue", "LED_IR": "ir"}
_PYB_LEDS = {1: "red", 2: "green", 3: "blue", 4: "ir"}


def _machine_module(b):
    """``machine``: ``LED(pin name)`` of scripts/libraries/machine.py (v4.5.6 to v5.0.0), sleeps and reset."""

    def led(name):
        if name not in _MACHINE_LEDS:
            raise InputError(f"invalid LED name {name!r}")
        return _LED(b, _MACHINE_LEDS[name])

    def lightsleep(ms=None):
        b.event("lightsleep", ms=ms)
        b.advance_ms(ms or 0)

    def deepsleep(ms=None):
        b.event("deepsleep", ms=ms)
        raise BoardReset

    def reset():
        raise BoardReset

    return _module("machine", LED=led, lightsleep=lightsleep, deepsleep=deepsleep, reset=reset,
                   idle=_noop, freq=lambda *a: 480_000_000)


def _pyb_module(b):
    """``pyb``: ``LED(1..4)``, ``delay``, ``millis`` of MicroPython's stm32 port (the lib/micropython submodule)."""
    return _module("pyb", LED=lambda n: _LED(b, _PYB_LEDS[n]), delay=b.advance_ms, millis=lambda: int(b.now_us // 1000),
                   elapsed_millis=lambda t: int(b.now_us // 1000) - t)


def _gc_module():
    """``gc``: MicroPython's py/modgc.c, with fixed memory figures (200,000 B free, 50,000 B allocated)."""
    return _module("gc", collect=_noop, mem_free=lambda: 200_000, mem_alloc=lambda: 50_000, enable=_noop,
                   disable=_noop)


def _os_module(b):
    """``os``/``uos``: MicroPython's VFS calls on the drive; SD card mounted as scripts/libraries/_boot.py (v4.6.0)."""

    def stat(path):
        key = b.fs.norm(path)
        if key in b.fs.files:
            return (0o100000, 0, 0, 0, 0, 0, len(b.fs.files[key]), 0, 0, 0)
        if key in b.fs.dirs:
            return (0o040000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2, f"No such file or directory: {path!r}")

    def remove(path):
        b.fs.files.pop(b.fs.norm(path))

    def statvfs(path):
        """(bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax): an 8 GB card where one is
        mounted at ``path``, else the H7's 128 KB internal drive."""
        key = b.fs.norm(path)
        card = b.fs.sd_card and (key == b.fs.sd_mount or key.startswith(b.fs.sd_mount.rstrip("/") + "/"))
        blocks = (8 << 30) // 512 if card else (128 << 10) // 512
        stat(path)  # OSError where nothing is
        return (512, 512, blocks, blocks // 2, blocks // 2, 0, 0, 0, 0, 255)

    return _module("os", listdir=b.fs.listdir, mkdir=b.fs.mkdir, stat=stat, remove=remove, getcwd=lambda: "/",
                   sync=_noop, sep="/", statvfs=statvfs)


def _omv_module(b):
    """``omv``: modules/py_omv.c (v4.5.6 to v5.0.0; src/omv/modules/ on v4.5.6), reporting the emulated firmware."""
    # modules/py_omv.c (v4.5.6 to v5.0.0): version_major/minor/patch are MP_ROM_INT, version_string() a function.
    return _module("omv", version_major=b.version[0], version_minor=b.version[1],
                   version_patch=b.version[2], version_string=lambda: b.firmware,
                   board_type=lambda: b.board_type, board_id=lambda: "EMULATED", arch=lambda: "emulated")


def _micropython_module():
    """``micropython``: ``const``, ``opt_level`` and ``mem_info`` of MicroPython's py/modmicropython.c."""
    return _module("micropython", const=lambda x: x, opt_level=_noop, mem_info=_noop)


def _make_modules(b):
    """The stand-in modules for one run, bound to the board state ``b``, under the names a script imports."""
    sensor, ml, time_, os_ = _sensor_module(b), _ml_module(b), _time_module(b), _os_module(b)
    modules = {"sensor": sensor, "image": _image_module(b), "ml": ml, "tf": _tf_module(ml), "time": time_,
               "utime": time_, "machine": _machine_module(b), "pyb": _pyb_module(b), "gc": _gc_module(),
               "os": os_, "uos": os_, "omv": _omv_module(b), "micropython": _micropython_module()}
    csi = _csi_module(b, sensor)
    if csi is not None:
        modules["csi"] = csi
    return modules


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
    modules = _make_modules(b)

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
    token = _BOARD.set(b)
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
        _BOARD.reset(token)
    b.flush()
    b._close_frame()
    return RunResult(b.printed, b.records, b.setup, b.events, ended, firmware)
