"""Post-training int8 quantization and running .tflite models on the PC (introduced in notebooks/05_int8_quantization.ipynb)."""

import contextlib
import difflib
import io
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from . import footprint, tflite
from ._setup import import_tensorflow
from .errors import InputError, ToolError

__all__ = [
    "OPENMV_INPUT_QUANTIZATION",
    "TensorInfo",
    "QuantizedTensor",
    "calibration_images",
    "representative_dataset",
    "to_int8",
    "to_dynamic_range",
    "to_float",
    "check_int8",
    "input_quantization",
    "output_quantization",
    "input_is_pixel_minus_128",
    "tensor_details",
    "quantized_tensors",
    "tensor_values",
    "quantize_input",
    "KERNELS",
    "Runner",
    "predict",
    "predict_labels",
    "evaluate",
]

#: The input quantization the OpenMV firmware assumes for an int8 model: q = pixel - 128, i.e. scale 1/255 and zero
#: point -128 for a model whose float input is pixel / 255.
OPENMV_INPUT_QUANTIZATION = (1.0 / 255.0, -128)


# --------------------------------------------------------------------------------------------- calibration data
def _check_images(images, name="images"):
    array = np.asarray(images)
    if array.ndim != 4 or len(array) == 0:
        raise InputError(
            f"{name} must be a non-empty batch of images shaped (n, height, width, channels), got shape "
            f"{array.shape}; pass e.g. synth.generate(200).images"
        )
    return array


def calibration_images(images, num_calibration=200, *, seed=0, pin_range=True):
    """The uint8 images the converter calibrates on: up to ``num_calibration`` of ``images`` picked at random
    (``seed``), after one all-0 and one all-255 image when ``pin_range`` (so the input range is exactly 0..255
    whatever the sample holds, which makes the input quantization scale 1/255, zero point -128)."""
    images = _check_images(images, "representative_images")
    if images.dtype != np.uint8:
        raise InputError(
            f"representative_images must be uint8 pixels (0..255), got dtype {images.dtype}; pass the raw images "
            "(e.g. synth.generate(200).images), not images already divided by 255"
        )
    if isinstance(num_calibration, bool) or not isinstance(num_calibration, int) or num_calibration < 1:
        raise InputError(
            f"num_calibration must be an int >= 1 (how many images to calibrate on), got {num_calibration!r}"
        )
    rng = np.random.default_rng(seed)
    picked = images[np.sort(rng.permutation(len(images))[:num_calibration])]
    if pin_range:
        ends = np.stack([np.zeros(images.shape[1:], np.uint8), np.full(images.shape[1:], 255, np.uint8)])
        picked = np.concatenate([ends, picked])
    return picked


def representative_dataset(images):
    """A generator function for ``TFLiteConverter.representative_dataset``: ``[x]`` for each uint8 image, with x
    float32 of shape (1, h, w, c) holding pixel / 255 (the model's input convention)."""
    images = _check_images(images)

    def generate():
        for image in images:
            yield [image[None].astype(np.float32) / 255.0]

    return generate


# --------------------------------------------------------------------------------------------- conversion
@contextlib.contextmanager
def _quiet():
    """Keep the converter's chatter (Keras' export listing, MLIR's C++ lines, TF's user warnings) out of the output."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            tflite.captured_fds() as log:
        warnings.simplefilter("ignore")
        yield log


def _short(error):
    text = " ".join(str(error).split())
    return text if len(text) <= 600 else text[:597] + "..."


def _convert(model, configure):
    """Convert a Keras model with ``configure(converter)`` applied.

    ``TFLiteConverter.from_keras_model`` works for Keras 3 models in TensorFlow 2.21: it exports the model's
    inference call (``training=False``) to a temporary SavedModel through ``keras.export.ExportArchive`` and
    converts that. Should it fail (another TF/Keras pairing), the same is done by hand: ``model.export(tmpdir,
    format="tf_saved_model")`` and ``from_saved_model``.
    """
    tf = import_tensorflow()
    errors = []
    try:
        with _quiet():
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            configure(converter)
            return converter.convert()
    except Exception as error:  # noqa: BLE001 - try the SavedModel path next
        errors.append(f"from_keras_model: {type(error).__name__}: {_short(error)}")
    try:
        with tempfile.TemporaryDirectory() as tmp, _quiet():
            model.export(tmp, format="tf_saved_model")
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
            configure(converter)
            return converter.convert()
    except Exception as error:  # noqa: BLE001
        errors.append(f"export + from_saved_model: {type(error).__name__}: {_short(error)}")
    raise ToolError(
        f"TFLite conversion of model {getattr(model, 'name', model)!r} failed both ways ({'; '.join(errors)}); "
        "check that the model is built (called once) and uses layers TFLite can convert"
    )


def _check_model_input(model, images):
    expected = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else None
    if expected is not None and None not in expected and tuple(images.shape[1:]) != expected:
        raise InputError(
            f"representative_images are {images.shape[1:]} but model {model.name!r} takes {expected}; "
            "generate or resize the images to the model's input size"
        )


def to_int8(model, representative_images, *, num_calibration=200, seed=0, pin_range=True, per_channel_dense=False):
    """Full-integer post-training quantization: int8 weights, activations, input and output; returns the .tflite bytes.

    The converter gets ``optimizations=[Optimize.DEFAULT]``, builtin int8 ops only (``TFLITE_BUILTINS_INT8``),
    int8 input and output types, and a representative dataset of up to ``num_calibration`` of the uint8
    ``representative_images`` (picked at random with ``seed``) fed as pixel / 255, the model's input convention.
    With ``pin_range`` one all-0 and one all-255 image are added to the calibration set, so the input range is
    0..1 exactly and the input quantization comes out as scale 1/255, zero point -128: the int8 input is then
    pixel - 128, exactly what the OpenMV firmware feeds (see :func:`input_is_pixel_minus_128`).

    Dense (FULLY_CONNECTED) weights get one scale per tensor unless ``per_channel_dense=True``: the TFLite Micro of
    OpenMV firmware 4.6.0-4.8.1 refuses per-channel dense weights ("Failed to allocate tensors"; see
    ``footprint.check_firmware_tflm``), so the default model loads on every firmware from 4.5.6 to 5.0.
    Convolution kernels stay per channel (every firmware's TFLM supports that).

    After conversion the model is checked (:func:`check_int8`): int8 input and output, builtin ops only (no Flex
    or custom ops), no float tensors; a model that fails raises. See :func:`_convert` for the conversion path.
    """
    images = calibration_images(representative_images, num_calibration, seed=seed, pin_range=pin_range)
    _check_model_input(model, images)
    tf = import_tensorflow()

    def configure(converter):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset(images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        # The converter's own switch (TensorFlow 2.21); TFLite Micro's error message names it as the fix.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense

    data = _convert(model, configure)
    check_int8(data)
    if pin_range and not input_is_pixel_minus_128(data):
        scale, zero_point = input_quantization(data)
        warnings.warn(
            f"the int8 input quantization is scale {scale:.6g}, zero point {zero_point}, not 1/255 and -128: the "
            "OpenMV firmware's pixel - 128 input will not match; does the model take pixel / 255 images?",
            stacklevel=2,
        )
    return data


def to_dynamic_range(model):
    """Dynamic-range quantization: int8 weights, float activations, input and output (for comparison)."""
    tf = import_tensorflow()

    def configure(converter):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

    return _convert(model, configure)


def to_float(model):
    """A plain float32 .tflite model (for comparison)."""
    return _convert(model, lambda converter: None)


def check_int8(tflite_bytes):
    """Raise a ValueError saying what is wrong unless the model is full-integer int8 (int8 input and output, only
    TFLite builtin ops, no float tensors); return the sorted op names when it is."""
    ops = footprint.operators(tflite_bytes)
    problems = []
    for side in ("input", "output"):
        for row in tflite.io_rows(tflite_bytes, side + "s"):
            if row["dtype"] != "int8":
                problems.append(f"{side} {row['name']!r} is {row['dtype']}")
    custom = [op for op in ops if op.startswith("CUSTOM:")]
    if custom:
        problems.append(f"non-builtin ops {', '.join(custom)} (Flex and custom ops do not run on TFLite Micro)")
    floats = footprint.float_ops(tflite_bytes)
    if floats:
        problems.append(f"{len(floats)} ops touch float tensors ({', '.join(floats[:5])})")
    if problems:
        raise InputError(
            f"not a full-integer int8 model: {'; '.join(problems)}; convert with quantize.to_int8 (builtin int8 ops, "
            "int8 input and output) and replace layers that cannot be quantized"
        )
    return ops


# --------------------------------------------------------------------------------------------- tensors
@dataclass(frozen=True)
class TensorInfo:
    """An input or output tensor: dtype, shape and quantization (scale 0.0, zero point 0 when not quantized)."""

    name: str
    dtype: str
    shape: tuple
    scale: float
    zero_point: int


@dataclass(frozen=True)
class QuantizedTensor:
    """A quantized tensor of the graph: real = scale * (q - zero_point), with one scale per channel along
    ``quantized_dimension`` for per-channel tensors (convolution kernels)."""

    index: int
    name: str
    dtype: str
    shape: tuple
    scales: np.ndarray
    zero_points: np.ndarray
    quantized_dimension: int
    constant: bool

    @property
    def per_channel(self):
        return len(self.scales) > 1


def _io_info(tflite_bytes, side):
    rows = tflite.io_rows(tflite_bytes, side)
    return [TensorInfo(r["name"], r["dtype"], r["shape"], r["scale"], r["zero_point"]) for r in rows]


def tensor_details(tflite_bytes):
    """``{"input": TensorInfo, "output": TensorInfo}``: dtype, shape, scale and zero point of the model's input
    and output (lists when a model has several)."""
    ins, outs = _io_info(tflite_bytes, "inputs"), _io_info(tflite_bytes, "outputs")
    return {"input": ins[0] if len(ins) == 1 else ins, "output": outs[0] if len(outs) == 1 else outs}


def _first(infos, what):
    info = infos[0]
    if isinstance(info.scale, tuple):
        raise InputError(f"the model's {what} is quantized per channel; read quantized_tensors() instead")
    return float(info.scale), int(info.zero_point)


def input_quantization(tflite_bytes):
    """``(scale, zero_point)`` of the (first) input tensor; ``(0.0, 0)`` for a float input, as TFLite reports it.
    For :func:`to_int8` on a model taking pixel / 255 this is ``(1/255, -128)``: q = pixel - 128."""
    return _first(_io_info(tflite_bytes, "inputs"), "input")


def output_quantization(tflite_bytes):
    """``(scale, zero_point)`` of the (first) output tensor; ``(0.0, 0)`` for a float output. A softmax output
    quantized by the converter is (1/256, -128): score = (q + 128) / 256."""
    return _first(_io_info(tflite_bytes, "outputs"), "output")


def input_is_pixel_minus_128(tflite_bytes):
    """True when the int8 input quantization maps every pixel p (0..255) to exactly p - 128, as the OpenMV
    firmware feeds it: checked on all 256 pixel values with :func:`quantize_input`."""
    info = _io_info(tflite_bytes, "inputs")[0]
    if info.dtype != "int8":
        return False
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    q = quantize_input(pixels, info.scale, info.zero_point, np.int8)
    return bool(np.array_equal(q.astype(np.int16), pixels.astype(np.int16) - 128))


def quantized_tensors(tflite_bytes):
    """Every quantized tensor of the main graph (weights, biases, activations) as :class:`QuantizedTensor` rows,
    in tensor order. Read one's stored integers with :func:`tensor_values`.

    TFLite stores a convolution kernel as (out channels, kh, kw, in channels) with one scale per output channel
    (``quantized_dimension`` 0), a depthwise kernel as (1, kh, kw, channels) with one per channel (dimension 3), a
    dense kernel as (units, inputs); Keras holds them as (kh, kw, in, out), (kh, kw, channels, 1) and (inputs,
    units). Biases are int32 with scale = input scale x weight scale, zero point 0.
    """
    model = tflite.read(tflite_bytes)
    rows = []
    for i, t in enumerate(model.subgraphs[0].tensors):
        q = t.quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            continue
        rows.append(QuantizedTensor(
            i, tflite.text(t.name), tflite.dtype(t), tflite.shape(t),
            np.asarray(q.scale, np.float64), np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], np.int64),
            int(q.quantizedDimension), tflite.is_constant(model, t),
        ))
    return rows


def _find_tensor(tflite_bytes, name):
    rows = [r for r in quantized_tensors(tflite_bytes) if r.constant]
    exact = [r for r in rows if r.name == name]
    if exact:
        return exact[0]
    partial = [r for r in rows if name in r.name]
    if len(partial) == 1:
        return partial[0]
    names = [r.name for r in rows]
    if partial:
        raise InputError(f"{len(partial)} constant tensors contain {name!r}: {[r.name for r in partial][:8]}; "
                         "give more of the name")
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.3)
    raise InputError(f"no quantized constant tensor named {name!r}; close names: {close or names[:5]} "
                     "(list them all with quantized_tensors())")


def tensor_values(tflite_bytes, name, *, dequantize=False):
    """The stored integers of a quantized constant tensor (a kernel or bias), in TFLite's layout; ``name`` is the
    tensor's name or a part of it that matches one tensor. ``dequantize=True`` returns scale * (q - zero_point)
    as float32, per channel along the quantized dimension."""
    row = _find_tensor(tflite_bytes, name)
    model = tflite.read(tflite_bytes)
    buffer = model.buffers[model.subgraphs[0].tensors[row.index].buffer]
    raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
    values = np.frombuffer(raw, dtype=np.dtype(row.dtype)).reshape(row.shape)
    if not dequantize:
        return values.copy()
    shape = [1] * values.ndim
    if row.per_channel:
        shape[row.quantized_dimension] = -1
    scales = row.scales.reshape(shape)
    zero_points = row.zero_points.reshape(shape) if len(row.zero_points) > 1 else row.zero_points[0]
    return (scales * (values.astype(np.float64) - zero_points)).astype(np.float32)


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
        with tflite.captured_fds((2,)):  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
            self.interpreter = _interpreter(self.data, kernels, num_threads)
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
        images = _check_images(images)
        if tuple(images.shape[1:]) != self.input_shape:
            raise InputError(f"images are {images.shape[1:]} but the model takes {self.input_shape}; resize them")
        dtype = np.dtype(self.input["dtype"])
        if dtype.kind in "iu":
            scale, zero_point = self.input["quantization"]
            if scale == 0:
                raise InputError(f"the model's {dtype} input has no quantization scale; cannot map images to it")
            return quantize_input(images, scale, zero_point, dtype)
        return (images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images).astype(dtype)

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
    scores = predict(tflite_bytes, images, batch, kernels=kernels)
    if scores.shape[1] == 1:
        return (scores[:, 0] >= 0.5).astype(np.int64)
    return scores.argmax(axis=1).astype(np.int64)


def evaluate(tflite_bytes, images, labels, batch=64):
    """Accuracy of a .tflite model on uint8 images with integer labels."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise InputError(f"{len(images)} images but {len(labels)} labels; pass one label per image")
    return float((predict_labels(tflite_bytes, images, batch) == labels).mean())
