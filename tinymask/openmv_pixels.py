"""The firmware's pixel maths: what OpenMV does to a frame before a model runs (notebooks/07_openmv_deployment.ipynb).

:func:`firmware_pixels` / :func:`firmware_input` do to a frame exactly what OpenMV firmware 4.5.6+ does: the frame is
RGB565 (8-bit RGB is truncated to 5/6/5 bits, as the camera delivers it), it is drawn into an image of the model's
input size with ``BILINEAR | CENTER | SCALE_ASPECT_EXPAND | BLACK_BACKGROUND`` (the fixed-point bilinear code of
``imlib_draw_image``, or a plain copy when the sizes match), each channel is expanded to 8 bits by bit replication
(``COLOR_RGB565_TO_R8`` ...) and the int8 input is ``pixel ^ 0x80`` = ``pixel - 128``, whatever scale and zero point
the input tensor declares. The firmware code is ``imlib_draw_image`` in lib/imlib/draw.c and the ``COLOR_*`` macros in
lib/imlib/imlib.h (src/omv/imlib/ on v4.5.6), and the ``ml`` preprocessing in scripts/libraries/ml/.

This module is numpy only: :mod:`tinymask.openmv_emu` (the sandbox that runs camera scripts) builds on it and
re-exports every name here, so ``openmv_emu.firmware_input`` and ``openmv_pixels.firmware_input`` are one function.
"""

import numpy as np

from .errors import InputError

__all__ = [
    "rgb888_to_rgb565",
    "rgb565_to_rgb888",
    "rgb565_round_trip",
    "rgb565_to_gray",
    "gray_to_rgb565",
    "ASPECT",
    "aspect_for",
    "draw_image",
    "camera_pixels",
    "firmware_pixels",
    "firmware_input",
    "firmware_inputs",
]


def rgb888_to_rgb565(rgb):
    """uint8 (..., 3) RGB -> uint16 RGB565, truncating as ``COLOR_R8_G8_B8_TO_RGB565`` does."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise InputError(f"expected uint8 RGB pixels (..., 3), got {rgb.dtype} {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
    return ((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3)


def rgb565_to_rgb888(pixels):
    """uint16 RGB565 -> uint8 (..., 3) RGB, expanding 5/6 bits to 8 by bit replication (``COLOR_RGB565_TO_R8``)."""
    p = np.asarray(pixels).astype(np.uint16)
    r = (p >> 8) & 0xF8
    g = (p >> 3) & 0xFC
    b = (p << 3) & 0xF8
    return np.stack([r | (r >> 5), g | (g >> 6), b | (b >> 5)], axis=-1).astype(np.uint8)


def rgb565_round_trip(rgb):
    """What an 8-bit RGB image looks like after the camera's RGB565: ``rgb565_to_rgb888(rgb888_to_rgb565(rgb))``."""
    return rgb565_to_rgb888(rgb888_to_rgb565(rgb))


def rgb565_to_gray(pixels):
    """uint16 RGB565 -> uint8 luma, ``(38 R + 75 G + 15 B) >> 7`` on the expanded channels (``COLOR_RGB565_TO_Y``)."""
    rgb = rgb565_to_rgb888(pixels).astype(np.int32)
    return ((rgb[..., 0] * 38 + rgb[..., 1] * 75 + rgb[..., 2] * 15) >> 7).astype(np.uint8)


def gray_to_rgb565(gray):
    """uint8 grey levels -> uint16 RGB565, 5/6/5 bits of the level per channel (``COLOR_Y_TO_RGB565``)."""
    g = np.asarray(gray).astype(np.uint16)
    return ((g & 0xF8) << 8) | ((g & 0xFC) << 3) | (g >> 3)


def _floor(x):
    return int(np.floor(np.float32(x)))


#: How the firmware's ``ml`` preprocessing fits a frame to the model input (scripts/libraries/ml/ml-core/ml/
#: preprocessing.py): v4.x draws with SCALE_ASPECT_EXPAND (cover the input, crop the centre), v5.0.0 with
#: SCALE_ASPECT_IGNORE (stretch each axis). A square frame into a square input is the same either way.
ASPECT = {"expand": "SCALE_ASPECT_EXPAND (4.x)", "ignore": "SCALE_ASPECT_IGNORE (5.0)"}


def aspect_for(firmware):
    """``"ignore"`` for firmware 5.x, ``"expand"`` for 4.x (see :data:`ASPECT`)."""
    major = int(str(firmware).split(".")[0])
    return "ignore" if major >= 5 else "expand"


def _geometry(src_w, src_h, dst_w, dst_h, roi_x, roi_y, aspect="expand"):
    """Destination rectangle and fixed-point source steps of ``imlib_draw_image`` for CENTER | SCALE_ASPECT_EXPAND
    (one scale, the larger) or CENTER | SCALE_ASPECT_IGNORE (one scale per axis)."""
    if aspect not in ASPECT:
        raise InputError(f"aspect={aspect!r}: use one of {tuple(ASPECT)}")
    f32 = np.float32
    sx, sy = f32(dst_w) / f32(src_w), f32(dst_h) / f32(src_h)
    if aspect == "expand":
        sx = sy = max(sx, sy)  # EXPAND: the larger scale, crop the rest
    out = {}
    for axis, (src, dst, off, scale) in {"x": (src_w, dst_w, roi_x, sx), "y": (src_h, dst_h, roi_y, sy)}.items():
        scaled = _floor(f32(scale) * f32(src))
        start = _floor(f32(dst - scaled) / f32(2.0))  # CENTER
        src_start = 0
        if start < 0:
            src_start, start = -start, 0
        end = min(start + scaled - src_start, dst)
        src_start += _floor(f32(off) * scale)
        frac = _floor(f32(65536.0) / scale)
        accum = _floor(f32(src_start << 16) / scale)
        out[axis] = (start, end, frac, accum)
    return out


def _bilinear_rgb565(src, ys, xs, fy, fx):
    """The fixed-point RGB565 bilinear blend of ``imlib_draw_image`` (5-bit weights, rounding constants)."""
    y0, y1 = ys
    x0, x1 = xs
    p00, p10 = src[np.ix_(y0, x0)], src[np.ix_(y0, x1)]
    p01, p11 = src[np.ix_(y1, x0)], src[np.ix_(y1, x1)]
    wy = fy[:, None]

    def rb(p):
        return ((p >> 1) & 0x7C00) | (p & 0x001F)

    def vertical(top, bottom):
        rb_out = (((32 - wy) * rb(top) + wy * rb(bottom) + 0x4010) >> 5) & 0x7C1F
        g_out = (((32 - wy) * (top & 0x07E0) + wy * (bottom & 0x07E0) + 0x200) >> 5) & 0x07E0
        return rb_out, g_out

    rb_l, g_l = vertical(p00.astype(np.int64), p01.astype(np.int64))
    rb_r, g_r = vertical(p10.astype(np.int64), p11.astype(np.int64))
    wx = fx[None, :]
    rb_out = ((32 - wx) * rb_l + wx * rb_r + 0x4010) >> 5
    g_out = ((32 - wx) * g_l + wx * g_r + 0x200) >> 5
    return (((rb_out << 1) & 0xF800) | (g_out & 0x07E0) | (rb_out & 0x001F)).astype(np.uint16)


def _bilinear_gray(src, ys, xs, fy, fx):
    y0, y1 = ys
    x0, x1 = xs
    p00, p10 = src[np.ix_(y0, x0)].astype(np.int64), src[np.ix_(y0, x1)].astype(np.int64)
    p01, p11 = src[np.ix_(y1, x0)].astype(np.int64), src[np.ix_(y1, x1)].astype(np.int64)
    wy, wx = fy[:, None], fx[None, :]
    left = ((256 - wy) * p00 + wy * p01 + 128) >> 8
    right = ((256 - wy) * p10 + wy * p11 + 128) >> 8
    return (((256 - wx) * left + wx * right + 128) >> 8).astype(np.uint8)


def _neighbours(index, start, limit):
    """The two source rows (or columns) bilinear reads, clamped as the firmware clamps them."""
    low = np.where(index < start, start, np.where(index >= limit, limit, index))
    high = np.where(index < start, start, np.where(index >= limit, limit, index + 1))
    return low, high


def draw_image(src, dst_w, dst_h, roi=None, aspect="expand"):
    """``src`` (uint16 RGB565 or uint8 grayscale, (h, w)) drawn into a new ``dst_w`` x ``dst_h`` image of the same
    format as ``image.draw_image(src, 0, 0, roi=roi, hint=BILINEAR | CENTER | SCALE_ASPECT_EXPAND |
    BLACK_BACKGROUND)`` does on OpenMV firmware: scaled to cover the destination (aspect ratio kept, centre
    cropped), bilinear in fixed point, or copied pixel for pixel when no scaling is needed. Pixels the source
    does not reach stay 0 (on the camera they keep what the buffer held). ``aspect="ignore"`` stretches each axis
    instead, as firmware 5.0 does (:data:`ASPECT`)."""
    src = np.asarray(src)
    if src.ndim != 2 or src.dtype not in (np.uint16, np.uint8):
        raise InputError(f"src must be a (h, w) uint16 RGB565 or uint8 grayscale image, got {src.dtype} {src.shape}")
    rx, ry, rw, rh = (0, 0, src.shape[1], src.shape[0]) if roi is None else (int(v) for v in roi)
    g = _geometry(rw, rh, dst_w, dst_h, rx, ry, aspect)
    (x_start, x_end, x_frac, x_acc), (y_start, y_end, y_frac, y_acc) = g["x"], g["y"]
    out = np.zeros((dst_h, dst_w), dtype=src.dtype)
    if x_end <= x_start or y_end <= y_start:
        return out
    x_accum = x_acc + np.arange(x_end - x_start, dtype=np.int64) * x_frac
    y_accum = y_acc + np.arange(y_end - y_start, dtype=np.int64) * y_frac
    if x_frac == 65536 and y_frac == 65536:  # no scaling: nearest neighbour (a copy)
        out[y_start:y_end, x_start:x_end] = src[np.ix_(y_accum >> 16, x_accum >> 16)]
        return out
    x_accum, y_accum = x_accum - 0x8000, y_accum - 0x8000  # bilinear samples pixel centres
    xs = _neighbours(x_accum >> 16, rx, rx + rw - 1)
    ys = _neighbours(y_accum >> 16, ry, ry + rh - 1)
    if src.dtype == np.uint16:
        block = _bilinear_rgb565(src, ys, xs, (y_accum >> 11) & 0x1F, (x_accum >> 11) & 0x1F)
    else:
        block = _bilinear_gray(src, ys, xs, (y_accum >> 8) & 0xFF, (x_accum >> 8) & 0xFF)
    out[y_start:y_end, x_start:x_end] = block
    return out


def camera_pixels(frame):
    """A frame as the camera holds it: uint16 RGB565 (from uint8 RGB, truncated) or uint8 grayscale (h, w).

    ``frame``: uint8 RGB (h, w, 3), uint8 grayscale (h, w) or (h, w, 1), uint16 RGB565 (h, w), or anything numpy
    turns into one of these (the emulator's ``Image`` gives its pixels through ``__array__``).
    """
    a = np.asarray(frame)
    if a.dtype == np.uint16 and a.ndim == 2:
        return a
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[-1] == 3:
        return rgb888_to_rgb565(a)
    if a.dtype == np.uint8 and (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 1)):
        return a.reshape(a.shape[0], a.shape[1])
    raise InputError(f"a frame must be uint8 RGB (h, w, 3), uint8 grayscale (h, w) or uint16 RGB565 (h, w); "
                     f"got {a.dtype} {a.shape}")


def _input_hwc(input_shape):
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise InputError(f"input_shape must be (1, h, w, c), (h, w, c) or (h, w) with c 1 or 3, got {input_shape}")
    return shape


def firmware_pixels(frame, input_shape, roi=None, aspect="expand"):
    """The 8-bit pixels (h, w, c) OpenMV firmware makes of ``frame`` for a model input of ``input_shape``.

    ``frame``: uint8 RGB (H, W, 3), uint16 RGB565 (H, W), uint8 grayscale (H, W) or an emulator ``Image``
    (:func:`camera_pixels`). RGB is first truncated to RGB565 as the camera delivers it. The frame (or its ``roi``)
    is drawn into the input size with :func:`draw_image`, then expanded: 3 channels by bit replication of 5/6/5
    bits, 1 channel as ``COLOR_RGB565_TO_Y`` luma (or the grayscale pixels as they are).
    """
    h, w, c = _input_hwc(input_shape)
    src = camera_pixels(frame)
    if c == 3 and src.dtype == np.uint8:  # a grayscale frame drawn into RGB565: grey levels as RGB565
        src = gray_to_rgb565(src)
    drawn = draw_image(src, w, h, roi, aspect)
    if c == 3:
        return rgb565_to_rgb888(drawn)
    return (rgb565_to_gray(drawn) if drawn.dtype == np.uint16 else drawn)[..., None]


def firmware_input(frame, input_shape, dtype="int8", roi=None, firmware="4.8.1"):
    """The input tensor (1, h, w, c) the firmware ``firmware`` gives a model for ``frame``: int8 ``pixel - 128``
    (the XOR with 0x80 the firmware does; the tensor's scale and zero point are not read) or float32 ``pixel / 255``
    (raw 0..255 before 4.8: a rebinding bug in the ``ml`` preprocessing, fixed by commit eccb90699). The frame is
    fitted with the firmware's aspect rule (:func:`aspect_for`)."""
    pixels = firmware_pixels(frame, input_shape, roi, aspect_for(firmware))[None]
    if np.dtype(dtype) == np.int8:
        return (pixels ^ 0x80).view(np.int8)
    if np.dtype(dtype) == np.float32:
        version = tuple(int(v) for v in str(firmware).split(".")[:2])
        if version < (4, 8):
            return pixels.astype(np.float32)
        return pixels.astype(np.float32) * np.float32(1.0 / 255.0)
    raise InputError(f"dtype {dtype!r}: OpenMV feeds int8 or float32 models (uint8 models no longer run: "
                     "convert with quantize.to_int8)")


def firmware_inputs(frames, input_shape, dtype="int8", firmware="4.8.1"):
    """:func:`firmware_input` for each frame, stacked to (n, h, w, c)."""
    frames = getattr(frames, "images", frames)
    return np.concatenate([firmware_input(f, input_shape, dtype, firmware=firmware) for f in frames])
