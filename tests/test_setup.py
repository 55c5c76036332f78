"""tm.setup: seeds, determinism and a quiet TensorFlow import."""

import subprocess
import sys

import pytest

import tinymask as tm


def test_setup_seeds_numpy_and_prints_versions(capsys):
    np = pytest.importorskip("numpy")
    tm.setup(seed=3, tensorflow=False)
    first = np.random.rand(3)
    tm.setup(seed=3, tensorflow=False)
    assert (np.random.rand(3) == first).all()
    assert "seed 3" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_setup_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        tm.setup(seed=seed, tensorflow=False)


def test_importing_tinymask_imports_no_tensorflow():
    code = "import sys, tinymask; tinymask.memory; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_setup_keeps_tensorflow_startup_logs_out_of_stderr():
    code = "import tinymask as tm; tm.setup(seed=0); import tensorflow as tf; tf.constant(1) + 1"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("TF_CPP", "ABSL"))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert "TensorFlow" in done.stdout
