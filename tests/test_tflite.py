"""tinymask.tflite, the base layer: reading a model's bytes and removing what the camera never reads.

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


def test_compact_zero_points_keeps_one_zero_per_weight_tensor_and_every_score(data):
    compact = tflite.compact_zero_points(data)
    assert compact.saved > 40_000 and tflite.has_compact_zero_points(compact)
    assert not tflite.has_compact_zero_points(data)
    model, before = tflite.read(compact), tflite.read(data)
    for t, u in zip(model.subgraphs[0].tensors, before.subgraphs[0].tensors):
        q, r = t.quantization, u.quantization
        if r is not None and r.zeroPoint is not None and len(r.zeroPoint) > 1:  # per-channel weights only
            assert list(q.zeroPoint) == [0] and list(q.scale) == list(r.scale)
        elif r is not None and r.zeroPoint is not None:  # activations keep their zero point
            assert list(q.zeroPoint) == list(r.zeroPoint)
    images = synth.samples("camera").images  # the runner gives LiteRT the expanded copy (it refuses the compact one)
    assert np.array_equal(quantize.Runner(data).raw(images), quantize.Runner(compact).raw(images))


def test_compact_zero_points_run_the_same_on_tflite_micro(data):
    """Evidence from the interpreter the camera runs (tflite-micro's own Python build, not ours)."""
    from tflite_micro.python.tflite_micro import runtime

    images = synth.samples("camera").images[:8]

    def raw(model):
        interpreter = runtime.Interpreter.from_bytes(bytes(model))
        out = []
        for image in images:
            interpreter.set_input((image.astype(np.int16) - 128).astype(np.int8)[None], 0)
            interpreter.invoke()
            out.append(interpreter.get_output(0).copy())
        return np.concatenate(out)

    assert np.array_equal(raw(data), raw(tflite.compact_zero_points(data)))


def test_expand_zero_points_undoes_compaction_and_camera_copy_adds_up(data):
    copy = tflite.camera_copy(data)
    assert copy.saved == copy.names_saved + copy.zero_points_saved == len(data) - len(copy)
    assert copy.names_saved == tflite.strip_names(data).saved
    expanded = tflite.expand_zero_points(copy)
    assert expanded == tflite.strip_names(data) and not tflite.has_compact_zero_points(expanded)
    assert tflite.expand_zero_points(data) == data and tflite.compact_zero_points(copy).saved == 0


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
