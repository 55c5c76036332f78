"""The host emulator: the firmware's preprocessing, and the camera scripts run on the course model with it."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinymask import deploy, pipeline, quantize, synth, synth_render
from tinymask import openmv_emu as emu
from tinymask import openmv_pixels as pixels

SCRIPTS = deploy.SCRIPTS_DIR
CLASSES = ("mask", "no_mask")


@pytest.fixture(scope="module")
def model():
    return pipeline.course_int8()


@pytest.fixture(scope="module")
def camera():
    """The committed camera-domain sample frames (48 images, 96x96 RGB, 3 kinds of face)."""
    return synth.samples("camera")


@pytest.fixture(scope="module")
def host_labels(model, camera):
    """What the notebook pipeline predicts for the same frames (LiteRT, the tensor's own input quantization)."""
    return quantize.predict_labels(model, camera.images)


@pytest.fixture(scope="module")
def bundle(model, tmp_path_factory):
    return deploy.export_bundle(model, CLASSES, tmp_path_factory.mktemp("export") / "bundle")


def run_classify(model, frames, firmware="4.7.0", script=SCRIPTS / "classify.py", **kwargs):
    files = kwargs.pop("files", {"tinymask_mask.tflite": model, "tinymask_mask.txt": "mask\nno_mask\n"})
    return emu.run_script(script, frames, files=files, firmware=firmware, **kwargs)


# --------------------------------------------------------------------------------------------- pixels
def test_openmv_pixels_needs_no_sandbox_and_openmv_emu_re_exports_its_objects():
    tree = ast.parse(Path(pixels.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"numpy", "errors"}, f"openmv_pixels imports {sorted(imported)}: it must need numpy only"
    code = "import sys, tinymask.openmv_pixels; print(sorted(m for m in sys.modules if m.startswith('tinymask.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert "tinymask.openmv_pixels" in out.stdout and "tinymask.openmv_emu" not in out.stdout, out.stdout
    for name in pixels.__all__:
        assert name in emu.__all__ and getattr(emu, name) is getattr(pixels, name), name


def test_an_emulator_image_is_read_as_its_camera_pixels(camera):
    frame = camera.images[5]
    for pixformat in ("RGB565", "GRAYSCALE"):
        img = emu.Image.from_frame(frame, pixformat)
        assert np.asarray(img) is img._data
        for c in (3, 1):
            assert np.array_equal(emu.firmware_pixels(img, (96, 96, c)), emu.firmware_pixels(img._data, (96, 96, c)))
    rgb = emu.Image.from_frame(frame)
    assert np.array_equal(emu.firmware_pixels(rgb, (96, 96, 3)), emu.rgb565_round_trip(frame))


def test_rgb565_expansion_is_bit_replication():
    pixels = np.array([0xFFFF, 0x0000, 0xF800, 0x07E0, 0x001F, 0x0841, 0x8410], dtype=np.uint16)
    rgb = emu.rgb565_to_rgb888(pixels)
    expected = [(255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (8, 8, 8), (132, 130, 132)]
    assert [tuple(map(int, p)) for p in rgb] == expected
    # Every RGB565 value survives the trip to 8 bits and back; 8-bit values are truncated to 5/6/5 bits.
    every = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(emu.rgb888_to_rgb565(emu.rgb565_to_rgb888(every)), every)
    assert int(emu.rgb888_to_rgb565(np.array([7, 3, 7], np.uint8))) == 0


def test_camera_samples_survive_rgb565_exactly_and_synth_expands_like_the_firmware(camera):
    assert np.array_equal(emu.rgb565_round_trip(camera.images), camera.images)
    # synth's sensor model quantizes to 5/6/5 bits and expands; on the firmware's 8-bit levels it is the identity.
    levels = emu.rgb565_to_rgb888(np.arange(65536, dtype=np.uint16)).astype(np.float32)
    synth_levels = synth_render.rgb565(np.moveaxis(levels, -1, 0))
    assert np.array_equal(np.moveaxis(synth_levels, 0, -1), levels)
    # Studio images were never RGB565: the camera changes them by up to 7 levels.
    studio = synth.samples("studio").images
    diff = np.abs(emu.rgb565_round_trip(studio).astype(int) - studio)
    assert 0 < diff.max() <= 7


def test_int8_input_is_pixel_minus_128_when_the_frame_is_the_input_size(camera):
    x = emu.firmware_input(camera.images[0], (1, 96, 96, 3))
    assert x.dtype == np.int8 and x.shape == (1, 96, 96, 3)
    assert np.array_equal(x[0].astype(int), camera.images[0].astype(int) - 128)
    f = emu.firmware_input(camera.images[0], (1, 96, 96, 3), dtype="float32")
    assert f.dtype == np.float32 and np.allclose(f[0] * 255, camera.images[0], atol=1e-3)
    with pytest.raises(ValueError, match="uint8 models no longer run"):
        emu.firmware_input(camera.images[0], (1, 96, 96, 3), dtype="uint8")


def test_grayscale_input_uses_the_firmware_luma(camera):
    frame = camera.images[3]
    g = emu.firmware_pixels(frame, (96, 96, 1))[..., 0].astype(int)
    r, gg, b = (frame[..., i].astype(int) for i in range(3))
    assert np.array_equal(g, (38 * r + 75 * gg + 15 * b) >> 7)


@pytest.mark.parametrize("size", [(240, 320), (240, 240), (120, 160), (97, 131)])
def test_a_flat_frame_stays_flat_at_any_scale(size):
    for colour in [(255, 255, 255), (0, 0, 0), (200, 104, 48)]:
        frame = np.zeros((*size, 3), np.uint8) + np.array(colour, np.uint8)
        px = emu.firmware_pixels(frame, (1, 96, 96, 3))
        assert px.shape == (96, 96, 3)
        assert np.array_equal(np.unique(px.reshape(-1, 3), axis=0), emu.rgb565_round_trip(frame[:1, :1])[0])


def test_scale_aspect_expand_crops_the_sides_of_a_wide_frame():
    """320x240 to 96x96: scaled by 0.4 to 128x96 and centred, so 40 source columns each side are cut off."""
    frame = np.full((240, 320, 3), 255, np.uint8)
    frame[:, :39] = (255, 0, 0)
    frame[:, 281:] = (0, 0, 255)
    assert np.all(emu.firmware_pixels(frame, (96, 96, 3)) == 255)
    frame[:, 45] = (0, 0, 0)  # inside the kept centre: it shows
    assert emu.firmware_pixels(frame, (96, 96, 3)).min() < 255


def test_bilinear_halving_averages_pixel_pairs_as_the_fixed_point_code_does():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (192, 192), dtype=np.uint8)
    out = emu.draw_image(gray, 96, 96).astype(int)
    g = gray.astype(int)
    # Sample positions are 2x - 0.5 (the firmware shifts by half a pixel): each output pixel is the mean of
    # rows 2y-1, 2y and columns 2x-1, 2x (clamped at the top and left edges), within 1 level of rounding.
    rows = np.clip(np.stack([2 * np.arange(96) - 1, 2 * np.arange(96)]), 0, 191)
    mean = (g[rows[0]][:, rows[0]] + g[rows[0]][:, rows[1]] + g[rows[1]][:, rows[0]] + g[rows[1]][:, rows[1]]) / 4
    assert np.abs(out - mean).max() <= 1
    rgb = rng.integers(0, 256, (192, 192, 3), dtype=np.uint8)
    packed = emu.draw_image(emu.rgb888_to_rgb565(rgb), 96, 96).astype(int)
    five = (rgb >> 3).astype(int)[..., 0]  # the red channel's 5 bits
    red_mean = (five[rows[0]][:, rows[0]] + five[rows[0]][:, rows[1]] + five[rows[1]][:, rows[0]]
                + five[rows[1]][:, rows[1]]) / 4
    assert np.abs((packed >> 11) - red_mean).max() <= 1


def test_no_scaling_is_a_plain_copy():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 65536, (96, 96), dtype=np.uint16)
    assert np.array_equal(emu.draw_image(pixels, 96, 96), pixels)
    roi = (10, 20, 48, 48)  # 48 -> 96 is a scale of 2: bilinear, reading only inside the roi
    inside = emu.draw_image(pixels, 96, 96, roi=roi)
    cropped = emu.draw_image(pixels[20:68, 10:58].copy(), 96, 96)
    assert np.array_equal(inside, cropped)


# --------------------------------------------------------------------------------------------- classify.py
@pytest.mark.parametrize("firmware", emu.FIRMWARES)
def test_bundle_main_py_on_the_camera_samples_agrees_100_percent_with_the_notebook(
        bundle, model, camera, host_labels, firmware):
    result = emu.run_script(bundle.main_py, camera, files=bundle.camera_files(), firmware=firmware)
    assert result.ended == "frames exhausted" and len(result.frames) == len(camera) == 48
    assert np.array_equal(np.array(result.predicted), host_labels)  # the model's arg-max, frame by frame
    assert [CLASSES.index(c) for c in result.classes] == host_labels.tolist()  # what the script printed
    # The int8 tensor the camera feeds is the notebook's quantize_input of the same pixels.
    scale, zero_point = quantize.input_quantization(model)
    for record, frame in zip(result.frames[:5], camera.images[:5]):
        assert np.array_equal(record.inputs[0][0], quantize.quantize_input(frame, scale, zero_point))
    assert np.allclose([r.scores[0][0].ravel() for r in result.frames],
                       quantize.predict(model, camera.images), atol=1e-6)


def test_labels_leds_uncertain_band_and_fps(bundle, camera):
    result = emu.run_script(bundle.main_py, camera, files=bundle.camera_files(), capture_ms=10, inference_ms=150)
    top = [max(r.scores[0][0].ravel()) for r in result.frames]
    for label, cls, score, leds in zip(result.labels, result.classes, top, result.leds):
        expected = "uncertain" if score < 0.6 else cls
        assert label == expected
        colour = {"mask": "green", "uncertain": "blue"}.get(label, "red")
        assert leds[colour] and sum(leds.values()) == 1
    assert "uncertain" in result.labels and "mask" in result.labels and "no_mask" in result.labels
    # Virtual time: 10 ms a snapshot + 150 ms a predict = 6.25 FPS, printed with one decimal.
    assert all(line.endswith("fps=6.2") for line in result.printed[1:])
    assert result.frames[0].drawn[0][0] == "string"


def test_firmware_differences(model, camera):
    files = {"tinymask_mask.tflite": model, "labels.txt": "mask\nno_mask\n"}
    v5 = run_classify(model, camera.images[:2], "5.0.0", files=files)
    v4 = run_classify(model, camera.images[:2], "4.5.6", files=files)
    # Both pass load_to_fb: 4.x puts the model in the frame buffer, 5.0's ml/model.py accepts and ignores it.
    for run in (v5, v4):
        assert [e for e in run.events if e[0] == "model"] == [("model", {"path": "tinymask_mask.tflite",
                                                                          "load_to_fb": True})]
    assert ("window", {"window": ((240, 240),)}) in v5.events and ("window", {"window": ((240, 240),)}) in v4.events
    # Labels come from labels.txt when <model>.txt is missing, and from LABELS when no file is there.
    assert v5.setup == ["firmware 5.0.0 model tinymask_mask.tflite labels ('mask', 'no_mask')"]
    bare = run_classify(model, camera.images[:1], files={"tinymask_mask.tflite": model})
    assert "labels ('mask', 'no_mask')" in bare.setup[0]
    named = run_classify(model, camera.images[:1], files={"tinymask_mask.tflite": model,
                                                           "tinymask_mask.txt": "with\nwithout\n"})
    assert "labels ('with', 'without')" in named.setup[0] and named.classes[0] in ("with", "without")


# --------------------------------------------------------------------------------------------- wrong preprocessing
def _swap_channels(img, shape, dtype):
    return emu.firmware_input(img, shape, dtype)[..., ::-1]


def _no_minus_128(img, shape, dtype):
    return emu.firmware_pixels(img, shape)[None].view(np.int8)  # raw bytes as int8: 200 becomes -56


@pytest.mark.parametrize("wrong", [_swap_channels, _no_minus_128], ids=["BGR", "no-minus-128"])
def test_a_wrong_preprocessing_is_caught(model, camera, host_labels, wrong):
    result = run_classify(model, camera, preprocess=wrong)
    agreement = np.mean(np.array(result.predicted) == host_labels)
    assert agreement < 1.0, "a wrong preprocessing must change at least one prediction on the samples"


# --------------------------------------------------------------------------------------------- other scripts
@pytest.mark.parametrize("firmware,keyword,cascade", [
    ("4.5.6", "scale_factor", "frontalface"),
    ("4.7.0", "scale_factor", "/rom/haarcascade_frontalface.cascade"),
    ("5.0.0", "scale", "/rom/haarcascade_frontalface.cascade"),
])
def test_face_mask_classifies_each_face_crop(model, camera, firmware, keyword, cascade):
    frames = camera.images[:6]
    boxes = [[(10, 8, 70, 76)], [], [(0, 0, 96, 96), (30, 30, 40, 40)], [(20, 20, 50, 50)], [(5, 5, 80, 80)],
             [(12, 10, 60, 60)]]
    result = run_classify(model, frames, firmware, script=SCRIPTS / "face_mask.py", faces=boxes)
    assert ("haar_cascade", {"path": cascade, "stages": 25}) in result.events
    assert {tuple(e[1]) for e in result.events if e[0] == "find_features"} == {(keyword,)}
    crops, seen = [], []
    for frame, faces, record in zip(frames, boxes, result.frames):
        assert len(record.scores) == len(faces) == sum(line.startswith("face ") for line in record.printed)
        for (x, y, w, h), line in zip(faces, (ln for ln in record.printed if ln.startswith("face "))):
            dx, dy = int(w * 0.15), int(h * 0.15)  # the script's MARGIN, clipped to the frame
            x0, y0, x1, y1 = max(0, x - dx), max(0, y - dy), min(96, x + w + dx), min(96, y + h + dy)
            assert f"x={x0} y={y0} w={x1 - x0} h={y1 - y0}" in line
            crops.append(emu.firmware_pixels(frame[y0:y1, x0:x1], (96, 96, 3)))
        seen += record.predicted
    assert seen == quantize.predict_labels(model, np.stack(crops)).tolist()
    assert result.frames[1].printed == ["frame faces=0 fps=100.0"]


def test_benchmark_line_parses_and_matches_the_virtual_timing(model, camera):
    result = run_classify(model, camera, script=SCRIPTS / "benchmark_fps.py", cycle=True, max_frames=60,
                          capture_ms=12.5, inference_ms=80.0)
    assert result.ended == "returned"
    (bench,) = deploy.parse_benchmark(result.text)
    assert bench.model == "tinymask_mask.tflite" and bench.firmware == "4.7.0" and bench.runs == 50
    assert bench.size == (96, 96, 3)
    assert bench.infer_ms == pytest.approx(80.0) and bench.frame_ms == pytest.approx(92.5)
    assert bench.infer_fps == pytest.approx(12.5) and bench.frame_fps == pytest.approx(1000 / 92.5, abs=0.01)


def test_low_power_sleeps_between_pictures(model, camera):
    result = run_classify(model, camera, script=SCRIPTS / "low_power.py", cycle=True, max_frames=100, capture_ms=50)
    wakes = [line for line in result.printed if line.startswith("wake ")]
    assert len(wakes) >= 10 and result.ended == "frames exhausted"
    names = [e[0] for e in result.events]
    assert names.count("lightsleep") == len(wakes)
    assert ("lightsleep", {"ms": 60000}) in result.events
    assert ("sensor_sleep", {"enable": True}) in result.events
    deep = (SCRIPTS / "low_power.py").read_text().replace("DEEP_SLEEP = False", "DEEP_SLEEP = True")
    reset = run_classify(model, camera, script=deep, cycle=True, max_frames=100, capture_ms=50)
    assert reset.ended == "board reset" and len([ln for ln in reset.printed if ln.startswith("wake ")]) == 1


def test_collect_dataset_saves_numbered_snapshots_to_the_sd_card(camera):
    script = (SCRIPTS / "collect_dataset.py").read_text().replace("COUNT = 50", "COUNT = 3")
    result = emu.run_script(script, camera, firmware="4.7.0", sd_card=True, cycle=True, max_frames=2000)
    assert result.ended == "returned"
    assert [line for line in result.printed if line.startswith("saved")] == [
        f"saved /sdcard/tinymask_dataset/mask/{i}.jpg" for i in range(3)]
    with pytest.raises(emu.ScriptError, match="no SD card"):
        emu.run_script(script, camera, firmware="4.7.0", cycle=True, max_frames=10)
    # On 4.5.6 the card is the root of the file system.
    old = emu.run_script(script, camera, firmware="4.5.6", sd_card=True, cycle=True, max_frames=2000)
    assert [line for line in old.printed if line.startswith("saved")][0] == "saved /tinymask_dataset/mask/0.jpg"


def test_scripts_cannot_use_the_laptop(camera):
    with pytest.raises(emu.ScriptError, match="not a module of the OpenMV firmware") as info:
        emu.run_script("print('start')\nimport numpy\n", camera)
    assert info.value.printed == ["start"]
    with pytest.raises(emu.ScriptError, match="has no attribute 'load'"):
        emu.run_script("import tf\nnet = tf.load('trained.tflite')\n", camera)
    with pytest.raises(emu.ScriptError, match="No such file"):
        emu.run_script("import ml\nml.Model('missing.tflite')\n", camera)
    with pytest.raises(ValueError, match="firmware"):
        emu.run_script("pass\n", camera, firmware="3.9")


def test_firmware_5_stretches_a_wide_frame_where_4x_crops_it():
    # A 192x96 frame: white left quarter, black elsewhere. 4.x (SCALE_ASPECT_EXPAND) crops to the centre 96x96, which
    # holds no white; 5.0 (SCALE_ASPECT_IGNORE, ml/preprocessing.py at v5.0.0) squeezes the whole width in.
    frame = np.zeros((96, 192, 3), np.uint8)
    frame[:, :48] = 255
    cropped = emu.firmware_pixels(frame, (96, 96, 3), aspect=emu.aspect_for("4.8.1"))
    stretched = emu.firmware_pixels(frame, (96, 96, 3), aspect=emu.aspect_for("5.0.0"))
    assert cropped.max() == 0
    assert stretched[:, :20].min() == 255 and stretched[:, 30:].max() == 0
    square = synth.samples("camera").images[0]
    assert np.array_equal(emu.firmware_pixels(square, (96, 96, 3), aspect="ignore"),
                          emu.firmware_pixels(square, (96, 96, 3), aspect="expand"))


def test_float_models_get_raw_pixels_before_4_8():
    frame = synth.samples("camera").images[0]
    old = emu.firmware_input(frame, (1, 96, 96, 3), dtype="float32", firmware="4.7.0")
    new = emu.firmware_input(frame, (1, 96, 96, 3), dtype="float32", firmware="4.8.1")
    assert old.max() > 1.0 and new.max() <= 1.0 and np.allclose(old / 255.0, new)
