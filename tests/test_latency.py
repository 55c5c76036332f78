"""tinymask.latency: the published STM32H7 timings behind the default rate, the latency estimate and its range,
and the energy and battery arithmetic of openmv_scripts/low_power.py (chapter 6)."""

import pytest

from tinymask import latency


def test_latency_rates_are_derived_from_the_published_measurements():
    st, vww0_cmsis, vww0_xcube, mbv2 = latency.PUBLISHED_LATENCIES
    # ST model zoo: MobileNetV1 0.25 96x96 (7,489,664 MACs by the course's count) in 35.48 ms at 400 MHz -> 480 MHz.
    high = 7_489_664 / 0.03548 * 480 / 400
    assert latency.HIGH_OPS_PER_S == pytest.approx(high) == pytest.approx(253.31e6, rel=1e-4)
    # TinyEngine table: mcunet-vww0, 6.0 M MACs, 53 ms with TFLite Micro + CMSIS-NN on an STM32H743.
    assert latency.LOW_OPS_PER_S == pytest.approx(6.0e6 / 0.053) == pytest.approx(113.21e6, rel=1e-4)
    assert latency.DEFAULT_OPS_PER_S == pytest.approx(latency.HIGH_OPS_PER_S * 32 / 53)
    assert latency.LOW_OPS_PER_S < latency.DEFAULT_OPS_PER_S < latency.HIGH_OPS_PER_S
    assert mbv2.macs is None and mbv2.macs_per_s() is None  # no published MAC count: left out, not invented
    assert vww0_cmsis.clock_assumed and not st.clock_assumed and st.clock_hz == 400e6
    assert st.macs_per_s(400e6) == pytest.approx(7_489_664 / 0.03548)  # no scaling at the measurement's own clock


def test_latency_estimate_and_its_range():
    mobilenet = latency.latency_estimate(7_489_664)  # MobileNetV1 alpha 0.25 at 96x96x3 + GAP + Dense
    assert mobilenet.seconds == pytest.approx(7_489_664 / latency.DEFAULT_OPS_PER_S)
    assert mobilenet.seconds == pytest.approx(0.04897, rel=1e-3)
    assert mobilenet.fps == pytest.approx(1 / mobilenet.seconds) and mobilenet.ops_per_s == latency.DEFAULT_OPS_PER_S
    assert mobilenet.fastest_s == pytest.approx(0.03548 * 400 / 480)  # ST's own time, clock-scaled
    assert mobilenet.slowest_s == pytest.approx(7_489_664 / latency.LOW_OPS_PER_S)
    assert mobilenet.fastest_s < mobilenet.seconds < mobilenet.slowest_s
    assert str(mobilenet) == ("7.5 M MACs at 152.9 M MAC/s: 49.0 ms, 20.4 FPS (estimate; 29.6 to 66.2 ms over "
                              "253.3 to 113.2 M MAC/s)")
    own = latency.latency_estimate(33.4e6, 222.7e6, ops_range=None)  # your own measured rate, no range
    assert own.seconds == pytest.approx(0.150, rel=1e-3) and own.fastest_s is None and str(own).endswith("(estimate)")
    with pytest.raises(ValueError, match="macs"):
        latency.latency_estimate(0)
    with pytest.raises(ValueError, match="ops_range"):
        latency.latency_estimate(1e6, ops_range=(2e8, 1e8))


def test_wake_overhead_is_what_low_power_py_does():
    import ast
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "openmv_scripts" / "low_power.py"
    constants = {node.targets[0].id: node.value.value for node in ast.parse(script.read_text()).body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert latency.WAKE_OVERHEAD_S == (constants["SETTLE_MS"] + constants["BLINK_MS"]) / 1000 == 0.4
    assert constants["PERIOD_MS"] == 60_000


def test_energy_and_battery_arithmetic():
    assert latency.energy_per_inference(0.150, 0.140, 3.3) == pytest.approx(0.0693)
    # By hand, lightsleep once a minute: awake 0.4 + 0.05 s at 140 mA, asleep 59.55 s at 3 mA.
    estimate = latency.battery_estimate(0.05)
    mean_a = (0.140 * 0.45 + 0.003 * 59.55) / 60
    assert estimate.mean_current_a == pytest.approx(mean_a) and estimate.awake_s == pytest.approx(0.45)
    # An LDO passes the board's current through: days = mAh / mean mA / 24 (about 10 days, not a year).
    assert estimate.days == pytest.approx(1000 / (1000 * mean_a) / 24) and 10 < estimate.days < 11
    assert latency.battery_life(0.05) == estimate.days and "lightsleep" in str(estimate)
    assert estimate.awake_share == pytest.approx(0.140 * 0.45 / (mean_a * 60))
    # Deep sleep reboots: DEEPSLEEP_BOOT_S more awake, at 50 uA asleep with the sensor shut down.
    deep = latency.battery_estimate(0.05, sleep="deepsleep, sensor off", period_s=600)
    assert deep.awake_s == pytest.approx(0.45 + latency.DEEPSLEEP_BOOT_S)
    assert deep.mean_current_a == pytest.approx((0.140 * 1.45 + 50e-6 * 598.55) / 600)
    # Once a minute the reboot costs more than deep sleep saves; every ten minutes deep sleep wins.
    assert latency.battery_life(0.05, sleep="deepsleep", period_s=60) < estimate.days
    assert deep.days > 5 * latency.battery_life(0.05, period_s=600)
    ideal = latency.battery_life(0.05, efficiency=1.0)
    assert ideal == pytest.approx(estimate.days * 3.7 / 3.3)
    assert latency.battery_life(0.05, sleep_current_a=0.0) > estimate.days
    with pytest.raises(ValueError, match="period"):
        latency.battery_life(2.0, period_s=1.0)
    with pytest.raises(ValueError, match="active_current_a"):
        latency.battery_life(0.1, active_current_a=-1)
    with pytest.raises(ValueError, match="unknown sleep mode 'standby'"):
        latency.battery_life(0.1, sleep="standby")
