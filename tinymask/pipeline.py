"""The course's recipe in one place: data, transfer learning, int8 conversion, and the mask model it ships (notebooks/05_int8_quantization.ipynb).

``python -m tinymask.pipeline --out DIR`` retrains the shipped mask model from scratch with :data:`RECIPE` and
writes its weights and int8 ``.tflite`` to ``DIR`` (see ``tinymask/weights/README.md`` for how long it took).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import data, models, quantize, synth, train
from ._setup import import_keras, setup
from .errors import InputError

__all__ = [
    "RECIPE",
    "COURSE_WEIGHTS",
    "COURSE_INT8",
    "to_channels",
    "course_data",
    "train_classifier",
    "save_weights",
    "course_model",
    "course_int8",
    "CAMERA_WEIGHTS",
    "CAMERA_INT8",
    "camera_int8",
    "main",
]

#: How the course's mask model is made: MobileNetV1 alpha 0.25 at 96x96 RGB from the shipped backbone, two epochs
#: of head training on a frozen backbone, then 22 epochs fine-tuning all of it (batch norm frozen), and full-int8
#: conversion calibrated on 500 training images plus an all-black and an all-white one.
RECIPE = {
    "alpha": 0.25,
    "size": 96,
    "channels": 3,
    "weights": "shipped",
    "head_epochs": 2,
    "finetune_epochs": 22,
    "lr": 1e-3,
    "finetune_lr": 3e-4,
    "batch_size": 64,
    "seed": 0,
    "num_calibration": 500,
}

COURSE_WEIGHTS = models.WEIGHTS_DIR / "mask_mobilenet_v1_a0.25_96.weights.h5"
COURSE_INT8 = models.WEIGHTS_DIR / "mask_mobilenet_v1_a0.25_96_int8.tflite"
#: The camera model: the same architecture trained on real photos from ImageNet weights (tinymask/weights/
#: MODEL_CARD.md; made by ``benchmarks/real_faces.py --train-camera-model``). It is what the lab puts on the camera.
CAMERA_WEIGHTS = models.WEIGHTS_DIR / "mask_real_mobilenet_v1_a0.25_96.weights.h5"
CAMERA_INT8 = models.WEIGHTS_DIR / "mask_real_mobilenet_v1_a0.25_96_int8.tflite"


def to_channels(images, channels):
    """uint8 images (N, H, W, 3) as RGB (``channels=3``, unchanged) or grayscale (``channels=1``, ITU-R 601 luma)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
        raise InputError(f"images must be uint8 (N, H, W, 3) or (N, H, W, 1), got {images.dtype} {images.shape}")
    if channels not in (1, 3):
        raise InputError(f"channels={channels!r}: use 3 (RGB) or 1 (grayscale)")
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    luma = images.astype(np.uint32) @ np.array([299, 587, 114], dtype=np.uint32)
    return ((luma + 500) // 1000).astype(np.uint8)[..., None]


def course_data(*, size=96, channels=3, path=None):
    """The train / validation / test splits as ``{name: (images, labels)}`` and the class names.

    With no ``path`` they are the course's synthetic splits (studio-domain train and validation, camera-domain
    test) at ``size``; with ``path`` a user's folders, read by :func:`tinymask.data.load_split_folders` (a
    ``Train|Validation|Test`` layout) or, for a plain ``class_name/*.jpg`` folder, :func:`tinymask.data.load_folder`
    split 70/15/15 with stratification.
    """
    if path is None:
        splits = synth.course_splits(size=size)
        classes = tuple(splits["train"].classes)
        out = {name: (to_channels(b.images, channels), np.asarray(b.labels)) for name, b in splits.items()}
        return {"train": out["train"], "validation": out["validation"], "test": out["test"]}, classes
    path = Path(path)
    try:
        found = data.load_split_folders(path, size=size, channels=channels)
    except ValueError as error:
        if "no Train/" not in str(error):
            raise
        found = None
    if found is None:  # a plain class_name/*.png folder: split it 70/15/15
        full = data.load_folder(path, size=size, channels=channels)
        pool, classes, missing = (full.images, full.labels), tuple(full.classes), ("train", "validation", "test")
        out = {}
    else:
        if "train" not in found:
            raise InputError(f"{path}: has {sorted(found)} split folders but no Train/; add {path}/Train/<class>/")
        classes = tuple(found["train"].classes)
        out = {name: (d.images, d.labels) for name, d in found.items()}
        missing = tuple(name for name in ("validation", "test") if name not in out)
        pool = out.pop("train") if missing else None
        missing = ("train", *missing) if missing else ()
    if missing:
        fractions = {3: (0.7, 0.15, 0.15), 2: (0.85, 0.15)}[len(missing)]
        parts = data.split(pool[1], fractions=fractions, seed=0)
        for name, idx in zip(missing, parts):
            if len(idx) == 0 or len(np.unique(pool[1][idx])) < len(classes):
                raise InputError(f"{path}: too few images to make a {name} split with every class "
                                 f"({len(pool[1])} images for {len(classes)} classes); add images")
            out[name] = (pool[0][idx], pool[1][idx])
    return {name: out[name] for name in ("train", "validation", "test")}, classes

def train_classifier(splits, classes, *, alpha=0.25, size=96, channels=3, weights="shipped", head_epochs=2,
                     finetune_epochs=22, lr=1e-3, finetune_lr=3e-4, batch_size=64, seed=0, callbacks=(), verbose=0,
                     **_):
    """A MobileNetV1 classifier trained on ``splits["train"]``: with :func:`tinymask.train.transfer_learn` from
    pretrained weights; from random init (no weights for this alpha) with :func:`tinymask.train.fit` for
    ``head_epochs + finetune_epochs`` epochs, everything trainable (a frozen random backbone, or frozen batch norm
    with untrained statistics, would learn nothing)."""
    model = models.mobilenet_v1(alpha=alpha, input_size=size, channels=channels, num_classes=len(classes),
                                weights=weights)
    if model.weights_source == "random":
        train.fit(model, splits["train"], splits["validation"], epochs=head_epochs + finetune_epochs, lr=lr,
                  batch_size=batch_size, seed=seed, augment=train.augmentation(seed=seed), callbacks=callbacks,
                  verbose=verbose)
        return model
    train.transfer_learn(model, splits["train"], splits["validation"], head_epochs=head_epochs,
                         finetune_epochs=finetune_epochs, lr=lr, finetune_lr=finetune_lr, batch_size=batch_size,
                         seed=seed, augment=train.augmentation(seed=seed), callbacks=callbacks, verbose=verbose)
    return model


def save_weights(model, path):
    """Save only the layers' weights: a compiled model's ``save_weights`` also stores the optimizer's state (about
    1.7 MB more for MobileNetV1 alpha 0.25), so a model rebuilt from its config (never compiled) saves them."""
    keras = import_keras()
    clean = keras.Model.from_config(model.get_config())
    clean.set_weights(model.get_weights())
    clean.save_weights(path)


def course_model():
    """The shipped mask model (float Keras, trained with :data:`RECIPE`; classes ``mask``, ``no_mask``)."""
    return models.mobilenet_v1(alpha=RECIPE["alpha"], input_size=RECIPE["size"], channels=RECIPE["channels"],
                               num_classes=2, weights=str(COURSE_WEIGHTS))


def course_int8():
    """The shipped mask model's full-int8 ``.tflite`` bytes (what ``to_int8(course_model(), ...)`` produced)."""
    return COURSE_INT8.read_bytes()


def camera_int8():
    """The camera model's full-int8 ``.tflite`` bytes: trained on real photos (``tinymask/weights/MODEL_CARD.md``),
    what chapter 6 exports for the lab (introduced in notebooks/06_openmv_deployment.ipynb)."""
    return CAMERA_INT8.read_bytes()


def main(argv=None):
    """Retrain the course's mask model with RECIPE and write its weights and int8 .tflite to --out."""
    parser = argparse.ArgumentParser(prog="python -m tinymask.pipeline", description=main.__doc__)
    parser.add_argument("--out", required=True, help="a new or empty folder for the two files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty: pick a new folder (nothing is overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    setup(seed=RECIPE["seed"])
    start = time.perf_counter()
    splits, classes = course_data(size=RECIPE["size"], channels=RECIPE["channels"])
    model = train_classifier(splits, classes, **RECIPE)
    tflite = quantize.to_int8(model, splits["train"][0], num_calibration=RECIPE["num_calibration"],
                              seed=RECIPE["seed"])
    save_weights(model, out / COURSE_WEIGHTS.name)
    (out / COURSE_INT8.name).write_bytes(tflite)
    images, labels = splits["test"]
    summary = {
        "seconds": round(time.perf_counter() - start, 1),
        "float_test_accuracy": float((train.predict_labels(model, images) == labels).mean()),
        "int8_test_accuracy": quantize.evaluate(tflite, images, labels),
        "int8_bytes": len(tflite),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
