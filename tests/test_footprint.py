"""tinymask.footprint, chapter 6's facade, on trained models: flash, ops and their layers, TFLite Micro's measured
arena against the planner's bounds, the hybrid and float refusals, fit verdicts and the MAC count. The arithmetic
without a model is in test_arena.py and test_latency.py."""

import pytest
from helpers import small_cnn

from tinymask import arena, board_fit, footprint, latency, memory, quantize, synth, tflm_ops, train
from tinymask._setup import import_tensorflow
from tinymask.errors import ToolError

needs_tflm = pytest.mark.skipif(not footprint.tflm_available(), reason=footprint.NO_TFLM_NOTE)


@pytest.fixture(scope="module")
def models():
    """The small CNN trained for a few epochs on 32x32 procedural faces, as int8, float and dynamic-range bytes."""
    tf = import_tensorflow()
    import keras

    tf.keras.utils.set_random_seed(0)
    data = synth.generate(512, seed=0, size=32)
    model = small_cnn(keras)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(train.to_model_input(data.images), data.labels, epochs=4, batch_size=64, verbose=0)
    return {"int8": quantize.to_int8(model, data.images, num_calibration=64), "float": quantize.to_float(model),
            "dynamic range": quantize.to_dynamic_range(model)}


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


def test_footprint_re_exports_the_modules_that_do_the_work():
    for module in (tflm_ops, arena, latency, board_fit):
        for name in module.__all__:
            assert getattr(footprint, name) is getattr(module, name), f"footprint.{name} is not {module.__name__}"
            assert name in footprint.__all__
    assert footprint.fits_board is board_fit.fits_board and footprint.arena_bytes is arena.arena_bytes


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
    # The public path names the op and its layer before TFLite Micro is built...
    with pytest.raises(footprint.UnsupportedOpError, match="gelu_act"):
        footprint.measured_arena_bytes(gelu_model)
    # ...and the real interpreter, asked directly, refuses it too: its own words come back in a ToolError.
    with pytest.raises(ToolError, match="GELU"):
        arena._measure_isolated(gelu_model, 1 << 20, True)


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


def test_a_dynamic_range_model_is_refused_on_its_hybrid_ops(models):
    hybrid = footprint.hybrid_ops(models["dynamic range"])
    # Only pw1 (32 x 64 = 2,048 weights) is quantized: the converter leaves tensors under 1,024 elements float.
    assert [(row.op, row.layer) for row in hybrid] == [("CONV_2D", "pw1_relu")]
    assert footprint.hybrid_ops(models["int8"]) == [] and footprint.hybrid_ops(models["float"]) == []
    assert footprint.check_not_hybrid(models["int8"]) is None
    with pytest.raises(footprint.HybridModelError, match="Hybrid") as caught:
        footprint.check_not_hybrid(models["dynamic range"])
    assert isinstance(caught.value, RuntimeError) and isinstance(caught.value, footprint.UnsupportedOpError)
    assert caught.value.ops == hybrid
    figure = footprint.arena_bytes(models["dynamic range"])
    assert figure.source == arena.PLANNED and "Hybrid" in figure.note
    assert figure.bytes == footprint.greedy_arena_estimate(models["dynamic range"])
    if footprint.tflm_available():  # notebook 05 catches RuntimeError and looks for "Hybrid", for this model
        with pytest.raises(RuntimeError, match="Hybrid models are not supported"):
            footprint.measured_arena_bytes(models["dynamic range"])
        assert any("Hybrid" in note for note in footprint.describe(models["dynamic range"])["notes"])


@needs_tflm
def test_tflite_micro_itself_refuses_the_hybrid_op(models):
    # The data check above agrees with the real interpreter, which fails on the same node.
    with pytest.raises(ToolError, match="Hybrid models are not supported on TFLite Micro. Node CONV_2D"):
        arena._measure_isolated(models["dynamic range"], 1 << 22, True)


# --------------------------------------------------------------------------------------------- the arena
def test_lower_bound_and_greedy_estimate_by_hand(models):
    tflite = models["int8"]
    peak = max(footprint.live_bytes(tflite), key=lambda row: row[2])
    assert peak[1] == "CONV_2D" and peak[2] == hand_lower_bound() == 7168
    assert footprint.activation_lower_bound(tflite) == 7168
    assert footprint.greedy_arena_estimate(tflite) >= 7168
    spans = footprint.lifetimes(tflite)
    assert spans[0].shape == (1, 32, 32, 3) and spans[0].first_op == 0 and spans[-1].last_op == 9


@needs_tflm
def test_measured_arena_bounds_the_estimates(models):
    tflite = models["int8"]
    usage = footprint.measured_arena_bytes(tflite)
    greedy, lower = footprint.greedy_arena_estimate(tflite), footprint.activation_lower_bound(tflite)
    assert usage.total >= usage.head >= greedy >= lower > 0
    assert usage.total == usage.head + usage.tail and usage.tail > 0
    assert "TfLiteEvalTensor data" in usage.parts and "Arena allocation total" in usage.text
    assert footprint.measured_arena_bytes(tflite, isolate=False) == usage  # in-process gives the same figures
    assert footprint.describe(tflite)["arena"] == usage
    assert footprint.arena_bytes(tflite) == footprint.ArenaFigure(usage.total, footprint.MEASURED)
    assert footprint.arena_bytes(tflite, measure=False).bytes == greedy


def test_without_tflite_micro_the_figures_are_estimates(models, monkeypatch):
    monkeypatch.setattr(tflm_ops, "tflm_available", lambda: False)  # what arena, and describe, ask
    tflite = models["int8"]
    assert footprint.measured_arena_bytes(tflite) is None
    assert footprint.NO_TFLM_NOTE in footprint.describe(tflite)["notes"]
    assert footprint.arena_bytes(tflite) == footprint.ArenaFigure(footprint.greedy_arena_estimate(tflite),
                                                                  footprint.PLANNED, footprint.NO_TFLM_NOTE)
    verdict = footprint.fits_board(tflite)
    assert "estimate" in verdict.arena_source and verdict.arena.needed == footprint.greedy_arena_estimate(tflite)
    assert footprint.NO_TFLM_NOTE in verdict.arena_source


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
    with pytest.raises(ValueError, match="frame_bytes"):
        footprint.fits_board(tflite, frame_bytes=-1, arena_bytes=0)
    with pytest.raises(ValueError, match="arena_bytes"):
        footprint.fits_board(tflite, arena_bytes=1.5)


@needs_tflm
def test_fits_board_measures_the_arena_when_none_is_given(models):
    verdict = footprint.fits_board(models["int8"])
    assert verdict.arena_source == "measured by TFLite Micro"  # the words notebook 06 prints
    assert verdict.arena.needed == footprint.measured_arena_bytes(models["int8"]).total


def test_macs_counted_by_hand(models):
    # conv 16x16x16 x 3x3x3, dw0 8x8x16 x 3x3, pw0 8x8x32 x 16, dw1 4x4x32 x 3x3, pw1 4x4x64 x 32, dense 64 x 2.
    by_hand = 16 * 16 * 16 * 27 + 8 * 8 * 16 * 9 + 8 * 8 * 32 * 16 + 4 * 4 * 32 * 9 + 4 * 4 * 64 * 32 + 64 * 2
    assert footprint.macs(models["int8"]) == by_hand == footprint.macs(models["float"]) == 190_080


def test_firmware5_placement_names_bad_input_and_boards_without_a_layout():
    from tinymask import board_fit

    with pytest.raises(ValueError, match="heap_in_use"):
        board_fit.firmware5_placement(1000, 1000, heap_in_use=-1)
    with pytest.raises(ValueError, match="no firmware 5.0 heap layout"):
        board_fit.firmware5_placement(1000, 1000, "arduino-nicla-vision")
    small = board_fit.firmware5_placement(10_000, 50_000)
    assert small.model_in == "heap" and small.loads and "loads" in str(small)
