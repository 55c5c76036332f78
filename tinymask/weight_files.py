"""Where MobileNetV1's weights come from: the Keras cache, the copies tinymask ships, a download, checksums
(introduced in notebooks/04_transfer_learning.ipynb, used by ``models.mobilenet_v1``).

:func:`load_weights` resolves a ``weights=`` argument ("auto", "imagenet", "shipped", None or a file) into the weights
of a backbone and the one ``weights: ...`` line ``models.mobilenet_v1`` prints; everything else here says where a
file is (:func:`imagenet_weights_path`, :func:`shipped_imagenet_path`, :func:`shipped_backbone_path`).
"""

import hashlib
import math
import os
import socket
import warnings
from pathlib import Path

from ._setup import OFFLINE_ENV, import_keras, offline_mode
from .errors import InputError, MissingPathError, ToolError, describe_error, is_number

__all__ = [
    "IMAGENET_ALPHAS",
    "IMAGENET_SIZES",
    "IMAGENET_SHA256",
    "SHIPPED_IMAGENET",
    "OFFLINE_ENV",
    "WEIGHTS_DIR",
    "BACKBONE",
    "check_alpha",
    "keras_backbone",
    "imagenet_weights_path",
    "shipped_imagenet_path",
    "shipped_backbone_path",
    "check_weights",
    "load_weights",
]

#: Width multipliers Keras publishes ImageNet weights for.
IMAGENET_ALPHAS = (0.25, 0.5, 0.75, 1.0)
#: Input sizes Keras publishes ImageNet weights for; any other size loads the 224 weights, as Keras does.
IMAGENET_SIZES = (128, 160, 192, 224)
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
#: The name of the backbone sub-model in a ``models.mobilenet_v1`` classifier (``models.backbone_of`` finds it).
BACKBONE = "backbone"


def check_alpha(alpha):
    """``alpha`` as a float, or an error naming it (used by ``models.mobilenet_v1`` and the path helpers here)."""
    if not is_number(alpha) or not 0.1 <= alpha <= 1.0:
        raise InputError(f"alpha must be a number from 0.1 to 1.0 (the MobileNetV1 width multiplier), got {alpha!r}")
    return float(alpha)


def _imagenet_alpha(alpha):
    for known in IMAGENET_ALPHAS:
        if math.isclose(alpha, known):
            return known
    return None


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
    known = _imagenet_alpha(check_alpha(alpha))
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
    path = SHIPPED_IMAGENET.get(_imagenet_alpha(check_alpha(alpha)))
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
    path = WEIGHTS_DIR / f"mobilenet_v1_a{check_alpha(alpha):g}_shapes.weights.h5"
    return path if path.is_file() else None


def _display(path):
    """A path as printed: relative to the repository for shipped files, so notebook outputs do not depend on it."""
    try:
        return Path(path).resolve().relative_to(WEIGHTS_DIR.parent.parent).as_posix()
    except ValueError:
        return str(path)


def _download(path, url):
    """Fetch the ImageNet file into the Keras cache with a short socket timeout; raise on any failure."""
    get_file = import_keras().utils.get_file

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        return Path(get_file(path.name, url, cache_subdir="models", cache_dir=str(path.parent.parent)))
    finally:
        socket.setdefaulttimeout(previous)


def keras_backbone(alpha, input_size, channels):
    """Keras' no-top MobileNet with random weights, named :data:`BACKBONE` (used by ``models.mobilenet_v1``, and
    here to read an RGB file for a grayscale backbone)."""
    return import_keras().applications.MobileNet(
        input_shape=(input_size, input_size, channels), alpha=alpha, include_top=False, weights=None, name=BACKBONE
    )


def _load_rgb_into(backbone, path, alpha, input_size):
    """Load an RGB backbone file into ``backbone``; for a grayscale one, sum the first convolution's RGB kernels."""
    if backbone.input_shape[-1] == 3:
        backbone.load_weights(str(path))
        return
    rgb = keras_backbone(alpha, input_size, 3)
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
            errors.append(f"as {what}: {describe_error(error)}")
    if backbone.input_shape[-1] == 1:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _load_rgb_into(backbone, path, alpha, input_size)
            return "RGB backbone, first kernels summed to grayscale"
        except Exception as error:  # noqa: BLE001
            errors.append(f"as RGB backbone: {describe_error(error)}")
    raise InputError(
        f"weights file {str(path)!r} does not fit mobilenet_v1(alpha={alpha:g}, input_size={input_size}, "
        f"channels={backbone.input_shape[-1]}, num_classes={model.output_shape[-1]}) ({'; '.join(errors)}); "
        "build the model with the alpha, channels and num_classes the file was saved with"
    )


def _shipped_alphas():
    files = WEIGHTS_DIR.glob("mobilenet_v1_a*_shapes.weights.h5")
    return sorted(float(f.name[len("mobilenet_v1_a"):].split("_")[0]) for f in files)


def check_weights(weights, alpha):
    """Reject a bad ``weights`` argument before anything is built (used by ``models.mobilenet_v1``)."""
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


def load_weights(model, backbone, weights, alpha, input_size):
    """Load ``weights`` into ``model`` (a user's full-model file) or its ``backbone``, as ``models.mobilenet_v1``
    documents; return (source, path or None, the one line to print or None)."""
    gray = "; first conv kernels summed to grayscale" if backbone.input_shape[-1] == 1 else ""
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
                f"weights: ImageNet (Keras MobileNet alpha {_imagenet_alpha(alpha):g} no-top, {name}, "
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
        if offline_mode():
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
                    f"({describe_error(error)}); download {url} to {cached} on a machine with network and try again"
                ) from None
            return None, None, f"ImageNet weights not cached and download failed ({describe_error(error)})"
    problems = []
    for path, name, where in candidates:
        _verified_sha256(path, name, url, shipped=where == "shipped with tinymask")
        try:
            _load_rgb_into(backbone, path, known, input_size)
        except Exception as error:  # noqa: BLE001 - a truncated or foreign file with no known checksum
            if explicit:
                raise ToolError(
                    f"the ImageNet weights file {path} could not be loaded ({describe_error(error)}); delete it and "
                    f"download {url} again"
                ) from None
            problems.append(f"{name} {where} unreadable ({describe_error(error)})")
            continue
        return path, name, "; ".join(problems)
    return None, None, "; ".join(problems)

