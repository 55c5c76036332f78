"""Transfer learning recipes and the metrics the course reports (introduced in notebooks/04_transfer_learning.ipynb)."""

import numpy as np

from ._setup import import_keras, import_tensorflow
from .dataset import images_and_labels, labels_from_scores, to_model_input
from .errors import InputError, is_int
from .recipe import COURSE

__all__ = [
    "fit",
    "transfer_learn",
    "predict_labels",
    "to_model_input",
    "augmentation",
    "confusion_matrix",
    "classification_report",
    "format_report",
    "subgroup_accuracy",
    "worst_subgroup_gap",
]


def _best_weights_callback():
    """A callback that keeps the weights of the epoch with the best validation accuracy and restores them at the end."""
    keras = import_keras()

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.weights, self.best_epoch = -np.inf, None, None

        def on_epoch_end(self, epoch, logs=None):
            score = (logs or {}).get("val_accuracy")
            if score is not None and score > self.best:
                self.best, self.best_epoch, self.weights = score, epoch, self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return BestWeights()


def _build_training_state(model, image, label):
    """Create the optimizer's and the metrics' variables of a compiled model before ``fit``.

    Without it Keras (3.x on TensorFlow, no distribution strategy) creates them while tracing the first training
    step, and TensorFlow then traces that step a second time without them: about 7 s more per ``fit`` of
    MobileNetV1 on a 2-core CPU. The trained weights are the same bit for bit (``tests/test_train.py``)."""
    model.optimizer.build(model.trainable_variables)
    sample = to_model_input(image)
    model.compute_metrics(sample, label, model(sample, training=False))
    model.reset_metrics()


def augmentation(seed=COURSE.seed, rotation=COURSE.augmentation.rotation, zoom=COURSE.augmentation.zoom,
                 contrast=COURSE.augmentation.contrast, brightness=COURSE.augmentation.brightness):
    """Random flips, small rotations and zooms, contrast and brightness, as Keras layers on [0, 1] images.

    The defaults are the course recipe's (``tinymask.recipe.COURSE.augmentation``)."""
    keras = import_keras()
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=seed + 1),
        keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomContrast(contrast, seed=seed + 3),
        keras.layers.RandomBrightness(brightness, value_range=(0.0, 1.0), seed=seed + 4),
    ], name="augmentation")


def tf_dataset(images, labels, batch_size, shuffle, seed, augment):
    """A batched ``tf.data`` pipeline of (pixel / 255, label), shuffled with ``seed`` and augmented when asked."""
    tf = import_tensorflow()
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(images), np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (to_model_input(x), y))
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y))
    return ds.prefetch(2)


def fit(model, train, val, *, epochs=10, lr=COURSE.lr, batch_size=COURSE.batch_size, seed=COURSE.seed, augment=None,
        plateau_patience=5, verbose=0, callbacks=()):
    """The course's recipe: Adam, ReduceLROnPlateau (factor 0.2, patience 5), best-validation-accuracy weights kept.

    ``train`` and ``val`` are Datasets (``synth.generate``, ``data.load_folder``, ``pipeline.course_data``) or
    ``(images, labels)`` pairs of uint8 images and integer labels (fed to the model as pixel / 255); ``augment`` is
    an optional Keras layer (or Sequential of layers) applied to training batches only.
    A model ending in one sigmoid unit is trained with binary cross-entropy. Returns the Keras history dict with
    ``best_epoch`` (1-based) added. Silent by default (``verbose=2``: one line per epoch), so what a notebook cell
    prints does not depend on the machine, the runner or its environment.
    """
    keras = import_keras()
    (x, y), (xv, yv) = images_and_labels(train, "train"), images_and_labels(val, "val")
    if len(x) != len(y) or len(xv) != len(yv):
        raise InputError(f"images and labels differ in length: train {len(x)} vs {len(y)}, val {len(xv)} vs {len(yv)}")
    if epochs < 1:
        raise InputError(f"epochs must be at least 1, got {epochs}")
    # one sigmoid unit (the tiny CNN): binary cross-entropy; a softmax over classes: sparse categorical
    loss = "binary_crossentropy" if model.output_shape[-1] == 1 else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=["accuracy"])
    _build_training_state(model, x[:1], y[:1])
    best = _best_weights_callback()
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=plateau_patience)
    history = model.fit(
        tf_dataset(x, y, batch_size, True, seed, augment),
        validation_data=tf_dataset(xv, yv, 256, False, seed, None),
        epochs=epochs, callbacks=[best, plateau, *callbacks], verbose=verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    result = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    result["best_epoch"] = None if best.best_epoch is None else best.best_epoch + 1
    return result


def transfer_learn(model, train, val, *, head_epochs=COURSE.head_epochs, finetune_epochs=COURSE.finetune_epochs,
                   finetune_from=0, lr=COURSE.lr, finetune_lr=COURSE.finetune_lr, batch_size=COURSE.batch_size,
                   seed=COURSE.seed, augment=None, callbacks=(), verbose=0):
    """Two phases: train the head on a frozen backbone, then fine-tune the backbone at a lower learning rate.

    The defaults are the course recipe's (:data:`tinymask.recipe.COURSE`: 2 head + 22 fine-tuning epochs);
    ``train`` and ``val`` are Datasets or ``(images, labels)`` pairs, as for :func:`fit`.

    ``model.get_layer("backbone")`` is the backbone. ``finetune_from`` is the index of the first backbone layer to
    unfreeze: 0 (the default) fine-tunes all of it, ``len(backbone.layers) * 2 // 3`` only its top third.
    Batch-norm layers stay frozen, so their statistics are kept. Returns ``{"head": history, "finetune": history}``,
    without the phase that ran no epoch: ``finetune_epochs=0`` trains the head alone, ``head_epochs=0`` fine-tunes
    a model whose head is trained already (chapter 4 measures the model between its two phases that way).
    """
    for name, value in (("head_epochs", head_epochs), ("finetune_epochs", finetune_epochs)):
        if not is_int(value) or value < 0:
            raise InputError(f"{name} must be a whole number of epochs >= 0, got {value!r}")
    if not head_epochs and not finetune_epochs:
        raise InputError("head_epochs and finetune_epochs are both 0: nothing to train")
    backbone = model.get_layer("backbone")
    backbone.trainable = False
    histories = {}
    if head_epochs:
        histories["head"] = fit(model, train, val, epochs=head_epochs, lr=lr, batch_size=batch_size, seed=seed,
                                augment=augment, callbacks=callbacks, verbose=verbose)
    if finetune_epochs:
        start = finetune_from
        if not 0 <= start < len(backbone.layers):
            raise InputError(f"finetune_from={start} is not a layer index of the backbone "
                             f"(0..{len(backbone.layers) - 1})")
        backbone.trainable = True
        for i, layer in enumerate(backbone.layers):
            layer.trainable = i >= start and layer.__class__.__name__ != "BatchNormalization"
        histories["finetune"] = fit(model, train, val, epochs=finetune_epochs, lr=finetune_lr,
                                    batch_size=batch_size, seed=seed, augment=augment, callbacks=callbacks,
                                    verbose=verbose)
    return histories


def predict_labels(model, images, batch_size=256):
    """Class indexes a Keras model predicts for uint8 images (softmax over classes, or one sigmoid unit)."""
    return labels_from_scores(model.predict(to_model_input(images), batch_size=batch_size, verbose=0))


def confusion_matrix(y_true, y_pred, num_classes):
    """``m[i, j]``: how many images of class i were predicted as class j."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise InputError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def classification_report(y_true, y_pred, classes):
    """Accuracy and, per class, precision, recall, F1 and support (the structure of the paper's tables)."""
    m = confusion_matrix(y_true, y_pred, len(classes))
    report = {"accuracy": float(np.trace(m) / m.sum()), "classes": {}}
    for k, name in enumerate(classes):
        tp, predicted, actual = m[k, k], m[:, k].sum(), m[k, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report["classes"][name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                                   "support": int(actual)}
    return report


def format_report(report):
    """The report as a small text table."""
    lines = [f"{'class':16s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'support':>8s}"]
    for name, r in report["classes"].items():
        lines.append(f"{name:16s} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} {r['support']:8d}")
    lines.append(f"{'accuracy':16s} {report['accuracy']:9.3f}")
    return "\n".join(lines)


def subgroup_accuracy(y_true, y_pred, groups):
    """Accuracy for each value of an attribute (e.g. skin tone): ``{value: (accuracy, count)}``."""
    y_true, y_pred, groups = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups)
    if not len(y_true) == len(y_pred) == len(groups):
        raise InputError(f"lengths differ: {len(y_true)} labels, {len(y_pred)} predictions, {len(groups)} groups")
    out = {}
    for value in np.unique(groups):
        rows = groups == value
        out[value.item() if hasattr(value, "item") else value] = (float((y_true[rows] == y_pred[rows]).mean()),
                                                                  int(rows.sum()))
    return out


def worst_subgroup_gap(by_group):
    """The fairness figure: best minus worst subgroup accuracy, with the two subgroups named."""
    ranked = sorted(by_group.items(), key=lambda kv: kv[1][0])
    (worst, (w_acc, _)), (best, (b_acc, _)) = ranked[0], ranked[-1]
    return b_acc - w_acc, best, worst
