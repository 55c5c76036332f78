"""The source task the shipped backbone was pretrained on: procedural shapes and textures, never faces or masks
(introduced in notebooks/04_transfer_learning.ipynb; :mod:`tinymask.pretrain` trains on it and re-exports its names).

The course runs offline, so it cannot count on ImageNet weights. :func:`make_shapes` draws a source task that has
nothing to do with faces or masks: 32 classes, each a shape (circle, ring, square, ...) with a fill texture (solid,
striped, dotted, checkered), drawn with random colours, sizes, positions and rotations over flat, gradient or
cluttered backgrounds, with smaller distractor shapes, lighting gradients, blur and noise. It shares no code with the
mask synthesiser (tests/test_models.py checks it).
"""

import math

import numpy as np

from .augment import blur
from .errors import InputError, is_int

__all__ = ["SHAPES", "TEXTURES", "CLASSES", "NUM_CLASSES", "CHUNK", "make_shapes"]

SHAPES = ("circle", "ring", "square", "triangle", "cross", "star", "crescent", "ellipse")
TEXTURES = ("solid", "striped", "dotted", "checkered")
#: Class ``i`` is shape ``SHAPES[i // 4]`` filled with texture ``TEXTURES[i % 4]``.
CLASSES = tuple(f"{shape}/{texture}" for shape in SHAPES for texture in TEXTURES)
NUM_CLASSES = len(CLASSES)
#: Images are rendered in chunks of this many, each from its own random stream (so memory stays small).
CHUNK = 64

_MAX_DISTRACTORS = 3
_TAU = np.float32(2 * np.pi)


# --------------------------------------------------------------------------------------------- geometry
def _sdf(shape, x, y):
    """Signed distance (in units of the shape's radius; negative inside) of one shape in its local frame."""
    if shape == "circle":
        return np.sqrt(x * x + y * y) - 1
    if shape == "ring":
        return np.abs(np.sqrt(x * x + y * y) - 0.72) - 0.28
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) - 0.8
    if shape == "triangle":  # equilateral, circumradius 1: the largest of three edge distances
        d = y - 0.5
        for angle in (np.pi / 6, 5 * np.pi / 6):
            d = np.maximum(d, -(x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))) - 0.5)
        return d
    if shape == "cross":
        ax, ay = np.abs(x), np.abs(y)
        return np.minimum(np.maximum(ax - 1, ay - 0.3), np.maximum(ax - 0.3, ay - 1))
    if shape == "star":  # five points: the boundary radius zig-zags between 1 and 0.42 with the angle
        r = np.sqrt(x * x + y * y)
        t = (np.arctan2(y, x) / _TAU * 5 + 0.25) % 1.0
        bound = 0.42 + 0.58 * np.abs(1 - 2 * t)
        return (r - bound) * 0.6
    if shape == "crescent":  # the unit disk minus a disk shifted to one side
        outer = np.sqrt(x * x + y * y) - 1
        inner = np.sqrt((x - 0.5) ** 2 + y * y) - 0.8
        return np.maximum(outer, -inner)
    if shape == "ellipse":  # semi-axes 1 and 0.5 (a scaled-distance approximation, fine for soft edges)
        return (np.sqrt(x * x + 4 * y * y) - 1) * 0.5
    raise InputError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _texture(texture, tx, ty, period):
    """Mix weight (0: colour A, 1: colour B) of a fill texture; tx, ty are in texture periods."""
    if texture == "solid":
        return np.zeros_like(tx)
    if texture == "striped":
        return np.clip(0.5 + 2.5 * np.sin(_TAU * tx), 0, 1)
    if texture == "dotted":
        fx, fy = tx - np.round(tx), ty - np.round(ty)
        return np.clip(0.5 - (np.sqrt(fx * fx + fy * fy) - 0.28) * period, 0, 1)
    if texture == "checkered":
        return np.clip(0.5 + 3.0 * np.sin(np.pi * tx) * np.sin(np.pi * ty), 0, 1)
    raise InputError(f"unknown texture {texture!r}; expected one of {TEXTURES}")


# --------------------------------------------------------------------------------------------- colours
def _away(rng, ref, low, high):
    """A luminance ``low..high`` away from ``ref`` on a random side that stays within [0, 1]."""
    gap = rng.uniform(low, high, ref.shape)
    up = rng.random(ref.shape) < 0.5
    up = np.where(ref + gap > 1, False, np.where(ref - gap < 0, True, up))
    return np.clip(np.where(up, ref + gap, ref - gap), 0, 1)


def _colour(rng, lum):
    """RGB colours (n, 3) with roughly the given luminances and random hue and saturation."""
    hue = rng.random((len(lum), 3))
    sat = rng.uniform(0, 0.9, (len(lum), 1))
    return np.clip(lum[:, None] + sat * (hue - hue.mean(axis=1, keepdims=True)), 0, 1).astype(np.float32)


def _layer_params(rng, n, size, shape, radius):
    """Per-image parameters of one drawn shape, as a dict of (n,) arrays."""
    lum_a = rng.random(n)
    lum_b = _away(rng, lum_a, 0.3, 0.7)
    return {
        "shape": shape,
        "texture": rng.integers(0, len(TEXTURES), n),
        "cx": rng.uniform(0.3, 0.7, n) * size,
        "cy": rng.uniform(0.3, 0.7, n) * size,
        "radius": radius,
        "angle": rng.uniform(0, 2 * np.pi, n),
        "period": rng.uniform(4.5, 9.0, n) * size / 96,
        "tex_angle": rng.uniform(0, np.pi, n),
        "phase": rng.random((n, 2)),
        "edge": rng.uniform(0.7, 1.6, n),
        "lum_a": lum_a,
        "a": _colour(rng, lum_a),
        "b": _colour(rng, lum_b),
    }


def _params(rng, labels, size):
    """Every random draw for a chunk, in a fixed order (the chunk's images follow from these and its noise)."""
    n = len(labels)
    main = _layer_params(rng, n, size, labels // len(TEXTURES), rng.uniform(0.17, 0.36, n) * size)
    main["texture"] = labels % len(TEXTURES)
    bg_lum = _away(rng, main["lum_a"], 0.3, 0.65)
    distractors = []
    count = rng.choice(np.arange(_MAX_DISTRACTORS + 1), n, p=(0.1, 0.35, 0.35, 0.2))
    for slot in range(_MAX_DISTRACTORS):
        other = (main["shape"] + rng.integers(1, len(SHAPES), n)) % len(SHAPES)
        layer = _layer_params(rng, n, size, other, main["radius"] * rng.uniform(0.25, 0.5, n))
        layer["cx"] = rng.uniform(0.08, 0.92, n) * size
        layer["cy"] = rng.uniform(0.08, 0.92, n) * size
        layer["active"] = count > slot
        distractors.append(layer)
    return {
        "main": main,
        "distractors": distractors,
        "bg_kind": rng.choice(3, n, p=(0.3, 0.3, 0.4)),  # flat, gradient, clutter
        "bg": _colour(rng, bg_lum),
        "bg2": _colour(rng, _away(rng, bg_lum, 0.0, 0.3)),
        "bg_angle": rng.uniform(0, 2 * np.pi, n),
        "waves": rng.uniform(-1, 1, (n, 3, 3)).astype(np.float32),  # clutter: 3 waves x RGB amplitude
        "wave_freq": rng.uniform(1.0, 5.0, (n, 3)) / size,
        "wave_angle": rng.uniform(0, 2 * np.pi, (n, 3)),
        "wave_phase": rng.uniform(0, 2 * np.pi, (n, 3)),
        "light": np.where(rng.random(n) < 0.6, rng.uniform(-0.35, 0.35, n), 0.0),
        "light_angle": rng.uniform(0, 2 * np.pi, n),
        "blur": rng.choice(3, n, p=(0.6, 0.25, 0.15)),  # 0, 1 or 2 passes of a 3x3 binomial blur
        "noise": np.where(rng.random(n) < 0.5, rng.uniform(0.01, 0.06, n), 0.0),
    }


# --------------------------------------------------------------------------------------------- rendering
def _col(values):
    return np.asarray(values, np.float32)[:, None, None]


def _draw(img, layer, rows):
    """Composite one shape per image (``rows`` of the chunk) over ``img`` (n, H, W, 3) in place.

    Each shape is computed only in a square window around it (the same side for all rows), so the small
    distractors cost a fraction of a full frame.
    """
    if len(rows) == 0:
        return
    size = img.shape[1]
    radius = layer["radius"][rows]
    side = int(np.ceil(2.4 * radius.max())) + 4  # every shape lies within 1.15 radii of its centre
    full = side > 0.75 * size and len(rows) == len(img) and (rows == np.arange(len(img))).all()
    side = size if full else min(size, side)  # a near-full window on every image: plain slices beat a gather
    cx, cy = layer["cx"][rows], layer["cy"][rows]
    ox = np.clip(np.round(cx) - side // 2, 0, size - side).astype(np.intp)
    oy = np.clip(np.round(cy) - side // 2, 0, size - side).astype(np.intp)
    axis = np.arange(side)
    u = (ox[:, None] + axis).astype(np.float32)[:, None, :] - _col(cx)  # (m, 1, side)
    v = (oy[:, None] + axis).astype(np.float32)[:, :, None] - _col(cy)  # (m, side, 1)
    cos, sin = _col(np.cos(layer["angle"][rows])), _col(np.sin(layer["angle"][rows]))
    r = _col(radius)
    x, y = (u * cos + v * sin) / r, (v * cos - u * sin) / r
    dist = np.empty_like(x)
    for k, shape in enumerate(SHAPES):
        group = np.flatnonzero(layer["shape"][rows] == k)
        if len(group):
            dist[group] = _sdf(shape, x[group], y[group])
    cover = np.clip(0.5 - dist * (r / _col(layer["edge"][rows])), 0, 1)
    period = layer["period"][rows]
    cos, sin = _col(np.cos(layer["tex_angle"][rows]) / period), _col(np.sin(layer["tex_angle"][rows]) / period)
    period = _col(period)
    phase = layer["phase"][rows].astype(np.float32)
    tx = u * cos + v * sin + _col(phase[:, 0])
    ty = v * cos - u * sin + _col(phase[:, 1])
    mix = np.zeros_like(x)
    for k, texture in enumerate(TEXTURES[1:], start=1):
        group = np.flatnonzero(layer["texture"][rows] == k)
        if len(group):
            mix[group] = _texture(texture, tx[group], ty[group], period[group])
    a, b = layer["a"][rows][:, None, None, :], layer["b"][rows][:, None, None, :]
    if full:
        img += cover[..., None] * ((a - img) + (b - a) * mix[..., None])
        return
    index = (rows[:, None, None], (oy[:, None] + axis)[:, :, None], (ox[:, None] + axis)[:, None, :])
    patch = img[index]
    patch += cover[..., None] * ((a - patch) + (b - a) * mix[..., None])
    img[index] = patch


def _wave(freq, angle, phase, size):
    """sin(2 pi f (x cos + y sin) + phase) on a (m, size, size) grid, built from 1-D factors."""
    axis = np.arange(size, dtype=np.float32)
    ax = (_TAU * freq * np.cos(angle)).astype(np.float32)[:, None] * axis  # (m, size) along x
    ay = (_TAU * freq * np.sin(angle)).astype(np.float32)[:, None] * axis + phase.astype(np.float32)[:, None]
    return np.sin(ay)[:, :, None] * np.cos(ax)[:, None, :] + np.cos(ay)[:, :, None] * np.sin(ax)[:, None, :]


def _background(p, grid, size):
    yy, xx = grid
    n = len(p["bg_kind"])
    img = np.empty((n, size, size, 3), np.float32)
    img[:] = p["bg"][:, None, None, :]
    gradient = np.flatnonzero(p["bg_kind"] == 1)
    c = (size - 1) / 2
    along = ((xx - c) * _col(np.cos(p["bg_angle"][gradient])) + (yy - c) * _col(np.sin(p["bg_angle"][gradient])))
    img[gradient] += (p["bg2"] - p["bg"])[gradient][:, None, None, :] * (along / size + 0.5)[..., None]
    clutter = np.flatnonzero(p["bg_kind"] == 2)
    for w in range(3):
        wave = _wave(p["wave_freq"][clutter, w], p["wave_angle"][clutter, w], p["wave_phase"][clutter, w], size)
        img[clutter] += wave[..., None] * (0.12 * p["waves"][clutter, w])[:, None, None, :]
    return img


def _finish(img, p, grid, size, rng):
    """Lighting gradient, blur and sensor noise, then quantise to uint8."""
    yy, xx = grid
    c = (size - 1) / 2
    lit = np.flatnonzero(p["light"])
    gain = _col(p["light"][lit] / (size / 2))
    img[lit] *= (1 + gain * ((xx - c) * _col(np.cos(p["light_angle"][lit])) + (yy - c) * _col(
        np.sin(p["light_angle"][lit]))))[..., None]
    for passes in (1, 2):
        rows = np.flatnonzero(p["blur"] >= passes)
        if len(rows):
            img[rows] = blur(blur(img[rows], 1), 2)  # 3x3 binomial: 1 2 1 down, then across
    noisy = np.flatnonzero(p["noise"])
    noise = rng.standard_normal((len(noisy), size, size, 1), dtype=np.float32)
    img[noisy] += noise * _col(p["noise"][noisy])[..., None]
    img *= 255
    img += 0.5
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)  # truncating x + 0.5 rounds to nearest


def _render(labels, size, rng):
    p = _params(rng, labels, size)
    axis = np.arange(size, dtype=np.float32)
    grid = (axis[None, :, None], axis[None, None, :])
    img = _background(p, grid, size)
    for layer in p["distractors"]:
        _draw(img, layer, np.flatnonzero(layer["active"]))
    _draw(img, p["main"], np.arange(len(labels)))
    return _finish(img, p, grid, size, rng)


def make_shapes(n, seed=0, size=96):
    """``n`` images of the procedural source task: ``(images, labels)``, uint8 (n, size, size, 3) and int64 (n,).

    Label ``i`` names ``CLASSES[i]``: the largest shape in the image and its fill texture (smaller distractors of
    other shapes may overlap it). Classes are balanced (counts differ by at most one) and the output is a pure
    function of ``(n, seed, size)``: same arguments, same bytes (on one machine; NumPy's float32 transcendental
    kernels may differ in the last bit between CPUs). No faces, no masks: only geometric primitives.
    """
    if not is_int(n) or n < 0:
        raise InputError(f"n must be a non-negative int (the number of images), got {n!r}")
    if not is_int(seed) or seed < 0:
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    if not is_int(size) or size < 16:
        raise InputError(f"size must be an int >= 16 (the image side in pixels), got {size!r}")
    root = np.random.SeedSequence([seed, size, n])
    label_seed, *chunk_seeds = root.spawn(1 + math.ceil(n / CHUNK))
    labels = np.random.default_rng(label_seed).permutation(np.arange(n) % NUM_CLASSES).astype(np.int64)
    images = np.empty((n, size, size, 3), np.uint8)
    for i, chunk_seed in enumerate(chunk_seeds):
        part = slice(i * CHUNK, min(n, (i + 1) * CHUNK))
        images[part] = _render(labels[part], size, np.random.default_rng(chunk_seed))
    return images, labels
