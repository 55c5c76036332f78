"""Flash, RAM, op support, latency and battery life of a .tflite model, read from its bytes (introduced in notebooks/05_int8_quantization.ipynb)."""

import functools
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import memory, tflite
from .errors import InputError, TinymaskError, ToolError

__all__ = [
    "TFLM_OPS",
    "TFLM_OPS_SOURCE",
    "NO_TFLM_NOTE",
    "OPENMV_FRAME_BYTES",
    "ARENA_ALIGNMENT",
    "PUBLISHED_OPS",
    "PUBLISHED_LATENCY_S",
    "DEFAULT_OPS_PER_S",
    "OPENMV_H7_CLOCK_HZ",
    "PUBLISHED_LATENCIES",
    "LOW_OPS_PER_S",
    "HIGH_OPS_PER_S",
    "ACTIVE_CURRENT_A",
    "SLEEP_CURRENT_A",
    "LIGHTSLEEP_CURRENT_A",
    "LDO_EFFICIENCY",
    "WAKE_OVERHEAD_S",
    "DEEPSLEEP_BOOT_S",
    "SLEEP_MODES",
    "PublishedLatency",
    "SleepMode",
    "BatteryEstimate",
    "OpInfo",
    "TensorLifetime",
    "ArenaUsage",
    "Latency",
    "BoardFit",
    "UnsupportedOpError",
    "FirmwareTFLMError",
    "PER_CHANNEL_FC_FIRMWARE",
    "per_channel_fully_connected",
    "check_firmware_tflm",
    "flash_bytes",
    "operators",
    "op_table",
    "tflm_supported_ops",
    "check_tflm_ops",
    "is_full_int8",
    "float_ops",
    "describe",
    "tflm_available",
    "measured_arena_bytes",
    "lifetimes",
    "live_bytes",
    "activation_lower_bound",
    "plan_arena",
    "greedy_arena_estimate",
    "macs",
    "latency_estimate",
    "energy_per_inference",
    "battery_estimate",
    "battery_life",
    "fits_board",
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
TFLM_OPS_SOURCE = (
    "tflite-micro Python wheel 0.dev20261023182759: builtin ops of its PythonOpsResolver "
    "(tensorflow/lite/micro/python/interpreter/src/python_ops_resolver.cc)"
)
#: What the RAM figures say where the real TFLite Micro interpreter cannot run.
NO_TFLM_NOTE = "estimate only: tflite-micro has no wheel for this platform (it is published for Linux only)"

#: One 320x240 RGB565 camera frame (2 bytes a pixel): what the OpenMV frame buffer holds beside the model.
OPENMV_FRAME_BYTES = 320 * 240 * 2
#: TFLite Micro aligns every arena buffer to 16 bytes (``MicroArenaBufferAlignment()``).
ARENA_ALIGNMENT = 16

#: A figure quoted beside the course's lecture (33.4 M operations in 150 ms on a Cortex-M7 at 480 MHz), whose source
#: could not be traced; kept only as a cross-check: 222.7e6 operations a second is 222.7e6 MACs a second if an
#: operation is a MAC, 111.3e6 if a MAC counts as two operations (a multiply and an add).
PUBLISHED_OPS = 33.4e6
PUBLISHED_LATENCY_S = 0.150
#: The clock of the OpenMV Cam H7's STM32H743 (480 MHz).
OPENMV_H7_CLOCK_HZ = 480e6


@dataclass(frozen=True)
class PublishedLatency:
    """One published inference time of an int8 model on an STM32H7 (see :data:`PUBLISHED_LATENCIES`).

    ``macs`` is the model's multiply-accumulate count (one multiply-add = one MAC) or None where no count is
    published; ``clock_hz`` the core clock of the measurement; ``clock_assumed`` True where the source does not state
    it and the STM32H743's 480 MHz is assumed."""

    model: str
    macs: int | None
    seconds: float
    clock_hz: float
    runtime: str
    board: str
    source: str
    clock_assumed: bool = False

    def macs_per_s(self, clock_hz=OPENMV_H7_CLOCK_HZ):
        """MACs a second, scaled linearly from the measurement's clock to ``clock_hz`` (an assumption: memory wait
        states do not scale with the clock); None without a MAC count."""
        if self.macs is None:
            return None
        return self.macs / self.seconds * clock_hz / self.clock_hz


_ST_ZOO = ("STMicroelectronics/stm32ai-modelzoo, image_classification/models/mobilenetv1/README.md (commit 1732c20), "
           "'Reference inference time' table; later releases list 32.18 ms (8.1.0) and 29.94 ms (10.0.0)")
_TINYENGINE = ("mit-han-lab/tinyengine README.md, 'Measured Results' latency table (STM32H743, -Ofast; TF-Lite Micro "
               "@ 713b6ed, CMSIS-NN @ 011bf32, X-CUBE-AI 7.3.0); MACs from mit-han-lab/mcunet README.md, 'VWW model "
               "list'")
#: Published inference times of small int8 CNNs on STM32H7 boards, the figures :data:`DEFAULT_OPS_PER_S` and its
#: range are derived from. MobileNetV1 0.25 96x96 has 7,489,664 MACs by the course's own count (``profile.totals``;
#: ST's 5-class head adds 768 MACs, 0.01%). The TinyEngine table also lists mbv2-w0.3-r64 at 43 ms (CMSIS-NN), but
#: no MAC count for that model was found published, so it is kept here with ``macs=None`` and left out of the rates.
PUBLISHED_LATENCIES = (
    PublishedLatency("MobileNetV1 0.25 96x96", 7_489_664, 0.03548, 400e6, "X-CUBE-AI 7.3.0",
                     "STM32H747I-DISCO", _ST_ZOO),
    PublishedLatency("mcunet-vww0", 6_000_000, 0.053, OPENMV_H7_CLOCK_HZ, "TFLite Micro + CMSIS-NN", "STM32H743",
                     _TINYENGINE, clock_assumed=True),
    PublishedLatency("mcunet-vww0", 6_000_000, 0.032, OPENMV_H7_CLOCK_HZ, "X-CUBE-AI 7.3.0", "STM32H743",
                     _TINYENGINE, clock_assumed=True),
    PublishedLatency("mbv2-w0.3-r64", None, 0.043, OPENMV_H7_CLOCK_HZ, "TFLite Micro + CMSIS-NN", "STM32H743",
                     _TINYENGINE, clock_assumed=True),
)
_ST_MOBILENET, _VWW0_CMSIS, _VWW0_XCUBE, _MBV2 = PUBLISHED_LATENCIES
#: The fast end: X-CUBE-AI on this very architecture, scaled to 480 MHz: 7,489,664 / 0.03548 s x 480 / 400 = 253.3e6.
HIGH_OPS_PER_S = _ST_MOBILENET.macs_per_s()
#: The slow end: TFLite Micro with CMSIS-NN kernels (the OpenMV firmware's runtime) on mcunet-vww0: 6.0e6 / 0.053 s
#: = 113.2e6, at the STM32H743's 480 MHz (assumed: the table does not state the clock).
LOW_OPS_PER_S = _VWW0_CMSIS.macs_per_s()
#: The default: the fast end slowed by the ratio TFLite Micro + CMSIS-NN / X-CUBE-AI measured on one model on one
#: board (mcunet-vww0: 53 ms / 32 ms): 253.3e6 x 32 / 53 = 152.9e6 MACs a second, the OpenMV firmware's runtime on
#: MobileNetV1's mix of layers. An estimate, not a bound.
DEFAULT_OPS_PER_S = HIGH_OPS_PER_S * _VWW0_XCUBE.seconds / _VWW0_CMSIS.seconds

#: Whole-board current of an OpenMV Cam H7 awake, camera sensor on, MCU at 480 MHz: an ASSUMPTION (no published
#: OpenMV Cam H7 figure was found). For scale: OpenMV's sensor_sleep.py example says the sensor's sleep mode "saves
#: about 40mA" (scripts/examples/OpenMV/19-Low-Power/sensor_sleep.py, firmware v4.0.0); the Arduino Nicla Vision
#: datasheet (STM32H747 + camera, OpenMV firmware 4.3.4) gives 105 mA average during image capture. Measure yours.
ACTIVE_CURRENT_A = 0.140
#: Deep sleep with the sensor shut down (``sensor.shutdown(True)``, PWDN high): "less than 50 uA", OpenMV's own
#: comment on ``machine.deepsleep()`` (quoted in forums.openmv.io t=910); with the sensor only soft-slept
#: (``sensor.sleep(True)``, what low_power.py does) a user measured 1.6-1.84 mA on an M7/H7 (same thread).
SLEEP_CURRENT_A = 50e-6
#: ``machine.lightsleep()`` is STM32 Stop mode (OpenMV's stop_mode.py example: ``machine.sleep()`` "Enter Stop
#: Mode"; MicroPython's ``machine.sleep`` is ``lightsleep``). An ASSUMPTION of 3 mA for the board: the 1.84 mA
#: measured in deep sleep with the sensor soft-slept (forums.openmv.io t=910, about 1 mA of it the sensor in
#: standby) plus up to 1.3 mA for the MCU in Stop rather than Standby (STM32H743 datasheet DS12110, as quoted in
#: openmv/openmv#889: Stop 0.2-1.3 mA, Standby about 2.4 uA). The H7 Plus's SDRAM adds more (about 10 mA,
#: openmv/openmv#1140).
LIGHTSLEEP_CURRENT_A = 3e-3
#: The board's regulator: a linear regulator (LDO) from the cell to 3.3 V draws the board's current from the cell,
#: so of a 3.7 V cell's energy it delivers 3.3 / 3.7 = 0.89 (an ASSUMPTION that the H7 uses an LDO, as the
#: open-source copies of its board do, e.g. zm321/OpenMV_PCB: SPX3819). Then days = mAh / mean mA / 24.
LDO_EFFICIENCY = 3.3 / 3.7
#: Seconds openmv_scripts/low_power.py stays awake per wake-up besides the inference: SETTLE_MS (300) of snapshots
#: while the exposure settles, then BLINK_MS (100) of LED; the sensor's wake-up and the last frame are not counted.
WAKE_OVERHEAD_S = (300 + 100) / 1000
#: Extra seconds awake after ``machine.deepsleep()``: it resets the board, so main.py boots, mounts the SD card,
#: reloads the model and resets the sensor before the first picture. An ASSUMPTION (1 s); time your board.
DEEPSLEEP_BOOT_S = 1.0

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


def flash_bytes(tflite_bytes):
    """Bytes of the .tflite file: what the model takes in flash (or in the RAM region it is loaded to)."""
    return len(tflite.as_bytes(tflite_bytes))


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


def describe(tflite_bytes, *, measure=True):
    """A dict that sums a .tflite model up, for any model (float, dynamic-range or full int8), without raising:

    ``flash_bytes``, ``input``/``output`` (name, dtype, shape, scale, zero point), ``full_int8``, ``operators``,
    ``float_ops``, ``tflm_unsupported`` (ops TFLite Micro lacks), ``lower_bound_bytes``, ``greedy_estimate_bytes``,
    ``arena`` (:class:`ArenaUsage` measured by TFLite Micro, or None), and ``notes`` saying what is missing and why.
    ``measure=False`` skips running TFLite Micro.
    """
    data = tflite.as_bytes(tflite_bytes)
    ins, outs = tflite.io_rows(data, "inputs"), tflite.io_rows(data, "outputs")
    unsupported = sorted({row.op for row in op_table(data)} - tflm_supported_ops())
    report = {
        "flash_bytes": len(data),
        "input": ins[0] if len(ins) == 1 else ins,
        "output": outs[0] if len(outs) == 1 else outs,
        "full_int8": is_full_int8(data),
        "operators": operators(data),
        "float_ops": float_ops(data),
        "tflm_unsupported": unsupported,
        "per_channel_fully_connected": len(per_channel_fully_connected(data)),
        "lower_bound_bytes": activation_lower_bound(data),
        "greedy_estimate_bytes": greedy_arena_estimate(data),
        "arena": None,
        "notes": [],
    }
    notes = report["notes"]
    if not report["full_int8"]:
        kinds = ", ".join(f"{r['dtype']} {side}" for side, rs in (("input", ins), ("output", outs)) for r in rs)
        notes.append(
            f"not full-integer int8 ({kinds}; {len(report['float_ops'])} ops touch float tensors): the OpenMV "
            "firmware expects int8 in and out; convert with quantize.to_int8"
        )
    if report["per_channel_fully_connected"]:
        notes.append(f"per-channel quantized FULLY_CONNECTED: OpenMV firmware {PER_CHANNEL_FC_FIRMWARE} cannot load "
                     "it; convert with quantize.to_int8 (per-tensor dense layers)")
    if unsupported:
        notes.append(f"TFLite Micro has no kernel for {', '.join(unsupported)}: the board cannot run this model")
    elif measure and not tflm_available():
        notes.append(NO_TFLM_NOTE)
    elif measure:
        try:
            report["arena"] = measured_arena_bytes(data)
        except Exception as error:  # noqa: BLE001 - the report says why instead of raising
            notes.append(f"TFLite Micro could not run it: {error}")
    return report


# --------------------------------------------------------------------------------------------- measured arena
@dataclass(frozen=True)
class ArenaUsage:
    """The tensor arena TFLite Micro used, as its ``RecordingMicroAllocator`` printed it.

    ``total`` = ``head`` (the non-persistent section: the planned activation buffers and scratch buffers) + ``tail``
    (persistent: tensor structs, quantization data, op data, node structs). ``parts`` holds each recorded
    allocation type's bytes as printed; ``text`` the lines themselves.
    """

    total: int
    head: int
    tail: int
    parts: dict = field(default_factory=dict)
    text: str = ""

    def __str__(self):
        return (f"{self.total:,} B arena = {self.head:,} B head (activations, scratch) + "
                f"{self.tail:,} B tail (persistent)")


_TOTAL = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_PART = re.compile(r"'([^']+)' used (\d+) bytes")


def _parse_allocations(text):
    figures = {k: int(v) for k, v in _TOTAL.findall(text)}
    if "total" not in figures:
        raise ToolError(
            "TFLite Micro's print_allocations() printed no 'Arena allocation total' line "
            f"(got {text.strip()[:300]!r}); this tflite-micro version prints another format"
        )
    parts = {k: int(v) for k, v in _PART.findall(text)}
    lines = "\n".join(line for line in text.splitlines() if "RecordingMicroAllocator" in line)
    return ArenaUsage(figures["total"], figures.get("head", 0), figures.get("tail", 0), parts, lines)


def _missing_ops(text):
    return sorted(set(re.findall(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'", text)))


def _measure_here(data, arena_size, invoke):
    """Build TFLite Micro's interpreter on ``data`` in this process, run it once, return the printed allocations."""
    import numpy as np
    from tflite_micro import runtime

    with tflite.captured_fds() as log:
        try:
            interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena_size)
            built = True
        except RuntimeError:
            built = False
    if not built:
        missing = _missing_ops(log["text"])
        if missing:
            check_tflm_ops(data, supported=tflm_supported_ops() - set(missing))  # raises, naming op and layer
        said = " ".join(log["text"].split())[:400] or "no message"
        hint = "; pass a larger arena_size" if "alloc" in said.lower() else ""
        raise ToolError(f"TFLite Micro could not prepare this model ({arena_size:,} B arena): {said}{hint}")
    if invoke:
        for i in range(len(tflite.io_rows(data, "inputs"))):
            details = interpreter.get_input_details(i)
            interpreter.set_input(np.zeros(details["shape"], details["dtype"]), i)
        with tflite.captured_fds() as log:
            interpreter.invoke()
    with tflite.captured_fds() as log:
        interpreter.print_allocations()
    return log["text"]


_CHILD = (
    "import sys; from tinymask import footprint as f; d = open(sys.argv[1], 'rb').read(); "
    "sys.stdout.write('\\n@@ALLOC@@' + f._measure_here(d, int(sys.argv[2]), sys.argv[3] == '1'))"
)


def _measure_isolated(data, arena_size, invoke):
    """The same in a child Python: a model that makes TFLite Micro abort kills the child, not this kernel."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)
        env = dict(os.environ)  # the child imports this package even from a checkout that is not installed
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(arena_size), "1" if invoke else "0"],
            capture_output=True, text=True, timeout=600, env=env,
        )
    if done.returncode < 0 or (done.returncode != 0 and "Traceback" not in done.stderr):
        raise ToolError(
            f"TFLite Micro crashed on this model (child process exit status {done.returncode}); an arena_size too "
            "small for the model, or an untrained model calibrated on random data, can do this: measure a trained "
            "model calibrated on real images, with the default arena_size"
        )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1]
        kind, _, message = last.partition(": ")
        error = UnsupportedOpError(message, []) if kind.endswith("UnsupportedOpError") else RuntimeError(message)
        raise error
    return done.stdout.split("@@ALLOC@@", 1)[-1]


def measured_arena_bytes(tflite_bytes, *, arena_size=None, invoke=True, isolate=True):
    """The tensor arena the real TFLite Micro interpreter needs for this model, as an :class:`ArenaUsage`.

    Builds ``tflite_micro.runtime.Interpreter.from_bytes`` (its default allocation-recording mode), runs it once
    on an all-zero input (``invoke``; kernels may claim scratch buffers on the first run) and parses what
    ``print_allocations()`` prints from C++ to stdout: ``[RecordingMicroAllocator] Arena allocation total|head|tail
    N bytes`` and one ``'<allocation type>' used N bytes ...`` line per part. That output is captured with a
    file-descriptor redirect into a temp file. ``isolate`` (default) does this in a child Python, so that a model
    which makes TFLite Micro abort cannot take the notebook kernel with it.

    ``arena_size`` is the arena handed to the interpreter (default: 10x the model, at least 4 MiB); the figure
    returned is what it used. The figures are those of the host build of TFLite Micro (64-bit pointers): a 32-bit
    Cortex-M build stores smaller structs, so its persistent part (``tail``) is somewhat smaller; the planned
    activations (``head``) are the same. Returns None where tflite-micro has no wheel
    (macOS, Windows): use :func:`greedy_arena_estimate` there (see :data:`NO_TFLM_NOTE`).
    """
    data = tflite.as_bytes(tflite_bytes)
    if not tflm_available():
        return None
    check_tflm_ops(data)  # a missing kernel gets its clear error here, before TFLite Micro is built
    arena_size = max(10 * len(data), 4 * memory.MIB) if arena_size is None else int(arena_size)
    text = (_measure_isolated if isolate else _measure_here)(data, arena_size, invoke)
    return _parse_allocations(text)


# --------------------------------------------------------------------------------------------- planned arena
@dataclass(frozen=True)
class TensorLifetime:
    """A non-constant tensor: its bytes and the ops it lives from (written, or 0 for a graph input) to (last read,
    or the last op for a graph output)."""

    index: int
    name: str
    dtype: str
    shape: tuple
    nbytes: int
    first_op: int
    last_op: int


def lifetimes(tflite_bytes, subgraph=0):
    """:class:`TensorLifetime` of every tensor that needs arena space (constants, whose values sit in the
    flatbuffer, are skipped), read from the subgraph's operators in execution order."""
    model = tflite.read(tflite_bytes)
    graph = model.subgraphs[subgraph]
    ops = graph.operators or []
    last = len(ops) - 1
    first, final = {}, {}
    for i in range(len(graph.tensors)):
        if graph.tensors[i].isVariable:
            first[i], final[i] = 0, last
    for t in graph.inputs:
        first[int(t)] = 0
    for i, op in enumerate(ops):
        for t in op.inputs if op.inputs is not None else ():
            if t >= 0:
                first.setdefault(int(t), i)
                final[int(t)] = max(final.get(int(t), i), i)
        for t in op.outputs if op.outputs is not None else ():
            first.setdefault(int(t), i)
            final[int(t)] = max(final.get(int(t), i), i)
    for t in graph.outputs:
        first.setdefault(int(t), 0)
        final[int(t)] = last
    rows = []
    for t in sorted(first):
        tensor = graph.tensors[t]
        if tflite.is_constant(model, tensor):
            continue
        rows.append(TensorLifetime(t, tflite.text(tensor.name), tflite.dtype(tensor), tflite.shape(tensor), tflite.nbytes(tensor),
                                   first[t], max(final.get(t, first[t]), first[t])))
    return rows


def live_bytes(tflite_bytes, subgraph=0):
    """Per op, in execution order: ``(op index, op name, bytes of tensors alive while it runs)``; plot it to see
    where the activation peak sits."""
    spans = lifetimes(tflite_bytes, subgraph)
    return [(row.index, row.op, sum(s.nbytes for s in spans if s.first_op <= row.index <= s.last_op))
            for row in op_table(tflite_bytes, subgraph)]


def activation_lower_bound(tflite_bytes, subgraph=0):
    """The most bytes of tensors that must be alive at the same time (an op's inputs and outputs, and every tensor
    written earlier and read later): no memory planner can use less arena for the activations."""
    rows = live_bytes(tflite_bytes, subgraph)
    return max((b for _, _, b in rows), default=0)


def _align(n, alignment=ARENA_ALIGNMENT):
    return -(-n // alignment) * alignment


def plan_arena(spans, alignment=ARENA_ALIGNMENT):
    """Offsets a greedy first-fit planner gives buffers, as TFLite Micro's ``GreedyMemoryPlanner`` does: buffers
    sorted by size (largest first; equal sizes in descending tensor index, as TFLite Micro orders them), each put
    at the lowest ``alignment``-aligned offset where it overlaps no already placed buffer alive at the same time.
    ``spans`` are :class:`TensorLifetime` rows (or anything with ``nbytes``, ``first_op`` and ``last_op``); returns
    ``[(span, offset), ...]`` in placement order. On the course's models this reproduces the ``head`` TFLite Micro
    measures (e.g. 73,728 B for int8 MobileNetV1 alpha 0.25 at 96x96).
    """
    # Ties go to the later tensor first: TFLite Micro lists its buffers from the last tensor back, then sorts
    # them by size with a stable sort.
    order = sorted(spans, key=lambda s: (-s.nbytes, -getattr(s, "index", 0)))
    placed = []
    for s in order:
        busy = sorted((offset, offset + p.nbytes) for p, offset in placed
                      if p.first_op <= s.last_op and s.first_op <= p.last_op)
        offset = 0
        for start, end in busy:
            if offset + s.nbytes <= start:
                break
            offset = max(offset, _align(end, alignment))
        placed.append((s, offset))
    return placed


def greedy_arena_estimate(tflite_bytes, subgraph=0, alignment=ARENA_ALIGNMENT):
    """Arena bytes the activations take when :func:`plan_arena` places them: the highest buffer end.

    Always >= :func:`activation_lower_bound` (buffers alive together cannot share bytes); the arena TFLite Micro
    measures adds its persistent data and the kernels' scratch buffers on top.
    """
    placed = plan_arena(lifetimes(tflite_bytes, subgraph), alignment)
    return max((offset + s.nbytes for s, offset in placed), default=0)


# --------------------------------------------------------------------------------------------- time and energy
@dataclass(frozen=True)
class Latency:
    """An estimated inference time: ``seconds`` and ``fps`` from ``macs`` at ``ops_per_s`` MACs a second, and the
    times at the two ends of ``ops_range`` (``fastest_s`` at its high rate, ``slowest_s`` at its low one)."""

    macs: int
    ops_per_s: float
    seconds: float
    fps: float
    ops_range: tuple | None = None

    @property
    def fastest_s(self):
        return None if self.ops_range is None else self.macs / self.ops_range[1]

    @property
    def slowest_s(self):
        return None if self.ops_range is None else self.macs / self.ops_range[0]

    def __str__(self):
        text = (f"{self.macs / 1e6:.1f} M MACs at {self.ops_per_s / 1e6:.1f} M MAC/s: "
                f"{1000 * self.seconds:.1f} ms, {self.fps:.1f} FPS (estimate")
        if self.ops_range is None:
            return text + ")"
        return (text + f"; {1000 * self.fastest_s:.1f} to {1000 * self.slowest_s:.1f} ms over "
                f"{self.ops_range[1] / 1e6:.1f} to {self.ops_range[0] / 1e6:.1f} M MAC/s)")


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
        raise InputError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def macs(tflite_bytes, subgraph=0):
    """Multiply-accumulates of one inference, counted from the graph's tensor shapes as ``profile.totals`` counts
    them for a Keras model: CONV_2D out_h x out_w x out_c x kh x kw x in_c, DEPTHWISE_CONV_2D out_h x out_w x out_c x
    kh x kw, FULLY_CONNECTED units x inputs (other ops are not counted)."""
    model = tflite.read(tflite_bytes)
    tensors = model.subgraphs[subgraph].tensors
    total = 0
    for row in op_table(tflite_bytes, subgraph):
        if row.op not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        out = tflite.shape(tensors[row.outputs[0]])
        kernel = tflite.shape(tensors[row.inputs[1]])
        if row.op == "CONV_2D":      # kernel (out_c, kh, kw, in_c), output (1, h, w, out_c)
            total += out[1] * out[2] * int(math.prod(kernel))
        elif row.op == "DEPTHWISE_CONV_2D":  # kernel (1, kh, kw, out_c)
            total += out[1] * out[2] * int(math.prod(kernel))
        else:                        # kernel (units, inputs)
            total += int(math.prod(out[:-1])) * int(math.prod(kernel))
    return int(total)


def latency_estimate(macs, ops_per_s=DEFAULT_OPS_PER_S, *, ops_range=(LOW_OPS_PER_S, HIGH_OPS_PER_S)):
    """Inference time if the board sustains ``ops_per_s`` multiply-accumulates a second: seconds = macs / ops_per_s.

    An estimate, not a bound. One MAC is one multiply-add, as ``profile.totals`` and the MCUNet tables count them
    (a source that counts a multiply and an add as two operations quotes twice the rate). The default, 152.9e6 MACs
    a second, and the range ``ops_range`` (113.2e6 to 253.3e6) are derived from published measurements
    (:data:`PUBLISHED_LATENCIES`): the high end is ST's 35.48 ms for MobileNetV1 0.25 96x96 with X-CUBE-AI 7.3.0 on an
    STM32H747 at 400 MHz, scaled to 480 MHz (assumption: time scales with the clock); the low end is 53 ms for
    mcunet-vww0 (6.0 M MACs) with TFLite Micro + CMSIS-NN on an STM32H743 (clock assumed 480 MHz); the default is the
    high end times 32 / 53, the X-CUBE-AI / CMSIS-NN ratio the same table gives for mcunet-vww0, because the OpenMV
    firmware runs TFLite Micro with CMSIS-NN. Pass ``ops_per_s`` from your own timing (chapter 6's benchmark script)
    and ``ops_range=None`` to drop the published range.
    """
    macs = _positive("macs", macs)
    ops_per_s = _positive("ops_per_s", ops_per_s)
    if ops_range is not None:
        low, high = (_positive("ops_range", value) for value in ops_range)
        if low > high:
            raise InputError(f"ops_range must be (low, high) MACs a second, got {ops_range!r}")
        ops_range = (low, high)
    seconds = macs / ops_per_s
    return Latency(int(macs), ops_per_s, seconds, 1.0 / seconds, ops_range)


def energy_per_inference(latency_s, current_a=ACTIVE_CURRENT_A, voltage=3.3):
    """Joules one inference draws: voltage x current x time (3.3 V x 0.140 A x 0.150 s = 69.3 mJ)."""
    return _non_negative("latency_s", latency_s) * _positive("current_a", current_a) * _positive("voltage", voltage)


@dataclass(frozen=True)
class SleepMode:
    """How the board sleeps between wake-ups: its current asleep, the seconds a wake-up costs besides the script's
    own (a reboot for deep sleep) and where the current comes from."""

    name: str
    current_a: float
    boot_s: float
    source: str


#: The sleep modes of openmv_scripts/low_power.py, with the currents of :data:`LIGHTSLEEP_CURRENT_A` and
#: :data:`SLEEP_CURRENT_A` (see there for their sources; the lightsleep figure is an assumption).
SLEEP_MODES = {
    "lightsleep": SleepMode("lightsleep", LIGHTSLEEP_CURRENT_A, 0.0,
                            "assumption: 1.84 mA measured in deep sleep, sensor soft-slept (forums.openmv.io t=910) "
                            "+ up to 1.3 mA MCU Stop (DS12110 via openmv/openmv#889)"),
    "deepsleep": SleepMode("deepsleep", 1.84e-3, DEEPSLEEP_BOOT_S,
                           "measured by a user, sensor soft-slept as low_power.py does (forums.openmv.io t=910)"),
    "deepsleep, sensor off": SleepMode("deepsleep, sensor off", SLEEP_CURRENT_A, DEEPSLEEP_BOOT_S,
                                       "'less than 50 uA', OpenMV's deep-sleep example with sensor.shutdown(True)"),
}


@dataclass(frozen=True)
class BatteryEstimate:
    """What :func:`battery_estimate` worked out: days, the mean current, and each period's charge awake and asleep
    (ampere-seconds at the board's 3.3 V)."""

    days: float
    mean_current_a: float
    awake_s: float
    awake_as: float
    asleep_as: float
    sleep: SleepMode

    @property
    def awake_share(self):
        return self.awake_as / (self.awake_as + self.asleep_as)

    def __str__(self):
        return (f"{self.days:.1f} days: awake {self.awake_s:.2f} s a wake-up, {self.sleep.name} between, mean "
                f"{1000 * self.mean_current_a:.2f} mA ({self.awake_share:.0%} of it awake)")


def battery_estimate(inference_s, *, period_s=60.0, sleep="lightsleep", wake_s=WAKE_OVERHEAD_S,
                     active_current_a=ACTIVE_CURRENT_A, sleep_current_a=None, battery_mah=1000, battery_v=3.7,
                     voltage=3.3, efficiency=LDO_EFFICIENCY):
    """Battery life of openmv_scripts/low_power.py's duty cycle, as a :class:`BatteryEstimate`.

    Each ``period_s`` the board is awake ``wake_s + inference_s`` (plus the sleep mode's ``boot_s``: deep sleep
    reboots the board and reloads the model) at ``active_current_a``, and asleep the rest at the sleep mode's current
    (``sleep`` is a key of :data:`SLEEP_MODES`; ``sleep_current_a`` overrides its current), all at ``voltage``.
    battery energy = battery_mah / 1000 x 3600 x battery_v x efficiency joules; days = battery energy / (voltage x
    mean current x 86,400). With the default regulator (:data:`LDO_EFFICIENCY`, 3.3 / 3.7) that is battery_mah /
    mean mA / 24. Not counted: the cell's usable capacity (an LDO browns out before the cell is empty), temperature,
    self-discharge. The currents are the named assumptions of :data:`SLEEP_MODES` and :data:`ACTIVE_CURRENT_A`:
    measure your board's.
    """
    if sleep not in SLEEP_MODES:
        raise InputError(f"unknown sleep mode {sleep!r}; use one of {', '.join(map(repr, SLEEP_MODES))}")
    mode = SLEEP_MODES[sleep]
    asleep_a = mode.current_a if sleep_current_a is None else _non_negative("sleep_current_a", sleep_current_a)
    awake = _non_negative("inference_s", inference_s) + _non_negative("wake_s", wake_s) + mode.boot_s
    active = _positive("active_current_a", active_current_a)
    period_s = _positive("period_s", period_s)
    voltage = _positive("voltage", voltage)
    if awake >= period_s:
        raise InputError(
            f"the board is awake {awake:g} s a wake-up ({sleep}, inference_s + wake_s + boot) but period_s is "
            f"{period_s:g} s; make the period longer than the awake time"
        )
    if isinstance(efficiency, bool) or not isinstance(efficiency, (int, float)) or not 0 < efficiency <= 1:
        raise InputError(f"efficiency must be in (0, 1], got {efficiency!r}")
    battery_j = _positive("battery_mah", battery_mah) / 1000 * 3600 * _positive("battery_v", battery_v) * efficiency
    awake_as, asleep_as = active * awake, asleep_a * (period_s - awake)
    mean_a = (awake_as + asleep_as) / period_s
    return BatteryEstimate(battery_j / (voltage * mean_a) / 86400, mean_a, awake, awake_as, asleep_as,
                           SleepMode(mode.name, asleep_a, mode.boot_s, mode.source))


def battery_life(inference_s, **options):
    """Days a battery lasts: :func:`battery_estimate` ``(inference_s, **options).days``."""
    return battery_estimate(inference_s, **options).days


# --------------------------------------------------------------------------------------------- does it fit?
@dataclass(frozen=True)
class BoardFit:
    """Model bytes against the board's model region and arena bytes against its arena block, as two
    ``memory.Fit`` answers; true only when both fit. ``arena_source`` says where the arena figure came from."""

    model: memory.Fit
    arena: memory.Fit
    arena_source: str

    @property
    def fits(self):
        return self.model.fits and self.arena.fits

    def __bool__(self):
        return self.fits

    def __str__(self):
        verdict = "fits" if self.fits else "does NOT fit"
        return (f"{self.model.board.name}: {verdict}\n  model: {self.model}\n"
                f"  arena ({self.arena_source}): {self.arena}")


def _arena_needed(data, arena_bytes):
    if arena_bytes is not None:
        if isinstance(arena_bytes, bool) or not isinstance(arena_bytes, int) or arena_bytes < 0:
            raise InputError(f"arena_bytes must be a non-negative int of bytes, got {arena_bytes!r}")
        return arena_bytes, "given"
    if tflm_available():
        try:
            return measured_arena_bytes(data).total, "measured by TFLite Micro"
        except Exception as error:  # noqa: BLE001 - fall back to the planner estimate, and say so
            reason = f"TFLite Micro failed: {str(error)[:80]}"
    else:
        reason = NO_TFLM_NOTE
    return greedy_arena_estimate(data), f"greedy planner estimate of the activations, {reason}"


def fits_board(tflite_bytes, board="openmv-h7", arena_bytes=None, *, frame_bytes=OPENMV_FRAME_BYTES):
    """Does the model fit the board? A :class:`BoardFit` with numbers for the model and for the arena.

    Model: the .tflite bytes against the board's model region less one camera frame (``frame_bytes``, default a
    320x240 RGB565 frame = 153,600 B; the OpenMV H7 loads the model into its ~480 KB frame-buffer region, beside the
    frames), else against the heap block that also holds the arena (the H7 Plus reads the model into its SDRAM
    heap), else against its flash (a runtime that keeps the model in flash). Arena: ``arena_bytes`` if given, else the
    arena TFLite Micro measures (:func:`measured_arena_bytes`), else the greedy planner's estimate; against the
    board's arena heap block (~267 KB on the H7), else its SRAM. ``board`` is a key of ``memory.BOARDS`` or a
    ``memory.Board``.
    """
    data = tflite.as_bytes(tflite_bytes)
    b = memory.board(board)
    frame_bytes = int(_non_negative("frame_bytes", frame_bytes))
    needed, source = _arena_needed(data, arena_bytes)
    if b.model_region_bytes is not None:
        region = max(b.model_region_bytes - frame_bytes, 0)
        label = f"model region less a {frame_bytes:,} B frame"
        model_fit = memory.Fit(len(data), region, label, b)
    elif b.arena_bytes is not None:  # the firmware reads the model file into the heap block that holds the arena
        model_fit = memory.Fit(len(data), max(b.arena_bytes - needed, 0), f"heap block less the {needed:,} B arena", b)
    else:  # a board whose runtime keeps the model in flash
        model_fit = memory.fits(len(data), b, "flash")
    return BoardFit(model_fit, memory.fits(needed, b, "ram"), source)
