"""tinymask.tflite, the base layer: reading a model's bytes and stripping the names the camera never reads.

Unit tests of our code, except where noted: the stripped model's scores are compared here with LiteRT's reference
kernels (bit-exact with TFLite Micro, tests/test_quantize.py); the firmware itself runs the stripped copy in
tests/test_firmware_qemu.py (48/48 identical scores on both builds).
"""

from pathlib import Path

import numpy as np
import pytest

from tinymask import quantize, synth, tflite

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tinymask" / "weights" / "mask_mobilenet_v1_a0.25_96_int8.tflite"


@pytest.fixture(scope="module")
def data():
    return MODEL.read_bytes()


def test_strip_names_removes_only_strings_and_keeps_every_score(data):
    stripped = tflite.strip_names(data)
    assert isinstance(stripped, bytes) and stripped.saved == len(data) - len(stripped) > 20_000
    model = tflite.read(stripped)
    assert all(t.name is None for t in model.subgraphs[0].tensors) and not model.signatureDefs
    before, after = tflite.anatomy(data), tflite.anatomy(stripped)
    assert after["names"] == 0 and before["names"] > 20_000
    for part in ("int8 weights", "int32 biases", "quantization parameters"):
        assert after[part] == before[part], part
    images = synth.samples("camera").images
    assert np.array_equal(quantize.Runner(data).raw(images), quantize.Runner(stripped).raw(images))
    assert tflite.io_rows(stripped, "inputs")[0]["scale"] == tflite.io_rows(data, "inputs")[0]["scale"]


def test_strip_names_twice_changes_nothing(data):
    once = tflite.strip_names(data)
    twice = tflite.strip_names(once)
    assert twice == once and twice.saved == 0


def test_anatomy_adds_up_to_the_file(data):
    parts = tflite.anatomy(data)
    assert parts["total"] == len(data) == sum(v for k, v in parts.items() if k != "total")
    assert parts["int8 weights"] > 0.6 * len(data) and parts["graph and flatbuffer structure"] > 0


@pytest.mark.parametrize("bad,error,words", [
    (b"not a model at all", ValueError, "not a .tflite model"),
    (12, TypeError, "expected the bytes of a .tflite model"),
    ("no/such/model.tflite", FileNotFoundError, "does not exist"),
])
def test_as_bytes_names_the_bad_input(bad, error, words):
    with pytest.raises(error, match=words):
        tflite.as_bytes(bad)


def test_captured_fds_catches_what_c_code_writes():
    import os

    with tflite.captured_fds((1,)) as box:
        os.write(1, b"from below Python\n")
    assert box["text"] == "from below Python\n"
