"""MobileNetV1 with a width multiplier (introduced in notebooks/03_mobilenet_alpha.ipynb) and the paper's tiny CNN
(notebooks/06_on_device_budget.ipynb).

Where the weights come from (the Keras cache, the copies tinymask ships, downloads, checksums) is
:mod:`tinymask.weight_files`; its public names are re-exported here (``models.WEIGHTS_DIR``, ...).
"""

from ._setup import import_keras
from .errors import InputError, is_int, is_number
from .weight_files import (
    BACKBONE,
    IMAGENET_ALPHAS,
    IMAGENET_SHA256,
    IMAGENET_SIZES,
    OFFLINE_ENV,
    SHIPPED_IMAGENET,
    WEIGHTS_DIR,
    check_alpha,
    check_weights,
    imagenet_weights_path,
    keras_backbone,
    load_weights,
    shipped_backbone_path,
    shipped_imagenet_path,
)

__all__ = [
    "IMAGENET_ALPHAS",
    "IMAGENET_SIZES",
    "IMAGENET_SHA256",
    "SHIPPED_IMAGENET",
    "OFFLINE_ENV",
    "WEIGHTS_DIR",
    "mobilenet_v1",
    "backbone_of",
    "shipped_backbone_path",
    "imagenet_weights_path",
    "shipped_imagenet_path",
    "tiny_cnn",
]


# --------------------------------------------------------------------------------------------- validation
def _check_int(name, value, low, hint):
    if not is_int(value) or value < low:
        raise InputError(f"{name} must be an int >= {low} ({hint}), got {value!r}")
    return value


def _check_channels(channels):
    if isinstance(channels, bool) or channels not in (1, 3):
        raise InputError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    return int(channels)


def _check_dropout(dropout):
    if not is_number(dropout) or not 0.0 <= dropout < 1.0:
        raise InputError(f"dropout must be a rate in [0, 1), got {dropout!r}")
    return float(dropout)



# --------------------------------------------------------------------------------------------- building
def mobilenet_v1(alpha=0.25, input_size=96, channels=3, num_classes=2, weights="auto", dropout=0.2, name=None):
    """MobileNetV1 classifier: Keras' no-top MobileNet as a sub-model named ``"backbone"``, then global average
    pooling, dropout and a softmax ``Dense(num_classes)``.

    Inputs are float images in [0, 1] (what ``Dataset.to_tf`` yields); the first layer rescales them to the
    [-1, 1] that MobileNet's ImageNet weights expect. Any alpha from 0.1 to 1.0 builds.

    ``weights`` is resolved in this order, and the result is printed as one ``weights: ...`` line and stored in
    ``model.weights_source`` (``"file"``, ``"imagenet"``, ``"shipped"`` or ``"random"``) and ``model.weights_path``:

    * a path: a ``.weights.h5`` file saved from a model of this architecture (``model.save_weights``) or from its
      backbone (``backbone_of(model).save_weights``), or a Keras MobileNet no-top ``.h5`` file; an RGB backbone
      file also loads into a grayscale model.
    * ``"imagenet"`` or ``"auto"``: Keras' ImageNet weights (alpha 0.25, 0.5, 0.75 or 1.0), found in this order:
      the Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``); the copy tinymask ships (alpha 0.25 only,
      Keras' 224 file, checked against its sha256; see ``tinymask/weights/README.md``); for the other alphas only,
      a download with a short timeout, not tried with ``TINYMASK_OFFLINE=1``. Sizes without their own file use the
      224 weights, as Keras does. A file whose sha256 is known and wrong is an error. The printed line names the
      file and its sha256, not where it was found, so the same bytes print the same line on every machine.
      ``"imagenet"`` raises if the weights cannot be had.
    * ``"auto"`` only, when ImageNet is out of reach (alpha 0.5, 0.75, 1.0 offline, or alphas Keras has no
      weights for): the backbone this project ships for that alpha (pretrained on procedural shapes), else random
      init with a notice.
    * ``"shipped"``: the shapes-pretrained backbone, whatever the Keras cache holds (the same output on every
      machine; ``tinymask.pipeline.RECIPE`` uses it).
    * ``None``: random init, silently.

    For ``channels=1`` an RGB backbone's first convolution kernels are summed over the colour axis.
    """
    alpha = check_alpha(alpha)
    _check_int("input_size", input_size, 32, "the square input side in pixels; Keras' MobileNet needs 32 or more")
    channels = _check_channels(channels)
    _check_int("num_classes", num_classes, 2, "a softmax classifier needs two classes or more")
    dropout = _check_dropout(dropout)
    check_weights(weights, alpha)

    keras = import_keras()
    Input, Model, layers = keras.Input, keras.Model, keras.layers

    backbone = keras_backbone(alpha, input_size, channels)
    inputs = Input((input_size, input_size, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)  # [0, 1] -> [-1, 1]
    x = backbone(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    model = Model(inputs, outputs, name=name or f"mobilenet_v1_a{alpha:g}_{input_size}")

    source, path, line = load_weights(model, backbone, weights, alpha, input_size)
    model.weights_source = source
    model.weights_path = None if path is None else str(path)
    if line is not None:
        print(line)
    return model


def backbone_of(model):
    """The MobileNet sub-model named ``"backbone"`` (freeze it with ``backbone_of(model).trainable = False``)."""
    try:
        return model.get_layer(BACKBONE)
    except ValueError:
        raise InputError(
            f"model {getattr(model, 'name', model)!r} has no sub-model named {BACKBONE!r}; "
            "pass a model built by tinymask.models.mobilenet_v1"
        ) from None


# --------------------------------------------------------------------------------------------- the paper's CNN
def tiny_cnn(input_size=32, channels=3, dropout=0.2, name="tiny_cnn"):
    """The tiny CNN of Mohan, Paul and Chirania (2021), "A Tiny CNN Architecture for Medical Face Mask Detection
    for Resource-Constrained Endpoints" (arXiv:2011.14858): 128,193 trainable parameters at 32x32x3.

    Layers (3x3 convolutions with "valid" padding and ReLU, 2x2 max pooling, dropout after every layer)::

        input 32x32x3
        Conv 3x3, 32  -> 30x30x32  (896)      MaxPool -> 15x15x32   Dropout
        Conv 3x3, 64  -> 13x13x64  (18,496)   MaxPool ->  6x6x64    Dropout
        Conv 3x3, 128 ->  4x4x128  (73,856)   MaxPool ->  2x2x128   Dropout
        Flatten -> 512
        Dense 64, ReLU   (32,832)   Dropout
        Dense 32, ReLU   (2,080)    Dropout
        Dense 1, sigmoid (33)                                        total 128,193

    From the paper: the 32x32x3 input, 3x3 convolutions with max pooling, dropout after every layer, dense
    layers ending in a single sigmoid unit (mask / no mask), and the total of 128,193 trainable parameters.
    Reconstructed here, because the paper could not be checked offline: the exact filter counts (32, 64, 128),
    the dense widths (64, 32), "valid" padding and ReLU activations. Of the plausible stacks of 3x3 convolutions,
    2x2 pools and dense layers searched, this doubling stack is the simplest that gives exactly 128,193.
    ``dropout`` is the rate used after every layer (the paper's rate is not reproduced here); ``input_size``
    other than 32 changes the flattened width and so the parameter count.
    """
    _check_int("input_size", input_size, 22, "the square input side in pixels; the paper uses 32")
    channels = _check_channels(channels)
    dropout = _check_dropout(dropout)

    keras = import_keras()
    Input, Sequential, layers = keras.Input, keras.Sequential, keras.layers

    stack = [Input((input_size, input_size, channels), name="image")]
    for i, filters in enumerate((32, 64, 128), start=1):
        stack += [
            layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}"),
            layers.MaxPooling2D(2, name=f"pool{i}"),
            layers.Dropout(dropout, name=f"drop{i}"),
        ]
    stack.append(layers.Flatten(name="flatten"))
    for i, units in enumerate((64, 32), start=4):
        stack.append(layers.Dense(units, activation="relu", name=f"dense{i - 3}"))
        stack.append(layers.Dropout(dropout, name=f"drop{i}"))
    stack.append(layers.Dense(1, activation="sigmoid", name="mask"))
    return Sequential(stack, name=name)

