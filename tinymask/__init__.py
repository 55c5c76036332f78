"""tinymask: helpers for the TinyML face-mask course (each module names the notebook that introduces it).

Notebooks use ``import tinymask as tm``; submodules load on first use (``tm.memory``, ``tm.viz``, ...), so the import
itself is cheap, touches no network and imports no TensorFlow.
"""

from importlib import import_module

from ._setup import import_keras, import_tensorflow, setup

__version__ = "0.1.0"

_SUBMODULES = (
    "errors",
    "folders",
    "memory",
    "tflite",
    "viz",
    "widgets",
    "dataset",
    "synth_scene",
    "synth_render",
    "synth",
    "augment",
    "data",
    "weight_files",
    "models",
    "profile",
    "train",
    "runner",
    "quantize",
    "tflm_ops",
    "arena",
    "latency",
    "board_fit",
    "footprint",
    "deploy",
    "openmv_pixels",
    "openmv_classes",
    "openmv_stubs",
    "openmv_emu",
    "camera_link",
    "camera",
    "edge_impulse_service",
    "edge_impulse",
    "recipe",
    "report",
    "pipeline",
    "pretrain_shapes",
    "pretrain",
    "cli_camera",
    "cli",
)

__all__ = ["setup", "import_tensorflow", "import_keras", "__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tinymask' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
