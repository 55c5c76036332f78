"""Which operators a .tflite model runs and whether TensorFlow Lite Micro and the OpenMV firmware have kernels for
them: op names, the op table with each op's Keras layer, the full-integer and hybrid checks (chapter 6,
notebooks/06_on_device_budget.ipynb; used by ``footprint``, ``arena``, ``quantize`` and ``deploy``)."""

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from . import tflite
from .errors import TinymaskError, ToolError

__all__ = [
    "TFLM_OPS",
    "PER_CHANNEL_FC_FIRMWARE",
    "OpInfo",
    "UnsupportedOpError",
    "HybridModelError",
    "FirmwareTFLMError",
    "op_table",
    "operators",
    "tflm_available",
    "tflm_supported_ops",
    "check_tflm_ops",
    "per_channel_fully_connected",
    "check_firmware_tflm",
    "float_ops",
    "is_full_int8",
    "hybrid_ops",
    "check_not_hybrid",
]

#: The builtin operators TensorFlow Lite Micro has kernels for: the ones the tflite-micro Python wheel
#: (tflite_micro 0.dev20261023182759) registers in its op resolver (``PythonOpsResolver``,
#: tensorflow/lite/micro/python/interpreter/src/python_ops_resolver.cc, which adds every kernel
#: ``MicroMutableOpResolver`` offers), read from the wheel's ``Register_<OP>`` symbols and kept to TFLite builtin
#: names. A firmware such as OpenMV's builds its own resolver, which may hold fewer. :func:`tflm_supported_ops`
#: re-reads the installed wheel where there is one.
TFLM_OPS = frozenset({
    "ABS", "ADD", "ADD_N", "ARG_MAX", "ARG_MIN", "ASSIGN_VARIABLE", "AVERAGE_POOL_2D", "BATCH_MATMUL",
    "BATCH_TO_SPACE_ND", "BROADCAST_ARGS", "BROADCAST_TO", "CALL_ONCE", "CAST", "CEIL", "CONCATENATION", "CONV_2D",
    "COS", "CUMSUM", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE", "DIV", "DYNAMIC_UPDATE_SLICE", "ELU",
    "EMBEDDING_LOOKUP", "EQUAL", "EXP", "EXPAND_DIMS", "FILL", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED",
    "GATHER", "GATHER_ND", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "IF", "L2_NORMALIZATION", "L2_POOL_2D",
    "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "LOGISTIC", "LOG_SOFTMAX",
    "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "NEG", "NOT_EQUAL", "PACK", "PAD", "PADV2",
    "PRELU", "QUANTIZE", "READ_VARIABLE", "REDUCE_ALL", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "ROUND", "RSQRT", "SELECT_V2", "SHAPE", "SIN",
    "SLICE", "SOFTMAX", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT", "SQUARE",
    "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "SVDF", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNPACK", "VAR_HANDLE", "WHILE", "ZEROS_LIKE",
})

_MIN_WHEEL_OPS = 50  # fewer Register_ symbols than this means the wheel could not be read


# --------------------------------------------------------------------------------------------- reading the bytes
def _layer_of(tensor_name):
    """Best guess at the Keras layer behind a tensor: the deepest name scope in its name that is not an op name.

    ``"model_1/gelu_act_1/Gelu/mul_2;..."`` -> ``"gelu_act"``. TensorFlow appends ``_1`` to a name scope entered a
    second time, which Keras 3 does when it traces a model for export; that suffix is dropped.
    """
    parts = [p for p in tensor_name.split(";")[0].split("/") if p]
    scopes = [p for p in parts[1:-1] if not re.fullmatch(r"[A-Z]\w*", p)]
    return re.sub(r"_\d+$", "", scopes[-1]) if scopes else None


# --------------------------------------------------------------------------------------------- ops
@dataclass(frozen=True)
class OpInfo:
    """One operator of the graph, in execution order: its input and output tensor indexes, the name of the tensor it
    writes (the first of the names the converter fused) and the Keras layer it most likely came from."""

    index: int
    op: str
    inputs: tuple
    outputs: tuple
    output_name: str
    layer: str | None


def op_table(tflite_bytes, subgraph=0):
    """Every operator of a subgraph in the order the interpreter runs them, as :class:`OpInfo` rows."""
    model = tflite.read(tflite_bytes)
    graph = model.subgraphs[subgraph]
    rows = []
    for i, op in enumerate(graph.operators or []):
        outs = tuple(int(t) for t in (op.outputs if op.outputs is not None else ()))
        ins = tuple(int(t) for t in (op.inputs if op.inputs is not None else ()))
        name = tflite.text(graph.tensors[outs[0]].name).split(";")[0] if outs and outs[0] >= 0 else ""
        layer = _layer_of(name)
        for t in ins if layer is None else ():  # a graph output is named after the signature: ask the inputs
            if t >= 0 and not tflite.is_constant(model, graph.tensors[t]):
                layer = _layer_of(tflite.text(graph.tensors[t].name))
                break
        rows.append(OpInfo(i, tflite.op_name(model, op.opcodeIndex), ins, outs, name, layer))
    return rows


def operators(tflite_bytes):
    """Sorted names of the operators a model's graph runs (``CONV_2D``, ``DEPTHWISE_CONV_2D``, ...; a custom or
    Flex op reads ``CUSTOM:<code>``), read from the operator codes of the operators of every subgraph.

    The flatbuffer is read with the TFLite schema that ships with ``ai_edge_litert`` (else TensorFlow's): no
    interpreter is built, so this works for any model, including ones an interpreter would refuse.
    """
    model = tflite.read(tflite_bytes)
    used = set()
    for graph in model.subgraphs:
        for op in graph.operators or []:
            used.add(tflite.op_name(model, op.opcodeIndex))
    return sorted(used)


def tflm_available():
    """True where the tflite-micro wheel (the real TFLite Micro interpreter) imports; it is published for Linux only."""
    try:
        import tflite_micro  # noqa: F401
    except Exception:  # noqa: BLE001 - missing wheel, or one built for another platform
        return False
    return True


@functools.lru_cache(maxsize=1)
def tflm_supported_ops():
    """The builtin ops TFLite Micro supports: read from the installed tflite-micro wheel (the ``Register_<OP>``
    kernel symbols in its ``_runtime`` library, kept to TFLite builtin names) where there is one, else
    :data:`TFLM_OPS`."""
    if not tflm_available():
        return TFLM_OPS
    try:
        from tflite_micro.python.tflite_micro import _runtime

        data = Path(_runtime.__file__).read_bytes()
    except Exception:  # noqa: BLE001 - an unusual install layout: fall back to the documented list
        return TFLM_OPS
    builtins = tflite.builtin_op_names()
    found = {m.decode() for m in re.findall(rb"Register_([A-Z0-9_]+?)Ev", data)} & builtins
    return frozenset(found) if len(found) >= _MIN_WHEEL_OPS else TFLM_OPS


class UnsupportedOpError(TinymaskError, ValueError):
    """A model uses operators TFLite Micro has no kernel for; ``.ops`` lists them as :class:`OpInfo` rows."""

    def __init__(self, message, ops):
        super().__init__(message)
        self.ops = ops


def _where(row):
    layer = f", probably Keras layer {row.layer!r}" if row.layer else ""
    return f"{row.op} at op {row.index} (output tensor {row.output_name!r}{layer})"


def check_tflm_ops(tflite_bytes, supported=None):
    """Check every operator against TFLite Micro's op set; return the sorted op names when all are supported.

    ``supported`` defaults to :func:`tflm_supported_ops`. Raises :class:`UnsupportedOpError` naming each missing
    op, where it runs and the Keras layer it most likely came from (read from its output tensor's name).
    """
    supported = tflm_supported_ops() if supported is None else frozenset(supported)
    bad = [row for row in op_table(tflite_bytes) if row.op not in supported]
    for graph_index in range(1, len(tflite.read(tflite_bytes).subgraphs)):
        bad += [row for row in op_table(tflite_bytes, graph_index) if row.op not in supported]
    if bad:
        names = sorted({row.op for row in bad})
        details = "; ".join(_where(row) for row in bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UnsupportedOpError(
            f"TFLite Micro has no kernel for {', '.join(names)}: {details}. Replace that layer with one built from "
            "ops TFLite Micro supports (e.g. ReLU or ReLU6 for an activation, see footprint.TFLM_OPS), or register a "
            "custom kernel in the firmware",
            bad,
        )
    return operators(tflite_bytes)


class FirmwareTFLMError(TinymaskError, ValueError):
    """The model uses a kernel variant the TFLite Micro of some OpenMV firmware refuses; ``.ops`` lists the ops."""

    def __init__(self, message, ops):
        super().__init__(message)
        self.ops = ops


#: OpenMV firmware 4.6.x to 4.8.1 pin openmv/libtflm 73eb1aa (2024-09-18), whose FULLY_CONNECTED kernel refuses a
#: per-channel quantized weight ("FullyConnected per-channel quantization not yet supported", then
#: ``ValueError: Failed to allocate tensors`` from ``ml.Model``); seen on that library built into the real firmware
#: for QEMU (../shared/openmv-qemu, build tflm-2024-09). Firmware 5.0.0's newer TFLM accepts it.
PER_CHANNEL_FC_FIRMWARE = "4.6.0-4.8.1"


def per_channel_fully_connected(tflite_bytes):
    """FULLY_CONNECTED ops whose weight tensor has one scale per output unit (:class:`OpInfo` rows); empty for a
    model converted with per-tensor dense layers (``quantize.to_int8``'s default)."""
    model = tflite.read(tflite_bytes)
    graph = model.subgraphs[0]
    found = []
    for row in op_table(tflite_bytes):
        if row.op != "FULLY_CONNECTED" or len(row.inputs) < 2 or row.inputs[1] < 0:
            continue
        q = graph.tensors[row.inputs[1]].quantization
        if q is not None and q.scale is not None and len(q.scale) > 1:
            found.append(row)
    return found


def check_firmware_tflm(tflite_bytes):
    """Raise :class:`FirmwareTFLMError` when a model would not load on every OpenMV firmware from 4.5.6 to 5.0
    (today: a per-channel quantized FULLY_CONNECTED, refused by firmware 4.6.0-4.8.1); return None otherwise."""
    bad = per_channel_fully_connected(tflite_bytes)
    if bad:
        raise FirmwareTFLMError(
            f"{len(bad)} FULLY_CONNECTED op(s) have per-channel quantized weights ({_where(bad[0])}): the TFLite "
            f"Micro of OpenMV firmware {PER_CHANNEL_FC_FIRMWARE} refuses them (ml.Model raises 'Failed to allocate "
            "tensors'). Convert with quantize.to_int8 (per-tensor dense layers by default; in TFLiteConverter: "
            "converter._experimental_disable_per_channel_quantization_for_dense_layers = True)",
            bad,
        )


# --------------------------------------------------------------------------------------------- integer-only?
def float_ops(tflite_bytes):
    """Ops that read or write a float tensor (``"FULLY_CONNECTED@3"`` style: op name @ op index); empty for a
    full-integer model. A dynamic-range model lists its hybrid ops here, a float model every op."""
    model = tflite.read(tflite_bytes)
    graph = model.subgraphs[0]
    found = []
    for row in op_table(tflite_bytes):
        dtypes = {tflite.dtype(graph.tensors[t]) for t in row.inputs + row.outputs if t >= 0}
        if dtypes & {"float32", "float16", "float64", "bfloat16"}:
            found.append(f"{row.op}@{row.index}")
    return found


def is_full_int8(tflite_bytes):
    """True when the model's inputs and outputs are int8, every op is a builtin and no tensor is float: what the
    OpenMV firmware and TFLite Micro's optimised (CMSIS-NN) kernels expect."""
    ios = tflite.io_rows(tflite_bytes, "inputs") + tflite.io_rows(tflite_bytes, "outputs")
    if not ios or any(row["dtype"] != "int8" for row in ios):
        return False
    if any(op.startswith("CUSTOM:") for op in operators(tflite_bytes)):
        return False
    return not float_ops(tflite_bytes)


# --------------------------------------------------------------------------------------------- hybrid ops
_FLOATS = frozenset({"float32", "float16", "float64", "bfloat16"})
_INT_WEIGHTS = frozenset({"int8", "uint8", "int4"})


class HybridModelError(UnsupportedOpError, ToolError):
    """A dynamic-range ("hybrid") model: ops that compute on float activations with int8 weights, which TFLite Micro
    has no kernels for. An :class:`UnsupportedOpError` and a ``ToolError`` (a RuntimeError, as TFLite Micro's own
    refusal was); ``.ops`` lists the hybrid ops. Raised by ``arena.measured_arena_bytes`` (chapter 6)."""


def hybrid_ops(tflite_bytes):
    """Ops that read a float activation and an int8 (or uint8, int4) constant weight, as :class:`OpInfo` rows: what
    dynamic-range quantization (``quantize.to_dynamic_range``) makes of convolutions and dense layers. TFLite Micro's
    kernels refuse them ("Hybrid models are not supported on TFLite Micro", conv.cc, fully_connected.cc, ...); empty
    for a float or a full-integer model. Used by ``arena.measured_arena_bytes`` and ``footprint.describe``."""
    model = tflite.read(tflite_bytes)
    found = []
    for graph_index, graph in enumerate(model.subgraphs):
        for row in op_table(tflite_bytes, graph_index):
            tensors = [graph.tensors[t] for t in row.inputs if t >= 0]
            reads_float = any(tflite.dtype(t) in _FLOATS and not tflite.is_constant(model, t) for t in tensors)
            int_weight = any(tflite.dtype(t) in _INT_WEIGHTS and tflite.is_constant(model, t) for t in tensors)
            if reads_float and int_weight:
                found.append(row)
    return found


def check_not_hybrid(tflite_bytes):
    """Raise :class:`HybridModelError` when the model has :func:`hybrid_ops`; return None otherwise. Called by
    ``arena.measured_arena_bytes`` before TFLite Micro is built (notebook 05 shows the refusal)."""
    bad = hybrid_ops(tflite_bytes)
    if bad:
        raise HybridModelError(
            f"Hybrid models are not supported on TFLite Micro: {len(bad)} op(s) compute on float activations with "
            f"int8 weights ({_where(bad[0])}), as dynamic-range quantization makes them. Convert with "
            "quantize.to_int8 (full-integer int8) for TFLite Micro and the camera",
            bad,
        )
