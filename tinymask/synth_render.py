"""Drawing the synthetic faces and the camera model, in numpy (notebooks/02_dataset.ipynb).

Per pixel only + - * / sqrt abs clip floor, in float32, so every machine computes the same bytes (tests/test_synth.py
checks their sha256). ``synth.generate`` calls :func:`per_image` on the parameters of :mod:`tinymask.synth_scene`,
then :func:`render`, then :func:`to_uint8` (studio domain) or :func:`camera` (camera domain).
"""

import math

import numpy as np

from .augment import blur

__all__ = ["per_image", "render", "to_uint8", "rgb565", "camera"]


def per_image(values):
    """(m,) scalars -> (m, 1, 1); (m, 3) colours -> (3, m, 1, 1), as float32 for the pixel grid (used by
    ``synth.generate``)."""
    values = np.asarray(values, dtype=np.float32)
    return values.T.reshape(3, -1, 1, 1) if values.ndim == 2 else values.reshape(-1, 1, 1)



# ------------------------------------------------ drawing

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


def render(q, size):
    """Draw one chunk of scenes as a float32 canvas (3, m, size, size) with values around 0..255 (used by
    ``synth.generate``); q holds the per_image() parameters of the chunk."""
    g = ((np.arange(size, dtype=np.float64) + 0.5) * (2.0 / size) - 1.0).astype(np.float32)
    x, y = g.reshape(1, 1, size), g.reshape(1, size, 1)
    px_img = np.float32(2.0 / size)
    canvas = _background(q, x, y, px_img)
    dx, dy = x - q["cx"], y - q["cy"]
    u = dx * q["cos_s"] + dy * q["sin_s"]
    v = dy * q["cos_s"] - dx * q["sin_s"]
    au = np.abs(u)
    px = px_img / q["scale"]
    _body(canvas, q, u, v, px)
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


def _body(canvas, q, u, v, px):
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

def to_uint8(canvas):
    """A float canvas (3, m, H, W) as uint8 images (m, H, W, 3), rounded half up (used by ``synth.generate``)."""
    out = np.clip(canvas, 0.0, 255.0)
    out += 0.5
    np.floor(out, out=out)
    return np.moveaxis(out, 0, -1).astype(np.uint8)


def rgb565(a):
    """Quantise 0..255 values (3, ...) to 5/6/5 bits per R/G/B and expand back by bit replication, as the
    OV7725's RGB565 output does (used by :func:`camera`; tests/test_openmv_emu.py checks it against the emulator)."""
    out = np.empty_like(a)
    for c, bits in enumerate((5, 6, 5)):
        levels = float((1 << bits) - 1)
        k = np.clip(a[c], 0.0, 255.0) * np.float32(levels / 255.0)
        k += 0.5
        np.floor(k, out=k)
        out[c] = k * float(1 << (8 - bits)) + np.floor(k * np.float32(1.0 / (1 << (2 * bits - 8))))
    return out


def camera(canvas, q, noise):
    """OV7725-like capture at twice the size: defocus, low contrast, AWB gains, noise, RGB565, downscale (used by
    ``synth.generate`` for the camera domain); uint8 images (m, H / 2, W / 2, 3)."""
    blurred = blur(blur(canvas, 2, 5), 3, 5)  # defocus of the small plastic lens
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
    canvas = rgb565(blur(blur(canvas, 2, 3), 3, 3))  # the sensor DSP's de-noise, then RGB565 output
    small = canvas[:, :, 0::2, 0::2] + canvas[:, :, 1::2, 0::2]
    small += canvas[:, :, 0::2, 1::2]
    small += canvas[:, :, 1::2, 1::2]
    small *= 0.25
    return np.moveaxis(rgb565(small), 0, -1).astype(np.uint8)

