"""How long one inference takes on the OpenMV Cam H7 and how long a battery lasts: the MAC count of a .tflite model,
the published STM32H7 timings the default rate is derived from, and the duty-cycle arithmetic of
openmv_scripts/low_power.py (chapter 6, notebooks/06_on_device_budget.ipynb; used by ``footprint``, ``cli`` and
the benchmarks)."""

import math
from dataclasses import dataclass

from . import tflite, tflm_ops
from .errors import InputError, is_number

__all__ = [
    "PUBLISHED_OPS",
    "PUBLISHED_LATENCY_S",
    "OPENMV_H7_CLOCK_HZ",
    "PUBLISHED_LATENCIES",
    "HIGH_OPS_PER_S",
    "LOW_OPS_PER_S",
    "DEFAULT_OPS_PER_S",
    "ACTIVE_CURRENT_A",
    "SLEEP_CURRENT_A",
    "LIGHTSLEEP_CURRENT_A",
    "LDO_EFFICIENCY",
    "WAKE_OVERHEAD_S",
    "DEEPSLEEP_BOOT_S",
    "SLEEP_MODES",
    "PublishedLatency",
    "Latency",
    "SleepMode",
    "BatteryEstimate",
    "macs",
    "latency_estimate",
    "energy_per_inference",
    "battery_estimate",
    "battery_life",
]

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
    if not is_number(value) or not value > 0 or math.isinf(value):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _non_negative(name, value):
    if not is_number(value) or not value >= 0 or math.isinf(value):
        raise InputError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def macs(tflite_bytes, subgraph=0):
    """Multiply-accumulates of one inference, counted from the graph's tensor shapes as ``profile.totals`` counts
    them for a Keras model: CONV_2D out_h x out_w x out_c x kh x kw x in_c, DEPTHWISE_CONV_2D out_h x out_w x out_c x
    kh x kw, FULLY_CONNECTED units x inputs (other ops are not counted)."""
    model = tflite.read(tflite_bytes)
    tensors = model.subgraphs[subgraph].tensors
    total = 0
    for row in tflm_ops.op_table(tflite_bytes, subgraph):
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
    firmware runs TFLite Micro with CMSIS-NN. Pass ``ops_per_s`` from your own timing (chapter 7's benchmark script)
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
    if not is_number(efficiency) or not 0 < efficiency <= 1:
        raise InputError(f"efficiency must be in (0, 1], got {efficiency!r}")
    battery_j = _positive("battery_mah", battery_mah) / 1000 * 3600 * _positive("battery_v", battery_v) * efficiency
    awake_as, asleep_as = active * awake, asleep_a * (period_s - awake)
    mean_a = (awake_as + asleep_as) / period_s
    return BatteryEstimate(battery_j / (voltage * mean_a) / 86400, mean_a, awake, awake_as, asleep_as,
                           SleepMode(mode.name, asleep_a, mode.boot_s, mode.source))


def battery_life(inference_s, **options):
    """Days a battery lasts: :func:`battery_estimate` ``(inference_s, **options).days``."""
    return battery_estimate(inference_s, **options).days
