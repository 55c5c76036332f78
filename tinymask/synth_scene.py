"""The random scene behind each synthetic face: value sets and per-image parameters (notebooks/02_dataset.ipynb).

:func:`parameters` turns each image's row of uniform random numbers into the numbers :mod:`tinymask.synth_render`
draws (face shape, skin tone, mask fit, lighting, camera settings) and the attributes ``synth.generate`` returns.
Every value is drawn from the same column for every image, so image i never depends on how many are drawn.
"""

import math
from types import SimpleNamespace

import numpy as np

__all__ = ["ATTRIBUTES", "PALETTE", "SKIN_TONES", "HAIR_COLOURS", "LIGHTING", "BACKGROUNDS", "MASK_TYPES",
           "HAIR_STYLES", "EXPRESSIONS", "OCCLUDERS", "IRIS_COLOURS", "N_UNIFORMS", "parameters"]

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
#: Uniform random numbers drawn per image (one row of the generator's stream); parameters() uses fewer.
N_UNIFORMS = 160
_FAR = 9.0  # a shape centred this far away (in face units) is not drawn


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


def parameters(U, wearing, strata):
    """Scene parameters (arrays over images) and attributes, all drawn from per-image uniforms U (used by
    ``synth.generate``): U is (n, N_UNIFORMS), wearing per image 0 (mask), 1 (none) or 2 (below the nose), strata
    None or the balanced {"skin_tone", "lighting", "background"} values."""
    d, p = _draws(U, strata), {}
    a = _scene(d, p)
    a.update(_person(d, p))
    a.update(_mask_fit(d, p, wearing))
    a.update(_extras(d, p))
    assert next(d.left, None) is not None, "raise N_UNIFORMS"
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

