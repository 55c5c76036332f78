"""Where the real OpenMV firmware 5.0.0 puts a model read from a file, with the heap shaped as an H7's.

The QEMU build reads models from /rom without copying them and has one 1 MiB heap; an OpenMV Cam H7 on 5.0.0
copies a model file from its drive or SD card into RAM and has two heap blocks (64 KiB, 264 KiB). Here the firmware
takes its copy path (the file comes from a RAM drive whose files are io.BytesIO streams) and the test fills the
QEMU heap so that only two holes of the H7's block sizes are free. The placement and arena sizing are the
firmware's own code (modules/py_ml.c, lib/tflm/tflm_backend.cc); only the heap's shape is ours, from
boards/OPENMV4/board_config.h at v5.0.0 and MicroPython's allocation tables (``memory.heap_block_usable``).

Needs ../shared/openmv-qemu, qemu-system-arm and mpremote (else skipped with one line); about 40 s.
"""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_firmware as qf  # noqa: E402

REASON = qf.unavailable()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

from tinymask import board_fit, memory, tflite  # noqa: E402

STUDENT = qf.ROOT / "tinymask" / "weights" / "mask_real_student_pw7_96_int8.tflite"
SCRIPT_USE = (4_000, 24_000)  # bytes of objects in the first heap block when the model loads (two guesses)

PRELUDE = '''import gc, io, vfs
import ml


class _BytesFS:
    """A drive whose files are io.BytesIO streams: ml.Model must copy the file into RAM, as from an SD card."""
    def __init__(self, files):
        self.files = files
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def open(self, path, mode):
        return io.BytesIO(self.files[path])
    def stat(self, path):
        return (0x8000, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)


_FILL = [None] * 400


def shape_heap(first, second):
    """Leave free only two holes of `first` and `second` bytes, in that order, and fragments under 32 B."""
    gc.collect()
    span = bytearray(first + 4096 + second + 256)
    n, size = 0, 1 << 20
    while size >= 32 and n < len(_FILL):
        try:
            _FILL[n] = bytearray(size)
            n += 1
        except MemoryError:
            size //= 2
    span = None
    gc.collect()
    a = bytearray(first)
    _FILL[n] = bytearray(4096)
    b = bytearray(second)
    a = b = None
    gc.collect()


def release_heap():
    for i in range(len(_FILL)):
        _FILL[i] = None
    gc.collect()


def trial(label, data, holes, load):
    vfs.mount(_BytesFS({"/m.tflite": data}), "/ram")
    try:
        shape_heap(*holes)
        try:
            model = load("/ram/m.tflite", True)
            text = str(model)
            addr = int(text.split("model_addr: ")[1].split(",")[0], 16)
            ram = int(text.split("ram_size: ")[1].split(",")[0])
            print("HEAP", label, "loaded", "0x%08x" % addr, ram)
            model = None
        except Exception as e:
            print("HEAP", label, "failed", type(e).__name__, e)
    finally:
        release_heap()
        vfs.umount("/ram")


def plain(path, load_to_fb):
    return ml.Model(path)
'''


def _trials(files, holes):
    lines = []
    for name in files:
        lines.append(f"data = open('/rom/{name}.tflite', 'rb').read()")
        for use, (first, second) in holes.items():
            for how in ("plain", "load_model"):
                lines.append(f"trial('{name} {use} {how}', data, ({first}, {second}), {how})")
        lines.append("data = None\ngc.collect()")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def placements(tmp_path_factory):
    """{(file, heap in use, how): (outcome, model address, model.ram)} from the 5.0.0 firmware, and the files."""
    rom = tmp_path_factory.mktemp("heap") / "rom"
    rom.mkdir()
    camera = tflite.camera_copy(qf.MODEL.read_bytes())
    files = {"camera": camera, "student": STUDENT.read_bytes(), "full": qf.MODEL.read_bytes()}
    for name, data in files.items():
        (rom / f"{name}.tflite").write_bytes(data)
    first, second = (memory.heap_block_usable(n) for n in memory.board("openmv-h7").heap_blocks_5_0)
    holes = {use: (first - use, second) for use in SCRIPT_USE}
    script_functions = "\n\n".join(qf.function_source(qf.SCRIPTS_DIR / "classify.py", name)
                                   for name in ("_new_model", "load_model"))
    hold = re.search(r"^HEAP_HOLD = .*$", (qf.SCRIPTS_DIR / "classify.py").read_text(), re.MULTILINE).group(0)
    text = PRELUDE + hold + "\n\n" + script_functions + "\n\n" + _trials(files, holes)
    run = qf.run_scripts({"heap": text}, "5.0.0", rom, timeout=300)["heap"]
    assert run.ok, run.output[-2000:]
    found = {}
    for line in run.lines("HEAP "):
        _, name, use, how, outcome, *rest = line.split(" ", 6)
        found[(name, int(use), how)] = (outcome, *rest)
    assert len(found) == len(files) * len(SCRIPT_USE) * 2, run.output[-2000:]
    return found, files


def test_the_camera_copy_fails_to_load_plainly_on_an_h7_shaped_heap(placements):
    """The firmware's own answer: the 252,256 B camera copy takes the 264 KiB heap block, the arena finds none."""
    found, files = placements
    for use in SCRIPT_USE:
        outcome, *detail = found[("camera", use, "plain")]
        assert outcome == "failed" and "Failed to allocate tensors" in " ".join(detail), (use, detail)


def test_the_scripts_load_model_loads_it_outside_the_heap(placements):
    """openmv_scripts' load_model retries while holding HEAP_HOLD bytes: the model goes to UMA (on this QEMU build
    in PSRAM from 0x60000000), the arena gets the heap, model.ram as the firmware reports it elsewhere."""
    found, _ = placements
    for use in SCRIPT_USE:
        outcome, addr, ram = found[("camera", use, "load_model")]
        assert outcome == "loaded" and int(addr, 16) >= 0x60000000 and int(ram) == 101_344, (use, addr, ram)


def test_the_student_and_the_uncompacted_file_load_plainly(placements):
    found, _ = placements
    for use in SCRIPT_USE:
        assert found[("student", use, "plain")][0] == "loaded"
        outcome, addr, _ = found[("full", use, "plain")]  # 318,056 B: larger than any heap block, so UMA
        assert outcome == "loaded" and int(addr, 16) >= 0x60000000


def test_firmware5_placement_predicts_what_the_firmware_did(placements):
    """board_fit.firmware5_placement (our reading of the sources) against the firmware, case by case."""
    found, files = placements
    for (name, use, how), (outcome, *detail) in found.items():
        data = files[name]
        ram = int(detail[1]) if outcome == "loaded" else 101_344
        predicted = board_fit.firmware5_placement(len(data), ram, heap_in_use=use)
        if how == "load_model" and not predicted:
            predicted = board_fit.firmware5_placement(len(data), ram, heap_in_use=use,
                                                      hold_bytes=board_fit.SCRIPT_HEAP_HOLD)
        assert predicted.loads == (outcome == "loaded"), (name, use, how, outcome, str(predicted))
        if outcome == "loaded":
            in_uma = int(detail[0], 16) >= 0x60000000
            assert (predicted.model_in == "uma") == in_uma, (name, use, how, detail, str(predicted))


def test_every_camera_script_loads_its_model_the_same_way():
    """The test above runs classify.py's load_model; the other scripts that load a model carry the same code."""
    def part(name):
        text = (qf.SCRIPTS_DIR / name).read_text()
        hold = re.search(r"^HEAP_HOLD = .*$", text, re.MULTILINE).group(0)
        return hold, qf.function_source(qf.SCRIPTS_DIR / name, "_new_model"), \
            qf.function_source(qf.SCRIPTS_DIR / name, "load_model")

    reference = part("classify.py")
    assert reference[0] == f"HEAP_HOLD = {board_fit.SCRIPT_HEAP_HOLD}"
    for name in ("face_mask.py", "low_power.py", "benchmark_fps.py"):
        assert part(name) == reference, name
