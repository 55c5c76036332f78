"""The command line: every command's --help, `tinymask run` end to end on a tiny configuration, refusals."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tinymask import cli, pipeline, quantize, synth, tflite

COMMANDS = ["run", "budget", "profile", "export", "dataset", "camera"]
TINY_RUN = ["run", "--size", "32", "--epochs", "0", "--head-epochs", "1", "--limit", "200", "--calibration", "20",
            "--weights", "shipped"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    args = [sys.executable, "-m", "tinymask"] + ([command] if command else []) + ["--help"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tinymask") and (command or "run") in done.stdout
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "build"
    assert cli.main([*TINY_RUN, "--out", str(out)]) == 0
    return out


def test_run_writes_report_model_and_bundle(tiny_run):
    report = json.loads((tiny_run / "report.json").read_text())
    model = (tiny_run / "model_int8.tflite").read_bytes()
    assert report["footprint"]["flash_bytes"] == len(model)
    import h5py

    with h5py.File(tiny_run / "model.weights.h5") as saved:
        assert "optimizer" not in saved, "the saved weights carry the optimizer's state"
    assert report["classes"] == ["mask", "no_mask"]
    assert report["accuracy"]["test_images"] == 600
    confusion = np.array(report["accuracy"]["int8_confusion"])
    assert confusion.sum() == 600 and np.trace(confusion) / 600 == pytest.approx(report["accuracy"]["int8"])
    assert "int8 confusion on the test split" in (tiny_run / "report.md").read_text()
    for key in ("float", "int8", "agreement"):
        assert 0.0 <= report["accuracy"][key] <= 1.0
    assert report["footprint"]["lower_bound_bytes"] <= report["footprint"]["greedy_estimate_bytes"]
    assert report["footprint"]["latency_ms"] > 0 and report["board"]["fits"] is True
    assert report["subgroup_gap"]["attribute"] in pipeline.SUBGROUP_ATTRIBUTES
    bundle = tiny_run / "openmv"
    assert sorted(p.name for p in bundle.iterdir()) == sorted(report["bundle"]["files"])
    assert (bundle / "tinymask_mask.tflite").read_bytes() == tflite.camera_copy(model)  # the camera copy
    assert (bundle / "labels.txt").read_text().split() == ["mask", "no_mask"]
    assert "| test accuracy, int8 (LiteRT reference kernels, as TFLite Micro on the camera) |" in (
        tiny_run / "report.md").read_text()
    # the int8 model in the report is the one that was evaluated: its accuracy reproduces
    images, labels = synth.course_splits(size=32)["test"].images, synth.course_splits(size=32)["test"].labels
    assert quantize.evaluate(model, images, labels) == pytest.approx(report["accuracy"]["int8"])
    assert not list(tiny_run.parent.glob(".build.*")), "a staging folder was left behind"


def test_run_refuses_a_non_empty_output(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my work")
    assert cli.main([*TINY_RUN, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err
    assert (out / "notes.txt").read_text() == "my work"


def test_ctrl_c_during_a_run_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    """What an interrupted run leaves on disk is pipeline.staged_output's job (tests/test_pipeline.py); here only how
    the command line reports it."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run", interrupted)
    assert cli.main([*TINY_RUN, "--out", str(tmp_path / "build")]) == 130
    assert capsys.readouterr().err == "tinymask: interrupted; nothing was left half-written\n"


def test_run_on_a_user_folder_with_a_corrupt_image(tmp_path, capsys):
    samples = synth.samples("camera")
    data = tmp_path / "photos"
    for index, (image, label) in enumerate(zip(samples.images, samples.labels)):
        folder = data / samples.classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    (data / "mask" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="broken.jpg"):
        code = cli.main(["run", "--data", str(data), "--size", "32", "--epochs", "0", "--head-epochs", "1",
                         "--calibration", "10", "--weights", "shipped", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["classes"] == sorted(samples.classes)  # class folders in sorted order
    assert report["accuracy"]["test_images"] < len(samples.labels)
    assert report["subgroup_gap"] is None  # a user's folder has no attributes


def test_export_and_profile_the_shipped_model(tmp_path, capsys):
    model = pipeline.COURSE_INT8
    out = tmp_path / "bundle"
    assert cli.main(["export", str(model), "--labels", "mask,no_mask", "--out", str(out)]) == 0
    assert (out / "tinymask_mask.tflite").read_bytes() == tflite.camera_copy(model.read_bytes())
    assert (tmp_path / "bundle.zip").is_file() and (out / "main.py").is_file()
    assert cli.main(["profile", str(model), "--no-measure"]) == 0
    printed = capsys.readouterr().out
    assert f"{model.stat().st_size:,} B" in printed and "full int8: True" in printed
    # again into the same folder: refused, then replaced with --force
    assert cli.main(["export", str(model), "--labels", "mask,no_mask", "--out", str(out)]) == 2
    assert cli.main(["export", str(model), "--labels", "mask,no_mask", "--out", str(out), "--force"]) == 0


def test_export_refuses_wrong_labels_and_profile_reports_a_float_model(tmp_path, capsys):
    model = pipeline.COURSE_INT8
    assert cli.main(["export", str(model), "--labels", "a,b,c", "--out", str(tmp_path / "x")]) == 2
    assert "3" in capsys.readouterr().err and not (tmp_path / "x").exists()
    float_model = tmp_path / "float.tflite"
    float_model.write_bytes(quantize.to_float(pipeline.course_model()))
    assert cli.main(["profile", str(float_model), "--no-measure"]) == 1
    assert "not full-integer int8" in capsys.readouterr().out


def test_profile_names_a_file_that_is_not_a_model(tmp_path, capsys):
    bogus = tmp_path / "model.tflite"
    bogus.write_text("hello")
    assert cli.main(["profile", str(bogus)]) == 2
    err = capsys.readouterr().err
    assert "not a .tflite model" in err and str(bogus) in err


def test_budget_and_dataset(tmp_path, capsys):
    assert cli.main(["budget", "--size", "224", "--dtype", "float32", "--board", "openmv-h7"]) == 0
    assert "602,112 B" in capsys.readouterr().out
    out = tmp_path / "data"
    assert cli.main(["dataset", "--out", str(out), "--size", "32"]) == 0
    counts = {split: sum(1 for _ in (out / split).rglob("*.png")) for split in ("Train", "Validation", "Test")}
    settings = synth.course_settings()["splits"]
    assert counts == {"Train": settings["train"]["n"], "Validation": settings["validation"]["n"],
                      "Test": settings["test"]["n"]}
    first = np.asarray(Image.open(sorted((out / "Test" / "mask").glob("*.png"))[0]))
    assert first.shape == (32, 32, 3)
    assert cli.main(["dataset", "--out", str(out)]) == 2


def test_profile_and_export_refuse_a_model_firmware_4_6_to_4_8_cannot_load(tmp_path, capsys):
    """A per-channel quantized dense layer: 5.0 loads it, the TFLite Micro of firmware 4.6.0-4.8.1 does not."""
    per_channel = tmp_path / "per_channel.tflite"
    per_channel.write_bytes(quantize.to_int8(pipeline.course_model(), synth.samples("camera").images,
                                             num_calibration=48, per_channel_dense=True))
    assert cli.main(["profile", str(per_channel), "--no-measure"]) == 1
    assert "firmware 4.6.0-4.8.1 cannot load" in capsys.readouterr().out
    assert cli.main(["export", str(per_channel), "--labels", "mask,no_mask", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Failed to allocate tensors" in err and "per-tensor dense" in err
    assert not (tmp_path / "b").exists()


# -------------------------------------------------------------------------------- bad input, as a user types it
SHIPPED = str(pipeline.CAMERA_INT8)
BAD_INPUT = [  # (argv with {tmp} for a scratch folder, words the one error line must hold)
    ("run --data {tmp}/photo.jpg", "is a file, not a folder"),
    ("run --data {tmp}/missing", "no such folder"),
    ("run --data {tmp}/empty", "no class subfolders found"),
    ("run --alpha 0", "alpha must be a number from 0.1 to 1.0"),
    ("run --size 5", "size=5"),
    ("run --epochs -1", "epochs must be at least 1"),
    ("run --calibration 0", "give a whole number of images, 1 or more"),
    ("run --limit -3", "give a whole number of images, 0 or more"),
    ("run --board nope", "unknown board 'nope'"),
    ("run --weights {tmp}/no.h5", "does not exist"),
    ("run --out {tmp}/photo.jpg", "is a file; give a folder"),
    ("budget --size 0", "every dimension must be a positive integer"),
    ("budget --channels 2", "invalid choice: 2"),
    ("budget --dtype float7", "unknown dtype 'float7'"),
    ("profile {tmp}/missing.tflite", "does not exist"),
    ("profile {tmp}/photo.jpg", "not a .tflite model"),
    ("profile " + SHIPPED + " --ops-per-s -5", "ops_per_s must be a positive number"),
    ("export " + SHIPPED + " --labels mask --out {tmp}/b1", "1 labels ('mask',) but the model has 2 outputs"),
    ("export " + SHIPPED + " --labels mask,no_mask --name a.b --out {tmp}/b2", "model_name 'a.b'"),
    ("export " + SHIPPED + " --labels mask,no_mask --out {tmp}/photo.jpg", "is a file"),
    ("dataset --out {tmp}/photo.jpg", "is a file; give a folder"),
    ("dataset --out {tmp}/d --size 0", "size=0"),
    ("camera copy --port /dev/nonexistent {tmp}/empty", "has no bundle.json"),
    ("camera run --port /dev/nonexistent {tmp}/missing.py", "no such script on this computer"),
    ("camera parity --port /dev/nonexistent --bundle {tmp}/missing", "does not exist"),
]


@pytest.mark.parametrize("argv,words", BAD_INPUT, ids=[a for a, _ in BAD_INPUT])
def test_bad_input_gets_one_line_naming_it_and_no_traceback(argv, words, tmp_path, capsys):
    (tmp_path / "photo.jpg").write_bytes(b"not really a photo")
    (tmp_path / "empty").mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv.split()]
    try:
        code = cli.main(args)
    except SystemExit as stop:  # argparse's own refusals: usage line + error line
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, f"{argv}: exit status {code}\n{err}"
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and words in errors[0], f"{argv}: expected one error line with {words!r}, got:\n{err}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "photo.jpg"], "a refused command wrote files"
