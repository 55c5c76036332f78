"""datasets/: the committed samples are exactly what the generator makes (a cross-machine determinism check),
the course settings are valid, and writing image folders never replaces a user's files."""

import pathlib

import numpy as np
import pytest

from tinymask import data, synth

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_course_settings_are_valid():
    settings = synth.course_settings()
    assert set(settings["splits"]) == {"train", "validation", "test"}
    assert settings["splits"]["test"]["domain"] == "camera"
    assert {settings["splits"][s]["domain"] for s in ("train", "validation")} == {"studio"}
    seeds = [split["seed"] for split in settings["splits"].values()] + [settings["samples"]["seed"]]
    assert len(set(seeds)) == len(seeds), "every split needs its own seed"
    assert set(settings["classes"]) <= set(synth.CLASSES)


@pytest.mark.parametrize("domain", synth.DOMAINS)
def test_committed_samples_equal_a_fresh_generation(domain):
    committed = data.load_folder(ROOT / "datasets" / "samples" / domain, on_error="raise")
    fresh = synth.samples(domain)
    assert committed.classes == tuple(sorted(fresh.classes))
    order = np.argsort([int(pathlib.Path(f).stem) for f in committed.files])
    assert np.array_equal(committed.images[order], fresh.images), (
        "the committed samples differ from what the generator makes now: the generator is not byte-identical "
        "on this machine, or it changed (then regenerate datasets/samples and say why in the commit)"
    )
    names = [committed.classes[label] for label in committed.labels[order]]
    assert names == [fresh.classes[label] for label in fresh.labels]


def test_course_settings_missing_file_says_where_it_should_be(tmp_path):
    with pytest.raises(FileNotFoundError, match="datasets"):
        synth.course_settings(tmp_path / "nope.json")


def test_save_folder_round_trips_and_refuses_to_overwrite(tmp_path):
    batch = synth.generate(6, seed=5, size=32)
    out = tmp_path / "set"
    files = data.save_folder(batch.images, batch.labels, batch.classes, out)
    assert len(files) == 6 and all((out / f).is_file() for f in files)
    loaded = data.load_folder(out, size=32, on_error="raise")
    order = np.argsort([int(pathlib.Path(f).stem) for f in loaded.files])
    assert np.array_equal(loaded.images[order], batch.images)
    before = {p: p.read_bytes() for p in out.rglob("*.png")}
    with pytest.raises(FileExistsError, match="not empty"):
        data.save_folder(batch.images, batch.labels, batch.classes, out)
    assert {p: p.read_bytes() for p in out.rglob("*.png")} == before
    data.save_folder(batch.images[:2], batch.labels[:2], batch.classes, out, overwrite=True)


def test_save_folder_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        data.save_folder(np.zeros((2, 8, 8, 3), np.float32), [0, 1], ("a", "b"), tmp_path / "x")
    with pytest.raises(ValueError, match="indexes"):
        data.save_folder(np.zeros((2, 8, 8, 3), np.uint8), [0, 2], ("a", "b"), tmp_path / "y")
