"""How the course makes its models, in one frozen place (notebooks/04_transfer_learning.ipynb, chapter 5's model).

A :class:`Recipe` holds every choice of one training run: the MobileNetV1 width and input, the backbone weights, the
two phases of transfer learning, the augmentation and the int8 calibration. Three are named:

* :data:`COURSE`: how the shipped course mask model was made (``tinymask/weights/README.md``; ``pipeline.RECIPE``);
* :data:`RUN`: what ``tinymask run`` (and :func:`tinymask.pipeline.run`) trains by default: the course recipe from
  ImageNet weights (README, command 1), which recognise real faces better than the shapes-pretrained backbone
  (``benchmarks/real_results.md``);
* :data:`CAMERA`: how the camera model the lab deploys was made, on real photos (``tinymask/weights/MODEL_CARD.md``;
  ``benchmarks/real_faces.py --train-camera-model``).

Change one with ``COURSE.replace(finetune_epochs=10)``; read one from JSON with ``Recipe.from_dict(mapping)``. Both
refuse a key that is not a field, so a misspelt setting is an error rather than silently ignored.
"""

import dataclasses
from types import MappingProxyType

from .errors import InputError, InputTypeError

__all__ = ["Augmentation", "Recipe", "COURSE", "RUN", "CAMERA", "BOARD"]

#: The board the course deploys to: ``tinymask run --board``'s default (``tinymask.memory.BOARDS`` lists the others).
BOARD = "openmv-h7"


def _unknown(cls, keys):
    """An InputError naming the keys that are not fields of ``cls``, and the ones that are."""
    known = [f.name for f in dataclasses.fields(cls)]
    bad = sorted(set(keys) - set(known))
    return InputError(f"{cls.__name__}: unknown setting(s) {', '.join(map(repr, bad))}; "
                      f"the known ones are {', '.join(known)}")


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The training augmentation's strengths, as :func:`tinymask.train.augmentation` takes them (chapter 2, 4)."""

    rotation: float = 0.05  # a fraction of a full turn
    zoom: float = 0.1
    contrast: float = 0.2
    brightness: float = 0.2

    @classmethod
    def from_dict(cls, mapping):
        """An Augmentation from ``{"rotation": ..., ...}``; an unknown key raises InputError naming it."""
        if isinstance(mapping, cls):
            return mapping
        if not hasattr(mapping, "keys"):
            raise InputTypeError(f"augmentation must be a mapping like {dataclasses.asdict(cls())}, "
                                 f"got {type(mapping).__name__}")
        if set(mapping) - {f.name for f in dataclasses.fields(cls)}:
            raise _unknown(cls, mapping)
        return cls(**mapping)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every setting of one training run (used by tinymask.pipeline, tinymask.cli and benchmarks/real_faces.py).

    The defaults are :data:`COURSE`'s. ``weights`` is what :func:`tinymask.models.mobilenet_v1` takes ("shipped",
    "auto", "imagenet", a path, or None for random). ``selection_fraction``: the share of the training images held
    out to choose the best epoch when the data has no validation split of its own (the camera model); None uses
    the data's validation split.
    """

    alpha: float = 0.25
    size: int = 96
    channels: int = 3
    weights: str | None = "shipped"
    head_epochs: int = 2
    finetune_epochs: int = 22
    lr: float = 1e-3
    finetune_lr: float = 3e-4
    batch_size: int = 64
    seed: int = 0
    augmentation: Augmentation = Augmentation()
    selection_fraction: float | None = None
    num_calibration: int = 500

    def __post_init__(self):
        object.__setattr__(self, "augmentation", Augmentation.from_dict(self.augmentation))
        checks = [
            (self.head_epochs >= 1, f"head_epochs={self.head_epochs}: epochs must be at least 1"),
            (self.finetune_epochs >= 0,
             f"finetune_epochs={self.finetune_epochs}: epochs must be at least 1 (0 skips fine-tuning)"),
            (self.channels in (1, 3), f"channels={self.channels!r}: use 3 (RGB) or 1 (grayscale)"),
            (self.batch_size >= 1, f"batch_size={self.batch_size}: give 1 or more images per batch"),
            (self.num_calibration >= 1, f"num_calibration={self.num_calibration}: give 1 or more images"),
            (self.selection_fraction is None or 0 < self.selection_fraction < 1,
             f"selection_fraction={self.selection_fraction}: give a fraction between 0 and 1, or None"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    @classmethod
    def from_dict(cls, mapping):
        """A Recipe from a mapping of settings (the missing ones are COURSE's); an unknown key raises InputError."""
        if set(mapping) - {f.name for f in dataclasses.fields(cls)}:
            raise _unknown(cls, mapping)
        return cls(**mapping)

    def replace(self, **changes):
        """A copy with ``changes`` (``COURSE.replace(weights="imagenet")``); an unknown key raises InputError."""
        if set(changes) - {f.name for f in dataclasses.fields(self)}:
            raise _unknown(type(self), changes)
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        """The settings as a plain dict (nested for ``augmentation``), as report and summary JSON files hold them."""
        return dataclasses.asdict(self)

    def view(self):
        """A read-only mapping of the settings (``pipeline.RECIPE``, which notebooks index: ``RECIPE["seed"]``)."""
        settings = self.as_dict()
        settings["augmentation"] = MappingProxyType(settings["augmentation"])
        return MappingProxyType(settings)


#: How the shipped course mask model was made: MobileNetV1 alpha 0.25 at 96x96 RGB from the shipped
#: (shapes-pretrained) backbone, two epochs of head training on the frozen backbone (Adam 1e-3), then 22 epochs
#: fine-tuning all of it with batch norm frozen (Adam 3e-4), batch 64, the course augmentation, and full-int8
#: conversion calibrated on 500 training images plus an all-black and an all-white one.
COURSE = Recipe()

#: What ``tinymask run`` trains by default (its options' defaults are these fields): the course recipe from ImageNet
#: weights ("auto": the Keras cache, else the copy tinymask ships for alpha 0.25).
RUN = COURSE.replace(weights="auto")

#: How the camera model was made: the course's architecture and two-phase transfer learning from Keras' ImageNet
#: weights, on real photos (``train/`` only: 85 % training, 15 % choosing the best epoch, stratified, seed 0), with
#: 3 head + 20 fine-tuning epochs and a stronger photometric augmentation (real photos vary more in lighting).
CAMERA = COURSE.replace(weights="imagenet", head_epochs=3, finetune_epochs=20, selection_fraction=0.15,
                        augmentation=Augmentation(rotation=0.05, zoom=0.15, contrast=0.3, brightness=0.3))
