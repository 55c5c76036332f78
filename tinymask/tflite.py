"""Reading a .tflite model's bytes: the flatbuffer, its tensors and their quantization, and stripping what the
camera does not need. The base layer that quantize, footprint, deploy and cli read models through (chapter 5)."""

import contextlib
import ctypes
import functools
import os
import sys
import tempfile
from pathlib import Path

from .errors import InputError, InputTypeError, MissingPathError

__all__ = [
    "schema", "as_bytes", "read", "builtin_op_names", "op_name", "text", "dtype", "shape", "nbytes",
    "is_constant", "io_rows", "captured_fds", "strip_names", "StrippedModel", "compact_zero_points",
    "expand_zero_points", "has_compact_zero_points", "camera_copy", "anatomy",
]

_BUILTIN_CUSTOM = 32  # BuiltinOperator.CUSTOM
_DTYPE_BITS = {
    "FLOAT32": 32, "FLOAT16": 16, "BFLOAT16": 16, "FLOAT64": 64, "INT64": 64, "UINT64": 64, "INT32": 32,
    "UINT32": 32, "INT16": 16, "UINT16": 16, "INT8": 8, "UINT8": 8, "BOOL": 8, "INT4": 4, "UINT4": 4, "INT2": 2,
    "COMPLEX64": 64, "COMPLEX128": 128, "FLOAT8_E4M3FN": 8, "FLOAT8_E5M2": 8,
}


def schema():
    """The TFLite flatbuffer schema module: LiteRT's, else TensorFlow's, else tflite-micro's."""
    try:
        from ai_edge_litert import schema_py_generated

        return schema_py_generated
    except ImportError:
        pass
    try:
        from ._setup import import_tensorflow

        import_tensorflow()
        from tensorflow.lite.python import schema_py_generated

        return schema_py_generated
    except ImportError:
        pass
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

        return schema_py_generated
    except ImportError:
        raise ImportError(
            "no TFLite flatbuffer schema found; install ai-edge-litert (pip install ai-edge-litert) or tensorflow"
        ) from None


def as_bytes(tflite_bytes):
    """Bytes of a .tflite model given as bytes, a bytearray/memoryview or the path of a .tflite file."""
    if isinstance(tflite_bytes, (str, os.PathLike)):
        path = Path(tflite_bytes)
        if not path.is_file():
            raise MissingPathError(f".tflite file {str(path)!r} does not exist; pass its path or the model's bytes")
        tflite_bytes = path.read_bytes()
    if isinstance(tflite_bytes, (bytearray, memoryview)):
        tflite_bytes = bytes(tflite_bytes)
    if not isinstance(tflite_bytes, bytes):
        raise InputTypeError(
            f"expected the bytes of a .tflite model (what quantize.to_int8 returns) or a path to one, "
            f"got {type(tflite_bytes).__name__}"
        )
    if len(tflite_bytes) < 8 or tflite_bytes[4:8] != b"TFL3":
        raise InputError(
            f"these {len(tflite_bytes):,} bytes are not a .tflite model (no 'TFL3' identifier at byte 4); "
            "pass the bytes a TFLiteConverter returned, e.g. quantize.to_int8(model, images)"
        )
    return tflite_bytes


@functools.lru_cache(maxsize=4)
def _parsed(data):
    fb = schema()
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))


def read(tflite_bytes):
    """The parsed flatbuffer (the schema's ``ModelT``) of a model given as bytes or a path; cached, do not modify."""
    return _parsed(as_bytes(tflite_bytes))


@functools.lru_cache(maxsize=1)
def _enum_names():
    fb = schema()

    def invert(cls):
        return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}

    return invert(fb.BuiltinOperator), invert(fb.TensorType)


def builtin_op_names():
    """Every builtin operator name the installed TFLite schema knows (``"CONV_2D"``, ...)."""
    return frozenset(_enum_names()[0].values())


def op_name(model, opcode_index):
    """The name of operator code ``opcode_index`` of ``model``: a builtin name, or ``"CUSTOM:<name>"``."""
    code = model.operatorCodes[opcode_index]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # codes above 127 live in builtinCode only
    if builtin == _BUILTIN_CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
        return f"CUSTOM:{custom}"
    return _enum_names()[0].get(builtin, f"BUILTIN_{builtin}")


def text(name):
    """A flatbuffer string (bytes, or None once names are stripped) as ``str``."""
    return name.decode(errors="replace") if isinstance(name, bytes) else (name or "")


def dtype(tensor):
    """A tensor's element type as NumPy spells it: ``"int8"``, ``"float32"``, ..."""
    return _enum_names()[1].get(tensor.type, f"type{tensor.type}").lower()


def shape(tensor):
    """A tensor's shape as a tuple of ints."""
    return tuple(int(d) for d in (tensor.shape if tensor.shape is not None else ()))


def nbytes(tensor):
    """The bytes a tensor's values take (a dynamic batch dimension counts as 1)."""
    count = 1
    for dim in shape(tensor):
        count *= max(dim, 1)  # a dynamic (-1) batch dimension is stored as 1 in the shape
    bits = _DTYPE_BITS.get(dtype(tensor).upper(), 32)
    return (count * bits + 7) // 8


def is_constant(model, tensor):
    """A tensor whose values live in the flatbuffer (weights, biases, shapes): no arena space at run time."""
    if tensor.buffer <= 0 or tensor.buffer >= len(model.buffers):
        return False
    buf = model.buffers[tensor.buffer]
    has_data = buf.data is not None and len(buf.data) > 0
    return has_data or bool(getattr(buf, "size", 0))


def io_rows(tflite_bytes, which):
    """The model's ``"inputs"`` or ``"outputs"`` as dicts: name, dtype, shape, scale and zero point (one value per
    tensor, a tuple where the quantization is per channel, 0 where there is none)."""
    model = read(tflite_bytes)
    graph = model.subgraphs[0]
    rows = []
    for index in getattr(graph, which):
        t = graph.tensors[index]
        q = t.quantization
        scales = [] if q is None or q.scale is None else [float(s) for s in q.scale]
        zps = [] if q is None or q.zeroPoint is None else [int(z) for z in q.zeroPoint]
        rows.append({
            "name": text(t.name), "dtype": dtype(t), "shape": shape(t),
            "scale": scales[0] if len(scales) == 1 else (tuple(scales) if scales else 0.0),
            "zero_point": zps[0] if len(zps) == 1 else (tuple(zps) if zps else 0),
        })
    return rows


@contextlib.contextmanager
def captured_fds(fds=(1, 2)):
    """Point file descriptors ``fds`` (C/C++ stdout and stderr) at a temp file; ``box["text"]`` holds what was
    written. TFLite Micro prints from C++, below Python's ``sys.stdout``, so only an fd-level redirect catches it."""
    box = {"text": ""}
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = [os.dup(fd) for fd in fds]
        try:
            for fd in fds:
                os.dup2(tmp.fileno(), fd)
            yield box
        finally:
            _flush_c_streams()
            for fd, copy in zip(fds, saved):
                os.dup2(copy, fd)
                os.close(copy)
            tmp.seek(0)
            box["text"] = tmp.read().decode(errors="replace")


def _flush_c_streams():
    try:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers a redirected stdout: flush it before restoring
    except (OSError, AttributeError, TypeError):
        pass


class StrippedModel(bytes):
    """The bytes of a smaller copy of a model; ``.saved`` is how many bytes that removed (``.names_saved`` and
    ``.zero_points_saved`` split it for :func:`camera_copy`)."""

    saved = 0
    names_saved = 0
    zero_points_saved = 0


def _repack(tflite_bytes, edit, keep_smaller=True):
    """``edit`` applied to LiteRT's object form of the model (``flatbuffer_utils``), as a :class:`StrippedModel`
    whose ``.saved`` says how many bytes it removed; the original when ``edit`` changed nothing (returned False) or,
    with ``keep_smaller``, when re-packing made the file bigger."""
    data = as_bytes(tflite_bytes)
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    changed = edit(model)
    out = StrippedModel(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    if changed is False or (keep_smaller and len(out) > len(data)):  # re-packing only moved bytes around
        out = StrippedModel(data)
    out.saved = len(data) - len(out)
    return out


def strip_names(tflite_bytes):
    """The model without the strings the interpreter never reads: tensor and subgraph names, the description and
    the signature definitions (LiteRT's ``flatbuffer_utils.strip_strings``). The weights, quantization and graph
    are untouched, so TFLite Micro and the OpenMV firmware compute the same scores bit for bit (tested on the
    firmware in tests/test_firmware_qemu.py). Returns a :class:`StrippedModel` (bytes) whose ``.saved`` says what
    it removed. Used by :func:`camera_copy` (``tinymask export``) and benchmarks/distill.py."""
    from ai_edge_litert.tools import flatbuffer_utils

    return _repack(tflite_bytes, flatbuffer_utils.strip_strings)


def _weight_zero_points(model):
    """The quantization of every constant tensor with several zero points, all of them 0 (symmetric int8 weights
    quantized per channel: one int64 zero point per output channel, each 0)."""
    found = []
    for graph in model.subgraphs:
        for t in graph.tensors:
            q = t.quantization
            if (q is not None and q.zeroPoint is not None and len(q.zeroPoint) > 1 and is_constant(model, t)
                    and not any(int(z) for z in q.zeroPoint)):
                found.append(q)
    return found


def compact_zero_points(tflite_bytes):
    """The model with each per-channel weight tensor's zero points (one int64 0 per channel) cut to a single 0.

    TensorFlow Lite Micro reads a one-entry zero-point array of a per-channel tensor as that value for every channel
    ("As a space-saving optimization, zero point arrays for weights can be reduced to a single value, since all zero
    points for weights are 0": tensorflow/lite/micro/micro_allocator.cc), so the firmware computes the same scores;
    LiteRT refuses such a file ("QuantizationParam has 1 zero_point values and 256 scale values"), so the host runs
    it through :func:`expand_zero_points`. Saves 8 B per output channel: 43,344 B of the course's camera model.
    Checked on the real firmware (both builds: loads, 48 of 48 camera samples score identically, in
    tests/test_firmware_qemu.py). Returns a :class:`StrippedModel`."""
    def edit(model):
        found = _weight_zero_points(model)
        for q in found:
            q.zeroPoint = [0]
        return bool(found)

    return _repack(tflite_bytes, edit)


def has_compact_zero_points(tflite_bytes):
    """Whether a per-channel tensor of the model has a single zero point (:func:`compact_zero_points`)."""
    model = read(tflite_bytes)
    return any(t.quantization is not None and t.quantization.zeroPoint is not None
               and t.quantization.scale is not None and len(t.quantization.zeroPoint) == 1
               and len(t.quantization.scale) > 1 for g in model.subgraphs for t in g.tensors)


def expand_zero_points(tflite_bytes):
    """The inverse of :func:`compact_zero_points`: each single zero point repeated once per scale, so that LiteRT
    accepts the file; the scores are the same (``tinymask.runner`` does this for you)."""
    def edit(model):
        changed = False
        for graph in model.subgraphs:
            for t in graph.tensors:
                q = t.quantization
                if q is not None and q.zeroPoint is not None and q.scale is not None and len(q.zeroPoint) == 1 \
                        and len(q.scale) > 1:
                    q.zeroPoint = [int(q.zeroPoint[0])] * len(q.scale)
                    changed = True
        return changed

    return _repack(tflite_bytes, edit, keep_smaller=False)


def camera_copy(tflite_bytes):
    """What ``tinymask export`` puts on the camera: :func:`strip_names` then :func:`compact_zero_points`. Same
    graph, weights and scores; ``.names_saved``, ``.zero_points_saved`` and ``.saved`` say what each removed."""
    data = as_bytes(tflite_bytes)
    stripped = strip_names(data)
    out = compact_zero_points(stripped)
    out.names_saved, out.zero_points_saved = stripped.saved, out.saved
    out.saved = len(data) - len(out)
    return out


def anatomy(tflite_bytes):
    """Where a model file's bytes go (chapter 7): ``{"int8 weights", "int32 biases", "other constants",
    "quantization parameters", "names", "graph and flatbuffer structure", "total"}`` in bytes. Weights and biases
    are the quantized constant buffers by type (as chapter 5 counts them), other constants the rest; quantization
    parameters count 4 B a scale and 8 B a zero point (int64 in the schema); names are tensor, subgraph and
    signature strings and the description; the rest is the graph itself (operators, shapes, tables and
    alignment)."""
    data = as_bytes(tflite_bytes)
    model = read(data)
    parts = dict.fromkeys(("int8 weights", "int32 biases", "other constants", "quantization parameters", "names"), 0)
    parts["names"] += len(model.description or b"")
    seen = set()
    for graph in model.subgraphs:
        parts["names"] += len(graph.name or b"")
        for t in graph.tensors:
            parts["names"] += len(t.name or b"")
            q = t.quantization
            if q is not None:
                parts["quantization parameters"] += sum(4 * len(v) for v in (q.scale, q.min, q.max) if v is not None)
                parts["quantization parameters"] += 8 * len(q.zeroPoint if q.zeroPoint is not None else ())
            if t.buffer in seen or not is_constant(model, t):
                continue
            seen.add(t.buffer)
            size = len(model.buffers[t.buffer].data) if model.buffers[t.buffer].data is not None else 0
            quantized = q is not None and q.scale is not None and len(q.scale) > 0
            key = {"int8": "int8 weights", "int32": "int32 biases"}.get(dtype(t)) if quantized else None
            parts[key or "other constants"] += size  # e.g. the int32 axes of MEAN: constants, not biases
    for sig in model.signatureDefs or ():
        parts["names"] += len(sig.signatureKey or b"")
        for tm in (sig.inputs or []) + (sig.outputs or []):
            parts["names"] += len(tm.name or b"")
    parts["graph and flatbuffer structure"] = len(data) - sum(parts.values())
    parts["total"] = len(data)
    return parts
