"""The shipped MobileNetV1 backbone, pretrained on procedural shapes and textures, never masks (introduced in
notebooks/04_transfer_learning.ipynb).

The source task, :func:`make_shapes` and its 32 classes, is :mod:`tinymask.pretrain_shapes` (re-exported here:
``pretrain.make_shapes`` is ``pretrain_shapes.make_shapes``). A MobileNetV1 trained on it learns edge, curvature,
corner and texture filters that transfer; only its backbone is kept. tinymask/weights/README.md gives the command
that reproduces the shipped file and its provenance.
"""

import argparse
import math
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from .dataset import to_model_input
from .errors import InputError
from .pretrain_shapes import CHUNK, CLASSES, NUM_CLASSES, SHAPES, TEXTURES, make_shapes

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


# --------------------------------------------------------------------------------------------- training
def _dataset(tf, images, labels, batch_size):
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return ds.map(lambda x, y: (to_model_input(x), y)).prefetch(2)


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
