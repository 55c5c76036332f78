"""The stand-ins of the OpenMV firmware's classes: ``image.Image``, ``image.HaarCascade`` and ``ml.Model``
(introduced in notebooks/07_openmv_deployment.ipynb; used by :mod:`tinymask.openmv_stubs`, which hands them to a
script as the ``image`` and ``ml`` modules, and by :func:`tinymask.openmv_emu.run_script`).

Each class behaves as the firmware's does where a course script can tell (argument checks per firmware version,
errors with the firmware's messages); the differences are listed in :mod:`tinymask.openmv_emu`'s docstring. During a
run every instance is bound to the run's board (:data:`CURRENT_BOARD`): its firmware version, file system, frames
and the records of what the model saw.
"""

import contextvars

import numpy as np

from .errors import InputError, InputTypeError
from .openmv_pixels import (
    camera_pixels,
    firmware_input,
    gray_to_rgb565,
    rgb565_to_gray,
    rgb565_to_rgb888,
    rgb888_to_rgb565,
)

__all__ = ["RGB565", "GRAYSCALE", "CURRENT_BOARD", "Image", "HaarCascade", "Model"]

#: The pixel formats, as ``sensor.RGB565``/``image.GRAYSCALE`` hold them in the stand-in modules.
RGB565, GRAYSCALE = "RGB565", "GRAYSCALE"
#: The board of the run in progress (set by :func:`tinymask.openmv_emu.run_script`): what an ``image.Image(w, h)``
#: a script makes is bound to.
CURRENT_BOARD = contextvars.ContextVar("tinymask_openmv_board", default=None)


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
        self._board = _board if _board is not None else CURRENT_BOARD.get()
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
        if path != valid:  # the firmware's own OSError (ENOENT), as a script on the camera would see it
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
