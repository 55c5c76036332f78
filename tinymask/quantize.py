"""Post-training int8 quantization: calibration, conversion, checks and reading the quantized tensors (introduced
in notebooks/05_int8_quantization.ipynb).

Running a .tflite model on the PC (:class:`Runner`, :func:`predict`, :func:`predict_labels`, :func:`evaluate`,
:data:`KERNELS`, :func:`quantize_input`) is :mod:`tinymask.runner`; those names are re-exported here, so
``quantize.predict`` is ``runner.predict``.
"""

import contextlib
import difflib
import io
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from . import footprint, tflite
from ._setup import import_tensorflow
from .dataset import to_model_input
from .errors import InputError, ToolError, describe_error, is_int
from .runner import KERNELS, Runner, check_images, evaluate, predict, predict_labels, quantize_input

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
def calibration_images(images, num_calibration=200, *, seed=0, pin_range=True):
    """The uint8 images the converter calibrates on: up to ``num_calibration`` of ``images`` picked at random
    (``seed``), after one all-0 and one all-255 image when ``pin_range`` (so the input range is exactly 0..255
    whatever the sample holds, which makes the input quantization scale 1/255, zero point -128)."""
    images = check_images(images, "representative_images")
    if images.dtype != np.uint8:
        raise InputError(
            f"representative_images must be uint8 pixels (0..255), got dtype {images.dtype}; pass the raw images "
            "(e.g. synth.generate(200).images), not images already divided by 255"
        )
    if not is_int(num_calibration) or num_calibration < 1:
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
    images = check_images(images)

    def generate():
        for image in images:
            yield [to_model_input(image[None])]

    return generate


# --------------------------------------------------------------------------------------------- conversion
@contextlib.contextmanager
def _quiet():
    """Keep the converter's chatter (Keras' export listing, MLIR's C++ lines, TF's user warnings) out of the output."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            tflite.captured_fds() as log:
        warnings.simplefilter("ignore")
        yield log


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
        errors.append(f"from_keras_model: {describe_error(error, limit=600)}")
    try:
        with tempfile.TemporaryDirectory() as tmp, _quiet():
            model.export(tmp, format="tf_saved_model")
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
            configure(converter)
            return converter.convert()
    except Exception as error:  # noqa: BLE001
        errors.append(f"export + from_saved_model: {describe_error(error, limit=600)}")
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
