"""Running .tflite models on the PC with LiteRT: the scores the camera computes (introduced in
notebooks/05_int8_quantization.ipynb).

:class:`Runner` quantizes uint8 images into an int8 model's input, runs it with LiteRT's reference kernels
(:data:`KERNELS`, bit-exact with TensorFlow Lite Micro) and dequantizes its output; :func:`predict`,
:func:`predict_labels` and :func:`evaluate` wrap it. The int8 conversion is :mod:`tinymask.quantize`, which
re-exports these names (``quantize.predict`` is ``runner.predict``).
"""

import numpy as np

from . import tflite
from .dataset import labels_from_scores, to_model_input
from .errors import InputError

__all__ = [
    "KERNELS",
    "check_images",
    "quantize_input",
    "Runner",
    "predict",
    "predict_labels",
    "evaluate",
]


# --------------------------------------------------------------------------------------------- input checks
def check_images(images, name="images"):
    """The images as an array, or an InputError unless they are a non-empty (n, height, width, channels) batch
    (used by :class:`Runner` and ``quantize.calibration_images``)."""
    array = np.asarray(images)
    if array.ndim != 4 or len(array) == 0:
        raise InputError(
            f"{name} must be a non-empty batch of images shaped (n, height, width, channels), got shape "
            f"{array.shape}; pass e.g. synth.generate(200).images"
        )
    return array


# --------------------------------------------------------------------------------------------- running
def quantize_input(images, scale, zero_point, dtype=np.int8):
    """Images -> the integers a quantized input takes: q = round(x / scale) + zero_point, clipped to the dtype.

    uint8 images are taken as pixels, x = pixel / 255 (the model's convention); float images as x already. For
    scale 1/255 and zero point -128 a pixel p gives exactly p - 128.
    """
    images = np.asarray(images)
    x = images.astype(np.float64) / 255.0 if images.dtype == np.uint8 else images.astype(np.float64)
    info = np.iinfo(dtype)
    q = np.round(x / float(scale)) + int(zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


#: Kernel sets a :class:`Runner` can use. ``"reference"`` (LiteRT's ``OpResolverType.BUILTIN_REF``) computes int8
#: exactly as TensorFlow Lite Micro does, and so as the camera does: on the course's camera samples its scores equal
#: the tflite-micro interpreter's and the real OpenMV firmware's bit for bit (tests/test_quantize.py,
#: tests/test_firmware_qemu.py). ``"xnnpack"`` is LiteRT's default: faster, but its int8 kernels round differently
#: (different scores on 10 of 24 samples in one check), so no figure of the course uses it.
KERNELS = ("reference", "xnnpack")


def _interpreter(data, kernels, num_threads):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise ImportError(
            "running .tflite models needs LiteRT (the successor of tf.lite.Interpreter): pip install ai-edge-litert"
        ) from None
    if kernels not in KERNELS:
        raise InputError(f"kernels={kernels!r}: use one of {KERNELS} ('reference' computes what the camera computes)")
    resolver = OpResolverType.BUILTIN_REF if kernels == "reference" else OpResolverType.AUTO
    return Interpreter(model_content=data, num_threads=num_threads, experimental_op_resolver_type=resolver)


class Runner:
    """A LiteRT (``ai_edge_litert``) interpreter for a .tflite model that takes uint8 images and returns float
    scores, quantizing an int8 input and dequantizing an int8 output with the model's own scale and zero point.

    ``kernels="reference"`` (the default) uses LiteRT's reference kernels, bit-exact with TensorFlow Lite Micro and
    the OpenMV firmware (see :data:`KERNELS`). Batches are run by resizing the input's batch dimension when the
    model allows it (a dynamic batch), else image by image.
    """

    def __init__(self, tflite_bytes, num_threads=None, kernels="reference"):
        self.data = tflite.as_bytes(tflite_bytes)
        self.kernels = kernels
        # the camera's copy of a model (tflite.camera_copy) has one zero point per weight tensor, which TFLite Micro
        # reads as "0 for every channel" and LiteRT refuses: give LiteRT the same model with the zeros written out
        runnable = tflite.expand_zero_points(self.data) if tflite.has_compact_zero_points(self.data) else self.data
        with tflite.captured_fds((2,)):  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
            self.interpreter = _interpreter(runnable, kernels, num_threads)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        signature = self.input.get("shape_signature", self.input["shape"])
        self.dynamic_batch = len(signature) > 0 and signature[0] == -1
        self._batch = int(self.input["shape"][0])

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.input["shape"][1:])

    def _prepare(self, images):
        images = check_images(images)
        if tuple(images.shape[1:]) != self.input_shape:
            raise InputError(f"images are {images.shape[1:]} but the model takes {self.input_shape}; resize them")
        dtype = np.dtype(self.input["dtype"])
        if dtype.kind in "iu":
            scale, zero_point = self.input["quantization"]
            if scale == 0:
                raise InputError(f"the model's {dtype} input has no quantization scale; cannot map images to it")
            return quantize_input(images, scale, zero_point, dtype)
        return to_model_input(images).astype(dtype)

    def _resize(self, batch):
        if batch != self._batch:
            self.interpreter.resize_tensor_input(self.input["index"], [batch, *self.input_shape])
            self.interpreter.allocate_tensors()
            self._batch = batch

    def _run(self, x):
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"]).copy()

    def raw(self, images, batch=64):
        """The output tensor's values as stored (int8 for an int8 model), for a batch of images."""
        x = self._prepare(images)
        outs = []
        if self.dynamic_batch:
            try:
                size = max(1, min(int(batch), len(x)))
                self._resize(size)  # once: resizing re-plans the interpreter, which costs more than a run
                for start in range(0, len(x), size):
                    chunk = x[start:start + size]
                    padded = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), 0)])
                    outs.append(self._run(padded)[:len(chunk)])
                return np.concatenate(outs)
            except (RuntimeError, ValueError):
                self.dynamic_batch, outs = False, []  # the model would not resize: fall back to one by one
        self._resize(1)
        return np.concatenate([self._run(x[i:i + 1]) for i in range(len(x))])

    def scores(self, images, batch=64):
        """Float scores (n, outputs): dequantized with the output's scale and zero point for an int8 output."""
        out = self.raw(images, batch)
        if np.dtype(self.output["dtype"]).kind in "iu":
            scale, zero_point = self.output["quantization"]
            return ((out.astype(np.float32) - zero_point) * scale).reshape(len(out), -1)
        return out.astype(np.float32).reshape(len(out), -1)


def predict(tflite_bytes, images, batch=64, *, kernels="reference"):
    """Float scores (n, classes) of a .tflite model (int8 or float) for uint8 images, via LiteRT; with the default
    reference kernels they are the scores TensorFlow Lite Micro (and so the camera) computes, bit for bit."""
    return Runner(tflite_bytes, kernels=kernels).scores(images, batch)


def predict_labels(tflite_bytes, images, batch=64, *, kernels="reference"):
    """Class indexes: the arg-max of the scores, or score >= 0.5 for a single sigmoid output."""
    return labels_from_scores(predict(tflite_bytes, images, batch, kernels=kernels))


def evaluate(tflite_bytes, images, labels, batch=64):
    """Accuracy of a .tflite model on uint8 images with integer labels."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise InputError(f"{len(images)} images but {len(labels)} labels; pass one label per image")
    return float((predict_labels(tflite_bytes, images, batch) == labels).mean())
