"""Tests for tinymask.synth: determinism, balance, the camera domain, argument checks, colour baseline."""

import hashlib

import numpy as np
import pytest

from tinymask import data, dataset, synth

# sha256 of generate(8, seed=0).images.tobytes() (and of the camera domain): these prove that the
# images are byte-identical on every machine (checked here with numpy's AVX-512, AVX2 and SSE paths).
# Change them only on purpose, when the drawing changes.
STUDIO_SHA256 = "2b815ec834a811091e8509037e91cfcca5b8bd7629a6eb110cffb9d858c803b1"
CAMERA_SHA256 = "1c5be71dc094272332fd8cf7bc259aaefccae6afce4e05b27c33e7c4fd3bb2d8"


@pytest.fixture(scope="module")
def studio():
    return synth.generate(96, seed=1)


@pytest.fixture(scope="module")
def camera():
    return synth.generate(96, seed=1, domain="camera")


def _sha256(batch):
    return hashlib.sha256(batch.images.tobytes()).hexdigest()


def test_fingerprint_studio():
    assert _sha256(synth.generate(8, seed=0)) == STUDIO_SHA256


def test_fingerprint_camera():
    assert _sha256(synth.generate(8, seed=0, domain="camera")) == CAMERA_SHA256


def test_same_seed_same_bytes_other_seed_other_images():
    a, b = synth.generate(6, seed=7), synth.generate(6, seed=7)
    assert a.images.tobytes() == b.images.tobytes()
    assert np.array_equal(a.labels, b.labels)
    for name in synth.ATTRIBUTES:
        assert np.array_equal(a.attributes[name], b.attributes[name])
    assert a.images.tobytes() != synth.generate(6, seed=8).images.tobytes()


def test_image_i_does_not_depend_on_n():
    long, short = synth.generate(12, seed=3, size=32), synth.generate(6, seed=3, size=32)
    assert np.array_equal(long.images[:6], short.images)
    assert np.array_equal(long.labels[:6], short.labels)


def test_shapes_dtypes_and_attributes(studio):
    assert studio.images.shape == (96, 96, 96, 3) and studio.images.dtype == np.uint8
    assert studio.labels.shape == (96,) and studio.labels.dtype == np.int64
    assert studio.classes == ("mask", "no_mask") and len(studio) == 96
    assert tuple(studio.attributes) == synth.ATTRIBUTES
    assert all(v.shape == (96,) for v in studio.attributes.values())
    assert set(studio.attributes["skin_tone"]) == {1, 2, 3, 4, 5, 6}
    assert set(studio.attributes["lighting"]) == {"dim", "normal", "bright"}
    assert set(studio.attributes["background"]) == {"flat", "gradient", "clutter"}
    assert studio.attributes["glasses"].dtype == bool
    no_mask = studio.labels == studio.classes.index("no_mask")
    assert np.all((studio.attributes["mask_type"] == "none") == no_mask)
    assert np.all((studio.attributes["mask_colour"] == "none") == no_mask)
    assert 40 < studio.images.std() < 90  # neither blank nor noise
    small = synth.generate(4, size=16, classes=synth.CLASSES[:1])
    assert small.images.shape == (4, 16, 16, 3)


def test_subset(studio):
    part = studio.subset(studio.labels == 0)
    assert len(part) == 48 and np.all(part.labels == 0)
    assert part.attributes["skin_tone"].shape == (48,)
    assert len(studio.subset(slice(0, 5))) == 5 and len(studio.subset(3)) == 1
    picked = studio.subset([5, 2])
    assert np.array_equal(picked.images[1], studio.images[2]) and picked.domain == "studio"
    assert picked.attributes["lighting"].tolist() == studio.attributes["lighting"][[5, 2]].tolist()


def test_the_generator_returns_the_one_dataset_type(camera):
    assert synth.Batch is data.Dataset is dataset.Dataset and isinstance(camera, synth.Batch)
    assert camera.files == () and camera.skipped == () and camera.domain == "camera"
    assert repr(camera) == "Dataset(96 images of 96x96x3, classes=('mask', 'no_mask'), domain='camera')"


@pytest.mark.parametrize("classes", [("mask", "no_mask"), synth.CLASSES])
def test_exact_class_balance_and_interleaving(classes):
    batch = synth.generate(30, classes=classes, size=16)
    assert np.bincount(batch.labels, minlength=len(classes)).tolist() == [30 // len(classes)] * len(classes)
    assert np.any(np.diff(batch.labels) < 0)  # shuffled, not sorted


@pytest.mark.parametrize("n", [96, 50])
def test_subgroups_within_one_of_equal(n, studio):
    batch = studio if n == 96 else synth.generate(n, seed=2, size=16)
    for name, values in (("skin_tone", range(1, 7)), ("lighting", synth.LIGHTING),
                         ("background", synth.BACKGROUNDS)):
        counts = [int(np.sum(batch.attributes[name] == v)) for v in values]
        assert max(counts) - min(counts) <= 1, (name, counts)


def test_unbalanced_allows_any_n():
    batch = synth.generate(7, balanced=False, classes=synth.CLASSES, size=16)
    assert len(batch) == 7 and batch.labels.max() < 3


def test_incorrect_mask_is_drawn():
    batch = synth.generate(6, classes=("incorrect_mask",), size=32)
    assert np.all(batch.labels == 0) and not np.any(batch.attributes["mask_type"] == "none")


def test_camera_output_is_on_the_rgb565_grid(camera):
    five = {(k << 3) | (k >> 2) for k in range(32)}
    six = {(k << 2) | (k >> 4) for k in range(64)}
    assert set(np.unique(camera.images[..., 0])) <= five
    assert set(np.unique(camera.images[..., 1])) <= six
    assert set(np.unique(camera.images[..., 2])) <= five


def test_camera_is_softer_flatter_and_has_fewer_colours(studio, camera):
    shift = synth.domain_shift(studio, camera)
    assert set(shift) == {"mean_r", "mean_g", "mean_b", "contrast", "sharpness", "distinct_colours"}
    assert shift["sharpness"]["b"] < 0.9 * shift["sharpness"]["a"]
    assert shift["contrast"]["b"] < 0.9 * shift["contrast"]["a"]
    assert shift["distinct_colours"]["b"] < 0.5 * shift["distinct_colours"]["a"]
    assert shift["sharpness"]["ratio"] == pytest.approx(shift["sharpness"]["b"] / shift["sharpness"]["a"])


@pytest.mark.parametrize("kwargs, shown", [
    ({"n": 0}, "n=0"),
    ({"n": 3}, "n=3"),  # three images do not split over two classes
    ({"n": 2, "seed": -1}, "seed=-1"),
    ({"n": 2, "domain": "phone"}, "'phone'"),
    ({"n": 2, "size": 8}, "size=8"),
    ({"n": 2, "size": 1024}, "size=1024"),
    ({"n": 2, "classes": ("mask", "hat")}, "'hat'"),
])
def test_bad_arguments_name_the_bad_value(kwargs, shown):
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=shown):
        synth.generate(n, **kwargs)


def test_colour_alone_does_not_separate_mask_from_no_mask():
    train, test = synth.generate(300, seed=11, size=48), synth.generate(200, seed=12, size=48)
    accuracy = synth.colour_histogram_baseline(train.images, train.labels, test.images, test.labels)
    assert 0.3 <= accuracy <= 0.8


def test_colour_baseline_does_find_a_colour_cue():
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    images = rng.integers(0, 256, (40, 8, 8, 3)).astype(np.uint8)
    images[labels == 1, :4, :, 0] = 255  # class 1 always shows a patch of pure red
    accuracy = synth.colour_histogram_baseline(images[:20], labels[:20], images[20:], labels[20:])
    assert accuracy >= 0.9
