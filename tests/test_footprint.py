"""tinymask.footprint: flash, ops, TFLite Micro's measured arena against the planner bounds, fit verdicts, and the
latency and battery arithmetic."""

import pytest

from tinymask import footprint, memory, quantize, synth, train
from tinymask._setup import import_tensorflow

from helpers import small_cnn

needs_tflm = pytest.mark.skipif(not footprint.tflm_available(), reason=footprint.NO_TFLM_NOTE)


@pytest.fixture(scope="module")
def models():
    """The small CNN trained for a few epochs on 32x32 procedural faces, as int8 and as float .tflite bytes."""
    tf = import_tensorflow()
    import keras

    tf.keras.utils.set_random_seed(0)
    data = synth.generate(512, seed=0, size=32)
    model = small_cnn(keras)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(train.to_model_input(data.images), data.labels, epochs=4, batch_size=64, verbose=0)
    return {"int8": quantize.to_int8(model, data.images, num_calibration=64), "float": quantize.to_float(model)}


@pytest.fixture(scope="module")
def gelu_model():
    """An int8 model with a Keras GELU activation: TFLite converts it to the builtin GELU, which TFLite Micro lacks."""
    import_tensorflow()
    import keras

    L = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(4, 3, name="conv")(inputs)
    x = L.Activation("gelu", name="gelu_act")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    outputs = L.Dense(2, activation="softmax", name="head")(x)
    return quantize.to_int8(keras.Model(inputs, outputs), synth.generate(16, size=16).images)


# --------------------------------------------------------------------------------------------- bytes and ops
def test_flash_bytes_and_operators(models, tmp_path):
    tflite = models["int8"]
    path = tmp_path / "model.tflite"
    path.write_bytes(tflite)
    assert footprint.flash_bytes(tflite) == len(tflite) == footprint.flash_bytes(path)
    ops = footprint.operators(tflite)
    assert ops == ["ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN", "MUL", "SOFTMAX"]
    assert footprint.check_tflm_ops(tflite) == ops
    table = footprint.op_table(tflite)
    assert [row.op for row in table][:3] == ["MUL", "ADD", "CONV_2D"]  # Rescaling -> MUL, ADD
    assert table[2].layer == "conv" and table[-1].layer == "classifier"


def test_not_a_model_gets_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="TFL3"):
        footprint.flash_bytes(b"\x00" * 64)
    with pytest.raises(TypeError, match="bytes of a .tflite model"):
        footprint.operators(123)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        footprint.operators(tmp_path / "missing.tflite")


def test_tflm_op_list_covers_the_course_ops():
    core = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "SOFTMAX",
            "LOGISTIC", "RESHAPE", "QUANTIZE", "DEQUANTIZE", "PAD", "ADD", "MUL", "RELU", "RELU6"}
    assert core <= footprint.TFLM_OPS and "GELU" not in footprint.TFLM_OPS
    if footprint.tflm_available():  # the documented list is the installed wheel's: catches drift on upgrades
        assert footprint.tflm_supported_ops() == footprint.TFLM_OPS


def test_an_op_tflm_lacks_is_named_with_its_layer(gelu_model):
    assert "GELU" in footprint.operators(gelu_model)
    with pytest.raises(footprint.UnsupportedOpError, match="GELU") as caught:
        footprint.check_tflm_ops(gelu_model)
    assert "gelu_act" in str(caught.value)
    assert [(row.op, row.layer) for row in caught.value.ops] == [("GELU", "gelu_act")]
    report = footprint.describe(gelu_model)
    assert report["tflm_unsupported"] == ["GELU"] and report["arena"] is None
    assert any("GELU" in note for note in report["notes"])


@needs_tflm
def test_tflite_micro_itself_refuses_the_gelu_model(gelu_model):
    # Skip the static check and let the real interpreter fail: its "Didn't find op" line is turned into the error.
    with pytest.raises(footprint.UnsupportedOpError, match="gelu_act"):
        footprint._measure_isolated(gelu_model, 1 << 20, True)


def test_a_float_model_is_reported_not_crashed_on(models):
    tflite = models["float"]
    assert not footprint.is_full_int8(tflite) and footprint.float_ops(tflite)
    report = footprint.describe(tflite)
    assert report["full_int8"] is False
    assert report["input"]["dtype"] == "float32" and report["output"]["dtype"] == "float32"
    assert any("not full-integer int8" in note for note in report["notes"])
    assert report["lower_bound_bytes"] == 4 * hand_lower_bound()
    if footprint.tflm_available():  # TFLite Micro runs float models too (reference kernels)
        assert report["arena"].head >= report["greedy_estimate_bytes"] >= report["lower_bound_bytes"]
    assert isinstance(footprint.fits_board(tflite).fits, bool)


def hand_lower_bound():
    """By hand: while the first convolution runs, its input (the rescaled image, 32x32x3) and its output
    (16x16x16) are both alive; every later pair is smaller."""
    return 32 * 32 * 3 + 16 * 16 * 16


# --------------------------------------------------------------------------------------------- the arena
def test_lower_bound_and_greedy_estimate_by_hand(models):
    tflite = models["int8"]
    peak = max(footprint.live_bytes(tflite), key=lambda row: row[2])
    assert peak[1] == "CONV_2D" and peak[2] == hand_lower_bound() == 7168
    assert footprint.activation_lower_bound(tflite) == 7168
    assert footprint.greedy_arena_estimate(tflite) >= 7168
    spans = footprint.lifetimes(tflite)
    assert spans[0].shape == (1, 32, 32, 3) and spans[0].first_op == 0 and spans[-1].last_op == 9


def test_plan_arena_on_hand_worked_lifetimes():
    span = footprint.TensorLifetime
    a = span(1, "a", "int8", (100,), 100, 0, 1)
    b = span(2, "b", "int8", (50,), 50, 1, 2)
    c = span(3, "c", "int8", (100,), 100, 2, 3)
    placed = {s.name: offset for s, offset in footprint.plan_arena([a, b, c])}
    # c first (largest, later tensor on a tie) at 0; a never meets c, so 0 too; b meets both: after them, aligned.
    assert placed == {"c": 0, "a": 0, "b": 112}
    assert {s.name: o for s, o in footprint.plan_arena([a, b, c], alignment=1)}["b"] == 100


@needs_tflm
def test_measured_arena_bounds_the_estimates(models):
    tflite = models["int8"]
    arena = footprint.measured_arena_bytes(tflite)
    greedy, lower = footprint.greedy_arena_estimate(tflite), footprint.activation_lower_bound(tflite)
    assert arena.total >= arena.head >= greedy >= lower > 0
    assert arena.total == arena.head + arena.tail and arena.tail > 0
    assert "TfLiteEvalTensor data" in arena.parts and "Arena allocation total" in arena.text
    assert footprint.measured_arena_bytes(tflite, isolate=False) == arena  # in-process gives the same figures
    assert footprint.describe(tflite)["arena"] == arena


def test_print_allocations_text_is_parsed():
    text = (
        "[RecordingMicroAllocator] Arena allocation total 41888 bytes\n"
        "[RecordingMicroAllocator] Arena allocation head 36000 bytes\n"
        "[RecordingMicroAllocator] Arena allocation tail 5888 bytes\n"
        "[RecordingMicroAllocator] 'TfLiteEvalTensor data' used 648 bytes with alignment overhead "
        "(requested 648 bytes for 27 allocations)\n"
    )
    arena = footprint._parse_allocations(text)
    assert (arena.total, arena.head, arena.tail) == (41888, 36000, 5888)
    assert arena.parts == {"TfLiteEvalTensor data": 648}
    with pytest.raises(RuntimeError, match="Arena allocation total"):
        footprint._parse_allocations("nothing useful")


def test_without_tflite_micro_the_figures_are_estimates(models, monkeypatch):
    monkeypatch.setattr(footprint, "tflm_available", lambda: False)
    tflite = models["int8"]
    assert footprint.measured_arena_bytes(tflite) is None
    assert footprint.NO_TFLM_NOTE in footprint.describe(tflite)["notes"]
    verdict = footprint.fits_board(tflite)
    assert "estimate" in verdict.arena_source and verdict.arena.needed == footprint.greedy_arena_estimate(tflite)


# --------------------------------------------------------------------------------------------- fits
def test_fits_board_verdicts(models):
    tflite = models["int8"]
    verdict = footprint.fits_board(tflite, arena_bytes=50_000)
    assert verdict and verdict.arena_source == "given"
    assert verdict.model.available == 480 * 1024 - 320 * 240 * 2
    assert verdict.arena.available == 267 * 1024
    tiny = memory.Board("tiny", "Tiny board", "none", "none", 16, sram_bytes=4096, flash_bytes=8192, source="a test",
                        arena_bytes=2048, model_region_bytes=8192)
    verdict = footprint.fits_board(tflite, tiny, arena_bytes=5000, frame_bytes=0)
    assert not verdict and not verdict.model.fits and not verdict.arena.fits
    assert f"does NOT fit: {len(tflite) - 8192:,} B over" in str(verdict.model)
    assert "does NOT fit: 2,952 B over" in str(verdict.arena) and "does NOT fit" in str(verdict)
    region = memory.Board("r", "Region board", "none", "none", 16, sram_bytes=1 << 20, flash_bytes=1 << 21,
                          source="a test", model_region_bytes=len(tflite) + 100)
    assert footprint.fits_board(tflite, region, arena_bytes=0, frame_bytes=0).fits
    assert not footprint.fits_board(tflite, region, arena_bytes=0, frame_bytes=101).fits  # a frame pushes it out
    with pytest.raises(ValueError, match="unknown board"):
        footprint.fits_board(tflite, "openmv-h8", arena_bytes=0)


# --------------------------------------------------------------------------------------------- time and energy
def test_latency_rates_are_derived_from_the_published_measurements():
    st, vww0_cmsis, vww0_xcube, mbv2 = footprint.PUBLISHED_LATENCIES
    # ST model zoo: MobileNetV1 0.25 96x96 (7,489,664 MACs by the course's count) in 35.48 ms at 400 MHz -> 480 MHz.
    high = 7_489_664 / 0.03548 * 480 / 400
    assert footprint.HIGH_OPS_PER_S == pytest.approx(high) == pytest.approx(253.31e6, rel=1e-4)
    # TinyEngine table: mcunet-vww0, 6.0 M MACs, 53 ms with TFLite Micro + CMSIS-NN on an STM32H743.
    assert footprint.LOW_OPS_PER_S == pytest.approx(6.0e6 / 0.053) == pytest.approx(113.21e6, rel=1e-4)
    assert footprint.DEFAULT_OPS_PER_S == pytest.approx(footprint.HIGH_OPS_PER_S * 32 / 53)
    assert footprint.LOW_OPS_PER_S < footprint.DEFAULT_OPS_PER_S < footprint.HIGH_OPS_PER_S
    assert mbv2.macs is None and mbv2.macs_per_s() is None  # no published MAC count: left out, not invented
    assert vww0_cmsis.clock_assumed and not st.clock_assumed and st.clock_hz == 400e6
    assert st.macs_per_s(400e6) == pytest.approx(7_489_664 / 0.03548)  # no scaling at the measurement's own clock


def test_latency_estimate_and_its_range():
    mobilenet = footprint.latency_estimate(7_489_664)  # MobileNetV1 alpha 0.25 at 96x96x3 + GAP + Dense
    assert mobilenet.seconds == pytest.approx(7_489_664 / footprint.DEFAULT_OPS_PER_S)
    assert mobilenet.seconds == pytest.approx(0.04897, rel=1e-3)
    assert mobilenet.fps == pytest.approx(1 / mobilenet.seconds) and mobilenet.ops_per_s == footprint.DEFAULT_OPS_PER_S
    assert mobilenet.fastest_s == pytest.approx(0.03548 * 400 / 480)  # ST's own time, clock-scaled
    assert mobilenet.slowest_s == pytest.approx(7_489_664 / footprint.LOW_OPS_PER_S)
    assert mobilenet.fastest_s < mobilenet.seconds < mobilenet.slowest_s
    assert str(mobilenet) == ("7.5 M MACs at 152.9 M MAC/s: 49.0 ms, 20.4 FPS (estimate; 29.6 to 66.2 ms over "
                              "253.3 to 113.2 M MAC/s)")
    own = footprint.latency_estimate(33.4e6, 222.7e6, ops_range=None)  # your own measured rate, no range
    assert own.seconds == pytest.approx(0.150, rel=1e-3) and own.fastest_s is None and str(own).endswith("(estimate)")
    with pytest.raises(ValueError, match="macs"):
        footprint.latency_estimate(0)
    with pytest.raises(ValueError, match="ops_range"):
        footprint.latency_estimate(1e6, ops_range=(2e8, 1e8))


def test_wake_overhead_is_what_low_power_py_does():
    import ast
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "openmv_scripts" / "low_power.py"
    constants = {node.targets[0].id: node.value.value for node in ast.parse(script.read_text()).body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert footprint.WAKE_OVERHEAD_S == (constants["SETTLE_MS"] + constants["BLINK_MS"]) / 1000 == 0.4
    assert constants["PERIOD_MS"] == 60_000


def test_energy_and_battery_arithmetic():
    assert footprint.energy_per_inference(0.150, 0.140, 3.3) == pytest.approx(0.0693)
    # By hand, lightsleep once a minute: awake 0.4 + 0.05 s at 140 mA, asleep 59.55 s at 3 mA.
    estimate = footprint.battery_estimate(0.05)
    mean_a = (0.140 * 0.45 + 0.003 * 59.55) / 60
    assert estimate.mean_current_a == pytest.approx(mean_a) and estimate.awake_s == pytest.approx(0.45)
    # An LDO passes the board's current through: days = mAh / mean mA / 24 (about 10 days, not a year).
    assert estimate.days == pytest.approx(1000 / (1000 * mean_a) / 24) and 10 < estimate.days < 11
    assert footprint.battery_life(0.05) == estimate.days and "lightsleep" in str(estimate)
    assert estimate.awake_share == pytest.approx(0.140 * 0.45 / (mean_a * 60))
    # Deep sleep reboots: DEEPSLEEP_BOOT_S more awake, at 50 uA asleep with the sensor shut down.
    deep = footprint.battery_estimate(0.05, sleep="deepsleep, sensor off", period_s=600)
    assert deep.awake_s == pytest.approx(0.45 + footprint.DEEPSLEEP_BOOT_S)
    assert deep.mean_current_a == pytest.approx((0.140 * 1.45 + 50e-6 * 598.55) / 600)
    # Once a minute the reboot costs more than deep sleep saves; every ten minutes deep sleep wins.
    assert footprint.battery_life(0.05, sleep="deepsleep", period_s=60) < estimate.days
    assert deep.days > 5 * footprint.battery_life(0.05, period_s=600)
    ideal = footprint.battery_life(0.05, efficiency=1.0)
    assert ideal == pytest.approx(estimate.days * 3.7 / 3.3)
    assert footprint.battery_life(0.05, sleep_current_a=0.0) > estimate.days
    with pytest.raises(ValueError, match="period"):
        footprint.battery_life(2.0, period_s=1.0)
    with pytest.raises(ValueError, match="active_current_a"):
        footprint.battery_life(0.1, active_current_a=-1)
    with pytest.raises(ValueError, match="unknown sleep mode 'standby'"):
        footprint.battery_life(0.1, sleep="standby")
