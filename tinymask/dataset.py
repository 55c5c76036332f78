"""The one labelled-image container of the course (introduced in notebooks/02_dataset.ipynb).

The generator (``synth.generate``, where it is also called ``synth.Batch``) and the folder loaders
(``data.load_folder``, where it is also ``data.Dataset``) both return a :class:`Dataset`: uint8 images, integer labels
that index ``classes``, and what else is known about each image (the file it was read from, the generator's
attributes). Beside it are the two conventions every model of the course shares: what goes in
(:func:`to_model_input`, pixel / 255) and how labels come out of scores (:func:`labels_from_scores`). It imports only
numpy; TensorFlow is imported by :meth:`Dataset.to_tf` alone.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

import numpy as np

from .errors import InputError, InputTypeError

__all__ = ["Dataset", "to_model_input", "labels_from_scores", "images_and_labels"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images with labels (notebooks/02_dataset.ipynb; returned by ``synth.generate`` and ``data.load_folder``).

    ``images[i]`` is a uint8 (size, size, channels) image whose label ``labels[i]`` indexes ``classes``. Loaded
    from a folder, ``files[i]`` is its path relative to that folder and ``skipped`` lists the files that could not
    be decoded, as (path, reason); generated, ``attributes[name][i]`` is one of ``synth.ATTRIBUTES`` and ``domain``
    is "studio" or "camera". Rows are picked with :meth:`subset`, fed to Keras with :meth:`to_tf`.
    """

    images: np.ndarray  # uint8, (n, size, size, channels)
    labels: np.ndarray  # int64, (n,)
    classes: tuple  # class names; labels index them
    _: KW_ONLY
    files: tuple = ()  # paths relative to the folder that was loaded, with "/" separators; () when generated
    skipped: tuple = ()  # (relative path, reason) for every file that could not be decoded
    attributes: dict = field(default_factory=dict)  # name -> (n,) array of per-image values; {} when loaded
    domain: str | None = None  # the generator's domain, "studio" or "camera"; None when loaded

    def __post_init__(self):
        n = len(self.labels)
        problems = [f"{len(self.images)} images" if len(self.images) != n else "",
                    f"{len(self.files)} files" if self.files and len(self.files) != n else ""]
        problems += [f"{len(v)} values of attribute {k!r}" for k, v in self.attributes.items() if len(v) != n]
        problems = [p for p in problems if p]
        if problems:
            raise InputError(f"a Dataset needs one entry per label: {n} labels but {', '.join(problems)}; "
                             f"pass arrays of the same length")

    def __len__(self):
        """Number of images."""
        return len(self.labels)

    def __repr__(self):
        shape = "x".join(str(d) for d in self.images.shape[1:])
        extra = [f"domain={self.domain!r}"] if self.domain is not None else []
        if self.domain is None or self.skipped:
            extra.append(f"skipped={len(self.skipped)}")
        return f"Dataset({len(self)} images of {shape}, classes={self.classes}, {', '.join(extra)})"

    def subset(self, indices) -> Dataset:
        """The rows picked by an index array or list, a boolean mask, a slice or one index, as a new Dataset
        (e.g. from ``data.split`` or ``data.oversample``); files and attributes follow their rows, skipped is kept."""
        rows = np.atleast_1d(np.arange(len(self))[indices])
        return Dataset(self.images[rows], self.labels[rows], self.classes,
                       files=tuple(self.files[i] for i in rows) if self.files else (), skipped=self.skipped,
                       attributes={k: v[rows] for k, v in self.attributes.items()}, domain=self.domain)

    def to_tf(self, batch_size=32, shuffle=False, seed=0):
        """A batched ``tf.data.Dataset`` of (float32 image scaled to [0, 1], int64 label)."""
        if int(batch_size) < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        from ._setup import import_tensorflow

        tf = import_tensorflow()
        ds = tf.data.Dataset.from_tensor_slices((self.images, self.labels))
        if shuffle:
            ds = ds.shuffle(max(len(self), 1), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(int(batch_size))
        ds = ds.map(lambda x, y: (to_model_input(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)


def to_model_input(images):
    """uint8 pixels -> the float32 [0, 1] images the course's models take, pixel / 255; floats pass unchanged
    (notebooks/04_transfer_learning.ipynb). Takes a NumPy array, or a TensorFlow tensor inside a ``tf.data``
    pipeline (:meth:`Dataset.to_tf`, ``train.fit``, ``pretrain``); ``train.to_model_input`` is this function."""
    if type(images).__module__.startswith("tensorflow"):  # a tensor: TensorFlow is already imported
        import tensorflow as tf

        return tf.cast(images, tf.float32) / 255.0 if images.dtype == tf.uint8 else images
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


def labels_from_scores(scores):
    """Class indexes from model scores (n, outputs): the arg-max, or score >= 0.5 for one sigmoid output (the tiny
    CNN). Used by ``train.predict_labels``, ``runner.predict_labels`` and the emulator's ``FrameRecord.predicted``."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] == 1:
        return (scores[:, 0] >= 0.5).astype(np.int64)
    return scores.argmax(axis=-1).astype(np.int64)


def images_and_labels(data, name="data"):
    """``(images, labels)`` of a :class:`Dataset` or of an ``(images, labels)`` pair, so that ``train.fit`` and
    ``train.transfer_learn`` take either (``name`` names the argument in the error)."""
    if isinstance(data, Dataset):
        return data.images, data.labels
    try:
        images, labels = data
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a Dataset or an (images, labels) pair, got {type(data).__name__}; "
                             "pass e.g. synth.generate(200) or (images, labels)") from None
    return images, labels
