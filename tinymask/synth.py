"""Procedural face-mask images in two domains (introduced in notebooks/02_dataset.ipynb)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .errors import InputError, MissingPathError

__all__ = [
    "CLASSES", "DOMAINS", "ATTRIBUTES", "Batch", "generate", "image_statistics", "domain_shift",
    "colour_histogram_baseline", "course_settings", "course_splits", "samples", "PALETTE", "SKIN_TONES",
    "HAIR_COLOURS", "LIGHTING", "BACKGROUNDS",
    "MASK_TYPES", "HAIR_STYLES", "EXPRESSIONS", "OCCLUDERS",
]

CLASSES = ("mask", "no_mask", "incorrect_mask")
DOMAINS = ("studio", "camera")
ATTRIBUTES = ("skin_tone", "lighting", "background", "mask_type", "mask_colour", "hair", "hair_colour",
              "glasses", "expression", "occluder", "rotation_deg", "scale")

# One palette for masks, scarves, clothing, gloves and backgrounds: colour alone says little.
PALETTE = {
    "white": (236, 236, 232), "light_blue": (150, 196, 222), "blue": (58, 98, 168), "navy": (34, 44, 82),
    "black": (32, 32, 36), "grey": (128, 130, 134), "pink": (228, 158, 178), "red": (176, 42, 48),
    "green": (72, 132, 84), "teal": (40, 140, 140), "yellow": (222, 190, 72), "purple": (112, 72, 142),
    "beige": (214, 186, 152), "peach": (236, 196, 168), "tan": (188, 140, 100), "brown": (118, 80, 56),
}
SKIN_TONES = ((246, 218, 198), (234, 192, 160), (208, 160, 120), (172, 122, 86), (128, 86, 58), (84, 56, 40))
HAIR_COLOURS = {"black": (28, 24, 24), "dark_brown": (62, 42, 30), "brown": (112, 76, 46),
                "blond": (204, 170, 106), "red": (150, 66, 36), "grey": (168, 168, 168)}
LIGHTING = ("dim", "normal", "bright")
BACKGROUNDS = ("flat", "gradient", "clutter")
MASK_TYPES = ("none", "surgical", "cloth", "n95")
HAIR_STYLES = ("none", "short", "long", "fringe", "headscarf")
EXPRESSIONS = ("neutral", "smile", "open")
OCCLUDERS = ("none", "hand", "scarf")
IRIS_COLOURS = ((90, 60, 40), (40, 28, 22), (70, 110, 150), (80, 110, 70))
# The value sets above are those of the attributes of the same names (skin_tone is 1..6).

_PAL = np.array(list(PALETTE.values()), dtype=np.float64)
_PAL_NAMES = np.array(list(PALETTE))
_N_UNIFORMS = 160
_CHUNK_PIXELS = 1 << 15  # pixels per vectorised chunk: small enough to stay in the CPU cache
_FAR = 9.0  # a shape centred this far away (in face units) is not drawn


@dataclass(frozen=True)
class Batch:
    """Images uint8 (n, size, size, 3) RGB, labels int64 (n,) indexing ``classes``, per-image attributes."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple
    attributes: dict
    domain: str = "studio"

    def __len__(self):
        """Number of images."""
        return len(self.labels)

    def subset(self, index) -> "Batch":
        """The images picked by an index array, boolean mask or slice, as a new Batch."""
        rows = np.atleast_1d(np.arange(len(self))[index])
        return Batch(self.images[rows], self.labels[rows], self.classes,
                     {k: v[rows] for k, v in self.attributes.items()}, self.domain)


def generate(n, *, seed=0, domain="studio", size=96, classes=("mask", "no_mask"), balanced=True) -> Batch:
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
    uniforms = np.stack([np.random.default_rng([seed, dom, 1, i]).random(_N_UNIFORMS) for i in range(n)])
    if balanced:
        labels = _stratified(seed, dom, 10, n, len(classes))
        strata = {name: _stratified(seed, dom, 11 + j, n, k)
                  for j, (name, k) in enumerate((("skin_tone", 6), ("lighting", 3), ("background", 3)))}
    else:
        labels = np.minimum((uniforms[:, 0] * len(classes)).astype(np.int64), len(classes) - 1)
        strata = None
    wearing = np.array([CLASSES.index(c) for c in classes])[labels]  # 0 mask, 1 none, 2 below nose
    params, attributes = _parameters(uniforms, wearing, strata)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    render_size = 2 * size if domain == "camera" else size
    chunk = max(1, _CHUNK_PIXELS // (render_size * render_size))
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        q = {k: _per_image(v[rows]) for k, v in params.items()}
        canvas = _render(q, render_size)
        if domain == "camera":
            noise = np.stack([np.random.default_rng([seed, dom, 2, i]).random(
                (2, 3, render_size, render_size), dtype=np.float32) for i in range(rows.start, rows.stop)], 2)
            images[rows] = _camera(canvas, q, noise)
        else:
            images[rows] = _to_uint8(canvas)
    return Batch(images, labels.astype(np.int64), classes, attributes, domain)


def _check_arguments(n, seed, domain, size, classes, balanced):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
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


def _per_image(values):
    """(m,) scalars -> (m, 1, 1); (m, 3) colours -> (3, m, 1, 1), as float32 for the pixel grid."""
    values = np.asarray(values, dtype=np.float32)
    return values.T.reshape(3, -1, 1, 1) if values.ndim == 2 else values.reshape(-1, 1, 1)


def _draws(U, strata):
    """Helpers that read the per-image uniforms U column by column: the same column for every image."""
    cols = iter(range(1, U.shape[1]))  # column 0 is the class when unbalanced

    def uni(lo, hi):
        return lo + (hi - lo) * U[:, next(cols)]

    def pick(k, weights=None):
        cdf = np.cumsum(np.ones(k) if weights is None else weights)  # sequential: same bits everywhere
        return np.minimum(np.searchsorted(cdf / cdf[-1], U[:, next(cols)], side="right"), k - 1)

    def stratum(name, k):
        drawn = pick(k)
        return drawn if strata is None else strata[name]

    def colour(lo=0.8, hi=1.05):
        index = pick(len(_PAL))
        return _PAL[index] * uni(lo, hi)[:, None], index

    def turn(lo_deg, hi_deg):
        """cos and sin of a random angle, per image with the math module (no vectorised sin/cos)."""
        radians = np.radians(uni(lo_deg, hi_deg))
        return np.array([math.cos(t) for t in radians]), np.array([math.sin(t) for t in radians])

    return SimpleNamespace(uni=uni, pick=pick, stratum=stratum, colour=colour, turn=turn, left=cols)


def _far_unless(keep, value):
    return np.where(keep, value, _FAR)


def _parameters(U, wearing, strata):
    """Scene parameters (arrays over images) and attributes, all drawn from per-image uniforms U."""
    d, p = _draws(U, strata), {}
    a = _scene(d, p)
    a.update(_person(d, p))
    a.update(_mask_fit(d, p, wearing))
    a.update(_extras(d, p))
    assert next(d.left, None) is not None, "raise _N_UNIFORMS"
    attributes = {k: a[k] for k in ATTRIBUTES}
    return p, attributes


def _scene(d, p):
    """Lighting (level, direction gradient, colour cast) and background (flat, gradient, clutter)."""
    light, background = d.stratum("lighting", 3), d.stratum("background", 3)
    level = np.choose(light, [d.uni(0.6, 0.75), d.uni(0.88, 1.02), d.uni(1.12, 1.28)])
    (lx, ly), strength = d.turn(0, 360), d.uni(0.0, 0.3)
    p["light"], p["light_x"], p["light_y"] = level, level * strength * lx, level * strength * ly
    cast = d.uni(-0.08, 0.08)
    p["cast"] = np.stack([1 + cast, 1 + d.uni(-0.03, 0.03), 1 - cast], 1)
    bg1, bg2 = d.colour(0.7, 1.1)[0], d.colour(0.7, 1.1)[0]
    p["bg1"], p["bg2"] = bg1, np.where((background == 0)[:, None], bg1, bg2)
    gx, gy = d.turn(0, 360)
    p["bg_gx"], p["bg_gy"] = 0.5 * gx, 0.5 * gy
    for j in range(4):
        p[f"clutter{j}_x"], p[f"clutter{j}_y"] = _far_unless(background == 2, d.uni(-1, 1)), d.uni(-1, 1)
        p[f"clutter{j}_w"], p[f"clutter{j}_h"] = d.uni(0.08, 0.45), d.uni(0.08, 0.45)
        p[f"clutter{j}_cos"], p[f"clutter{j}_sin"] = d.turn(0, 180)
        p[f"clutter{j}_colour"] = d.colour(0.7, 1.1)[0]
    return {"lighting": np.array(LIGHTING)[light], "background": np.array(BACKGROUNDS)[background]}


def _person(d, p):
    """Skin tone, pose, face shape, clothes, hair, eyes, brows, nose and mouth."""
    tone, warm = d.stratum("skin_tone", 6), d.uni(-6, 6)
    skin = np.array(SKIN_TONES, dtype=np.float64)[tone] * d.uni(0.93, 1.06)[:, None]
    skin += np.stack([warm, 0 * warm, -warm], 1)
    p["skin"], p["skin_dark"], p["lips"] = skin, skin * 0.78, skin * np.array([0.8, 0.6, 0.62])
    rotation, scale = d.uni(-20, 20), d.uni(0.82, 1.1)
    radians = np.radians(rotation)
    p["cos_s"] = np.array([math.cos(t) for t in radians]) / scale  # per image, with the math module
    p["sin_s"] = np.array([math.sin(t) for t in radians]) / scale
    p["cx"], p["cy"], p["scale"] = d.uni(-0.09, 0.09), d.uni(-0.07, 0.09), scale
    fa, fb = p["fa"], p["fb"] = d.uni(0.43, 0.5), d.uni(0.57, 0.65)
    p["clothes"] = d.colour()[0]
    p["clothes_w"], p["clothes_top"] = d.uni(0.95, 1.25), fb + d.uni(0.08, 0.22)
    p["neck_w"] = fa * d.uni(0.42, 0.52)
    # hair: none, short, long, fringe or a headscarf in a palette colour
    style, hair_index = d.pick(5, (0.12, 0.3, 0.25, 0.18, 0.15)), d.pick(len(HAIR_COLOURS))
    hair = np.array(list(HAIR_COLOURS.values()), dtype=np.float64)[hair_index] * d.uni(0.85, 1.15)[:, None]
    is_scarf, has_hair = style == 4, (style > 0) & (style < 4)
    p["hair"] = np.where(is_scarf[:, None], d.colour()[0], hair)
    p["brows"] = np.where(has_hair[:, None], hair * 0.85, skin * 0.35)
    long_hair = (style == 2) | is_scarf
    p["back_hair_y"] = _far_unless(long_hair, np.where(is_scarf, d.uni(0.15, 0.25), d.uni(0.1, 0.3)))
    p["back_hair_a"] = fa * np.where(is_scarf, d.uni(1.3, 1.45), d.uni(1.2, 1.45))
    p["back_hair_b"] = np.where(is_scarf, fb * d.uni(1.45, 1.6), d.uni(0.8, 1.0))
    p["hair_y"] = _far_unless(style > 0, np.where(is_scarf, 0.02, -0.04))
    p["hair_a"], p["hair_b"] = fa * np.where(is_scarf, 1.3, 1.08), fb * np.where(is_scarf, 1.22, 1.08)
    p["hairline0"] = np.choose(style, [0, d.uni(-0.36, -0.28), d.uni(-0.35, -0.28), d.uni(-0.24, -0.17),
                                       d.uni(-0.36, -0.3)])
    p["hairline1"] = np.where(style == 3, d.uni(-0.3, 0.3), 0)
    p["hairline2"] = np.choose(style, [0, d.uni(0.5, 1.2), d.uni(1.0, 1.6), d.uni(0.2, 0.6), d.uni(2.8, 3.4)])
    p["ear_x"], p["ear_y"] = _far_unless(~long_hair, fa * 0.97), d.uni(-0.08, 0.0)
    # eyes, brows, nose, mouth
    p["eye_x"], p["eye_y"] = d.uni(0.16, 0.2), d.uni(-0.12, -0.07)
    p["eye_a"], p["eye_b"] = d.uni(0.06, 0.075), d.uni(0.026, 0.036)
    p["gaze"], p["iris"] = d.uni(-0.012, 0.012), np.array(IRIS_COLOURS, dtype=np.float64)[d.pick(4)]
    p["brow_y"] = p["eye_y"] - d.uni(0.085, 0.11)
    p["brow_tilt"], p["brow_h"] = d.uni(-0.3, 0.3), d.uni(0.014, 0.026)
    p["nose_y"], p["nose_w"] = d.uni(0.1, 0.15), d.uni(0.045, 0.07)
    p["nose_side"] = np.where(p["light_x"] > 0, -0.035, 0.035)  # shadow away from the light
    expression = d.pick(3, (0.5, 0.3, 0.2))
    p["mouth_y"], p["mouth_w"] = d.uni(0.31, 0.36), d.uni(0.1, 0.14)
    p["mouth_h"] = np.choose(expression, [d.uni(0.018, 0.026), d.uni(0.045, 0.06), d.uni(0.05, 0.065)])
    p["smile_y"] = _far_unless(expression == 1, p["mouth_y"] - 0.6 * p["mouth_h"])
    p["inner_y"] = _far_unless(expression == 2, p["mouth_y"])
    return {"skin_tone": tone + 1, "hair": np.array(HAIR_STYLES)[style],
            "hair_colour": np.where(has_hair, np.array(list(HAIR_COLOURS))[hair_index], "none"),
            "expression": np.array(EXPRESSIONS)[expression],
            "rotation_deg": rotation.astype(np.float32), "scale": scale.astype(np.float32)}


def _mask_fit(d, p, wearing):
    """Mask type, colours, print and fit; wearing is 0 (over the nose), 1 (no mask) or 2 (below the nose)."""
    mask_type = d.pick(3, (0.45, 0.35, 0.2)) + 1
    (mask, mask_index), second = d.colour(0.85, 1.05), d.colour(0.85, 1.05)[0]
    surgical, cloth, n95 = mask_type == 1, mask_type == 2, mask_type == 3
    pattern, (fx, fy), freq = d.pick(3), d.turn(0, 180), d.uni(8, 14)  # cloth print: plain, stripes, dots
    below_nose = p["nose_y"] + 0.025 + d.uni(0.01, 0.05)  # nose visible, mouth covered
    over_nose = p["eye_y"] + p["eye_b"] + d.uni(0.02, 0.07)
    top = np.where(wearing == 2, below_nose, over_nose)
    bottom = p["fb"] + d.uni(-0.01, 0.07)
    cup_y = np.where(n95, (top + bottom) / 2, (top + bottom) / 2 - 0.12)
    p["mask"], p["mask_second"], p["mask_top"] = mask, second, np.where(n95, -_FAR, top)
    p["mask_c1"], p["mask_c2"] = np.where(cloth, d.uni(0.2, 0.4), 0), np.where(surgical, d.uni(0.1, 0.35), 0)
    p["mask_y"] = _far_unless(wearing != 1, cup_y)
    p["mask_a"] = p["fa"] * np.where(n95, d.uni(0.78, 0.9), d.uni(1.0, 1.1))
    p["mask_b"] = np.where(n95, (bottom - top) / 2 + 0.02, bottom - cup_y)
    p["mask_cup"], p["seam"] = np.where(n95, 0.3, 0.08), np.where(n95, 0.22, 0)
    p["pleats"] = np.where(surgical, 0.14, 0)
    p["pleat_f"] = np.where(surgical, d.uni(3.5, 5), 0) / (bottom - top)
    p["stripe_fx"], p["stripe_fy"], p["dot_f"] = freq * fx, freq * fy, freq * 0.8
    p["stripes"], p["dots"] = (cloth & (pattern == 1)).astype(float), (cloth & (pattern == 2)).astype(float)
    p["loop_y"] = _far_unless(wearing != 1, (top + bottom) / 2 - 0.05)
    p["loop_x"], p["loop_a"], p["loop_b"] = p["fa"] * 0.98, d.uni(0.05, 0.08), (bottom - top) * 0.36
    p["loop"] = np.where(surgical[:, None], [235.0, 235.0, 235.0], mask * 0.9)
    return {"mask_type": np.array(MASK_TYPES)[np.where(wearing == 1, 0, mask_type)],
            "mask_colour": np.where(wearing == 1, "none", _PAL_NAMES[mask_index])}


def _extras(d, p):
    """Glasses, occluders that are not masks (a hand, a scarf under the chin) and camera settings."""
    glasses = d.uni(0, 1) < 0.25
    sun = glasses & (d.uni(0, 1) < 0.2)
    p["glass_y"] = _far_unless(glasses, p["eye_y"] - 0.005)
    p["glass_a"], p["glass_b"] = np.minimum(d.uni(0.085, 0.11), p["eye_x"] - 0.035), d.uni(0.06, 0.08)
    p["glass_t"], p["frame"] = d.uni(0.01, 0.018), d.colour()[0] * 0.6
    p["lens_alpha"] = np.where(sun, 0.85, 0.12)
    p["lens"] = np.where(sun[:, None], [30.0, 30.0, 35.0], [200.0, 220.0, 235.0])
    occluder = d.pick(3, (0.5, 0.25, 0.25))
    side = np.where(d.uni(0, 1) < 0.5, -1.0, 1.0)
    p["hand_x"], p["hand_y"] = _far_unless(occluder == 1, side * d.uni(0.3, 0.45)), d.uni(0.3, 0.55)
    cos, sin = d.turn(10, 40)
    p["hand_cos"], p["hand_sin"] = cos, side * sin  # fingers lean towards the face
    p["palm_a"], p["palm_b"], p["finger_len"] = d.uni(0.12, 0.15), d.uni(0.14, 0.18), d.uni(0.16, 0.22)
    glove = d.uni(0, 1) < 0.25
    p["hand"] = np.where(glove[:, None], d.colour()[0], p["skin"] * d.uni(0.94, 1.04)[:, None])
    p["scarf_y"] = _far_unless(occluder == 2, p["fb"] + d.uni(0.1, 0.2))
    p["scarf_a"], p["scarf_b"] = p["fa"] * d.uni(1.2, 1.5), d.uni(0.14, 0.22)
    p["scarf"], p["scarf_second"] = d.colour()[0], d.colour()[0]
    p["scarf_f"] = np.where(d.uni(0, 1) < 0.5, d.uni(6, 12), 0)
    # camera only: focus, contrast, black level, white-balance gains, read and shot noise
    p["focus"], p["contrast"], p["black"] = d.uni(0.6, 1.0), d.uni(0.72, 0.86), d.uni(4, 12)
    p["awb"] = np.stack([d.uni(0.86, 1.14), d.uni(0.95, 1.05), d.uni(0.86, 1.14)], 1)
    p["read_noise"], p["shot_noise"] = d.uni(1.0, 2.5), d.uni(0.03, 0.1)
    return {"glasses": glasses, "occluder": np.array(OCCLUDERS)[occluder]}


# ------------------------------------------------ drawing (per pixel only + - * / sqrt abs clip floor)

def _coverage(distance, px):
    """Anti-aliased coverage from a signed distance (negative inside), px = one pixel in the same units."""
    alpha = distance * (-1.0 / px)
    alpha += 0.5
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def _ellipse_k2(u, v, cu, cv, a, b):
    """Squared normalised radius: below 1 inside the ellipse centred (cu, cv) with half-axes a, b."""
    du = u - cu
    du *= 1.0 / a
    du *= du
    dv = v - cv
    dv *= 1.0 / b
    dv *= dv
    du += dv
    return du


def _ellipse(u, v, cu, cv, a, b, px):
    """Coverage of an axis-aligned ellipse; the distance is approximated from k2 near the edge."""
    k2 = _ellipse_k2(u, v, cu, cv, a, b)
    k2 -= 1.0
    k2 *= 0.5 * np.minimum(a, b)
    return _coverage(k2, px)


def _ring(u, v, cu, cv, a, b, thickness, px):
    """Coverage of an elliptic outline (ear loops)."""
    k2 = _ellipse_k2(u, v, cu, cv, a, b)
    k2 -= 1.0
    np.abs(k2, out=k2)
    k2 *= 0.5 * np.minimum(a, b)
    k2 -= thickness
    return _coverage(k2, px)


def _box(p, q, w, h, px):
    """Coverage of a rectangle with half-sizes w, h centred at the origin of (p, q)."""
    return _coverage(np.maximum(np.abs(p) - w, np.abs(q) - h), px)


def _triangle_wave(t):
    """|frac(t) - 0.5|, in 0..0.5, a cheap periodic function without sin."""
    f = t - np.floor(t)
    f -= 0.5
    return np.abs(f, out=f)


def _paint(canvas, alpha, colour):
    """Composite a colour (3,m,1,1) or colour field (3,m,H,W) over the canvas with coverage alpha."""
    delta = colour - canvas
    delta *= alpha
    canvas += delta


def _render(q, size):
    """Draw one chunk of scenes as a float32 canvas (3, m, size, size) with values around 0..255."""
    g = ((np.arange(size, dtype=np.float64) + 0.5) * (2.0 / size) - 1.0).astype(np.float32)
    x, y = g.reshape(1, 1, size), g.reshape(1, size, 1)
    px_img = np.float32(2.0 / size)
    canvas = _background(q, x, y, px_img)
    dx, dy = x - q["cx"], y - q["cy"]
    u = dx * q["cos_s"] + dy * q["sin_s"]
    v = dy * q["cos_s"] - dx * q["sin_s"]
    au = np.abs(u)
    px = px_img / q["scale"]
    _body(canvas, q, u, v, au, px)
    _face(canvas, q, u, v, au, px)
    _mask(canvas, q, u, v, au, px)
    _glasses(canvas, q, u, v, au, px)
    _occluders(canvas, q, u, v, px)
    gain = x * q["light_x"] + y * q["light_y"]
    gain += q["light"]
    canvas *= gain
    canvas *= q["cast"]
    return canvas


def _background(q, x, y, px):
    t = x * q["bg_gx"] + y * q["bg_gy"]
    canvas = t * (q["bg2"] - q["bg1"])
    canvas += 0.5 * (q["bg1"] + q["bg2"])
    for j in range(4):
        cx, cy = x - q[f"clutter{j}_x"], y - q[f"clutter{j}_y"]
        c, s = q[f"clutter{j}_cos"], q[f"clutter{j}_sin"]
        a, b = cx * c + cy * s, cy * c - cx * s
        w, h = q[f"clutter{j}_w"], q[f"clutter{j}_h"]
        alpha = _box(a, b, w, h, px) if j < 2 else _ellipse(a, b, 0, 0, w, h, px)
        _paint(canvas, alpha, q[f"clutter{j}_colour"])
    return canvas


def _body(canvas, q, u, v, au, px):
    _paint(canvas, _ellipse(u, v, 0, q["clothes_top"] + 0.7, q["clothes_w"], 0.7, px), q["clothes"])
    back_hair = _ellipse(u, v, 0, q["back_hair_y"], q["back_hair_a"], q["back_hair_b"], px)
    _paint(canvas, back_hair, q["hair"] * 0.85)
    neck = _box(u, v - q["fb"] - 0.2, q["neck_w"], 0.35, px)
    _paint(canvas, neck, q["skin_dark"])


def _face(canvas, q, u, v, au, px):
    _paint(canvas, _ellipse(au, v, q["ear_x"], q["ear_y"], 0.06, 0.11, px), q["skin_dark"])
    k2 = _ellipse_k2(u, v, 0, 0, q["fa"], q["fb"])
    shade = 1.0 - 0.2 * k2
    k2 -= 1.0
    k2 *= 0.5 * q["fa"]
    _paint(canvas, _coverage(k2, px), q["skin"] * shade)
    ex, ey = q["eye_x"], q["eye_y"]
    _paint(canvas, _ellipse(au, v, ex, ey - 0.004, q["eye_a"] * 1.12, q["eye_b"] * 1.25, px), q["skin"] * 0.4)
    white = _ellipse(au, v, ex, ey, q["eye_a"], q["eye_b"], px)
    _paint(canvas, white, np.float32(228.0))
    iris = _ellipse(np.abs(u - q["gaze"]), v, ex, ey, q["eye_b"] * 0.95, q["eye_b"] * 0.95, px)
    iris *= white
    _paint(canvas, iris, q["iris"])
    brow_v = v - q["brow_tilt"] * (au - ex)
    _paint(canvas, _ellipse(au, brow_v, ex, q["brow_y"], 0.085, q["brow_h"], px), q["brows"])
    _paint(canvas, _ellipse(u, v, q["nose_side"], q["nose_y"] - 0.08, 0.018, 0.09, px), q["skin"] * 0.82)
    _paint(canvas, _ellipse(u, v, 0, q["nose_y"], q["nose_w"], 0.026, px), q["skin"] * 0.6)
    lips = _ellipse(u, v, 0, q["mouth_y"], q["mouth_w"], q["mouth_h"], px)
    lips *= 1.0 - _ellipse(u, v, 0, q["smile_y"], q["mouth_w"] * 1.15, q["mouth_h"], px)
    _paint(canvas, lips, q["lips"])
    _paint(canvas, _ellipse(u, v, 0, q["inner_y"], q["mouth_w"] * 0.7, q["mouth_h"] * 0.55, px),
           np.array([50.0, 18, 22], dtype=np.float32).reshape(3, 1, 1, 1))
    cap = _ellipse(u, v, 0, q["hair_y"], q["hair_a"], q["hair_b"], px)
    hairline = q["hairline0"] + q["hairline1"] * u + q["hairline2"] * (u * u)
    cap *= _coverage(v - hairline, px)
    _paint(canvas, cap, q["hair"])


def _mask(canvas, q, u, v, au, px):
    _paint(canvas, _ring(au, v, q["loop_x"], q["loop_y"], q["loop_a"], q["loop_b"], 0.006, px), q["loop"])
    k2 = _ellipse_k2(u, v, 0, q["mask_y"], q["mask_a"], q["mask_b"])
    shade = 1.0 - q["mask_cup"] * k2
    k2 -= 1.0
    k2 *= 0.5 * np.minimum(q["mask_a"], q["mask_b"])
    alpha = _coverage(k2, px)
    top = q["mask_top"] + q["mask_c1"] * au + q["mask_c2"] * (u * u)
    alpha *= _coverage(top - v, px)
    pleat = _triangle_wave((v - q["mask_top"]) * q["pleat_f"])
    shade -= q["pleats"] * np.clip(1.0 - 6.0 * pleat, 0.0, 1.0)
    shade -= q["seam"] * np.clip(1.0 - au / (1.5 * px), 0.0, 1.0)
    stripes = _triangle_wave(u * q["stripe_fx"] + v * q["stripe_fy"])
    pattern = q["stripes"] * np.clip((stripes - 0.25) * 12.0, 0.0, 1.0)
    dot_u, dot_v = _triangle_wave(u * q["dot_f"]), _triangle_wave(v * q["dot_f"])
    pattern += q["dots"] * np.clip((dot_u * dot_u + dot_v * dot_v - 0.09) * -40.0, 0.0, 1.0)
    colour = q["mask"] + pattern * (q["mask_second"] - q["mask"])
    colour *= shade
    _paint(canvas, alpha, colour)


def _glasses(canvas, q, u, v, au, px):
    k2 = _ellipse_k2(au, v, q["eye_x"], q["glass_y"], q["glass_a"], q["glass_b"])
    lens = _coverage((k2 - 1.0) * (0.5 * q["glass_b"]), px)
    _paint(canvas, lens * q["lens_alpha"], q["lens"])
    k2 -= 1.0
    np.abs(k2, out=k2)
    k2 *= 0.5 * q["glass_b"]
    k2 -= q["glass_t"]
    frame = _coverage(k2, px)
    bridge = _box(u, v - q["glass_y"] + 0.02, q["eye_x"] - q["glass_a"] + 0.01, q["glass_t"], px)
    _paint(canvas, np.maximum(frame, bridge), q["frame"])


def _occluders(canvas, q, u, v, px):
    sy = v - q["scarf_y"]
    scarf = _ellipse(u, sy, 0, 0, q["scarf_a"], q["scarf_b"], px)
    band = np.clip((_triangle_wave(sy * q["scarf_f"] + 0.25) - 0.25) * 12.0, 0.0, 1.0)
    _paint(canvas, scarf, q["scarf"] + band * (q["scarf_second"] - q["scarf"]))
    du, dv = u - q["hand_x"], v - q["hand_y"]
    c, s = q["hand_cos"], q["hand_sin"]
    hu, hv = du * c + dv * s, dv * c - du * s  # hand frame, fingers point to -hv
    hand = _ellipse(hu, hv, 0, 0, q["palm_a"], q["palm_b"], px)
    comb = _triangle_wave(hu * (2.0 / q["palm_a"]))  # four fingers across the palm
    finger_gap = (comb - 0.38) * (0.5 * q["palm_a"])
    fingers = _coverage(np.maximum(np.maximum(np.abs(hu) - q["palm_a"] * 0.95, finger_gap),
                                   np.abs(hv + q["palm_b"] * 0.6) - q["finger_len"]), px)
    arm = _box(hu, hv - 0.8, q["palm_a"] * 0.75, 0.8, px)
    _paint(canvas, np.maximum(np.maximum(hand, fingers), arm), q["hand"])


# ---------------------------------------------------------------- sensor model and output

def _to_uint8(canvas):
    out = np.clip(canvas, 0.0, 255.0)
    out += 0.5
    np.floor(out, out=out)
    return np.moveaxis(out, 0, -1).astype(np.uint8)


def _blur(a, axis, taps):
    """Binomial blur along an axis (taps 3: 1 2 1, taps 5: 1 4 6 4 1), edges repeated, as shifted slices."""
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


def _rgb565(a):
    """Quantise 0..255 values to 5/6/5 bits per R/G/B and expand back by bit replication."""
    out = np.empty_like(a)
    for c, bits in enumerate((5, 6, 5)):
        levels = float((1 << bits) - 1)
        k = np.clip(a[c], 0.0, 255.0) * np.float32(levels / 255.0)
        k += 0.5
        np.floor(k, out=k)
        out[c] = k * float(1 << (8 - bits)) + np.floor(k * np.float32(1.0 / (1 << (2 * bits - 8))))
    return out


def _camera(canvas, q, noise):
    """OV7725-like capture at twice the size: defocus, low contrast, AWB gains, noise, RGB565, downscale."""
    blurred = _blur(_blur(canvas, 2, 5), 3, 5)  # defocus of the small plastic lens
    blurred -= canvas
    blurred *= q["focus"]
    canvas += blurred
    canvas -= 118.0
    canvas *= q["contrast"]
    canvas += 118.0 + q["black"]
    canvas *= q["awb"]
    np.clip(canvas, 0.0, 255.0, out=canvas)
    sigma = np.sqrt(q["read_noise"] * q["read_noise"] + q["shot_noise"] * canvas)
    gauss = noise[0] + noise[1]  # triangular, variance 1/6
    gauss -= 1.0
    gauss *= np.float32(math.sqrt(6.0))
    canvas += sigma * gauss
    canvas = _rgb565(_blur(_blur(canvas, 2, 3), 3, 3))  # the sensor DSP's de-noise, then RGB565 output
    small = canvas[:, :, 0::2, 0::2] + canvas[:, :, 1::2, 0::2]
    small += canvas[:, :, 0::2, 1::2]
    small += canvas[:, :, 1::2, 1::2]
    small *= 0.25
    return np.moveaxis(_rgb565(small), 0, -1).astype(np.uint8)


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
    """The course's train / validation (studio domain) and held-out test (camera domain) splits, as Batches."""
    settings = settings if isinstance(settings, dict) else course_settings(settings)
    size = settings["size"] if size is None else size
    classes = tuple(settings["classes"])
    return {name: generate(split["n"], seed=split["seed"], domain=split["domain"], size=size, classes=classes)
            for name, split in settings["splits"].items()}


def samples(domain, settings=None) -> Batch:
    """The small sample set committed under ``datasets/samples/<domain>`` (regenerated exactly from its settings)."""
    settings = settings if isinstance(settings, dict) else course_settings(settings)
    spec = settings["samples"]
    classes = tuple(spec["classes"])
    return generate(spec["n_per_class"] * len(classes), seed=spec["seed"], domain=domain,
                    size=settings["size"], classes=classes)
