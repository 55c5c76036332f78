"""Image-folder loaders, splits and balancing (introduced in notebooks/02_dataset.ipynb).

Every loader returns a :class:`tinymask.dataset.Dataset`, re-exported here as ``data.Dataset``. The augmentation
(:func:`augment`, :func:`interpolation_augment`, :data:`INTERPOLATIONS`) is :mod:`tinymask.augment`; those names
are re-exported here, so ``data.augment`` is ``augment.augment``.
"""

import math
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .augment import INTERPOLATIONS, augment, interpolation_augment
from .dataset import Dataset
from .errors import InputError, MissingPathError, NotAFolderError
from .folders import check_output

__all__ = [
    "IMAGE_EXTENSIONS",
    "INTERPOLATIONS",
    "Dataset",
    "ImagesSkippedWarning",
    "NoSplitFoldersError",
    "load_folder",
    "load_split_folders",
    "save_folder",
    "split",
    "interpolation_augment",
    "augment",
    "oversample",
]

#: File extensions read as images (matched case-insensitively); every other file is ignored.
IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".pgm", ".png", ".ppm")
# Split folder names (lower-cased) accepted by load_split_folders and the key each one gets.
_SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation", "valid": "validation",
                  "test": "test"}
_IGNORED_DIRS = {"__MACOSX"}  # macOS zip-extraction debris, never a class
_SIXTEEN_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


class ImagesSkippedWarning(UserWarning):
    """Some files had an image extension but could not be decoded; they are listed in Dataset.skipped."""


class NoSplitFoldersError(InputError):
    """load_split_folders() found no Train/, Validation/ or Test/ folder: the folder may be a plain
    ``<class_name>/`` layout for load_folder() (``pipeline.course_data`` falls back to it)."""


# ---------------------------------------------------------------- folders


def _check_root(path):
    root = Path(path)
    if not root.exists():
        raise MissingPathError(f"{root}: no such folder; check the path (relative paths start at {Path.cwd()})")
    if not root.is_dir():
        raise NotAFolderError(f"{root}: is a file, not a folder; pass the folder that holds one subfolder per class")
    return root


def _visible(entry):
    return not entry.name.startswith(".") and entry.name not in _IGNORED_DIRS


def _subfolders(folder):
    return sorted((p for p in folder.iterdir() if p.is_dir() and _visible(p)), key=lambda p: p.name)


def _image_files(folder):
    return sorted((p for p in folder.iterdir() if p.is_file() and _visible(p) and p.suffix.lower() in IMAGE_EXTENSIONS),
                  key=lambda p: p.name)


def _class_folders(folder, classes):
    """[(class name, folder)] in label order, with a clear error for every layout mistake."""
    found = {p.name: p for p in _subfolders(folder)}
    if not found:
        stray = len(_image_files(folder))
        hint = f"; it holds {stray} images directly: move them into one subfolder per class" if stray else ""
        raise InputError(f"{folder}: no class subfolders found{hint}. Expected layout: "
                         f"{folder}/<class_name>/*.jpg, e.g. {folder}/WithMask/1.jpg and {folder}/WithoutMask/1.jpg")
    if classes is None:
        return [(name, found[name]) for name in sorted(found)]
    if isinstance(classes, str) or len(set(classes)) != len(classes) or not classes:
        raise InputError(f"classes must be a non-empty list of distinct names, got {classes}")
    missing = [c for c in classes if c not in found]
    if missing:
        raise InputError(f"{folder}: no folder for class(es) {missing} (found {sorted(found)}); "
                         f"create them or change classes=")
    return [(c, found[c]) for c in classes]


def _empty_class_error(class_dir):
    nested = [p.name for p in _subfolders(class_dir)]
    hint = (f" It has subfolders {nested}: for a Train/Validation/Test layout use load_split_folders()."
            if nested else "")
    return InputError(f"{class_dir}: class folder has no images ({', '.join(IMAGE_EXTENSIONS)}); "
                      f"add images to it or remove the folder.{hint}")


@contextmanager
def _strict_decoding():
    """Refuse truncated files even if someone switched on Pillow's global tolerance."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _to_mode(im, channels):
    """RGB (channels=3) or L (channels=1) from any Pillow mode; alpha is composited over white."""
    if im.mode in _SIXTEEN_BIT_MODES:  # 16-bit grey: scale 0..65535 to 0..255 (never clip)
        wide = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        im = Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8))
    palette_alpha = im.mode == "P" and im.palette is not None and "A" in im.palette.mode
    has_alpha = palette_alpha or "transparency" in im.info or bool({"A", "a"} & set(im.getbands()))
    if has_alpha:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    target = "RGB" if channels == 3 else "L"
    return im if im.mode == target else im.convert("RGB").convert(target)


def _decode(path, size, channels):
    """One file as a uint8 (size, size, channels) array; any failure raises (caught by the caller)."""
    with Image.open(path) as im:
        im.load()  # full decode now, so truncated data fails here
        im = ImageOps.exif_transpose(im)
        im = _to_mode(im, channels)
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
        return np.asarray(im, dtype=np.uint8).reshape(size, size, channels)


def _check_options(size, channels, on_error):
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"size must be a positive integer (pixels per side), got {size!r}")
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    if on_error not in ("skip", "raise"):
        raise InputError(f"on_error must be 'skip' or 'raise', got {on_error!r}")


def _load(root, folder, size, channels, classes, on_error):
    """Load folder/<class>/* with file names relative to root; returns a Dataset and warns about nothing."""
    pairs = _class_folders(folder, classes)
    listing = []
    for label, (_, class_dir) in enumerate(pairs):
        found = _image_files(class_dir)
        if not found:
            raise _empty_class_error(class_dir)
        listing += [(label, f) for f in found]
    images = np.empty((len(listing), size, size, channels), dtype=np.uint8)
    labels, files, skipped, last_reason = [], [], [], {}
    with _strict_decoding():
        for label, path in listing:
            rel = path.relative_to(root).as_posix()
            try:
                images[len(labels)] = _decode(path, size, channels)
            except MemoryError:
                raise
            except Exception as exc:  # Pillow raises many types on bad data; all mean "this file is unusable"
                reason = (f"cannot be decoded as an image (corrupt, truncated or not an image): "
                          f"{type(exc).__name__}: {exc}")
                if on_error == "raise":
                    raise InputError(f"{path}: {reason}; delete or re-export it, or pass on_error='skip'") from exc
                skipped.append((rel, reason))
                last_reason[label] = f"{rel}: {reason}"
                continue
            labels.append(label)
            files.append(rel)
    labels = np.asarray(labels, dtype=np.int64)
    for label, (_, class_dir) in enumerate(pairs):
        if not np.any(labels == label):
            raise InputError(f"{class_dir}: none of its images could be decoded (e.g. {last_reason[label]}); "
                             f"re-export them or remove the folder")
    return Dataset(images[: len(labels)], labels, tuple(name for name, _ in pairs), files=tuple(files),
                   skipped=tuple(skipped))


def _warn_skipped(root, skipped, shown=3):
    if not skipped:
        return
    first = ", ".join(rel for rel, _ in skipped[:shown]) + (", ..." if len(skipped) > shown else "")
    warnings.warn(f"{root}: skipped {len(skipped)} file(s) that could not be decoded ({first}); "
                  f"see Dataset.skipped for the reasons, delete or re-export them, "
                  f"or pass on_error='raise' to stop at the first one", ImagesSkippedWarning, stacklevel=3)


def load_folder(path, *, size=96, channels=3, classes=None, on_error="skip"):
    """Load ``path/<class_name>/*.(jpg|jpeg|png|bmp|pgm|ppm)`` into a Dataset (also the OpenMV SD-card layout).

    Classes are the sorted subfolder names, or exactly ``classes`` (in that order; other folders are
    ignored). Files are read in sorted name order (plain string order: "10.jpg" before "2.jpg").
    Each image is EXIF-rotated, converted to RGB (``channels=3``) or L (``channels=1``) with any
    transparency composited over white and 16-bit grey scaled to 8 bits, then centre-cropped to a
    square and resized to ``size`` x ``size`` with Lanczos (small images are enlarged).
    Hidden files/folders and non-image extensions are ignored; files that cannot be decoded are
    skipped with one ImagesSkippedWarning (``on_error="skip"``) or raise ValueError
    (``on_error="raise"``). Nothing in ``path`` is modified.
    """
    _check_options(size, channels, on_error)
    root = _check_root(path)
    ds = _load(root, root, size, channels, classes, on_error)
    _warn_skipped(root, ds.skipped)
    return ds


def save_folder(images, labels, classes, path, *, overwrite=False):
    """Write ``images`` as ``path/<class>/<index>.png`` (lossless), the layout :func:`load_folder` reads.

    Refuses a folder that already holds files unless ``overwrite=True``, so nothing a user made is
    replaced by accident. Returns the list of files written, relative to ``path``.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InputError(f"images must be uint8 (n, h, w, 1 or 3), got {images.dtype} {images.shape}")
    if len(labels) != len(images) or (len(labels) and not 0 <= labels.min() <= labels.max() < len(classes)):
        raise InputError(f"labels must be {len(images)} indexes into classes {tuple(classes)}")
    root = Path(path)
    check_output(root, force=overwrite, fix="choose a new folder or pass overwrite=True to replace its images")
    written = []
    width = max(3, len(str(len(images) - 1)))
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / classes[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{classes[int(label)]}/{i:0{width}d}.png"
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(root / name)
        written.append(name)
    return written


def _split_folders(root):
    found = {}
    for d in _subfolders(root):
        key = _SPLIT_FOLDERS.get(d.name.lower())
        if key is None:
            continue
        if key in found:
            raise InputError(f"{root}: both {found[key].name}/ and {d.name}/ are the {key} split; keep one")
        found[key] = d
    if not found:
        raise NoSplitFoldersError(f"{root}: no Train/, Validation/ or Test/ folder found (subfolders: "
                         f"{[d.name for d in _subfolders(root)]}). Expected layout: {root}/Train/<class_name>/*.png "
                         f"(Face Mask 12K); for a plain {root}/<class_name>/ layout use load_folder()")
    return found


def _common_classes(splits):
    names = {key: {name for name, _ in _class_folders(d, None)} for key, d in splits.items()}
    union = set().union(*names.values())
    gaps = [f"{splits[k].name}/ lacks {sorted(union - v)}" for k, v in names.items() if union - v]
    if gaps:
        raise InputError(f"class folders differ between splits: {'; '.join(gaps)}; "
                         f"every split needs the same class folders")
    return sorted(union)


def load_split_folders(path, *, size=96, channels=3, on_error="skip"):
    """Load the Face Mask 12K layout ``path/{Train,Validation,Test}/<class_name>/*.png``.

    Split folder names match case-insensitively ("Val"/"Valid" also mean validation); any subset of
    the three may be present. Returns ``{"train": Dataset, ...}`` for the splits found; every split
    must have the same class folders, so labels agree. ``files`` are relative to ``path``. Images
    are prepared as in load_folder(); one warning summarises all skipped files.
    """
    _check_options(size, channels, on_error)
    root = _check_root(path)
    splits = _split_folders(root)
    classes = _common_classes(splits)
    result = {key: _load(root, d, size, channels, classes, on_error) for key, d in splits.items()}
    _warn_skipped(root, [s for ds in result.values() for s in ds.skipped])
    return {key: result[key] for key in ("train", "validation", "test") if key in result}


# ---------------------------------------------------------------- splits and balancing


def _allocate(n, fractions):
    """Integer counts summing to n, as close to n * fractions as possible (largest remainder)."""
    exact = [n * f for f in fractions]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(fractions)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _as_labels(labels):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputError(f"labels must be one label per sample (1-D), got shape {labels.shape}")
    return labels


def split(labels_or_n, *, fractions=(0.8, 0.2), seed=0, stratify=True):
    """Index arrays (one per fraction, each sorted) that partition the samples.

    Pass the labels to keep every class's share the same in each part (``stratify=True``), or a
    sample count for a plain random split. Deterministic for a given seed.
    """
    fractions = tuple(float(f) for f in fractions)
    if not fractions or any(not math.isfinite(f) or f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise InputError(f"fractions must be positive and sum to 1, got {fractions} (sum {sum(fractions):g})")
    if isinstance(labels_or_n, (int, np.integer)):
        if labels_or_n < 0:
            raise InputError(f"the sample count must be >= 0, got {labels_or_n}")
        labels, stratify = np.zeros(int(labels_or_n)), False
    else:
        labels = _as_labels(labels_or_n)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratify else [np.arange(len(labels))]
    rng = np.random.default_rng(seed)
    # Spread each class evenly over [0, 1) in random order, then cut the sorted whole into parts:
    # every part gets exactly its share of samples and each class about its share (to within a sample or so).
    rank = np.zeros(len(labels))
    for group in groups:
        rank[rng.permutation(group)] = (np.arange(len(group)) + 0.5) / len(group)
    order = np.lexsort((rng.random(len(labels)), rank))
    parts = np.split(order, np.cumsum(_allocate(len(labels), fractions))[:-1])
    return tuple(np.sort(p).astype(np.int64) for p in parts)


def oversample(labels, seed=0):
    """Sorted indices that balance the classes: every sample once, plus minority samples drawn with
    replacement until each class has the majority count. Use them on any array: ``x[idx], y[idx]``."""
    labels = _as_labels(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max() if len(counts) else 0
    parts = [np.empty(0, dtype=np.int64)]
    for c, count in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        parts += [members, rng.choice(members, target - count, replace=True)]
    return np.sort(np.concatenate(parts)).astype(np.int64)
