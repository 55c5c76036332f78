"""Tests for tinymask.models (MobileNetV1, the paper's tiny CNN), tinymask.weight_files (weight resolution) and
tinymask.pretrain."""

import ast
import fnmatch
import hashlib
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from tinymask import models, pretrain, weight_files

SHIPPED = models.WEIGHTS_DIR / "mobilenet_v1_a0.25_shapes.weights.h5"
SHIPPED_LINE = (
    "weights: shipped backbone tinymask/weights/mobilenet_v1_a0.25_shapes.weights.h5 (pretrained on procedural shapes)"
)
IMAGENET = models.WEIGHTS_DIR / "mobilenet_2_5_224_tf_no_top.h5"
IMAGENET_SHA256 = "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf"  # tinymask/weights/README.md
# What every machine prints for these bytes, whether they came from the Keras cache or the shipped copy.
IMAGENET_LINE = ("weights: ImageNet (Keras MobileNet alpha 0.25 no-top, mobilenet_2_5_224_tf_no_top.h5, "
                 "sha256 dbdb03ee...)")
GRAY = "; first conv kernels summed to grayscale"
# sha256 of the shipped backbone's first convolution kernel (float32 bytes): changes only when the file does.
SHIPPED_CONV1_SHA256 = "7490510d1ad352a139ca72ae5dc72da644bb78e46502a9edb4b924c08b07cf24"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty Keras cache: what a student's offline machine looks like."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("TINYMASK_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def _lines(capsys):
    return [line for line in capsys.readouterr().out.splitlines() if line.strip()]


def _fake_imagenet_file(home, input_size=32):
    """A random-weights no-top MobileNet 0.5 saved where, and as, Keras caches the real ImageNet file (alpha 0.5:
    alpha 0.25's file has a known checksum, so a fake one in its place is an error)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path, _ = models.imagenet_weights_path(0.5, input_size)
    assert path == home / "models" / "mobilenet_5_0_224_tf_no_top.h5"  # no 32x32 file: Keras uses the 224 one
    path.parent.mkdir(parents=True, exist_ok=True)
    fake = weight_files.keras_backbone(0.5, input_size, 3)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, fake)
    return path, fake.get_weights()


def _h5_values(path, *names):
    """Weights straight from a Keras HDF5 file, by ``layer/weight`` name (h5py, not Keras)."""
    import h5py

    with h5py.File(path, "r") as f:
        return [f[name.split("/")[0]][name][()] for name in names]


def _corrupt_copy(source, folder):
    """A copy of ``source`` under the same name in ``folder`` with one byte in the middle flipped."""
    folder.mkdir(parents=True, exist_ok=True)
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy = folder / source.name
    copy.write_bytes(bytes(data))
    return copy


def _no_download(path, url):
    raise AssertionError(f"tried to download {url}")


# --------------------------------------------------------------------------------------------- resolution
def test_shipped_imagenet_file_is_the_one_keras_publishes():
    assert models.shipped_imagenet_path(0.25) == models.SHIPPED_IMAGENET[0.25] == IMAGENET
    assert IMAGENET.stat().st_size == 2_108_140
    assert hashlib.sha256(IMAGENET.read_bytes()).hexdigest() == IMAGENET_SHA256 == models.IMAGENET_SHA256[IMAGENET.name]
    assert models.imagenet_weights_path(0.25, 96)[0].name == IMAGENET.name  # Keras uses the 224 file at 96
    assert models.shipped_imagenet_path(0.5) is None


@pytest.mark.parametrize("offline_env", ["1", None])
def test_auto_resolves_to_the_shipped_imagenet_file_without_network_or_cache(offline_env, monkeypatch, tmp_path,
                                                                             capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    if offline_env is None:  # the line must not depend on TINYMASK_OFFLINE: online, alpha 0.25 downloads nothing
        monkeypatch.delenv("TINYMASK_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("TINYMASK_OFFLINE", offline_env)
    monkeypatch.setattr(weight_files, "_download", _no_download)
    started = time.perf_counter()
    model = models.mobilenet_v1(alpha=0.25, input_size=96, weights="auto")
    assert time.perf_counter() - started < 60  # a hang guard, not a speed test
    assert model.weights_source == "imagenet" and Path(model.weights_path) == IMAGENET
    assert _lines(capsys) == [IMAGENET_LINE]
    # Real ImageNet values, read from the file with h5py: the first and last convolutions and a batch norm.
    backbone = models.backbone_of(model)
    conv1, pw13, bn13 = _h5_values(IMAGENET, "conv1/kernel:0", "conv_pw_13/kernel:0", "conv_pw_13_bn/moving_variance:0")
    np.testing.assert_array_equal(backbone.get_layer("conv1").get_weights()[0], conv1)
    np.testing.assert_array_equal(backbone.get_layer("conv_pw_13").get_weights()[0], pw13)
    np.testing.assert_array_equal(backbone.get_layer("conv_pw_13_bn").get_weights()[3], bn13)  # gamma beta mean var
    assert conv1.shape == (3, 3, 3, 8) and pw13.shape == (1, 1, 256, 256) and conv1.std() > 0.1
    assert not (tmp_path / "models").exists()  # nothing written into the Keras cache


def test_imagenet_for_alpha_025_works_offline_and_hashes_once(offline, monkeypatch, capsys):
    models.mobilenet_v1(alpha=0.25, input_size=32, weights="imagenet")

    def no_hashing(*args):
        raise AssertionError("the shipped file was hashed a second time")

    # the checksum is cached for the process
    monkeypatch.setattr(weight_files, "hashlib", types.SimpleNamespace(sha256=no_hashing))
    model = models.mobilenet_v1(alpha=0.25, input_size=32, weights="imagenet")
    assert model.weights_source == "imagenet" and Path(model.weights_path) == IMAGENET
    assert _lines(capsys) == [IMAGENET_LINE, IMAGENET_LINE]


def test_keras_cache_copy_is_preferred_and_prints_the_same_line(offline, monkeypatch, capsys):
    cached = offline / "models" / IMAGENET.name
    cached.parent.mkdir()
    shutil.copyfile(IMAGENET, cached)
    model = models.mobilenet_v1(alpha=0.25, input_size=96, weights="auto")
    assert model.weights_source == "imagenet" and Path(model.weights_path) == cached
    assert _lines(capsys) == [IMAGENET_LINE]


@pytest.mark.parametrize("where", ["shipped", "cache"])
def test_a_damaged_imagenet_file_is_a_checksum_error_naming_file_hashes_and_fix(where, offline, monkeypatch,
                                                                                tmp_path):
    if where == "shipped":
        bad = _corrupt_copy(IMAGENET, tmp_path / "site-packages")
        monkeypatch.setitem(models.SHIPPED_IMAGENET, 0.25, bad)
        fix = "reinstall tinymask"
    else:
        bad = _corrupt_copy(IMAGENET, offline / "models")
        fix = "delete it"
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    for weights in ("auto", "imagenet"):
        with pytest.raises(RuntimeError) as error:
            models.mobilenet_v1(alpha=0.25, input_size=32, weights=weights)
        message = str(error.value)
        assert str(bad) in message and IMAGENET_SHA256 in message and actual in message and fix in message


def test_grayscale_sums_the_imagenet_first_kernel(offline, capsys):
    gray = models.mobilenet_v1(alpha=0.25, input_size=96, channels=1, num_classes=3, weights="auto")
    assert gray.weights_source == "imagenet"
    assert _lines(capsys) == [IMAGENET_LINE[:-1] + GRAY + ")"]
    loaded = models.backbone_of(gray).get_weights()
    (conv1,) = _h5_values(IMAGENET, "conv1/kernel:0")
    assert loaded[0].shape == (3, 3, 1, 8)
    np.testing.assert_allclose(loaded[0], conv1.sum(axis=2, keepdims=True), rtol=1e-6)
    rgb = models.backbone_of(models.mobilenet_v1(alpha=0.25, input_size=96, weights="auto")).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(loaded[1:], rgb[1:]))
    assert gray.predict(np.zeros((2, 96, 96, 1), np.float32), verbose=0).shape == (2, 3)


def test_an_unreadable_cache_file_without_a_checksum_falls_back_to_the_shipped_copy(offline, capsys):
    foreign = offline / "models" / "mobilenet_2_5_128_tf_no_top.h5"  # Keras' own 128 file: no known checksum
    foreign.parent.mkdir()
    foreign.write_bytes(b"not an HDF5 file")
    model = models.mobilenet_v1(alpha=0.25, input_size=128, weights="auto")
    assert model.weights_source == "imagenet" and Path(model.weights_path) == IMAGENET
    (line,) = _lines(capsys)
    assert line.startswith(IMAGENET_LINE[:-1] + "; mobilenet_2_5_128_tf_no_top.h5 in the Keras cache unreadable")
    with pytest.raises(RuntimeError, match="could not be loaded"):
        models.mobilenet_v1(alpha=0.25, input_size=128, weights="imagenet")


def test_imagenet_offline_without_a_shipped_copy_is_an_error_naming_the_cache_path(offline):
    path, url = models.imagenet_weights_path(0.5, 32)
    with pytest.raises(RuntimeError) as error:
        models.mobilenet_v1(alpha=0.5, input_size=32, weights="imagenet")
    message = str(error.value)
    assert str(path) in message and url in message and "TINYMASK_OFFLINE" in message


def test_auto_offline_without_imagenet_or_shipped_backbone_is_random_with_a_notice(offline, capsys):
    model = models.mobilenet_v1(alpha=0.5, input_size=32, weights="auto")
    assert model.weights_source == "random"
    assert _lines(capsys) == [
        "weights: random init (no shipped backbone for alpha=0.5; ImageNet weights unavailable offline); "
        "alpha [0.25] have a shipped backbone"
    ]


def test_failed_download_falls_back_with_one_line_and_no_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TINYMASK_OFFLINE", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    tried = []

    def no_network(path, url):
        tried.append(url)
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(weight_files, "_download", no_network)
    model = models.mobilenet_v1(alpha=0.5, input_size=32, weights="auto")
    assert model.weights_source == "random" and tried == [models.imagenet_weights_path(0.5, 32)[1]]
    (line,) = _lines(capsys)
    assert line.startswith("weights: random init") and "download failed" in line and "Traceback" not in line
    with pytest.raises(RuntimeError, match="download failed"):
        models.mobilenet_v1(alpha=0.5, input_size=32, weights="imagenet")


def test_missing_weights_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.mobilenet_v1(input_size=32, weights=str(missing))


def test_weights_none_is_random_and_silent(offline, capsys):
    model = models.mobilenet_v1(alpha=0.25, input_size=32, weights=None)
    assert model.weights_source == "random" and model.weights_path is None
    assert _lines(capsys) == []


def test_alpha_without_any_pretrained_weights_falls_back_to_random_with_a_notice(offline, capsys):
    model = models.mobilenet_v1(alpha=0.3, input_size=32, weights="auto")
    assert model.weights_source == "random"
    (line,) = _lines(capsys)
    assert line.startswith("weights: random init") and "alpha=0.3" in line


def test_fake_cached_imagenet_file_is_used_and_summed_to_grayscale(offline, capsys):
    path, fake = _fake_imagenet_file(offline)
    rgb = models.mobilenet_v1(alpha=0.5, input_size=32, channels=3, weights="auto")
    assert rgb.weights_source == "imagenet" and Path(rgb.weights_path) == path
    assert all(np.array_equal(a, b) for a, b in zip(models.backbone_of(rgb).get_weights(), fake))
    gray = models.mobilenet_v1(alpha=0.5, input_size=32, channels=1, weights="imagenet")
    assert gray.weights_source == "imagenet"
    loaded = models.backbone_of(gray).get_weights()
    assert loaded[0].shape == (3, 3, 1, 16)
    np.testing.assert_allclose(loaded[0], fake[0].sum(axis=2, keepdims=True), rtol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(loaded[1:], fake[1:]))
    line = ("weights: ImageNet (Keras MobileNet alpha 0.5 no-top, mobilenet_5_0_224_tf_no_top.h5, "
            f"sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:8]}...")
    assert _lines(capsys) == [line + ")", line + GRAY + ")"]


def test_user_weights_file_full_model_or_backbone_and_mismatch(offline, tmp_path, capsys):
    source = models.mobilenet_v1(alpha=0.25, input_size=32, num_classes=3, weights=None)
    full, backbone = tmp_path / "full.weights.h5", tmp_path / "backbone.weights.h5"
    source.save_weights(str(full))
    models.backbone_of(source).save_weights(str(backbone))
    again = models.mobilenet_v1(alpha=0.25, input_size=32, num_classes=3, weights=str(full))
    assert again.weights_source == "file"
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), source.get_weights()))
    other_head = models.mobilenet_v1(alpha=0.25, input_size=48, num_classes=2, weights=str(backbone))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(models.backbone_of(other_head).get_weights(), models.backbone_of(source).get_weights())
    )
    assert "(backbone)" in _lines(capsys)[-1]
    with pytest.raises(ValueError, match="does not fit"):
        models.mobilenet_v1(alpha=0.5, input_size=32, weights=str(backbone))


# --------------------------------------------------------------------------------------------- the shipped file
@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped backbone has not been trained yet")
def test_shipped_backbone_loads_and_sums_to_grayscale(offline, capsys):
    random = models.backbone_of(models.mobilenet_v1(alpha=0.25, input_size=32, weights=None)).get_weights()
    rgb = models.backbone_of(models.mobilenet_v1(alpha=0.25, input_size=32, weights="shipped")).get_weights()
    kernel = np.ascontiguousarray(rgb[0], dtype="<f4")
    assert hashlib.sha256(kernel.tobytes()).hexdigest() == SHIPPED_CONV1_SHA256
    assert all(a.shape == b.shape for a, b in zip(rgb, random))
    assert not any(np.allclose(a, b) for a, b in zip(rgb, random) if a.std() > 0)
    assert _lines(capsys) == [SHIPPED_LINE]
    gray = models.mobilenet_v1(alpha=0.25, input_size=40, channels=1, num_classes=3, weights="shipped")
    assert gray.weights_source == "shipped"
    np.testing.assert_allclose(models.backbone_of(gray).get_weights()[0], rgb[0].sum(axis=2, keepdims=True), rtol=1e-6)
    assert gray.predict(np.zeros((2, 40, 40, 1), np.float32), verbose=0).shape == (2, 3)
    assert "summed to grayscale" in _lines(capsys)[-1]


@pytest.mark.parametrize(
    "name", ["mobilenet_v1_a0.25_shapes.weights.h5", "mobilenet_2_5_224_tf_no_top.h5", "LICENSE-imagenet-weights.txt"]
)
def test_shipped_weights_are_not_ignored_by_git(name):
    repo = Path(models.__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", f"tinymask/weights/{name}"], cwd=repo)
    assert result.returncode == 1  # 1: not ignored


def test_imagenet_file_is_packaged_with_its_licence_and_notice():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    repo = Path(models.__file__).resolve().parent.parent
    patterns = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["tinymask"]
    for name in (IMAGENET.name, "LICENSE-imagenet-weights.txt", SHIPPED.name):
        assert any(fnmatch.fnmatch(f"weights/{name}", pattern) for pattern in patterns), name
    licence = (models.WEIGHTS_DIR / "LICENSE-imagenet-weights.txt").read_text()
    for text in ("Apache License", "Version 2.0, January 2004", "END OF TERMS AND CONDITIONS", "TensorFlow-Slim",
                 IMAGENET.name, IMAGENET_SHA256):
        assert text in licence, text
    readme = (models.WEIGHTS_DIR / "README.md").read_text()
    assert IMAGENET.name in readme and IMAGENET_SHA256 in readme and "LICENSE-imagenet-weights.txt" in readme


# --------------------------------------------------------------------------------------------- building
def test_grayscale_model_predicts_one_row_per_image():
    model = models.mobilenet_v1(alpha=0.1, input_size=32, channels=1, num_classes=4, weights=None)
    assert model.input_shape == (None, 32, 32, 1)
    assert model.predict(np.random.rand(3, 32, 32, 1).astype("float32"), verbose=0).shape == (3, 4)


def test_backbone_is_a_named_sub_model_that_freezes():
    model = models.mobilenet_v1(alpha=0.25, input_size=32, weights=None)
    backbone = models.backbone_of(model)
    assert backbone.name == "backbone" and backbone is model.get_layer("backbone")
    backbone.trainable = False
    assert [w.name for w in model.trainable_weights] == ["kernel", "bias"]  # the classifier only
    with pytest.raises(ValueError, match="no sub-model named 'backbone'"):
        models.backbone_of(models.tiny_cnn())


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"alpha": 0.05}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"input_size": 16}, "input_size"),
        ({"channels": 2}, "channels"),
        ({"num_classes": 1}, "num_classes"),
        ({"alpha": 0.1, "weights": "imagenet"}, "alpha=0.1"),
        ({"alpha": 0.3, "weights": "shipped"}, "alpha=0.3"),
        ({"weights": 3}, "weights"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_value(kwargs, named):
    with pytest.raises(ValueError, match=named):
        models.mobilenet_v1(**{"input_size": 32, **kwargs})


def test_tflite_conversion_of_the_nested_model():
    tf = pytest.importorskip("tensorflow")
    model = models.mobilenet_v1(alpha=0.1, input_size=32, weights=None)
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    assert len(flatbuffer) > 10_000


# --------------------------------------------------------------------------------------------- tiny CNN
def test_tiny_cnn_matches_the_paper():
    model = models.tiny_cnn()
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 128_193
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    dropouts = [layer for layer in model.layers if layer.__class__.__name__ == "Dropout"]
    assert len(dropouts) == 5  # after each of the three conv blocks and the two hidden dense layers


# --------------------------------------------------------------------------------------------- source task
def test_source_task_is_deterministic_balanced_and_sized():
    images, labels = pretrain.make_shapes(96, seed=3, size=48)
    again, labels_again = pretrain.make_shapes(96, seed=3, size=48)
    other, _ = pretrain.make_shapes(96, seed=4, size=48)
    assert images.dtype == np.uint8 and images.shape == (96, 48, 48, 3)
    assert images.tobytes() == again.tobytes() and np.array_equal(labels, labels_again)
    assert images.tobytes() != other.tobytes()
    assert pretrain.NUM_CLASSES == len(pretrain.CLASSES) == len(pretrain.SHAPES) * len(pretrain.TEXTURES) == 32
    assert np.bincount(labels, minlength=32).tolist() == [3] * 32
    assert images.std() > 20  # not blank


def test_source_task_shares_no_code_with_the_mask_synthesiser():
    from tinymask import pretrain_shapes

    imported = set()
    nodes = [n for m in (pretrain, pretrain_shapes) for n in ast.walk(ast.parse(Path(m.__file__).read_text()))]
    for node in nodes:
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names} | {str(node.module)}
    assert not any("synth" in name or "data" in name.split(".") for name in imported), imported
    check = "import sys, tinymask.pretrain as p; p.make_shapes(4); print('tinymask.synth' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    assert not any(word in " ".join(pretrain.CLASSES) for word in ("face", "mask"))
    for name in pretrain_shapes.__all__:  # pretrain re-exports the source task: the same objects
        assert getattr(pretrain, name) is getattr(pretrain_shapes, name) and name in pretrain.__all__, name


def test_source_task_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must"):
        pretrain.make_shapes(-1)
    with pytest.raises(ValueError, match="size must"):
        pretrain.make_shapes(4, size=8)


def test_weight_resolution_lives_in_weight_files_and_models_re_exports_it():
    for name in ("WEIGHTS_DIR", "SHIPPED_IMAGENET", "IMAGENET_SHA256", "imagenet_weights_path", "shipped_imagenet_path",
                 "shipped_backbone_path", "OFFLINE_ENV", "IMAGENET_ALPHAS", "IMAGENET_SIZES"):
        assert getattr(models, name) is getattr(weight_files, name), name
    assert models.shipped_backbone_path(0.25) == SHIPPED and models.shipped_backbone_path(0.3) is None
    with pytest.raises(ValueError, match="alpha must be"):
        weight_files.check_alpha(2)
