"""The course in one function: data, transfer learning, int8, evaluation, footprint, bundle (notebooks/05, README).

:func:`run` is the one implementation of ``tinymask run``: it trains a :class:`tinymask.recipe.Recipe` on the
synthetic course splits or a user's folder, converts it to full int8, evaluates both on the test split (the camera
domain for the synthetic data), measures its footprint on a board and writes the model, a bundle for the camera and
``report.md`` / ``report.json`` to a folder, staged so that a failed run leaves nothing half-written. The shipped
models (:func:`course_model`, :func:`course_int8`, :func:`camera_int8`) and their recipes (:data:`RECIPE`) live
here too. ``python -m tinymask.pipeline --out DIR`` retrains the shipped mask model (tinymask/weights/README.md).
The report (:class:`Report`, :func:`report_markdown`, the worst subgroup gap) is :mod:`tinymask.report` and the safe
output folder (:func:`check_output`, :func:`staged_output`) is :mod:`tinymask.folders`; their names are re-exported
here, so ``pipeline.Report`` is ``report.Report``.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import data, deploy, footprint, memory, models, quantize, synth, train
from ._setup import import_keras, quiet_mode, setup
from .errors import InputError, NotAFolderError, OutputExistsError
from .folders import check_output, staged_output
from .recipe import BOARD, COURSE
from .report import SUBGROUP_ATTRIBUTES, Report, report_markdown, subgroup_gap

__all__ = [
    "RECIPE",
    "COURSE_WEIGHTS",
    "COURSE_INT8",
    "CAMERA_WEIGHTS",
    "CAMERA_INT8",
    "SUBGROUP_ATTRIBUTES",
    "to_channels",
    "course_data",
    "train_classifier",
    "save_weights",
    "course_model",
    "course_int8",
    "camera_int8",
    "check_output",
    "staged_output",
    "Report",
    "report_markdown",
    "run",
    "main",
]

#: The shipped course model's recipe, :data:`tinymask.recipe.COURSE`, as a read-only mapping (``RECIPE["seed"]``).
RECIPE = COURSE.view()

COURSE_WEIGHTS = models.WEIGHTS_DIR / "mask_mobilenet_v1_a0.25_96.weights.h5"
COURSE_INT8 = models.WEIGHTS_DIR / "mask_mobilenet_v1_a0.25_96_int8.tflite"
#: The camera model: the same architecture trained on real photos from ImageNet weights (tinymask/weights/
#: MODEL_CARD.md; made by ``benchmarks/real_faces.py --train-camera-model`` with :data:`tinymask.recipe.CAMERA`).
#: It is what the lab puts on the camera.
CAMERA_WEIGHTS = models.WEIGHTS_DIR / "mask_real_mobilenet_v1_a0.25_96.weights.h5"
CAMERA_INT8 = models.WEIGHTS_DIR / "mask_real_mobilenet_v1_a0.25_96_int8.tflite"


# --------------------------------------------------------------------------------------------- data
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
    """The train / validation / test splits as ``{name: Dataset}`` and the class names (notebooks 05, 06, 08).

    With no ``path`` they are the course's synthetic splits (studio-domain train and validation, camera-domain
    test, with their attributes) at ``size``; with ``path`` a user's folders, read by
    :func:`tinymask.data.load_split_folders` (a ``Train|Validation|Test`` layout) or, for a plain
    ``class_name/*.jpg`` folder, :func:`tinymask.data.load_folder` split 70/15/15 with stratification.
    ``splits["test"].images`` and ``.labels`` are the arrays; ``train.fit`` takes the Datasets as they are.
    """
    if path is None:
        splits = synth.course_splits(size=size)
        out = {name: dataclasses.replace(d, images=to_channels(d.images, channels)) for name, d in splits.items()}
        return {name: out[name] for name in ("train", "validation", "test")}, tuple(out["train"].classes)
    path = Path(path)
    try:
        out = data.load_split_folders(path, size=size, channels=channels)
    except data.NoSplitFoldersError:  # no Train/Validation/Test folders: a plain class_name/*.png folder
        out = {"pool": data.load_folder(path, size=size, channels=channels)}
        missing = ("train", "validation", "test")
    else:
        if "train" not in out:
            raise InputError(f"{path}: has {sorted(out)} split folders but no Train/; add {path}/Train/<class>/")
        missing = tuple(name for name in ("validation", "test") if name not in out)
        if missing:  # split Train/ into what is missing
            out["pool"], missing = out.pop("train"), ("train", *missing)
    if missing:
        pool = out.pop("pool")
        fractions = {3: (0.7, 0.15, 0.15), 2: (0.85, 0.15)}[len(missing)]
        for name, idx in zip(missing, data.split(pool.labels, fractions=fractions, seed=0)):
            if len(idx) == 0 or len(np.unique(pool.labels[idx])) < len(pool.classes):
                raise InputError(f"{path}: too few images to make a {name} split with every class "
                                 f"({len(pool)} images for {len(pool.classes)} classes); add images")
            out[name] = pool.subset(idx)
    return {name: out[name] for name in ("train", "validation", "test")}, tuple(out["train"].classes)


# --------------------------------------------------------------------------------------------- training
def train_classifier(splits, classes, recipe=None, *, callbacks=(), verbose=0, **changes):
    """A MobileNetV1 classifier trained on ``splits["train"]`` with ``recipe`` (default :data:`COURSE`; keyword
    ``changes`` replace its fields, and an unknown one raises InputError). Used by :func:`run` and the benchmarks.

    From pretrained weights: :func:`tinymask.train.transfer_learn`. From random init (no weights for this alpha):
    :func:`tinymask.train.fit` for ``head_epochs + finetune_epochs`` epochs, everything trainable (a frozen random
    backbone, or frozen batch norm with untrained statistics, would learn nothing).
    """
    r = (COURSE if recipe is None else recipe).replace(**changes)
    model = models.mobilenet_v1(alpha=r.alpha, input_size=r.size, channels=r.channels, num_classes=len(classes),
                                weights=r.weights)
    common = {"lr": r.lr, "batch_size": r.batch_size, "seed": r.seed, "callbacks": callbacks, "verbose": verbose,
              "augment": train.augmentation(seed=r.seed, **dataclasses.asdict(r.augmentation))}
    if model.weights_source == "random":
        train.fit(model, splits["train"], splits["validation"], epochs=r.head_epochs + r.finetune_epochs, **common)
    else:
        train.transfer_learn(model, splits["train"], splits["validation"], head_epochs=r.head_epochs,
                             finetune_epochs=r.finetune_epochs, finetune_lr=r.finetune_lr, **common)
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
    return models.mobilenet_v1(alpha=COURSE.alpha, input_size=COURSE.size, channels=COURSE.channels,
                               num_classes=2, weights=str(COURSE_WEIGHTS))


def course_int8():
    """The shipped mask model's full-int8 ``.tflite`` bytes (what ``to_int8(course_model(), ...)`` produced)."""
    return COURSE_INT8.read_bytes()


def camera_int8():
    """The camera model's full-int8 ``.tflite`` bytes: trained on real photos (``tinymask/weights/MODEL_CARD.md``),
    what chapter 7 exports for the lab (introduced in notebooks/07_openmv_deployment.ipynb)."""
    return CAMERA_INT8.read_bytes()


# --------------------------------------------------------------------------------------------- the run
def _epoch_bar(total, description, show):
    """A Keras callback that advances a tqdm bar once per epoch (when ``show``, and not under TINYMASK_QUIET)."""
    from tqdm.auto import tqdm

    keras = import_keras()
    bar = tqdm(total=total, desc=description, unit="epoch", disable=quiet_mode() or not show, file=sys.stdout)

    class EpochBar(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            bar.set_postfix(val_accuracy=f"{logs.get('val_accuracy', float('nan')):.3f}")
            bar.update(1)

    return EpochBar(), bar


def _load(recipe, data_path, limit, say):
    """Step 1 of :func:`run`: the splits (Datasets) and the class names."""
    say(f"[1/6] data: {'folders under ' + str(data_path) if data_path else 'the synthetic course splits'}"
        f" at {recipe.size}x{recipe.size}, {'grayscale' if recipe.channels == 1 else 'RGB'}")
    splits, classes = course_data(size=recipe.size, channels=recipe.channels, path=data_path or None)
    if limit:
        splits["train"] = splits["train"].subset(slice(0, limit))
    say(f"      train {len(splits['train'])}, validation {len(splits['validation'])}, "
        f"test {len(splits['test'])} images; classes {', '.join(classes)}")
    return splits, classes


def run(recipe, data, out, *, force=False, board=BOARD, ops_per_s=None, limit=0, verbose=True):
    """Train ``recipe`` on ``data``, convert it to int8, evaluate, measure and write ``out``; returns a Report.

    ``recipe``: a :class:`tinymask.recipe.Recipe` (``recipe.RUN``: what ``tinymask run`` trains by default).
    ``data``: None for the synthetic course splits (studio train and validation, camera-domain test), or a user's
    folder (:func:`course_data`). ``out`` gets ``model_int8.tflite``, ``model.weights.h5``, ``openmv/`` (the bundle,
    when the model fits ``board``), ``openmv.zip``, ``report.md`` and ``report.json``; a non-empty ``out`` is
    refused unless ``force``, and is only replaced once the new folder is complete (:func:`staged_output`).
    ``limit``: use at most this many training images (0: all). ``verbose``: print one line per step and an epoch
    bar. The one implementation of ``tinymask run`` (README, command 1).
    """
    say = (lambda text: print(text, flush=True)) if verbose else (lambda text: None)
    out = check_output(out, force=force)
    start = time.perf_counter()
    target = memory.board(board)
    ops_per_s = footprint.DEFAULT_OPS_PER_S if ops_per_s is None else ops_per_s
    setup(seed=recipe.seed)
    splits, classes = _load(recipe, data, limit, say)

    say(f"[2/6] training MobileNetV1 alpha {recipe.alpha:g}: {recipe.head_epochs} head + {recipe.finetune_epochs} "
        "fine-tuning epochs")
    callback, bar = _epoch_bar(recipe.head_epochs + recipe.finetune_epochs, "training", verbose)
    try:
        model = train_classifier(splits, classes, recipe, callbacks=[callback], verbose=0)  # the bar reports
    finally:
        bar.close()

    say(f"[3/6] full-int8 conversion ({recipe.num_calibration} calibration images)")
    tflite = quantize.to_int8(model, splits["train"].images, num_calibration=recipe.num_calibration,
                              seed=recipe.seed)

    say("[4/6] evaluating on the test split (camera domain for the synthetic data)")
    images, labels = splits["test"].images, splits["test"].labels
    keras_pred = train.predict_labels(model, images)
    int8_pred = quantize.predict_labels(tflite, images)
    accuracy = {"float": float((keras_pred == labels).mean()), "int8": float((int8_pred == labels).mean()),
                "agreement": float((int8_pred == keras_pred).mean()), "test_images": int(len(labels)),
                "int8_confusion": train.confusion_matrix(labels, int8_pred, len(classes)).tolist()}
    say(f"      float {accuracy['float']:.2%}, int8 {accuracy['int8']:.2%}, agreement {accuracy['agreement']:.2%}")

    say(f"[5/6] footprint on {target.name}")
    summary = footprint.describe(tflite)
    figure = summary["arena_figure"]
    arena_bytes = figure.bytes
    arena_source = "measured with TFLite Micro" if figure.measured else f"greedy estimate; {figure.note}"
    fit = footprint.fits_board(tflite, target, arena_bytes)
    n_macs = footprint.macs(tflite)
    latency = footprint.latency_estimate(n_macs, ops_per_s)
    say(f"      flash {len(tflite):,} B, arena {arena_bytes:,} B, {latency.seconds * 1000:.1f} ms estimated; "
        f"{'fits' if fit.fits else 'does NOT fit'}")

    say(f"[6/6] writing {out}")
    figures = {
        "config": {"alpha": recipe.alpha, "size": recipe.size, "channels": recipe.channels,
                   "epochs": recipe.finetune_epochs, "head_epochs": recipe.head_epochs,
                   "data": str(data) if data else "synthetic", "weights": getattr(model, "weights_source", None),
                   "seed": recipe.seed, "calibration": recipe.num_calibration},
        "classes": list(classes),
        "accuracy": accuracy,
        "footprint": {"flash_bytes": len(tflite), "arena_bytes": int(arena_bytes), "arena_source": arena_source,
                      "lower_bound_bytes": summary["lower_bound_bytes"],
                      "greedy_estimate_bytes": summary["greedy_estimate_bytes"], "macs": n_macs,
                      "latency_ms": latency.seconds * 1000, "fps": latency.fps, "ops_per_s": latency.ops_per_s,
                      "operators": summary["operators"]},
        "board": {"key": board, "name": target.name, "fits": bool(fit.fits), "model": str(fit.model),
                  "arena": str(fit.arena)},
        "subgroup_gap": subgroup_gap(splits["test"], int8_pred),
        "bundle": None,
    }
    with staged_output(out, force=force) as stage:
        (stage / "model_int8.tflite").write_bytes(tflite)
        save_weights(model, stage / "model.weights.h5")
        if fit.fits:
            bundle = deploy.export_bundle(tflite, classes, stage / "openmv", board=target.key,
                                          arena_bytes=arena_bytes)
            figures["bundle"] = {"folder": "openmv", "zip": bundle.zip_path.name,
                                 "files": {name: int(size) for name, size in bundle.sizes.items()}}
        figures["seconds"] = round(time.perf_counter() - start, 1)
        (stage / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
        (stage / "report.md").write_text(report_markdown(figures))
    say(f"done in {figures['seconds']:.0f} s: {out}/report.md" + (f", bundle {out}/openmv/" if fit.fits else ""))
    return Report(out=out, figures=figures, model=model, tflite=tflite, fit=fit)


def main(argv=None):
    """``python -m tinymask.pipeline --out DIR``: :func:`run` with :data:`RECIPE`, its weights and int8 .tflite named as
    in tinymask/weights/, and its figures printed as JSON (how tinymask/weights/README.md remakes the shipped model)."""
    parser = argparse.ArgumentParser(prog="python -m tinymask.pipeline",
                                     description="Retrain the course's mask model with RECIPE and write its weights "
                                                 "and int8 .tflite (with a report and a bundle) to --out.")
    parser.add_argument("--out", required=True, help="a new or empty folder for the files")
    args = parser.parse_args(argv)
    try:
        report = run(COURSE, None, args.out)
    except OutputExistsError:
        parser.error(f"{args.out} is not empty: pick a new folder (nothing is overwritten)")
    except NotAFolderError as error:
        parser.error(str(error))
    out = report.out
    (out / "model.weights.h5").rename(out / COURSE_WEIGHTS.name)
    (out / "model_int8.tflite").rename(out / COURSE_INT8.name)
    accuracy = report.figures["accuracy"]
    print(json.dumps({"seconds": report.figures["seconds"], "float_test_accuracy": accuracy["float"],
                      "int8_test_accuracy": accuracy["int8"], "int8_bytes": len(report.tflite)}, indent=2))


if __name__ == "__main__":
    main()
