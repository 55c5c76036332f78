"""Procedural face-mask images in two domains and the course's splits (introduced in notebooks/02_dataset.ipynb).

:func:`generate` draws each face from its own random stream: :mod:`tinymask.synth_scene` turns the stream into
scene parameters and attributes, :mod:`tinymask.synth_render` draws them (and, for the camera domain, what the
OpenMV Cam's sensor does to them). It returns a :class:`tinymask.dataset.Dataset`, still called ``synth.Batch``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import InputError, MissingPathError, is_int
from .synth_render import camera, per_image, render, to_uint8
from .synth_scene import (  # noqa: F401 - IRIS_COLOURS: every synth.X name of before the split still works
    ATTRIBUTES,
    BACKGROUNDS,
    EXPRESSIONS,
    HAIR_COLOURS,
    HAIR_STYLES,
    IRIS_COLOURS,
    LIGHTING,
    MASK_TYPES,
    N_UNIFORMS,
    OCCLUDERS,
    PALETTE,
    SKIN_TONES,
    parameters,
)

__all__ = [
    "CLASSES", "DOMAINS", "ATTRIBUTES", "Batch", "generate", "image_statistics", "domain_shift",
    "colour_histogram_baseline", "course_settings", "course_splits", "samples", "PALETTE", "SKIN_TONES",
    "HAIR_COLOURS", "LIGHTING", "BACKGROUNDS",
    "MASK_TYPES", "HAIR_STYLES", "EXPRESSIONS", "OCCLUDERS",
]

CLASSES = ("mask", "no_mask", "incorrect_mask")
DOMAINS = ("studio", "camera")
#: What generate() returns: the course's one Dataset (images, labels, classes, attributes, domain, subset()).
Batch = Dataset
_CHUNK_PIXELS = 1 << 15  # pixels per vectorised chunk: small enough to stay in the CPU cache


def generate(n, *, seed=0, domain="studio", size=96, classes=("mask", "no_mask"), balanced=True) -> Dataset:
    """Render ``n`` labelled face crops, ``size`` x ``size`` RGB, with per-image attributes.

    ``classes`` picks which of CLASSES to draw (labels index into it). With ``balanced=True`` the
    classes come in shuffled blocks, so each has exactly n / len(classes) images, and skin tone,
    lighting and background are stratified the same way (each value within one of equal).
    Byte-identical for the same arguments on any machine; image i depends only on (seed, domain,
    size, i, its class), so ``generate(12)`` starts with ``generate(6)``. The camera domain draws
    other people than the studio domain at the same seed (no shared faces between train and test)
    and adds what an OpenMV Cam's OV7725 does to a capture: defocus, low contrast, white-balance
    gains, noise, de-noise, RGB565 output, then a 2x downscale.
    """
    classes = _check_arguments(n, seed, domain, size, classes, balanced)
    dom = DOMAINS.index(domain)
    # One random stream per image (never shared), so image i is the same whatever n is.
    uniforms = np.stack([np.random.default_rng([seed, dom, 1, i]).random(N_UNIFORMS) for i in range(n)])
    if balanced:
        labels = _stratified(seed, dom, 10, n, len(classes))
        strata = {name: _stratified(seed, dom, 11 + j, n, k)
                  for j, (name, k) in enumerate((("skin_tone", 6), ("lighting", 3), ("background", 3)))}
    else:
        labels = np.minimum((uniforms[:, 0] * len(classes)).astype(np.int64), len(classes) - 1)
        strata = None
    wearing = np.array([CLASSES.index(c) for c in classes])[labels]  # 0 mask, 1 none, 2 below nose
    params, attributes = parameters(uniforms, wearing, strata)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    render_size = 2 * size if domain == "camera" else size
    chunk = max(1, _CHUNK_PIXELS // (render_size * render_size))
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        q = {k: per_image(v[rows]) for k, v in params.items()}
        canvas = render(q, render_size)
        if domain == "camera":
            noise = np.stack([np.random.default_rng([seed, dom, 2, i]).random(
                (2, 3, render_size, render_size), dtype=np.float32) for i in range(rows.start, rows.stop)], 2)
            images[rows] = camera(canvas, q, noise)
        else:
            images[rows] = to_uint8(canvas)
    return Dataset(images, labels.astype(np.int64), classes, attributes=attributes, domain=domain)


def _check_arguments(n, seed, domain, size, classes, balanced):
    if not (is_int(n) or isinstance(n, np.integer)) or n < 1:
        raise InputError(f"n={n!r}: need a whole number of images >= 1")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed={seed!r}: need a whole number >= 0")
    if domain not in DOMAINS:
        raise InputError(f"domain={domain!r}: choose one of {DOMAINS}")
    if not isinstance(size, (int, np.integer)) or not 16 <= size <= 512:
        raise InputError(f"size={size!r}: need a whole number of pixels from 16 to 512")
    if isinstance(classes, str):
        classes = (classes,)
    classes = tuple(classes)
    for name in classes:
        if name not in CLASSES:
            raise InputError(f"class {name!r} is unknown: choose from {CLASSES}")
    if len(classes) < 1 or len(set(classes)) != len(classes):
        raise InputError(f"classes={classes!r}: need one or more distinct names from {CLASSES}")
    if balanced and n % len(classes):
        raise InputError(f"n={n} does not split evenly over {len(classes)} classes {classes}: "
                         f"pass a multiple of {len(classes)} or balanced=False")
    return classes


def _stratified(seed, dom, tag, n, k):
    """Values 0..k-1 in shuffled blocks of k: exact balance per block, value i independent of n."""
    blocks = [np.random.default_rng([seed, dom, tag, b]).permutation(k) for b in range(-(-n // k))]
    return np.concatenate(blocks)[:n].astype(np.int64)


# ---------------------------------------------------------------- measurements for the notebook

def image_statistics(images) -> dict:
    """Mean R, G, B; contrast (std of grey); sharpness (mean |Laplacian| of grey); distinct colours.

    Per-image figures (contrast, distinct colours) are averaged over the images.
    """
    images = getattr(images, "images", images)
    a = np.asarray(images, dtype=np.float64)
    grey = a @ np.array([0.299, 0.587, 0.114])
    lap = (4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1]
           - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:])
    packed = (np.asarray(images, dtype=np.int64) * np.array([65536, 256, 1])).sum(-1).reshape(len(a), -1)
    return {
        "mean_r": float(a[..., 0].mean()), "mean_g": float(a[..., 1].mean()),
        "mean_b": float(a[..., 2].mean()),
        "contrast": float(grey.reshape(len(a), -1).std(1).mean()),
        "sharpness": float(np.abs(lap).mean()),
        "distinct_colours": float(np.mean([len(np.unique(row)) for row in packed])),
    }


def domain_shift(a, b) -> dict:
    """Statistics of two image sets side by side: {statistic: {"a": value, "b": value, "ratio": b / a}}."""
    sa, sb = image_statistics(a), image_statistics(b)
    return {k: {"a": sa[k], "b": sb[k], "ratio": sb[k] / sa[k] if sa[k] else float("nan")} for k in sa}


def _colour_histograms(images, bins):
    images = np.asarray(getattr(images, "images", images))
    n = len(images)
    q = images.astype(np.int64) * bins // 256
    index = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    index = index.reshape(n, -1) + (np.arange(n) * bins ** 3)[:, None]
    counts = np.bincount(index.ravel(), minlength=n * bins ** 3).reshape(n, bins ** 3)
    return np.sqrt(counts / index.shape[1])


def colour_histogram_baseline(train_images, train_labels, test_images, test_labels, bins=8) -> float:
    """Test accuracy of a colour-only classifier: joint RGB histogram + multinomial logistic regression.

    Deterministic full-batch gradient descent, numpy only. A low figure means that colour alone
    does not separate the classes, so a model has to look at shapes.
    """
    train, test = _colour_histograms(train_images, bins), _colour_histograms(test_images, bins)
    y, y_test = np.asarray(train_labels, dtype=np.int64), np.asarray(test_labels, dtype=np.int64)
    mean, std = train.mean(0), train.std(0) + 1e-3
    train, test = (train - mean) / std, (test - mean) / std
    k = int(max(y.max(), y_test.max())) + 1
    onehot = np.eye(k)[y]
    w, bias = np.zeros((train.shape[1], k)), np.zeros(k)
    for _ in range(300):
        logits = train @ w + bias
        logits -= logits.max(1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(1, keepdims=True)
        grad = (prob - onehot) / len(y)
        w -= 0.5 * (train.T @ grad + 1e-3 * w)
        bias -= 0.5 * grad.sum(0)
    return float(np.mean(np.argmax(test @ w + bias, 1) == y_test))


SETTINGS_FILE = Path(__file__).resolve().parents[1] / "datasets" / "course_settings.json"


def course_settings(path=None) -> dict:
    """The generator settings the course uses, from ``datasets/course_settings.json`` (or ``path``)."""
    path = Path(path) if path is not None else SETTINGS_FILE
    if not path.is_file():
        raise MissingPathError(f"{path} not found: the course settings live in the repository's datasets/ folder; "
                                f"run from a clone of the repository (pip install -e .) or pass path=")
    return json.loads(path.read_text())


def course_splits(settings=None, *, size=None) -> dict:
    """The course's train / validation (studio domain) and held-out test (camera domain) splits, as Datasets."""
    settings = settings if isinstance(settings, dict) else course_settings(settings)
    size = settings["size"] if size is None else size
    classes = tuple(settings["classes"])
    return {name: generate(split["n"], seed=split["seed"], domain=split["domain"], size=size, classes=classes)
            for name, split in settings["splits"].items()}


def samples(domain, settings=None) -> Dataset:
    """The small sample set committed under ``datasets/samples/<domain>`` (regenerated exactly from its settings)."""
    settings = settings if isinstance(settings, dict) else course_settings(settings)
    spec = settings["samples"]
    classes = tuple(spec["classes"])
    return generate(spec["n_per_class"] * len(classes), seed=spec["seed"], domain=domain,
                    size=settings["size"], classes=classes)
