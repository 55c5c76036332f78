"""Flash, RAM, op support, latency and battery life of a .tflite model, read from its bytes (introduced in
notebooks/06_on_device_budget.ipynb).

The chapter's one entry point: :func:`describe` sums a model up, and every helper the chapter uses is here under its
chapter-5 name (``footprint.fits_board``, ``footprint.latency_estimate``, ...), re-exported from the modules that do
each job: ``tflm_ops`` (which ops, TFLite Micro's kernels, int8 checks), ``arena`` (TFLite Micro's measured arena
and the planner's), ``latency`` (time, energy, battery) and ``board_fit`` (does it fit the board?).
"""

from . import tflite, tflm_ops
from .arena import (
    ARENA_ALIGNMENT,
    MEASURED,
    NO_TFLM_NOTE,
    PLANNED,
    ArenaFigure,
    ArenaUsage,
    TensorLifetime,
    activation_lower_bound,
    arena_bytes,
    greedy_arena_estimate,
    lifetimes,
    live_bytes,
    measured_arena_bytes,
    plan_arena,
)
from .board_fit import (
    MODEL_ALIGN_5_0,
    OPENMV_FRAME_BYTES,
    SCRIPT_HEAP_HOLD,
    BoardFit,
    Placement,
    firmware5_placement,
    fits_board,
    flash_bytes,
)
from .errors import ToolError
from .latency import (
    ACTIVE_CURRENT_A,
    DEEPSLEEP_BOOT_S,
    DEFAULT_OPS_PER_S,
    HIGH_OPS_PER_S,
    LDO_EFFICIENCY,
    LIGHTSLEEP_CURRENT_A,
    LOW_OPS_PER_S,
    OPENMV_H7_CLOCK_HZ,
    PUBLISHED_LATENCIES,
    PUBLISHED_LATENCY_S,
    PUBLISHED_OPS,
    SLEEP_CURRENT_A,
    SLEEP_MODES,
    WAKE_OVERHEAD_S,
    BatteryEstimate,
    Latency,
    PublishedLatency,
    SleepMode,
    battery_estimate,
    battery_life,
    energy_per_inference,
    latency_estimate,
    macs,
)
from .tflm_ops import (
    PER_CHANNEL_FC_FIRMWARE,
    TFLM_OPS,
    FirmwareTFLMError,
    HybridModelError,
    OpInfo,
    UnsupportedOpError,
    check_firmware_tflm,
    check_not_hybrid,
    check_tflm_ops,
    float_ops,
    hybrid_ops,
    is_full_int8,
    op_table,
    operators,
    per_channel_fully_connected,
    tflm_available,
    tflm_supported_ops,
)

__all__ = [
    "MODEL_ALIGN_5_0",
    "SCRIPT_HEAP_HOLD",
    "Placement",
    "firmware5_placement",
    "TFLM_OPS",
    "NO_TFLM_NOTE",
    "OPENMV_FRAME_BYTES",
    "ARENA_ALIGNMENT",
    "MEASURED",
    "PLANNED",
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
    "ArenaFigure",
    "Latency",
    "BoardFit",
    "UnsupportedOpError",
    "HybridModelError",
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
    "hybrid_ops",
    "check_not_hybrid",
    "describe",
    "tflm_available",
    "measured_arena_bytes",
    "arena_bytes",
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


def describe(tflite_bytes, *, measure=True):
    """A dict that sums a .tflite model up, for any model (float, dynamic-range or full int8), without raising:

    ``flash_bytes``, ``input``/``output`` (name, dtype, shape, scale, zero point), ``full_int8``, ``operators``,
    ``float_ops``, ``tflm_unsupported`` (ops TFLite Micro lacks), ``lower_bound_bytes``, ``greedy_estimate_bytes``,
    ``arena`` (:class:`ArenaUsage` measured by TFLite Micro, or None), ``notes`` saying what is missing and why,
    and ``arena_figure`` (:class:`ArenaFigure`: the measured total, else the greedy estimate, and which).
    ``measure=False`` skips running TFLite Micro. Used in notebook 05, by ``cli profile``, ``pipeline`` and
    benchmarks/run_benchmarks.py.
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
    elif measure and not tflm_ops.tflm_available():
        notes.append(NO_TFLM_NOTE)
    elif measure:
        try:
            report["arena"] = measured_arena_bytes(data)
        except ToolError as error:  # a hybrid model (HybridModelError), or TFLite Micro refused it: say why
            notes.append(f"TFLite Micro could not run it: {error}")
    arena = report["arena"]
    report["arena_figure"] = (ArenaFigure(arena.total, MEASURED) if arena is not None else
                              ArenaFigure(report["greedy_estimate_bytes"], PLANNED, "; ".join(notes)))
    return report
