# uml.py: stand-in for the C `ml` module (modules/py_ml.c; src/omv/modules/py_ml.c on v4.5.6), which the Python
# package `ml` (scripts/libraries/ml/.../ml/model.py) subclasses as ml.Model. No TensorFlow Lite Micro here:
# predict returns plausible dequantized scores (the scripts' control flow is the point, not the numbers).
import sys

import image
from _omvsim import CLOCK, OUTPUTS, PREDICT_MS, at_least, get_str, parse_args, vfs_open


class ndarray:
    """The ulab ndarray that predict returns (float, the model's output shape); flatten() and tolist() as ulab's."""

    def __init__(self, values, shape):
        self._values, self.shape = list(values), tuple(shape)

    def flatten(self):
        return ndarray(self._values, (len(self._values),))

    def tolist(self):
        if len(self.shape) == 1:
            return list(self._values)
        n = len(self._values) // self.shape[0]
        return [ndarray(self._values[i * n:(i + 1) * n], self.shape[1:]).tolist() for i in range(self.shape[0])]

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, i):
        if len(self.shape) == 1:
            return self._values[i]
        n = len(self._values) // self.shape[0]
        return ndarray(self._values[i * n:(i + 1) * n], self.shape[1:])

    def __repr__(self):
        return "array(%r, dtype=float32)" % (self.tolist(),)


_SCORES = (0.92, 0.08, 0.55, 0.75, 0.3)  # cycled, so every branch (mask, no_mask, uncertain) is taken


def _open_model(path):
    """Open the model file as the firmware does; return its first 8 bytes."""
    if at_least(4, 7, 0):
        # modules/py_ml.c v4.7.0+: mp_vfs_open(path, "rb") -> OSError ENOENT when missing ("OSError: [Errno 2]
        # ENOENT" on the v5.0.0 QEMU build).
        with vfs_open(path, "rb") as f:
            return f.read(8)
    # src/omv/modules/py_ml.c v4.5.6: file_open -> file_raise_error -> OSError(ffs_strerror(res)):
    # "Could not find the file" (FR_NO_FILE) or "Could not find the path" (FR_NO_PATH).
    try:
        with vfs_open(path, "rb") as f:
            return f.read(8)
    except OSError:
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        try:
            if folder:
                sys.modules["_host_os"].stat(folder)
        except OSError:
            raise OSError("Could not find the path")
        raise OSError("Could not find the file")


class Model:
    def __init__(self, *args, **kwargs):
        # py_ml_model_make_new, mp_arg_parse_all_kw_array over required arguments:
        #   v4.5.6, v4.7.0: (path, load_to_fb); v4.8.1: (path, load_to_fb, postprocess); v5.0.0: (path, postprocess).
        # The Python wrapper ml.Model always passes all of them positionally (ml/model.py per tag).
        if at_least(5, 0, 0):
            names = ["path", "postprocess"]
        elif at_least(4, 8, 0):
            names = ["path", "load_to_fb", "postprocess"]
        else:
            names = ["path", "load_to_fb"]
        opts = parse_args(names, {}, args, kwargs)
        path = get_str(opts["path"])
        head = _open_model(path)
        # ml_backend_init_model would reject a file that is not a TFLite flatbuffer ("TFL3" at byte 4); the
        # firmware's message is TFLM's, not reproduced: this stand-in only checks the file exists and reads.
        self._tflite = head[4:8] == b"TFL3"
        self.path = path
        self.postprocess = opts.get("postprocess")
        self.input_shape = [(1, 96, 96, 3)]
        self.input_dtype = ["b"]
        self.output_shape = [(1, OUTPUTS)]
        self.output_dtype = ["b"]
        self.output_scale = [1.0 / 256]
        self.output_zero_point = [-128]
        if not at_least(4, 7, 0):
            # src/omv/modules/py_ml.c v4.5.6 py_ml_model_attr: labels is None for a model loaded from a file
            # (only the built-in models carry labels); the v4.5.6 wrapper sets none.
            self.labels = None
        self._calls = 0

    def predict(self, inputs, **kwargs):
        # py_ml_model_predict: callback keyword-only; a non-list -> ValueError "Unsupported input type. Expected a
        # list"; each item must be an image or an ndarray, else ValueError "Unsupported input type"
        # (py_ml_process_input).
        opts = parse_args(["callback"], {"callback": None}, (), kwargs, kw_only=("callback",))
        if not isinstance(inputs, list):
            raise ValueError("Unsupported input type. Expected a list")
        for item in inputs:
            if not isinstance(item, (image.Image, ndarray, _Normalized)):
                raise ValueError("Unsupported input type")
        if len(inputs) != len(self.input_shape):
            raise ValueError("Expected %d inputs but got %d" % (len(self.input_shape), len(inputs)))
        CLOCK.advance_ms(PREDICT_MS)
        p = _SCORES[self._calls % len(_SCORES)]
        self._calls += 1
        if OUTPUTS == 1:
            raw = [p]
        else:
            raw = [p, 1.0 - p] + [0.0] * (OUTPUTS - 2)
        # py_ml_process_output: int8 output dequantized, (q - zero_point) * scale, as float ndarrays.
        scale, zp = self.output_scale[0], self.output_zero_point[0]
        q = [max(-128, min(127, int(round(v / scale)) + zp)) for v in raw]
        out = [ndarray([(v - zp) * scale for v in q], self.output_shape[0])]
        callback = opts["callback"] or self.postprocess
        if callback is not None:
            return callback(self, inputs, out)
        return out

    def __repr__(self):
        return "{ path: %s }" % self.path


class _Normalized:
    """What ml.preprocessing.Normalization()(img) hands to the C predict (an image with its scaling)."""

    def __init__(self, img):
        self.image = img
