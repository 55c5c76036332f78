"""Augmentation of uint8 image batches: random interpolations, flips, rotations, brightness and contrast, and the
binomial blur the generators share (introduced in notebooks/02_dataset.ipynb).

The folder loaders, splits and balancing are :mod:`tinymask.data`, which re-exports these names
(``data.augment`` is ``augment.augment``).
"""

import math

import numpy as np
from PIL import Image

from .errors import InputError

__all__ = [
    "INTERPOLATIONS",
    "interpolation_augment",
    "augment",
    "blur",
]

#: The five interpolations of the Tiny-CNN mask paper, in order, with their Pillow filters.
_FILTERS = {
    "area": Image.Resampling.BOX,
    "cubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "linear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
}
INTERPOLATIONS = tuple(_FILTERS)


# ---------------------------------------------------------------- augmentation


def _check_batch(images):
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InputError(f"images must be a uint8 array of shape (n, height, width, 1 or 3), "
                         f"got {images.dtype} {images.shape}; use Dataset.images")
    return images


def _to_pil(image):
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def _from_pil(im, channels):
    arr = np.asarray(im, dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def interpolation_augment(images, size, seed=0, *, expand=False):
    """Resize each image to ``size`` x ``size`` with one of INTERPOLATIONS (area, cubic, nearest,
    linear, Lanczos) chosen at random per image, as in "A Tiny CNN Architecture for Medical Face Mask
    Detection for Resource-Constrained Endpoints". With ``expand=True`` every image is returned five
    times, once per interpolation, image by image (labels: ``np.repeat(labels, 5)``).

    Load at a larger size than ``size``: resizing to the same size changes nothing.
    """
    images = _check_batch(images)
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"size must be a positive integer, got {size!r}")
    filters = list(_FILTERS.values())
    n, channels = len(images), images.shape[-1]
    if expand:
        plan = [(i, f) for i in range(n) for f in filters]
    else:
        picks = np.random.default_rng(seed).integers(0, len(filters), n)
        plan = [(i, filters[k]) for i, k in enumerate(picks)]
    out = np.empty((len(plan), size, size, channels), dtype=np.uint8)
    for row, (i, resample) in enumerate(plan):
        out[row] = _from_pil(_to_pil(images[i]).resize((size, size), resample=resample), channels)
    return out


def _rotate(image, angle_deg):
    """Rotate about the centre; the corners are filled from a mirrored border, not black."""
    h, w, channels = image.shape
    t = math.radians(angle_deg)
    grow = abs(math.cos(t)) + abs(math.sin(t))
    pad = math.ceil((max(h, w) * grow - min(h, w)) / 2) + 1
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    rotated = _to_pil(padded).rotate(angle_deg, resample=Image.Resampling.BILINEAR)
    return _from_pil(rotated.crop((pad, pad, pad + w, pad + h)), channels)


def augment(images, seed=0, *, flip=True, max_rotation_deg=10, brightness=0.2, contrast=0.2):
    """Randomly flipped, rotated and brightness/contrast-jittered copies (uint8 in, uint8 out).

    Per image: a horizontal flip with probability 1/2 (``flip=True``), a rotation uniform in
    +-``max_rotation_deg`` (mirror-filled corners), brightness scaled by a factor in
    1 +- ``brightness`` and contrast about the image mean by 1 +- ``contrast``. The input is never
    modified; the same seed gives the same output. Use on training data only.
    """
    images = _check_batch(images)
    if max_rotation_deg < 0 or not 0 <= brightness < 1 or not 0 <= contrast < 1:
        raise InputError(f"need max_rotation_deg >= 0 and 0 <= brightness, contrast < 1, got "
                         f"{max_rotation_deg}, {brightness}, {contrast}")
    n = len(images)
    rng = np.random.default_rng(seed)
    flips = rng.random(n) < 0.5
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, n)
    gains = rng.uniform(1 - brightness, 1 + brightness, n)
    stretches = rng.uniform(1 - contrast, 1 + contrast, n)
    out = images.copy()
    for i in range(n):
        image = out[i]
        if flip and flips[i]:
            image = image[:, ::-1]
        if max_rotation_deg > 0:
            image = _rotate(image, angles[i])
        if brightness > 0 or contrast > 0:
            x = image.astype(np.float32) * gains[i]
            x = (x - x.mean()) * stretches[i] + x.mean()
            image = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        out[i] = image
    return out


def blur(a, axis, taps=3):
    """Binomial blur of a float array along one axis (taps 3: 1 2 1, taps 5: 1 4 6 4 1), edges repeated, as shifted
    slices: the camera's defocus in ``synth_render.camera`` and the source task's blur in ``pretrain_shapes``."""
    r = taps // 2
    p = np.pad(a, [(r, r) if i == axis else (0, 0) for i in range(a.ndim)], mode="edge")
    n = a.shape[axis]

    def s(k):
        return p[(slice(None),) * axis + (slice(k, k + n),)]

    if taps == 3:
        out = s(0) + s(2)
        out += 2.0 * s(1)
        out *= 0.25
    else:
        out = s(0) + s(4)
        out += 4.0 * (s(1) + s(3))
        out += 6.0 * s(2)
        out *= 1.0 / 16.0
    return out
