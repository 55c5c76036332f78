"""MobileNetV1 with a width multiplier, weight resolution and the paper's tiny CNN (introduced in notebooks/03_mobilenet_alpha.ipynb)."""

import hashlib
import math
import os
import socket
import warnings
from pathlib import Path

from ._setup import import_keras
from .errors import InputError, MissingPathError, ToolError

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

#: Width multipliers Keras publishes ImageNet weights for.
IMAGENET_ALPHAS = (0.25, 0.5, 0.75, 1.0)
#: Input sizes Keras publishes ImageNet weights for; any other size loads the 224 weights, as Keras does.
IMAGENET_SIZES = (128, 160, 192, 224)
#: Set to 1 and ``weights="auto"`` never touches the network (the tests and notebooks set it).
OFFLINE_ENV = "TINYMASK_OFFLINE"
#: The folder of the backbones this project ships (see its README.md for their provenance).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Keras' ImageNet no-top files this project ships, by alpha (Apache-2.0, see weights/LICENSE-imagenet-weights.txt).
#: Each is the 224 file, which Keras itself loads at any input size other than 128/160/192/224.
SHIPPED_IMAGENET = {0.25: WEIGHTS_DIR / "mobilenet_2_5_224_tf_no_top.h5"}
#: sha256 of Keras' ImageNet files, by file name; Keras publishes none, so only the shipped file's is known.
IMAGENET_SHA256 = {"mobilenet_2_5_224_tf_no_top.h5": "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf"}

_IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}  # Keras' file-name spelling of alpha
_DOWNLOAD_TIMEOUT_S = 5.0
_BACKBONE = "backbone"


# --------------------------------------------------------------------------------------------- validation
def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.1 <= alpha <= 1.0:
        raise InputError(f"alpha must be a number from 0.1 to 1.0 (the MobileNetV1 width multiplier), got {alpha!r}")
    return float(alpha)


def _check_int(name, value, low, hint):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{name} must be an int >= {low} ({hint}), got {value!r}")
    return value


def _check_channels(channels):
    if isinstance(channels, bool) or channels not in (1, 3):
        raise InputError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    return int(channels)


def _check_dropout(dropout):
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise InputError(f"dropout must be a rate in [0, 1), got {dropout!r}")
    return float(dropout)


def _imagenet_alpha(alpha):
    for known in IMAGENET_ALPHAS:
        if math.isclose(alpha, known):
            return known
    return None


def _offline():
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0", "false", "False")


def _alpha_name(alpha):
    return f"{alpha:g}"


# --------------------------------------------------------------------------------------------- weight files
def _keras_home():
    """Keras' cache folder, resolved now (Keras reads ``KERAS_HOME`` once, when it is imported)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    base = Path(os.path.expanduser("~"))
    if not os.access(base, os.W_OK):
        base = Path("/tmp")
    return base / ".keras"


def imagenet_weights_path(alpha=0.25, input_size=224):
    """Where Keras caches the no-top ImageNet MobileNetV1 weights for this alpha and input size.

    Returns ``(path, url)``; sizes other than 128/160/192/224 use the 224 file, as Keras does.
    The file exists only once downloaded (``~/.keras/models/`` or ``$KERAS_HOME/models/``); for alpha 0.25,
    :func:`shipped_imagenet_path` is the copy of the 224 file that tinymask ships.
    """
    known = _imagenet_alpha(_check_alpha(alpha))
    if known is None:
        raise InputError(
            f"Keras has ImageNet MobileNetV1 weights only for alpha in {IMAGENET_ALPHAS}, got alpha={alpha!r}; "
            'use one of those, or weights="auto" (falls back to the shipped backbone) or weights=None'
        )
    rows = input_size if input_size in IMAGENET_SIZES else 224
    name = f"mobilenet_{_ALPHA_TEXT[known]}_{rows}_tf_no_top.h5"
    return _keras_home() / "models" / name, _IMAGENET_URL + name


def shipped_imagenet_path(alpha=0.25):
    """The Keras ImageNet no-top file this project ships for ``alpha`` (the 224 one), or None if there is none."""
    path = SHIPPED_IMAGENET.get(_imagenet_alpha(_check_alpha(alpha)))
    return path if path is not None and path.is_file() else None


_SHA256 = {}  # (resolved path, size, mtime) -> sha256: each file is hashed once per process


def _sha256(path):
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _SHA256[key] = digest.hexdigest()
    return _SHA256[key]


def _verified_sha256(path, name, url, shipped):
    """The file's sha256, checked against ``IMAGENET_SHA256[name]`` where that is known; raise on a mismatch."""
    actual = _sha256(path)
    expected = IMAGENET_SHA256.get(name)
    if expected is not None and actual != expected:
        fix = ("reinstall tinymask, or restore the file from the repository (git checkout -- tinymask/weights/), "
               f"or download {_IMAGENET_URL + name} over it" if shipped else
               f"delete it (tinymask then uses its shipped copy, where it has one) or download {url} again")
        raise ToolError(
            f"ImageNet weights file {path} is damaged: its sha256 is {actual}, expected {expected} ({name} as Keras "
            f"publishes it); {fix}"
        )
    return actual


def shipped_backbone_path(alpha=0.25):
    """The backbone this project ships for ``alpha`` (pretrained on procedural shapes), or None if there is none."""
    path = WEIGHTS_DIR / f"mobilenet_v1_a{_alpha_name(_check_alpha(alpha))}_shapes.weights.h5"
    return path if path.is_file() else None


def _display(path):
    """A path as printed: relative to the repository for shipped files, so notebook outputs do not depend on it."""
    try:
        return Path(path).resolve().relative_to(WEIGHTS_DIR.parent.parent).as_posix()
    except ValueError:
        return str(path)


def _short(error):
    text = " ".join(str(error).split())
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _download(path, url):
    """Fetch the ImageNet file into the Keras cache with a short socket timeout; raise on any failure."""
    get_file = import_keras().utils.get_file

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        return Path(get_file(path.name, url, cache_subdir="models", cache_dir=str(path.parent.parent)))
    finally:
        socket.setdefaulttimeout(previous)


# --------------------------------------------------------------------------------------------- building
def _backbone(alpha, input_size, channels):
    return import_keras().applications.MobileNet(
        input_shape=(input_size, input_size, channels), alpha=alpha, include_top=False, weights=None, name=_BACKBONE
    )


def _load_rgb_into(backbone, path, alpha, input_size):
    """Load an RGB backbone file into ``backbone``; for a grayscale one, sum the first convolution's RGB kernels."""
    if backbone.input_shape[-1] == 3:
        backbone.load_weights(str(path))
        return
    rgb = _backbone(alpha, input_size, 3)
    rgb.load_weights(str(path))
    values = rgb.get_weights()
    values[0] = values[0].sum(axis=2, keepdims=True)  # conv1 kernel (3, 3, 3, f) -> (3, 3, 1, f): gray = R = G = B
    backbone.set_weights(values)


def _load_user_file(model, backbone, path, alpha, input_size):
    """A user's file: full-model weights of this architecture, or backbone weights (an RGB backbone file also
    loads into a grayscale model by summing its first kernels). Returns what it held."""
    path = Path(path)
    errors = []
    for what, target in (("full model", model), ("backbone", backbone)):
        try:
            with warnings.catch_warnings():  # a layout that does not fit warns per container before it raises
                warnings.simplefilter("ignore")
                target.load_weights(str(path))
            return what
        except Exception as error:  # noqa: BLE001 - shape or layout mismatch: try the next layout
            errors.append(f"as {what}: {_short(error)}")
    if backbone.input_shape[-1] == 1:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _load_rgb_into(backbone, path, alpha, input_size)
            return "RGB backbone, first kernels summed to grayscale"
        except Exception as error:  # noqa: BLE001
            errors.append(f"as RGB backbone: {_short(error)}")
    raise InputError(
        f"weights file {str(path)!r} does not fit mobilenet_v1(alpha={alpha:g}, input_size={input_size}, "
        f"channels={backbone.input_shape[-1]}, num_classes={model.output_shape[-1]}) ({'; '.join(errors)}); "
        "build the model with the alpha, channels and num_classes the file was saved with"
    )


def _shipped_alphas():
    files = WEIGHTS_DIR.glob("mobilenet_v1_a*_shapes.weights.h5")
    return sorted(float(f.name[len("mobilenet_v1_a"):].split("_")[0]) for f in files)


def _check_weights(weights, alpha):
    """Reject a bad ``weights`` argument before anything is built."""
    if weights is None or weights == "auto":
        return
    if weights == "imagenet":
        imagenet_weights_path(alpha)  # raises for an alpha Keras has no ImageNet weights for
        return
    if weights == "shipped":
        if shipped_backbone_path(alpha) is None:
            raise InputError(
                f"no shipped backbone for alpha={alpha:g} (shipped: alpha {_shipped_alphas()} in {WEIGHTS_DIR}); "
                'use one of those alphas, or weights="auto" or None'
            )
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise InputError(
            f'weights must be "auto", "imagenet", "shipped", None or a path to a weights file, got {weights!r}'
        )
    if not Path(weights).is_file():
        raise MissingPathError(
            f"weights file {str(weights)!r} does not exist; pass the path of a .weights.h5 file saved from this "
            "model (model.save_weights) or its backbone (backbone_of(model).save_weights), or a Keras MobileNet "
            'no-top .h5 file; or weights="auto" for the best weights available'
        )


def _resolve(model, backbone, weights, alpha, input_size, channels):
    """Load weights as asked; return (source, path or None, the one line to print or None)."""
    gray = "; first conv kernels summed to grayscale" if channels == 1 else ""
    if weights is None:
        return "random", None, None
    if weights not in ("auto", "imagenet", "shipped"):
        held = _load_user_file(model, backbone, weights, alpha, input_size)
        return "file", Path(weights), f"weights: file {_display(weights)} ({held})"
    if weights == "shipped":
        reason = ""
    else:
        path, name, reason = _try_imagenet(backbone, alpha, input_size, explicit=weights == "imagenet")
        if path is not None:
            notice = f"; {reason}" if reason else ""
            # The same line for the same bytes, wherever they were found (Keras cache or the shipped copy).
            return "imagenet", path, (
                f"weights: ImageNet (Keras MobileNet alpha {_alpha_name(_imagenet_alpha(alpha))} no-top, {name}, "
                f"sha256 {_sha256(path)[:8]}...{notice}{gray})"
            )
    shipped = shipped_backbone_path(alpha)
    if shipped is not None:
        _load_rgb_into(backbone, shipped, alpha, input_size)
        why = f"; {reason}" if reason else ""
        return "shipped", shipped, (
            f"weights: shipped backbone {_display(shipped)} (pretrained on procedural shapes{why}{gray})"
        )
    return "random", None, (
        f"weights: random init (no shipped backbone for alpha={alpha:g}; {reason}); "
        f"alpha {_shipped_alphas()} have a shipped backbone"
    )


def _try_imagenet(backbone, alpha, input_size, explicit):
    """Load the ImageNet weights: the Keras cache, then the copy tinymask ships, then (only for an alpha with no
    shipped copy) a download. Return (path, Keras' name of the file, notice or "") on success, else
    (None, None, why not); raise instead when ``explicit``, and always for a file whose sha256 is wrong."""
    known = _imagenet_alpha(alpha)
    if known is None:
        if explicit:
            imagenet_weights_path(alpha, input_size)  # raises the clear error
        return None, None, f"no ImageNet weights exist for alpha={alpha:g}"
    cached, url = imagenet_weights_path(alpha, input_size)
    candidates = [(cached, cached.name, "in the Keras cache")] if cached.is_file() else []
    shipped = shipped_imagenet_path(alpha)
    if shipped is not None:
        candidates.append((shipped, imagenet_weights_path(alpha, 224)[0].name, "shipped with tinymask"))
    if not candidates:
        if _offline():
            if explicit:
                raise ToolError(
                    f"ImageNet weights are not in the Keras cache ({cached}) and {OFFLINE_ENV} is set, so no "
                    f"download was tried; on a machine with network, download {url} to {cached}, or unset "
                    f"{OFFLINE_ENV}"
                )
            return None, None, "ImageNet weights unavailable offline"
        try:
            candidates = [(_download(cached, url), cached.name, "downloaded")]
        except Exception as error:  # noqa: BLE001 - any network failure means "not available"
            if explicit:
                raise ToolError(
                    f"ImageNet weights are not in the Keras cache ({cached}) and the download failed "
                    f"({_short(error)}); download {url} to {cached} on a machine with network and try again"
                ) from None
            return None, None, f"ImageNet weights not cached and download failed ({_short(error)})"
    problems = []
    for path, name, where in candidates:
        _verified_sha256(path, name, url, shipped=where == "shipped with tinymask")
        try:
            _load_rgb_into(backbone, path, known, input_size)
        except Exception as error:  # noqa: BLE001 - a truncated or foreign file with no known checksum
            if explicit:
                raise ToolError(
                    f"the ImageNet weights file {path} could not be loaded ({_short(error)}); delete it and "
                    f"download {url} again"
                ) from None
            problems.append(f"{name} {where} unreadable ({_short(error)})")
            continue
        return path, name, "; ".join(problems)
    return None, None, "; ".join(problems)


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
    alpha = _check_alpha(alpha)
    _check_int("input_size", input_size, 32, "the square input side in pixels; Keras' MobileNet needs 32 or more")
    channels = _check_channels(channels)
    _check_int("num_classes", num_classes, 2, "a softmax classifier needs two classes or more")
    dropout = _check_dropout(dropout)
    _check_weights(weights, alpha)

    keras = import_keras()
    Input, Model, layers = keras.Input, keras.Model, keras.layers

    backbone = _backbone(alpha, input_size, channels)
    inputs = Input((input_size, input_size, channels), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)  # [0, 1] -> [-1, 1]
    x = backbone(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    model = Model(inputs, outputs, name=name or f"mobilenet_v1_a{_alpha_name(alpha)}_{input_size}")

    source, path, line = _resolve(model, backbone, weights, alpha, input_size, channels)
    model.weights_source = source
    model.weights_path = None if path is None else str(path)
    if line is not None:
        print(line)
    return model


def backbone_of(model):
    """The MobileNet sub-model named ``"backbone"`` (freeze it with ``backbone_of(model).trainable = False``)."""
    try:
        return model.get_layer(_BACKBONE)
    except ValueError:
        raise InputError(
            f"model {getattr(model, 'name', model)!r} has no sub-model named {_BACKBONE!r}; "
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
