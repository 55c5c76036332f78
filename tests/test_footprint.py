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
def test_latency_arithmetic():
    assert footprint.DEFAULT_OPS_PER_S == pytest.approx(222.667e6, rel=1e-5)  # 33.4e6 / 0.150, not 249e6
    published = footprint.latency_estimate(33.4e6)
    assert published.seconds == pytest.approx(0.150) and published.fps == pytest.approx(1 / 0.150)
    assert footprint.latency_estimate(33.4e6, ops_per_s=249e6).seconds == pytest.approx(0.134137, rel=1e-5)
    mobilenet = footprint.latency_estimate(7_489_664)  # MobileNetV1 alpha 0.25 at 96x96x3 + GAP + Dense
    assert mobilenet.seconds == pytest.approx(7_489_664 / 222.667e6, rel=1e-5) and "ms" in str(mobilenet)
    with pytest.raises(ValueError, match="macs"):
        footprint.latency_estimate(0)


def test_energy_and_battery_arithmetic():
    assert footprint.energy_per_inference(0.150, 0.140, 3.3) == pytest.approx(0.0693)
    # 1 s at 100 mA every 10 s, nothing asleep, at 3.3 V from 1 Ah at 3.3 V: 11,880 J / 0.33 J = 36,000 periods.
    days = footprint.battery_life(1.0, 0.100, 0.0, voltage=3.3, battery_mah=1000, battery_v=3.3, period_s=10)
    assert days == pytest.approx(36_000 * 10 / 86_400)
    # The defaults, once a minute, 150 ms: 13,320 J / 79.18 mJ = 168,234 minutes, about four months.
    default = footprint.battery_life(0.150)
    assert default == pytest.approx(13_320 / (3.3 * (0.140 * 0.150 + 50e-6 * 59.85)) / 1440)
    assert 116 < default < 118
    assert footprint.battery_life(0.150, efficiency=0.5) == pytest.approx(default / 2)
    assert footprint.battery_life(0.150, overhead_s=0.350) < default
    with pytest.raises(ValueError, match="period"):
        footprint.battery_life(2.0, period_s=1.0)
    with pytest.raises(ValueError, match="active_current_a"):
        footprint.battery_life(0.1, active_current_a=-1)
