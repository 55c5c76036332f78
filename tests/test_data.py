"""Tests for tinymask.data: folder loaders, bad input, splits, augmentation and balancing."""

import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from tinymask import data
from tinymask.data import (
    Dataset,
    ImagesSkippedWarning,
    augment,
    interpolation_augment,
    load_folder,
    load_split_folders,
    oversample,
    split,
)
from tinymask.errors import InputError

RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 200, 30)


def _write(path, image, **save_kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save_kwargs)
    return path


def _solid(color, size=(24, 24), mode="RGB"):
    return Image.new(mode, size, color)


def _noise(seed=0, size=(64, 64)):
    """Incompressible pixels, so cutting the file in half really cuts the image data."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8))


def _snapshot(root):
    return {p.relative_to(root): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def plain_root(tmp_path):
    """root/WithMask (2 images, red) and root/WithoutMask (3 images, blue) plus files to ignore."""
    root = tmp_path / "faces"
    for name in ("b.png", "a.PNG"):  # written out of order, upper-case extension
        _write(root / "WithMask" / name, _solid(RED))
    _write(root / "WithoutMask" / "2.jpg", _solid(BLUE), quality=95)
    _write(root / "WithoutMask" / "10.bmp", _solid(BLUE))
    _write(root / "WithoutMask" / "1.ppm", _solid(BLUE))
    (root / "WithoutMask" / "notes.txt").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    _write(root / "WithMask" / ".hidden.png", _solid(GREEN))
    _write(root / ".thumbnails" / "x.png", _solid(GREEN))
    _write(root / "__MACOSX" / "WithMask" / "._a.png", _solid(GREEN))
    return root


@pytest.fixture
def kaggle_root(tmp_path):
    """Face Mask 12K layout with mixed-case split names: 3/1/1 images per class."""
    root = tmp_path / "Face Mask Dataset"
    for split_name, n in (("Train", 3), ("validation", 1), ("TEST", 1)):
        for cls, color in (("WithoutMask", BLUE), ("WithMask", RED)):
            for i in range(n):
                _write(root / split_name / cls / f"{i}.png", _solid(color))
    return root


def _bad_file(folder, name):
    """An undecodable file with an image extension: corrupt JPEG, PNG cut in half, or text."""
    folder.mkdir(parents=True, exist_ok=True)
    if name == "corrupt.jpg":
        (folder / name).write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    elif name == "truncated.png":
        whole = _write(folder / name, _noise()).read_bytes()
        (folder / name).write_bytes(whole[: len(whole) // 2])
    else:
        (folder / name).write_text("I am text with an image extension")


def _bad_files(root):
    """Three undecodable files in root/WithMask; returns their relative paths in sorted order."""
    for name in ("corrupt.jpg", "truncated.png", "readme.png"):
        _bad_file(root / "WithMask", name)
    return ["WithMask/corrupt.jpg", "WithMask/readme.png", "WithMask/truncated.png"]


# ---------------------------------------------------------------- layouts


def test_load_folder_sorted_classes_files_and_labels(plain_root):
    ds = load_folder(plain_root, size=16)
    assert ds.classes == ("WithMask", "WithoutMask")
    assert ds.files == ("WithMask/a.PNG", "WithMask/b.png",
                        "WithoutMask/1.ppm", "WithoutMask/10.bmp", "WithoutMask/2.jpg")
    assert ds.labels.tolist() == [0, 0, 1, 1, 1] and ds.labels.dtype == np.int64
    assert ds.images.shape == (5, 16, 16, 3) and ds.images.dtype == np.uint8
    assert len(ds) == 5 and ds.skipped == ()
    np.testing.assert_allclose(ds.images[:2].reshape(-1, 3).mean(0), RED, atol=1)
    np.testing.assert_allclose(ds.images[2:].reshape(-1, 3).mean(0), BLUE, atol=3)  # jpg is lossy


def test_load_folder_grayscale_channel(plain_root):
    ds = load_folder(plain_root, size=8, channels=1)
    assert ds.images.shape == (5, 8, 8, 1)
    red_luma = round(0.299 * RED[0] + 0.587 * RED[1] + 0.114 * RED[2])
    assert abs(int(ds.images[0, 4, 4, 0]) - red_luma) <= 1


def test_classes_argument_fixes_order_and_names_missing(plain_root):
    ds = load_folder(plain_root, size=8, classes=["WithoutMask", "WithMask"])
    assert ds.classes == ("WithoutMask", "WithMask")
    assert ds.labels.tolist() == [0, 0, 0, 1, 1] and ds.files[0] == "WithoutMask/1.ppm"
    only = load_folder(plain_root, size=8, classes=["WithMask"])
    assert only.classes == ("WithMask",) and len(only) == 2
    with pytest.raises(ValueError, match="IncorrectMask"):
        load_folder(plain_root, classes=["WithMask", "IncorrectMask"])


def test_load_split_folders_kaggle_layout(kaggle_root):
    splits = load_split_folders(kaggle_root, size=8)
    assert list(splits) == ["train", "validation", "test"]
    assert [len(splits[k]) for k in splits] == [6, 2, 2]
    for ds in splits.values():
        assert ds.classes == ("WithMask", "WithoutMask")
        assert ds.images.shape[1:] == (8, 8, 3)
    assert splits["train"].files[0] == "Train/WithMask/0.png"
    assert splits["train"].labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert splits["test"].images[splits["test"].labels == 1][0, 0, 0].tolist() == list(BLUE)


def test_load_split_folders_subset_of_splits(kaggle_root):
    import shutil

    shutil.rmtree(kaggle_root / "validation")
    assert list(load_split_folders(kaggle_root, size=8)) == ["train", "test"]


# ---------------------------------------------------------------- image modes, crop, EXIF


@pytest.mark.parametrize("image, expected", [
    (Image.new("L", (10, 10), 77), (77, 77, 77)),
    (Image.new("1", (10, 10), 1), (255, 255, 255)),
    (Image.new("RGBA", (10, 10), (0, 0, 0, 0)), (255, 255, 255)),  # transparent -> white
    (Image.new("RGBA", (10, 10), (0, 0, 200, 255)), (0, 0, 200)),
    (Image.new("LA", (10, 10), (0, 0)), (255, 255, 255)),
    (Image.fromarray(np.full((10, 10), 65535, np.uint16)), (255, 255, 255)),  # 16-bit, not clipped
    (Image.fromarray(np.full((10, 10), 128 * 257, np.uint16)), (128, 128, 128)),
    (Image.new("RGB", (10, 10), GREEN).convert("P", palette=Image.Palette.ADAPTIVE), GREEN),
])
def test_any_mode_becomes_rgb(tmp_path, image, expected):
    _write(tmp_path / "c" / "img.png", image)
    ds = load_folder(tmp_path, size=4)
    assert ds.images.shape == (1, 4, 4, 3)
    assert (ds.images[0] == expected).all()


def test_palette_with_transparency_and_16bit_pgm(tmp_path):
    palette = Image.new("RGB", (10, 10), RED).convert("P", palette=Image.Palette.ADAPTIVE)
    _write(tmp_path / "a" / "p.png", palette, transparency=palette.getpixel((0, 0)))
    _write(tmp_path / "b" / "g.pgm", Image.fromarray(np.full((10, 10), 65535, np.uint16)))
    ds = load_folder(tmp_path, size=4, channels=1)
    assert (ds.images == 255).all()  # transparent palette -> white, 16-bit PGM max -> 255


def test_center_crop_keeps_the_middle(tmp_path):
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20], wide[:, 20:40], wide[:, 40:] = RED, GREEN, BLUE
    _write(tmp_path / "c" / "wide.png", Image.fromarray(wide))
    ds = load_folder(tmp_path, size=10)
    assert (ds.images[0] == GREEN).all()


def test_exif_orientation_is_honoured(tmp_path):
    halves = np.zeros((20, 40, 3), np.uint8)
    halves[:, :20], halves[:, 20:] = RED, BLUE  # left red, right blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": left half ends up on top
    _write(tmp_path / "c" / "phone.jpg", Image.fromarray(halves), exif=exif, quality=95)
    image = load_folder(tmp_path, size=10).images[0].astype(int)
    assert np.abs(image[0, 0] - RED).max() < 30 and np.abs(image[-1, 0] - BLUE).max() < 30


# ---------------------------------------------------------------- bad input


def test_undecodable_files_are_skipped_with_one_counted_warning(plain_root):
    bad = _bad_files(plain_root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_folder(plain_root, size=8)
    ours = [w for w in caught if issubclass(w.category, ImagesSkippedWarning)]
    assert len(ours) == 1 and len(caught) == 1
    message = str(ours[0].message)
    assert "skipped 3 file(s)" in message and all(b in message for b in bad) and "on_error='raise'" in message
    assert ours[0].filename == __file__  # points at the caller, not inside the library
    assert [rel for rel, _ in ds.skipped] == bad
    assert all("cannot be decoded" in reason for _, reason in ds.skipped)
    assert len(ds) == 5 and not set(bad) & set(ds.files)


@pytest.mark.parametrize("name", ["corrupt.jpg", "truncated.png", "readme.png"])
def test_on_error_raise_names_the_file(plain_root, name):
    _bad_file(plain_root / "WithMask", name)
    with pytest.raises(ValueError, match=rf"WithMask[/\\]{name}: cannot be decoded.*on_error='skip'"):
        load_folder(plain_root, on_error="raise")


def test_truncated_images_refused_even_if_pillow_tolerance_is_on(plain_root, monkeypatch):
    _bad_files(plain_root)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.warns(ImagesSkippedWarning):
        ds = load_folder(plain_root, size=8)
    assert "WithMask/truncated.png" in [rel for rel, _ in ds.skipped]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored


def test_class_where_every_image_is_bad_is_an_error(tmp_path):
    _write(tmp_path / "good" / "1.png", _solid(RED))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "1.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"bad: none of its images could be decoded"):
        load_folder(tmp_path)


def test_empty_class_folder_is_an_error(plain_root):
    (plain_root / "IncorrectMask").mkdir()
    (plain_root / "IncorrectMask" / "notes.txt").write_text("only text here")
    with pytest.raises(ValueError, match=r"IncorrectMask: class folder has no images.*add images.*remove"):
        load_folder(plain_root)


def test_images_directly_in_root_explain_the_layout(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.jpg", _solid(RED))
    with pytest.raises(ValueError, match=r"no class subfolders.*3 images directly.*Expected layout"):
        load_folder(tmp_path)


def test_missing_path_and_file_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_folder(tmp_path / "nowhere")
    file_path = _write(tmp_path / "x.png", _solid(RED))
    with pytest.raises(NotADirectoryError, match="x.png: is a file"):
        load_split_folders(file_path)


def test_mismatched_split_classes_are_listed(kaggle_root):
    (kaggle_root / "TEST" / "WithMask").rename(kaggle_root / "TEST" / "Masked")
    with pytest.raises(ValueError, match=r"differ between splits.*TEST/ lacks \['WithMask'\]") as info:
        load_split_folders(kaggle_root)
    assert "Train/ lacks ['Masked']" in str(info.value)


def test_layout_mixups_point_to_the_other_loader(plain_root, kaggle_root):
    with pytest.raises(data.NoSplitFoldersError, match=r"no Train/.*use load_folder\(\)"):
        load_split_folders(plain_root)
    with pytest.raises(InputError, match=r"has no images.*use load_split_folders\(\)"):
        load_folder(kaggle_root)
    flat_split = kaggle_root.parent / "flat"
    _write(flat_split / "Train" / "1.png", _solid(RED))
    with pytest.raises(ValueError, match=r"Train: no class subfolders.*1 images directly"):
        load_split_folders(flat_split)


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"channels": 4}, {"on_error": "ignore"}, {"classes": "WithMask"}])
def test_bad_options(plain_root, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        load_folder(plain_root, **kwargs)


def test_user_folder_is_not_modified(plain_root, kaggle_root):
    _bad_files(plain_root)
    exif = Image.Exif()
    exif[0x0112] = 6
    _write(plain_root / "WithMask" / "rot.jpg", _solid(RED), exif=exif)
    before = _snapshot(plain_root), _snapshot(kaggle_root)
    with pytest.warns(ImagesSkippedWarning):
        load_folder(plain_root, size=8)
    load_split_folders(kaggle_root, size=8, channels=1)
    assert (_snapshot(plain_root), _snapshot(kaggle_root)) == before


# ---------------------------------------------------------------- Dataset


def test_subset_and_repr(plain_root):
    ds = load_folder(plain_root, size=8)
    sub = ds.subset([4, 0])
    assert isinstance(sub, Dataset) and sub.classes == ds.classes
    assert sub.files == (ds.files[4], ds.files[0]) and sub.labels.tolist() == [1, 0]
    assert np.array_equal(sub.images[1], ds.images[0])
    assert repr(ds) == "Dataset(5 images of 8x8x3, classes=('WithMask', 'WithoutMask'), skipped=0)"
    picked = ds.subset(ds.labels == 1)  # a boolean mask picks rows, it is not read as indices 0 and 1
    assert picked.files == ds.files[2:] and picked.attributes == {} and picked.domain is None


def test_a_dataset_needs_one_entry_per_label():
    images, labels = np.zeros((3, 4, 4, 3), np.uint8), np.array([0, 1, 0])
    with pytest.raises(InputError, match=r"3 labels but 2 images"):
        Dataset(images[:2], labels, ("a", "b"))
    with pytest.raises(InputError, match=r"2 values of attribute 'tone'"):
        Dataset(images, labels, ("a", "b"), attributes={"tone": np.array([1, 2])})
    with pytest.raises(TypeError):  # files, attributes, ... are keyword-only: no silent mix-up by position
        Dataset(images, labels, ("a", "b"), {"tone": np.array([1, 2, 3])})


def test_to_tf_shapes_and_dtypes(plain_root):
    pytest.importorskip("tensorflow")
    ds = load_folder(plain_root, size=8)
    batches = list(ds.to_tf(batch_size=2, shuffle=True, seed=1))
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    x, y = batches[0]
    assert x.dtype.name == "float32" and tuple(x.shape) == (2, 8, 8, 3) and y.dtype.name == "int64"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
    assert sorted(np.concatenate([b[1].numpy() for b in batches]).tolist()) == [0, 0, 1, 1, 1]
    first = list(ds.to_tf(batch_size=5))[0][0].numpy()
    np.testing.assert_allclose(first * 255, ds.images, atol=1e-3)


# ---------------------------------------------------------------- split and oversample


def test_split_is_stratified_deterministic_and_a_partition():
    labels = np.array([0] * 90 + [1] * 30 + [2] * 10)
    train, val, test = split(labels, fractions=(0.7, 0.2, 0.1), seed=3)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(130))
    counts = [np.bincount(labels[p], minlength=3).tolist() for p in (train, val, test)]
    assert counts == [[63, 21, 7], [18, 6, 2], [9, 3, 1]]
    again = split(labels, fractions=(0.7, 0.2, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    assert not np.array_equal(split(labels, fractions=(0.7, 0.2, 0.1), seed=4)[0], train)


def test_split_of_a_count_and_uneven_classes():
    a, b = split(10, seed=0)
    assert (len(a), len(b)) == (8, 2) and set(a) | set(b) == set(range(10))
    a, b = split(["m", "m", "m", "n"], fractions=(0.5, 0.5))
    assert len(a) + len(b) == 4 and {len(a), len(b)} == {2}


@pytest.mark.parametrize("fractions", [(0.7, 0.2), (1.2, -0.2), (1.0, 0.0), ()])
def test_split_validates_fractions(fractions):
    with pytest.raises(ValueError, match="positive and sum to 1"):
        split(10, fractions=fractions)


def test_oversample_balances_exactly():
    labels = np.array([0] * 3 + [1] * 9 + [2] * 5)
    idx = oversample(labels, seed=1)
    assert np.bincount(labels[idx]).tolist() == [9, 9, 9]
    assert set(range(17)) <= set(idx.tolist())  # every original sample kept
    assert np.array_equal(idx, oversample(labels, seed=1))
    assert np.array_equal(np.sort(oversample(["a", "b", "b"])), [0, 0, 1, 2])


# ---------------------------------------------------------------- augmentation


@pytest.fixture
def batch():
    return np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)


def test_augment_leaves_input_alone_and_is_deterministic(batch):
    original = batch.copy()
    batch.flags.writeable = False
    out = augment(batch, seed=5)
    assert np.array_equal(batch, original) and out is not batch
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, augment(batch, seed=5))
    assert not np.array_equal(out, augment(batch, seed=6))
    assert not np.array_equal(out, batch)


def test_augment_all_off_is_identity_and_flip_mirrors(batch):
    assert np.array_equal(augment(batch, flip=False, max_rotation_deg=0, brightness=0, contrast=0), batch)
    flipped = augment(batch, seed=0, max_rotation_deg=0, brightness=0, contrast=0)
    mirrored = [np.array_equal(o, b[:, ::-1]) for o, b in zip(flipped, batch)]
    kept = [np.array_equal(o, b) for o, b in zip(flipped, batch)]
    assert all(m or k for m, k in zip(mirrored, kept)) and any(mirrored) and any(kept)


def test_rotation_adds_no_black_corners():
    flat = np.full((4, 20, 20, 3), 180, np.uint8)
    out = augment(flat, seed=2, flip=False, max_rotation_deg=30, brightness=0, contrast=0)
    assert (out == 180).all()


def test_augment_brightness_and_grayscale():
    gray = np.full((20, 8, 8, 1), 100, np.uint8)
    out = augment(gray, seed=0, flip=False, max_rotation_deg=5, brightness=0.2, contrast=0)
    assert out.shape == gray.shape and 80 <= out.min() and out.max() <= 120 and len(np.unique(out)) > 5


def test_interpolation_augment(batch):
    original = batch.copy()
    small = interpolation_augment(batch, 8, seed=1)
    assert small.shape == (6, 8, 8, 3) and small.dtype == np.uint8
    assert np.array_equal(small, interpolation_augment(batch, 8, seed=1))
    five = interpolation_augment(batch, 8, expand=True)
    assert five.shape == (30, 8, 8, 3) and np.array_equal(batch, original)
    nearest = np.asarray(Image.fromarray(batch[1]).resize((8, 8), Image.Resampling.NEAREST))
    assert np.array_equal(five[5 + data.INTERPOLATIONS.index("nearest")], nearest)  # image-by-image order
    assert len({five[i].tobytes() for i in range(5)}) == 5  # five different interpolations
    assert all(any(np.array_equal(s, f) for f in five[5 * i: 5 * i + 5]) for i, s in enumerate(small))
    with pytest.raises(ValueError, match="uint8"):
        interpolation_augment(batch.astype(np.float32), 8)


def test_augmentation_names_are_re_exported_from_augment():
    """``data.augment`` and friends live in tinymask.augment; the old names are the same objects."""
    from tinymask import augment as augment_module

    assert augment_module.__all__ == ["INTERPOLATIONS", "interpolation_augment", "augment", "blur"]
    for name in augment_module.__all__[:3]:  # blur is the generators' (synth_render, pretrain_shapes), not data's
        assert name in data.__all__ and getattr(data, name) is getattr(augment_module, name), name
    assert augment is augment_module.augment and interpolation_augment is augment_module.interpolation_augment


def test_blur_is_binomial_along_one_axis_with_edges_repeated():
    from tinymask.augment import blur

    spike = np.zeros((2, 5), np.float32)
    spike[:, 2] = 16
    assert blur(spike, 1).tolist() == [[0, 4, 8, 4, 0]] * 2  # 1 2 1 / 4
    assert blur(spike, 1, 5).tolist() == [[1, 4, 6, 4, 1]] * 2  # 1 4 6 4 1 / 16
    assert blur(spike, 0).tolist() == spike.tolist()  # rows are all alike: nothing changes across them
    edge = np.array([[16, 0, 0]], np.float32)
    assert blur(edge, 1).tolist() == [[12, 4, 0]]  # the edge pixel is repeated, so no brightness is lost there
