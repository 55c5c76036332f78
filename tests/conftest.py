"""Test-wide settings. Kernels that nbval starts inherit this environment."""

import os

# Progress bars off and TensorFlow's C++ logs quiet in every notebook kernel and test process.
os.environ.setdefault("TINYMASK_QUIET", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# No network in the tests: weights="auto" goes straight to the Keras cache, then the shipped ImageNet copy (alpha 0.25).
os.environ.setdefault("TINYMASK_OFFLINE", "1")
