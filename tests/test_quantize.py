"""tinymask.quantize: full-integer int8 conversion of a small trained CNN, its input quantization and its agreement
with the float Keras model."""

import numpy as np
import pytest
from helpers import small_cnn

from tinymask import footprint, quantize, synth, train
from tinymask._setup import import_tensorflow


def trained_small_cnn(keras, images, labels, epochs=12):
    model = small_cnn(keras)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.to_model_input(images), labels, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained():
    """The small CNN trained on 1,024 32x32 procedural faces (about 0.9 training accuracy), and its int8 model."""
    tf = import_tensorflow()
    import keras

    tf.keras.utils.set_random_seed(0)
    data = synth.generate(1024, seed=0, size=32)
    test = synth.generate(200, seed=1, size=32)
    model = trained_small_cnn(keras, data.images, data.labels)
    tflite = quantize.to_int8(model, data.images, num_calibration=100)
    return model, tflite, test


def test_int8_model_has_int8_io_and_only_int8_builtin_ops(trained):
    _, tflite, _ = trained
    details = quantize.tensor_details(tflite)
    assert details["input"].dtype == "int8" and details["output"].dtype == "int8"
    assert details["input"].shape == (1, 32, 32, 3)
    ops = quantize.check_int8(tflite)
    assert ops == footprint.operators(tflite)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(ops)
    assert not any(op.startswith("CUSTOM") for op in ops)
    assert footprint.is_full_int8(tflite) and footprint.float_ops(tflite) == []


def test_input_quantization_is_pixel_minus_128(trained):
    _, tflite, _ = trained
    scale, zero_point = quantize.input_quantization(tflite)
    assert scale == pytest.approx(1 / 255, rel=1e-6) and zero_point == -128
    assert (scale, zero_point) == pytest.approx(quantize.OPENMV_INPUT_QUANTIZATION)
    assert quantize.input_is_pixel_minus_128(tflite)
    pixels = np.arange(256, dtype=np.uint8)
    q = quantize.quantize_input(pixels, scale, zero_point)
    assert q.dtype == np.int8 and np.array_equal(q.astype(int), np.arange(256) - 128)
    # A softmax output gets the converter's fixed (1/256, -128): score = (q + 128) / 256.
    assert quantize.output_quantization(tflite) == (pytest.approx(1 / 256), -128)


def test_quantize_input_rounds_and_clips():
    q = quantize.quantize_input(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), 1 / 127.5, 0)
    assert q.tolist() == [-128, 0, 64, 127, 127]


def test_int8_predictions_agree_with_the_float_model(trained):
    model, tflite, test = trained
    keras_labels = train.predict_labels(model, test.images)
    assert set(keras_labels.tolist()) == {0, 1}  # a model that says one class always would agree trivially
    int8_labels = quantize.predict_labels(tflite, test.images)
    assert (keras_labels == int8_labels).mean() >= 0.9
    keras_scores = model.predict(train.to_model_input(test.images), verbose=0)
    int8_scores = quantize.predict(tflite, test.images)
    assert int8_scores.shape == (200, 2) and int8_scores.dtype == np.float32
    assert np.abs(keras_scores - int8_scores).mean() < 0.05
    accuracy = quantize.evaluate(tflite, test.images, test.labels)
    assert accuracy == pytest.approx((int8_labels == test.labels).mean())


def test_batched_and_one_by_one_runs_give_the_same_scores(trained):
    _, tflite, test = trained
    runner = quantize.Runner(tflite)
    assert runner.dynamic_batch
    batched = runner.scores(test.images[:20], batch=8)
    runner.dynamic_batch = False
    one_by_one = runner.scores(test.images[:20])
    assert np.allclose(batched, one_by_one, atol=1 / 256 + 1e-6)


def test_conv_kernel_is_quantized_per_channel_as_worked_by_hand(trained):
    model, tflite, _ = trained
    kernel = model.get_layer("conv").get_weights()[0]  # Keras (kh, kw, in, out) = (3, 3, 3, 16)
    row = next(r for r in quantize.quantized_tensors(tflite) if r.constant and r.shape == (16, 3, 3, 3))
    assert row.dtype == "int8" and row.per_channel and row.quantized_dimension == 0
    assert np.all(row.zero_points == 0)
    tflite_layout = kernel.transpose(3, 0, 1, 2)  # TFLite stores (out, kh, kw, in)
    scales = np.abs(tflite_layout).reshape(16, -1).max(axis=1) / 127  # symmetric: the largest weight maps to 127
    assert np.allclose(row.scales, scales, rtol=1e-5)
    values = quantize.tensor_values(tflite, row.name)
    by_hand = np.round(tflite_layout / scales[:, None, None, None])
    assert values.dtype == np.int8 and np.abs(values - by_hand).max() <= 1 and (values == by_hand).mean() > 0.99
    real = quantize.tensor_values(tflite, row.name, dequantize=True)
    assert np.all(np.abs(real - tflite_layout) <= scales[:, None, None, None] / 2 + 1e-7)


def test_float_and_dynamic_range_models_for_comparison(trained):
    model, tflite, test = trained
    as_float = quantize.to_float(model)
    dynamic = quantize.to_dynamic_range(model)
    assert quantize.tensor_details(as_float)["input"].dtype == "float32"
    assert quantize.input_quantization(as_float) == (0.0, 0)
    assert quantize.tensor_details(dynamic)["output"].dtype == "float32" and not footprint.is_full_int8(dynamic)
    assert len(tflite) < len(as_float)  # (dynamic range leaves tensors under 1,024 values float: no saving here)
    float_labels = quantize.predict_labels(as_float, test.images[:50])
    assert (float_labels == train.predict_labels(model, test.images[:50])).all()
    with pytest.raises(ValueError, match="float32"):
        quantize.check_int8(as_float)
    assert not quantize.input_is_pixel_minus_128(as_float)


def test_bad_inputs_get_clear_errors(trained):
    model, tflite, test = trained
    with pytest.raises(ValueError, match="uint8"):
        quantize.to_int8(model, test.images.astype(np.float32) / 255)
    with pytest.raises(ValueError, match="takes"):
        quantize.to_int8(model, synth.generate(4, size=48).images)
    with pytest.raises(ValueError, match="num_calibration"):
        quantize.calibration_images(test.images, 0)
    with pytest.raises(ValueError, match="labels"):
        quantize.evaluate(tflite, test.images[:5], test.labels[:4])
    with pytest.raises(ValueError, match="resize"):
        quantize.predict(tflite, synth.generate(2, size=48).images)
    with pytest.raises(ValueError, match="no quantized constant tensor"):
        quantize.tensor_values(tflite, "no-such-tensor")
    with pytest.raises(ValueError, match="not a .tflite model"):
        quantize.predict(b"not a model at all", test.images[:1])


def test_calibration_set_pins_the_full_pixel_range():
    images = np.full((10, 4, 4, 3), 100, np.uint8)
    picked = quantize.calibration_images(images, 5, seed=3)
    assert len(picked) == 7 and picked[0].max() == 0 and picked[1].min() == 255
    assert len(quantize.calibration_images(images, 50, pin_range=False)) == 10
    first = next(quantize.representative_dataset(picked)())
    assert first[0].dtype == np.float32 and first[0].shape == (1, 4, 4, 3)


def test_saved_model_path_is_the_fallback_and_gives_the_same_model(trained, monkeypatch):
    model, tflite, test = trained
    tf = import_tensorflow()

    def fail(*args, **kwargs):
        raise RuntimeError("simulated from_keras_model failure")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", fail)
    again = quantize.to_int8(model, synth.generate(1024, seed=0, size=32).images, num_calibration=100)
    assert quantize.check_int8(again) and quantize.input_is_pixel_minus_128(again)
    assert np.array_equal(quantize.predict(again, test.images[:50]), quantize.predict(tflite, test.images[:50]))
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", fail)
    with pytest.raises(RuntimeError, match="failed both ways.*simulated"):
        quantize.to_float(model)


# --------------------------------------------------------------------------------------------- camera-exact kernels
def _camera_samples():
    return synth.samples("camera")


def _tflm_int8_outputs(tflite, images):
    """The raw int8 outputs of the real TFLite Micro interpreter (x86 build of the tflite-micro wheel)."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(tflite)
    outs = []
    for image in images:
        interpreter.set_input((image.astype(np.int16) - 128).astype(np.int8)[None], 0)  # the firmware's pixel - 128
        interpreter.invoke()
        outs.append(interpreter.get_output(0).copy())
    return np.concatenate(outs)


@pytest.mark.skipif(not footprint.tflm_available(),
                    reason="the tflite-micro wheel (Linux x86-64 only) is not installed")
def test_reference_kernels_equal_tflite_micro_bit_for_bit_on_the_camera_samples_and_xnnpack_does_not():
    from tinymask import pipeline

    tflite = pipeline.course_int8()
    samples = _camera_samples()
    tflm = _tflm_int8_outputs(tflite, samples.images)
    reference = quantize.Runner(tflite, kernels="reference").raw(samples.images)
    xnnpack = quantize.Runner(tflite, kernels="xnnpack").raw(samples.images)
    assert len(samples.images) >= 48 and tflm.dtype == np.int8
    assert np.array_equal(reference, tflm), f"{int((reference != tflm).any(axis=1).sum())} samples differ"
    # The check can fail: LiteRT's default kernels round differently on some of the same images.
    assert (xnnpack != tflm).any(axis=1).sum() >= 1


def test_default_conversion_quantizes_dense_layers_per_tensor_for_old_firmware(trained):
    model, tflite, test = trained
    assert footprint.per_channel_fully_connected(tflite) == []
    footprint.check_firmware_tflm(tflite)  # no error
    per_channel = quantize.to_int8(model, test.images, num_calibration=50, per_channel_dense=True)
    bad = footprint.per_channel_fully_connected(per_channel)
    assert [row.op for row in bad] == ["FULLY_CONNECTED"]
    with pytest.raises(footprint.FirmwareTFLMError, match=r"4\.6\.0-4\.8\.1.*per-tensor dense"):
        footprint.check_firmware_tflm(per_channel)
    assert footprint.describe(per_channel, measure=False)["per_channel_fully_connected"] == 1


def test_unknown_kernels_are_refused_with_the_choices(trained):
    _, tflite, test = trained
    with pytest.raises(ValueError, match="reference"):
        quantize.predict(tflite, test.images[:2], kernels="fast")


def test_running_names_are_re_exported_from_runner():
    """``quantize.predict`` and friends live in tinymask.runner; the old names are the same objects."""
    from tinymask import runner

    moved = [name for name in runner.__all__ if name != "check_images"]
    assert moved == ["KERNELS", "quantize_input", "Runner", "predict", "predict_labels", "evaluate"]
    for name in moved:
        assert name in quantize.__all__ and getattr(quantize, name) is getattr(runner, name), name
    assert quantize.check_images is runner.check_images
