"""One setup call for every notebook: seeds, determinism, quiet logs, plot defaults (introduced in
notebooks/01_memory_budget.ipynb)."""

import os
import random
import sys

from .errors import InputError, is_int

__all__ = ["setup", "env_flag", "quiet_mode", "offline_mode", "import_tensorflow", "import_keras",
           "QUIET_ENV", "OFFLINE_ENV"]

#: Set to 1 and progress bars stay silent (the tests and CI set it).
QUIET_ENV = "TINYMASK_QUIET"
#: Set to 1 and nothing touches the network: ``weights="auto"`` downloads nothing, Edge Impulse stays offline.
OFFLINE_ENV = "TINYMASK_OFFLINE"


def env_flag(name):
    """True when the environment variable ``name`` is set to anything but "", "0", "false" or "False": how every
    ``TINYMASK_*`` switch is read (:func:`quiet_mode`, :func:`offline_mode`)."""
    return os.environ.get(name, "") not in ("", "0", "false", "False")


def quiet_mode():
    """True when progress bars should stay silent: under the tests and CI (``TINYMASK_QUIET=1``; used by ``setup``
    and ``pipeline.run``)."""
    return env_flag(QUIET_ENV)


def offline_mode():
    """True when nothing may touch the network (``TINYMASK_OFFLINE=1``; used by ``weight_files`` and
    ``edge_impulse``)."""
    return env_flag(OFFLINE_ENV)


def _quiet_tensorflow_logs():
    # Must happen before TensorFlow is first imported: its C++ runtime reads these once.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def import_keras():
    """Keras, imported after TensorFlow so that TensorFlow's start-up chatter stays out of stderr."""
    import_tensorflow()
    import keras

    return keras


def import_tensorflow():
    """Import TensorFlow with its start-up chatter (oneDNN, CUDA probing) kept out of stderr.

    TensorFlow's C++ runtime writes those lines before its log level is read, so an environment
    variable cannot silence them: stderr's file descriptor is pointed at /dev/null during the import.
    Every later warning and error still reaches stderr.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    _quiet_tensorflow_logs()
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def _plot_defaults():
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )


def setup(seed=0, *, tensorflow=True, quiet=None):
    """Seed Python, NumPy and TensorFlow, make TF ops deterministic, quiet its logs, set plot defaults.

    Call it as the first code cell of every notebook: ``tm.setup(seed=0)``.
    ``tensorflow=False`` skips importing TensorFlow (a chapter that needs only NumPy starts faster).
    ``quiet`` silences Keras and tqdm progress bars; by default it follows ``TINYMASK_QUIET``.
    Prints one line with the versions in use, so a stored output shows what produced it.
    """
    import numpy as np

    if not is_int(seed) or seed < 0:
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    quiet = quiet_mode() if quiet is None else bool(quiet)
    if quiet:
        os.environ[QUIET_ENV] = "1"
        os.environ["TQDM_DISABLE"] = "1"
    random.seed(seed)
    np.random.seed(seed)
    np.set_printoptions(precision=4, suppress=True)
    _plot_defaults()
    line = f"tinymask {_version()} | NumPy {np.__version__}"
    if tensorflow:
        tf = import_tensorflow()

        tf.get_logger().setLevel("ERROR")
        tf.keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        if quiet:
            tf.keras.utils.disable_interactive_logging()
        line += f" | TensorFlow {tf.__version__} | Keras {tf.keras.__version__}"
    print(f"{line} | seed {seed}")


def _version():
    from . import __version__

    return __version__
