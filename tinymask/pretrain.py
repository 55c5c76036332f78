"""The shipped MobileNetV1 backbone, pretrained on procedural shapes and textures, never masks (introduced in
notebooks/04_transfer_learning.ipynb)."""

# The course runs offline, so it cannot count on ImageNet weights. This module makes a source task that has
# nothing to do with faces or masks: 32 classes, each a shape (circle, ring, square, ...) with a fill texture
# (solid, striped, dotted, checkered), drawn with random colours, sizes, positions and rotations over flat,
# gradient or cluttered backgrounds, with smaller distractor shapes, lighting gradients, blur and noise. A
# MobileNetV1 trained on it learns edge, curvature, corner and texture filters that transfer; only its backbone
# is kept. tinymask/weights/README.md gives the command that reproduces the shipped file and its provenance.

import argparse
import math
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = [
    "SHAPES",
    "TEXTURES",
    "CLASSES",
    "NUM_CLASSES",
    "CHUNK",
    "make_shapes",
    "pretrain",
    "main",
]

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
            img[rows] = _blur(img[rows])
    noisy = np.flatnonzero(p["noise"])
    noise = rng.standard_normal((len(noisy), size, size, 1), dtype=np.float32)
    img[noisy] += noise * _col(p["noise"][noisy])[..., None]
    img *= 255
    img += 0.5
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)  # truncating x + 0.5 rounds to nearest


def _blur(img):
    """A 3x3 binomial blur with edge padding, on (n, H, W, 3)."""
    pad = np.pad(img, ((0, 0), (1, 1), (0, 0), (0, 0)), mode="edge")
    img = (pad[:, :-2] + 2 * pad[:, 1:-1] + pad[:, 2:]) / 4
    pad = np.pad(img, ((0, 0), (0, 0), (1, 1), (0, 0)), mode="edge")
    return (pad[:, :, :-2] + 2 * pad[:, :, 1:-1] + pad[:, :, 2:]) / 4


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
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InputError(f"n must be a non-negative int (the number of images), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise InputError(f"size must be an int >= 16 (the image side in pixels), got {size!r}")
    root = np.random.SeedSequence([seed, size, n])
    label_seed, *chunk_seeds = root.spawn(1 + math.ceil(n / CHUNK))
    labels = np.random.default_rng(label_seed).permutation(np.arange(n) % NUM_CLASSES).astype(np.int64)
    images = np.empty((n, size, size, 3), np.uint8)
    for i, chunk_seed in enumerate(chunk_seeds):
        part = slice(i * CHUNK, min(n, (i + 1) * CHUNK))
        images[part] = _render(labels[part], size, np.random.default_rng(chunk_seed))
    return images, labels


# --------------------------------------------------------------------------------------------- training
def _dataset(tf, images, labels, batch_size):
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y)).prefetch(2)


def pretrain(
    alpha=0.25,
    input_size=96,
    epochs=12,
    images_per_epoch=36864,
    val_images=2048,
    batch_size=128,
    learning_rate=2e-3,
    seed=0,
    out=None,
    log=print,
):
    """Train ``mobilenet_v1(alpha, input_size, num_classes=32, weights=None)`` on the procedural task and save
    only its backbone's weights to ``out`` (a ``.weights.h5`` path; None saves nothing).

    Epoch ``e`` (from 0) trains on ``images_per_epoch`` fresh images of seed ``1000 * seed + e``; the validation
    set is fixed, with seed ``1000 * seed + 999``. Adam with a linear warm-up over the first 2% of steps, then
    cosine decay to zero. Logs one line per epoch with the source-task validation accuracy and returns a dict:
    ``history`` (per-epoch dicts), ``val_accuracy``, ``train_images_per_s``, ``wall_s``, ``model``.
    """
    from ._setup import import_tensorflow
    from .models import backbone_of, mobilenet_v1

    if not 1 <= epochs <= 998:
        raise InputError(
            f"epochs must be from 1 to 998 (epoch e trains on the images of seed 1000 * seed + e), got {epochs!r}"
        )

    tf = import_tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    steps_per_epoch = math.ceil(images_per_epoch / batch_size)
    total = steps_per_epoch * epochs
    warmup = max(1, total // 50)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup, alpha=0.0, warmup_target=learning_rate, warmup_steps=warmup
    )
    model = mobilenet_v1(alpha, input_size, 3, NUM_CLASSES, weights=None, dropout=0.1, name="shapes_pretrain")
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    val = _dataset(tf, *make_shapes(val_images, seed=seed * 1_000 + 999, size=input_size), batch_size)
    log(
        f"pretrain: MobileNetV1 alpha={alpha:g} {input_size}x{input_size}, {NUM_CLASSES} shape/texture classes, "
        f"{epochs} epochs x {images_per_epoch} fresh images, batch {batch_size}, Adam lr {learning_rate:g} "
        f"(warm-up {warmup} steps, cosine), seed {seed}"
    )
    history, train_s = [], 0.0
    # The next epoch's images are drawn in a thread while this epoch trains (NumPy releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        draw = partial(make_shapes, images_per_epoch, size=input_size)
        pending = pool.submit(draw, seed=seed * 1_000)
        for epoch in range(epochs):
            t0 = time.perf_counter()
            images, labels = pending.result()
            if epoch + 1 < epochs:
                pending = pool.submit(draw, seed=seed * 1_000 + epoch + 1)
            t1 = time.perf_counter()
            fit = model.fit(_dataset(tf, images, labels, batch_size), epochs=1, shuffle=False, verbose=0)
            del images, labels
            t2 = time.perf_counter()
            loss, acc = model.evaluate(val, verbose=0)
            train_s += t2 - t1
            row = {
                "epoch": epoch + 1,
                "loss": float(fit.history["loss"][-1]),
                "accuracy": float(fit.history["accuracy"][-1]),
                "val_loss": float(loss),
                "val_accuracy": float(acc),
                "wait_s": t1 - t0,
                "train_s": t2 - t1,
            }
            history.append(row)
            log(
                f"epoch {epoch + 1}/{epochs}: loss {row['loss']:.3f} acc {row['accuracy']:.3f} | "
                f"val loss {row['val_loss']:.3f} val acc {row['val_accuracy']:.3f} | waited {t1 - t0:.0f} s for "
                f"images, trained {t2 - t1:.0f} s ({images_per_epoch / (t2 - t1):.0f} images/s), "
                f"elapsed {time.perf_counter() - started:.0f} s"
            )
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        backbone_of(model).save_weights(str(out))
        log(f"saved backbone weights to {out} ({out.stat().st_size:,} bytes)")
    wall = time.perf_counter() - started
    log(f"done in {wall:.0f} s")
    return {
        "history": history,
        "val_accuracy": history[-1]["val_accuracy"] if history else None,
        "train_images_per_s": images_per_epoch * epochs / train_s if train_s else None,
        "wall_s": wall,
        "model": model,
    }


def main(argv=None):
    """Command line: ``python -m tinymask.pretrain --alpha 0.25 --size 96 --epochs 12 --seed 0 --out PATH``."""
    parser = argparse.ArgumentParser(prog="python -m tinymask.pretrain", description=main.__doc__)
    parser.add_argument("--alpha", type=float, default=0.25)
    parser.add_argument("--size", type=int, default=96, help="input side in pixels")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--images", type=int, default=36864, help="fresh training images per epoch")
    parser.add_argument("--val-images", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where to save the backbone (.weights.h5); default: nowhere")
    args = parser.parse_args(argv)
    if args.out is not None and not args.out.endswith(".weights.h5"):
        parser.error(f"--out must end in .weights.h5 (Keras' weights format), got {args.out!r}")
    pretrain(
        alpha=args.alpha,
        input_size=args.size,
        epochs=args.epochs,
        images_per_epoch=args.images,
        val_images=args.val_images,
        batch_size=args.batch,
        learning_rate=args.lr,
        seed=args.seed,
        out=args.out,
        log=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    main()
