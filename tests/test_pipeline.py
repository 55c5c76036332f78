"""The course recipe: channel conversion, data sources, the shipped mask model, MACs from a .tflite."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from tinymask import footprint, models, pipeline, profile, quantize, synth, train
from tinymask.dataset import Dataset
from tinymask.errors import NotAFolderError, OutputExistsError


def test_to_channels_gray_is_luma_and_rgb_passes_through():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0, ..., 0] = 255  # pure red
    images[1] = 200
    gray = pipeline.to_channels(images, 1)
    assert gray.shape == (2, 4, 4, 1) and gray.dtype == np.uint8
    assert gray[0, 0, 0, 0] == round(0.299 * 255) and gray[1, 0, 0, 0] == 200
    assert pipeline.to_channels(images, 3) is images
    with pytest.raises(ValueError, match="channels=2"):
        pipeline.to_channels(images, 2)
    with pytest.raises(ValueError, match="uint8"):
        pipeline.to_channels(images.astype(np.float32), 1)


def _write(folder, batch):
    for index, (image, label) in enumerate(zip(batch.images, batch.labels)):
        path = folder / batch.classes[label]
        path.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path / f"{index:03d}.png")


def test_course_data_splits_a_plain_class_folder_70_15_15(tmp_path):
    samples = synth.samples("camera")
    _write(tmp_path, samples)
    splits, classes = pipeline.course_data(path=tmp_path, size=32)
    assert classes == tuple(sorted(samples.classes))
    assert all(isinstance(d, Dataset) and d.classes == classes for d in splits.values())
    sizes = {name: len(d) for name, d in splits.items()}
    assert sum(sizes.values()) == len(samples.labels)
    assert sizes["train"] > sizes["validation"] > 0 and sizes["test"] > 0
    for d in splits.values():
        assert d.images.shape[1:] == (32, 32, 3) and set(d.labels) == {0, 1, 2}
    files = [f for d in splits.values() for f in d.files]  # each file in exactly one split
    assert len(files) == len(set(files)) == len(samples.labels)


def test_course_data_reads_a_train_validation_test_layout(tmp_path):
    samples = synth.samples("camera")
    for split in ("Train", "Validation", "Test"):
        _write(tmp_path / split, samples)
    splits, classes = pipeline.course_data(path=tmp_path, size=32, channels=1)
    assert {name: len(d) for name, d in splits.items()} == {"train": 48, "validation": 48, "test": 48}
    assert splits["test"].images.shape[1:] == (32, 32, 1)
    assert splits["test"].files[0].startswith("Test/")


def test_course_data_synthetic_splits_are_datasets_with_their_domain_and_attributes():
    splits, classes = pipeline.course_data(size=32, channels=1)
    assert list(splits) == ["train", "validation", "test"] and classes == ("mask", "no_mask")
    test = splits["test"]
    assert isinstance(test, Dataset) and test.domain == "camera" and splits["train"].domain == "studio"
    assert test.images.shape[1:] == (32, 32, 1) and test.images.dtype == np.uint8
    assert set(test.attributes) >= set(pipeline.SUBGROUP_ATTRIBUTES)
    rgb = synth.course_splits(size=32)["test"]
    assert np.array_equal(test.labels, rgb.labels) and np.array_equal(test.images, pipeline.to_channels(rgb.images, 1))


def test_course_data_without_train_folder_says_what_to_add(tmp_path):
    _write(tmp_path / "Test", synth.samples("camera"))
    with pytest.raises(ValueError, match="no Train/"):
        pipeline.course_data(path=tmp_path, size=32)


def test_shipped_files_match_the_weights_readme():
    readme = (models.WEIGHTS_DIR / "README.md").read_text()
    for path in (pipeline.COURSE_WEIGHTS, pipeline.COURSE_INT8):
        data = path.read_bytes()
        assert f"{len(data):,}" in readme and hashlib.sha256(data).hexdigest() in readme


def test_shipped_int8_model_is_deployable_and_matches_its_float_model():
    data = pipeline.course_int8()
    quantize.check_int8(data)
    assert quantize.input_is_pixel_minus_128(data)
    samples = synth.samples("camera")
    keep = samples.labels < 2  # mask / no_mask only
    images = samples.images[keep]
    float_pred = train.predict_labels(pipeline.course_model(), images)
    agreement = float((quantize.predict_labels(data, images) == float_pred).mean())
    assert agreement >= 0.95, f"int8 and float agree on only {agreement:.0%} of the samples"


def test_save_weights_leaves_out_the_optimizer_and_reloads(tmp_path):
    import h5py

    model = pipeline.course_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)  # an optimizer with state, as after training
    pipeline.save_weights(model, tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as saved:
        assert "optimizer" not in saved
    again = models.mobilenet_v1(alpha=0.25, input_size=96, num_classes=2, weights=str(tmp_path / "m.weights.h5"))
    images = synth.samples("camera").images[:8]
    np.testing.assert_array_equal(train.predict_labels(again, images), train.predict_labels(model, images))


def test_macs_from_the_tflite_equal_the_keras_count():
    model = pipeline.course_model()
    assert footprint.macs(pipeline.course_int8()) == profile.totals(model)[1]


def test_fit_trains_a_single_sigmoid_output_with_binary_cross_entropy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
    labels = (images.mean(axis=(1, 2, 3)) > 127).astype(np.int64)
    model = models.tiny_cnn(input_size=32)
    history = train.fit(model, (images, labels), (images, labels), epochs=1, batch_size=16)
    assert model.loss == "binary_crossentropy" and "val_accuracy" in history


# --------------------------------------------------------------------------------------------- staged output
def test_staged_output_interrupted_keeps_the_old_folder_and_leaves_no_stage(tmp_path):
    out = tmp_path / "build"
    out.mkdir()
    (out / "report.md").write_text("the good report")
    with pytest.raises(KeyboardInterrupt):
        with pipeline.staged_output(out, force=True) as stage:
            (stage / "report.md").write_text("half a report")
            raise KeyboardInterrupt  # Ctrl-C while the bundle is being written
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    assert (out / "report.md").read_text() == "the good report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"], "a staging folder was left behind"


def test_staged_output_replaces_only_with_force_and_only_when_complete(tmp_path):
    out = tmp_path / "build"
    with pipeline.staged_output(out) as stage:  # a new folder
        assert stage.parent == out.parent.resolve() and not out.exists()
        (stage / "a.txt").write_text("first")
    assert [p.name for p in out.iterdir()] == ["a.txt"]
    with pytest.raises(OutputExistsError, match="not empty"):
        with pipeline.staged_output(out):
            pass
    with pipeline.staged_output(out, force=True) as stage:
        (stage / "b.txt").write_text("second")
    assert [p.name for p in out.iterdir()] == ["b.txt"]  # replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotAFolderError, match="is a file"):
        pipeline.check_output(tmp_path / "file", force=True)


def test_one_refusal_rule_for_output_folders(tmp_path):
    """pipeline's staged output and data.save_folder refuse a non-empty folder through folders.check_output."""
    from tinymask import data, folders

    assert pipeline.check_output is folders.check_output and pipeline.staged_output is folders.staged_output
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not empty; choose a new folder or pass force=True"):
        pipeline.check_output(tmp_path)
    images = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(OutputExistsError, match="not empty; choose a new folder or pass overwrite=True"):
        data.save_folder(images, [0], ("a",), tmp_path)
    with pytest.raises(NotAFolderError, match="is a file"):
        data.save_folder(images, [0], ("a",), tmp_path / "x.txt")
    assert data.save_folder(images, [0], ("a",), tmp_path, overwrite=True) == ["a/000.png"]


def test_report_names_are_re_exported_from_report():
    """``pipeline.Report`` and friends live in tinymask.report; the old names are the same objects."""
    from tinymask import report

    assert report.__all__ == ["SUBGROUP_ATTRIBUTES", "subgroup_gap", "report_markdown", "Report"]
    for name in report.__all__:
        assert getattr(pipeline, name) is getattr(report, name), name
    assert {"SUBGROUP_ATTRIBUTES", "report_markdown", "Report"} <= set(pipeline.__all__)
