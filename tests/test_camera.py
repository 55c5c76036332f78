"""`tinymask camera` (tinymask/camera.py, over tinymask/camera_link.py): the pure parts anywhere, then
copy/run/parity/fps end to end against the real OpenMV firmware v5.0.0 in QEMU (../shared/openmv-qemu), whose serial
pty behaves like a camera's USB port."""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from tinymask import camera, camera_link, cli, deploy, tflite

ROOT = Path(__file__).resolve().parents[1]
QEMU_DIR = ROOT.parent / "shared" / "openmv-qemu"
FIRMWARE = QEMU_DIR / "firmware" / "openmv-5.0.0-mps2-an500.elf"
MODEL = ROOT / "tinymask" / "weights" / "mask_mobilenet_v1_a0.25_96_int8.tflite"


def tinymask(*args, timeout=180):
    """``python -m tinymask ARGS`` in a subprocess (as a user types it)."""
    return subprocess.run([sys.executable, "-m", "tinymask", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("camera") / "openmv"
    deploy.export_bundle(MODEL.read_bytes(), ("mask", "no_mask"), folder)
    return folder


# --------------------------------------------------------------------------------------------- anywhere
def test_parser_has_the_four_camera_actions():
    parser = cli.build_parser()
    args = parser.parse_args(["camera", "copy", "--port", "/dev/ttyACM0", "build/openmv", "--force"])
    assert (args.func, args.port, args.bundle, args.force, args.dest) == (cli.cmd_camera_copy, "/dev/ttyACM0",
                                                                           "build/openmv", True, None)
    args = parser.parse_args(["camera", "run", "--port", "COM3", "a.py", "--seconds", "2.5"])
    assert (args.func, args.script, args.seconds) == (cli.cmd_camera_run, "a.py", 2.5)
    args = parser.parse_args(["camera", "parity", "--port", "p", "--bundle", "b"])
    assert (args.func, args.bundle, args.samples) == (cli.cmd_camera_parity, "b", None)
    args = parser.parse_args(["camera", "fps", "--port", "p"])
    assert (args.func, args.bundle, args.seconds, args.runs) == (cli.cmd_camera_fps, None, 120.0, None)
    for bad in (["camera", "run", "a.py"], ["camera", "run", "--port", "p", "a.py", "--seconds", "0"],
                ["camera", "parity", "--port", "p"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_bundle_files_are_read_checked_and_ordered(bundle, tmp_path):
    local = camera.read_bundle(bundle)
    files = local.files
    order = camera.bundle_files(local.manifest)
    assert local.model_file == "tinymask_mask.tflite"
    assert order[0] == "tinymask_mask.tflite" and order[-2:] == ["bundle.json", "main.py"]
    assert sorted(order) == sorted(p.name for p in bundle.iterdir()) == sorted(files)
    assert files["tinymask_mask.tflite"] == tflite.camera_copy(MODEL.read_bytes())  # the camera copy
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / "labels.txt").unlink()
    with pytest.raises(camera.CameraError, match=r"incomplete \(missing labels.txt\).*tinymask export"):
        camera.read_bundle(broken)
    (broken / "labels.txt").write_text("mask\nother\n")
    with pytest.raises(camera.CameraError, match="differs from what bundle.json lists"):
        camera.read_bundle(broken)
    with pytest.raises(camera.CameraError, match="has no bundle.json"):
        camera.read_bundle(tmp_path)
    with pytest.raises(camera.CameraError, match="does not exist"):
        camera.read_bundle(tmp_path / "nowhere")


def test_drive_choice_follows_the_firmware_and_refuses_the_internal_drive():
    big, flash = (32 << 30, 31 << 30), (128 * 1024, 100 * 1024)
    assert camera.choose_drive({"names": ["flash", "rom", "sdcard"], "/sdcard": big, "/flash": flash}) == "/sdcard"
    assert camera.choose_drive({"names": ["main.py"], "/": big, "/sdcard": big}) == "/"  # 4.5.6 with a card
    assert camera.choose_drive({"names": ["rom"]}, dest="/rom/x") == "/rom/x"
    with pytest.raises(camera.CameraError, match=r"only its internal drive \(/flash, 128 KB\).*SD card"):
        camera.choose_drive({"names": ["flash", "rom"], "/flash": flash})
    with pytest.raises(camera.CameraError, match=r"internal drive \(/, 128 KB\)"):
        camera.choose_drive({"names": ["main.py"], "/": flash})  # 4.5.6 without a card
    with pytest.raises(camera.CameraError, match=r"no SD card \(it has /rom\)"):
        camera.choose_drive({"names": ["rom"], "/": (0, 0)})


def test_payloads_are_rgb565_little_endian_and_the_benchmark_is_configured():
    import numpy as np

    pixels = np.array([[[[255, 0, 0], [0, 0, 255]]]], dtype=np.uint8)
    seen, payloads = camera.camera_payloads(pixels)
    assert payloads == [bytes([0x00, 0xF8, 0x1F, 0x00])] and (seen == pixels).all()
    packed = camera.pack_chunk(b"\x00" * 5000)
    assert zlib.decompress(packed, 10) == b"\x00" * 5000 and len(packed) < 100
    assert camera.pack_chunk(b"abc", compress=False) == b"abc"
    script = camera.benchmark_script(model_file="m.tflite", input_size=(64, 48), channels=1, runs=5)
    assert re.search(r'^MODEL_FILE = "m.tflite"$', script, re.M) and re.search(r"^RUNS = 5$", script, re.M)
    assert re.search(r"^INPUT_SIZE = \(64, 48\)$", script, re.M) and re.search(r"^CHANNELS = 1$", script, re.M)
    assert camera.parse_scores("x\nTINYMASK_SCORES 0000803f\n").tolist() == [1.0]


def test_errors_are_one_line_with_exit_status_2(tmp_path, monkeypatch, capsys):
    def run(*argv):
        code = cli.main(["camera", *argv])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        return err

    (tmp_path / "bundle.json").write_text(json.dumps({"model_name": "m", "files": {}}))
    assert "incomplete (missing labels.txt, m.tflite, m.txt, main.py)" in run("copy", "--port", "p", str(tmp_path))
    assert "missing.py: no such script" in run("run", "--port", "/dev/ttyNOPE9", str(tmp_path / "missing.py"))
    (tmp_path / "ok.py").write_text("print(1)\n")
    assert "--port /dev/ttyNOPE9: no such port; plug the camera in" in run("run", "--port", "/dev/ttyNOPE9",
                                                                             str(tmp_path / "ok.py"))
    assert "does not exist; give the folder" in run("parity", "--port", "/dev/null", "--bundle", str(tmp_path / "x"))
    # a port where nothing answers (a pty nobody reads), and the same port held by another program
    monkeypatch.setattr(camera_link, "CONNECT_TIMEOUT", 1.0)  # what Camera(port) waits (camera re-exports it)
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        assert "no MicroPython REPL answered within 1 s" in run("run", "--port", port, str(tmp_path / "ok.py"))
        import serial

        holder = serial.Serial(port, exclusive=True)
        try:
            assert "is busy: another program holds it" in run("run", "--port", port, str(tmp_path / "ok.py"))
        finally:
            holder.close()
    finally:
        os.close(master)
        os.close(slave)


# --------------------------------------------------------------------------------------------- QEMU
# A RAM drive for /sdcard: this firmware has no vfs.VfsFat (dir(vfs) lists only VfsRom) and no writable drive, so
# the board gets a MicroPython VFS object (the protocol vfs.mount accepts). Its files live in one block taken at
# mount time, handed out in order (removing a file does not give its room back): ml.Model's tensor arena is the
# largest free block of the 1 MB heap (lib/tflm/tflm_backend.cc, v5.0.0), so the drive must not fragment it.
RAM_DRIVE = '''import io, vfs, machine
class _RamFile(io.IOBase):
    def __init__(self, drive, name, start, size, mode):
        self.drive, self.name, self.start, self.size, self.pos = drive, name, start, size, 0
        self.writing, self.text = "w" in mode, "b" not in mode
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.close()
    def readinto(self, buf):
        n = min(len(buf), self.size - self.pos)
        buf[:n] = memoryview(self.drive.block)[self.start + self.pos:self.start + self.pos + n]
        self.pos += n
        return n
    def read(self, n=-1):
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        out = bytes(memoryview(self.drive.block)[self.start + self.pos:self.start + self.pos + n])
        self.pos += n
        return out.decode() if self.text else out
    def readline(self):
        data = bytes(memoryview(self.drive.block)[self.start + self.pos:self.start + self.size])
        end = data.find(b"\\n")
        out = data if end < 0 else data[:end + 1]
        self.pos += len(out)
        return out.decode() if self.text else out
    def __iter__(self):
        return self
    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line
    def write(self, buf):
        buf = buf.encode() if isinstance(buf, str) else buf
        if self.start + self.size + len(buf) > len(self.drive.block):
            raise OSError(28)  # ENOSPC
        self.drive.block[self.start + self.size:self.start + self.size + len(buf)] = buf
        self.size += len(buf)
        self.drive.used = self.start + self.size
        return len(buf)
    def close(self):
        if self.writing:
            self.drive.files[self.name], self.writing = (self.start, self.size), False
    def ioctl(self, request, arg):
        if request == 2:  # MP_STREAM_SEEK, arg -> {offset, whence}: how ml.Model finds the file size
            base = (0, self.pos, self.size)[machine.mem32[arg + 4]]
            self.pos = machine.mem32[arg] = base + machine.mem32[arg]
        elif request == 4:
            self.close()
        return 0
class _RamDrive:
    def __init__(self, size):
        self.block, self.used, self.files = bytearray(size), 0, {}
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def ilistdir(self, path):
        return iter([(n, 0x8000, 0, self.files[n][1]) for n in sorted(self.files)])
    def stat(self, path):
        name = path.strip("/")
        if not name:
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if name not in self.files:
            raise OSError(2)
        return (0x8000, 0, 0, 0, 0, 0, self.files[name][1], 0, 0, 0)
    def statvfs(self, path):
        free = (len(self.block) - self.used) // 512
        return (512, 512, len(self.block) // 512, free, free, 0, 0, 0, 0, 255)
    def open(self, path, mode):
        name = path.strip("/")
        if "w" in mode:
            return _RamFile(self, name, self.used, 0, mode)
        if name not in self.files:
            raise OSError(2)
        return _RamFile(self, name, self.files[name][0], self.files[name][1], mode)
    def remove(self, path):
        if self.files.pop(path.strip("/"), None) is None:
            raise OSError(2)
    def rename(self, old, new):
        self.files[new.strip("/")] = self.files.pop(old.strip("/"))
    def chdir(self, path):
        pass
    def getcwd(self):
        return ""
    def mkdir(self, path):
        raise OSError(1)
vfs.mount(_RamDrive(SIZE), MOUNT)
'''


def _qemu_missing():
    if not FIRMWARE.is_file():
        return f"the OpenMV firmware for QEMU is not at {QEMU_DIR} (put ../shared/openmv-qemu beside the repository)"
    if shutil.which("qemu-system-arm") is None:
        return "qemu-system-arm is not installed (apt-get install qemu-system-arm)"
    try:
        import mpremote  # noqa: F401
    except ImportError:
        return "mpremote is not installed (pip install mpremote pyserial)"
    return None


@pytest.fixture(scope="module")
def rom_image(tmp_path_factory):
    """The /rom image omv-qemu builds (tools/mkromfs.py: the H7's FOMO model and Haar cascades)."""
    missing = _qemu_missing()
    if missing:
        pytest.skip(missing)
    work = tmp_path_factory.mktemp("qemu")
    rom = QEMU_DIR / "rom"
    config = {"0": {"size": "0x400000", "entries": [
        {"type": "data", "path": str(rom / "fomo_face_detection.tflite"), "alignment": 32},
        {"type": "haar", "path": str(rom / "haarcascade_frontalface.xml"), "stages": 0},
        {"type": "haar", "path": str(rom / "haarcascade_eye.xml"), "stages": 0}]}}
    (work / "romfs.json").write_text(json.dumps(config))
    (work / "out").mkdir()
    (work / "build").mkdir()
    made = subprocess.run([sys.executable, "mkromfs.py", "--config", str(work / "romfs.json"), "--top-dir",
                           str(QEMU_DIR), "--out-dir", str(work / "out"), "--build-dir", str(work / "build"), "-j",
                           "1"], cwd=QEMU_DIR / "tools", capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    return work / "out" / "romfs0.img"


@contextlib.contextmanager
def booted(image, log_path):
    """The v5.0.0 firmware running in QEMU as omv-qemu starts it (-serial pty): yields the pty, e.g. /dev/pts/3."""
    with open(log_path, "w") as log:
        qemu = subprocess.Popen(["qemu-system-arm", "-machine", "mps2-an500", "-nographic", "-monitor", "null",
                                 "-semihosting", "-device", f"loader,file={image},addr=0x60C00000,force-raw=on",
                                 "-serial", "pty", "-kernel", str(FIRMWARE)], stdout=log, stderr=subprocess.STDOUT)
        try:
            port = None
            for _ in range(80):
                found = re.search(r"/dev/pts/\d+", Path(log_path).read_text())
                if found:
                    port = found.group(0)
                    break
                assert qemu.poll() is None, Path(log_path).read_text()
                time.sleep(0.25)
            assert port, "QEMU opened no serial pty: " + Path(log_path).read_text()
            yield port
        finally:
            qemu.send_signal(signal.SIGTERM)
            try:
                qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()


@pytest.fixture(scope="module")
def board(rom_image):
    """One board for the module's tests (QEMU idles at full speed: it runs only while they do)."""
    with booted(rom_image, rom_image.parent / "qemu.log") as port:
        yield port


def mpremote(port, *args, timeout=60):
    """``mpremote connect PORT resume ...`` (resume: no soft reset, which would unmount the RAM drive)."""
    done = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume", *args], capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def ram_drive(size, mount):
    return RAM_DRIVE.replace("SIZE", str(size)).replace("MOUNT", repr(mount))


@pytest.fixture(scope="module")
def sdcard(board):
    """A 360 KB RAM drive mounted at /sdcard on the board (an mpremote exec): room for the bundle and the rewrites
    below, and ~650 KB of the 1 MB heap left, so ml.Model's copy of the 318 KB model and its ~100 KB arena both fit
    in the heap. (A larger drive sends the copy to the firmware's UMA memory instead: this build then HardFaults
    on the second ml.Model of the same file, which parity followed by fps does.)"""
    mpremote(board, "exec", ram_drive(360 * 1024, "/sdcard"))
    return board


def test_run_streams_the_output_and_exits_0(board, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import sys\nfor i in range(3):\n    print('hello', i)\nprint(sys.implementation._machine)\n")
    done = tinymask("camera", "run", "--port", board, script, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["hello 0", "hello 1", "hello 2", "mps2-an500 with Cortex-M7"]


def test_run_of_a_raising_script_exits_1_with_the_camera_traceback(board, tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("print('before')\n\ndef f():\n    return 1 / 0\n\nf()\n")
    done = tinymask("camera", "run", "--port", board, script, timeout=60)
    assert done.returncode == 1 and done.stdout == "before\n"
    assert done.stderr.splitlines() == ["Traceback (most recent call last):", '  File "<stdin>", line 6, in <module>',
                                        '  File "<stdin>", line 4, in f', "ZeroDivisionError: divide by zero"]


# This firmware's UART (MicroPython's qemu port) is polled, so Ctrl-C reaches a running script only when it reads
# stdin; on a camera the USB port's interrupt raises KeyboardInterrupt at once. The loop here reads its Ctrl-C itself.
STOPPABLE_LOOP = """import sys, select, time
poller = select.poll()
poller.register(sys.stdin, select.POLLIN)
n = 0
while True:
    print("tick", n)
    n += 1
    time.sleep_ms(100)
    if poller.poll(0) and sys.stdin.read(1) == "\\x03":
        raise KeyboardInterrupt
"""


def test_run_stops_a_while_true_loop_after_seconds(board, tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(STOPPABLE_LOOP)
    start = time.monotonic()
    done = tinymask("camera", "run", "--port", board, script, "--seconds", "2", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tick 0\ntick 1\n")
    assert done.stderr == "tinymask camera run: stopped loop.py after 2 s (Ctrl-C)\n"
    assert time.monotonic() - start < 30
    script.write_text("print('free')\n")  # the loop is over: the board answers the next command
    assert tinymask("camera", "run", "--port", board, script).stdout == "free\n"


def test_run_says_so_when_a_script_does_not_stop(rom_image, tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("import time\nwhile True:\n    print('still here')\n    time.sleep_ms(500)\n")
    with booted(rom_image, tmp_path / "qemu.log") as port:  # its own board: this one stays busy
        done = tinymask("camera", "run", "--port", port, script, "--seconds", "1", timeout=60)
    assert done.returncode == 2 and done.stdout.startswith("still here\n")
    assert done.stderr == (f"tinymask camera: error: the script on {port} did not stop on Ctrl-C within 5 s of the "
                           "time given; press the camera's reset button (or replug it)\n")


def test_copy_refuses_a_board_without_an_sd_card(board, bundle):
    if "sdcard" in mpremote(board, "exec", "import os; print(os.listdir('/'))"):
        pytest.skip("the RAM drive is already mounted (the test ran after the copy)")
    done = tinymask("camera", "copy", "--port", board, bundle)
    assert done.returncode == 2 and done.stderr.strip() == (
        "tinymask camera: error: the camera shows no SD card (it has /rom): insert a micro SD card (FAT32) and "
        "reset the camera, or give --dest FOLDER")


@pytest.fixture(scope="module")
def copied(sdcard, bundle):
    """The bundle copied to the board's /sdcard with ``tinymask camera copy`` (what that printed)."""
    return tinymask("camera", "copy", "--port", sdcard, bundle)


def ls(port, folder):
    """``{name: bytes}`` of a folder on the board, as ``mpremote fs ls`` lists it."""
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s*(\d+) (\S+)$", mpremote(port, "fs", "ls", folder),
                                                             re.M)}


def test_copy_puts_the_bundle_on_the_sd_card(sdcard, bundle, copied):
    assert copied.returncode == 0, copied.stderr
    assert "copied 5 of 5 files to /sdcard" in copied.stdout
    assert ls(sdcard, "/sdcard") == {p.name: p.stat().st_size for p in bundle.iterdir()}
    for name in ("tinymask_mask.tflite", "main.py"):
        digest = mpremote(sdcard, "fs", "sha256sum", f"/sdcard/{name}").split()[-1]
        assert digest == hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    again = tinymask("camera", "copy", "--port", sdcard, bundle)  # the same files: nothing to write
    assert again.returncode == 0 and "copied 0 of 5 files" in again.stdout, again.stdout + again.stderr


def test_parity_of_the_shipped_model_on_the_committed_samples(sdcard, bundle, copied):
    done = tinymask("camera", "parity", "--port", sdcard, "--bundle", bundle, timeout=300)
    count = len(list(camera.SAMPLES_DIR.glob("*/*.png")))
    summary = re.search(r"parity: (\d+)/(\d+) images with identical scores .* largest difference (\S+)", done.stdout)
    assert summary, done.stdout + done.stderr
    print(summary.group(0))
    assert int(summary.group(2)) == count
    assert done.returncode == 0 and int(summary.group(1)) == count and float(summary.group(3)) == 0.0, done.stdout


def test_fps_runs_benchmark_fps_and_prints_its_figures(sdcard, bundle, copied):
    # QEMU time is not Cortex-M7 time: this checks the plumbing (script configured, run, line parsed), not the FPS.
    done = tinymask("camera", "fps", "--port", sdcard, "--bundle", bundle, "--runs", "3", "--seconds", "90",
                    timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    bench = deploy.parse_benchmark(done.stdout)[-1]
    assert (bench.model, bench.runs, bench.size, bench.firmware) == ("tinymask_mask.tflite", 3, (96, 96, 3), "5.0.0")
    line = re.search(r"^FPS: ([0-9.]+) inference alone \(([0-9.]+) ms\).*firmware 5\.0\.0", done.stdout, re.M)
    assert line and float(line.group(1)) == pytest.approx(bench.infer_fps, abs=0.01), done.stdout
    print(line.group(0))


def test_copy_refuses_to_replace_a_different_file_unless_forced(sdcard, bundle, copied, tmp_path):
    changed = tmp_path / "openmv"
    shutil.copytree(bundle, changed)
    manifest = json.loads((changed / "bundle.json").read_text())
    text = (changed / "main.py").read_text().replace("UNCERTAIN_BELOW = 0.6", "UNCERTAIN_BELOW = 0.7")
    assert "UNCERTAIN_BELOW = 0.7" in text
    (changed / "main.py").write_text(text)
    manifest["files"]["main.py"] = {"bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    (changed / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    done = tinymask("camera", "copy", "--port", sdcard, changed)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "already has other files of the same names: /sdcard/bundle.json" in done.stderr
    assert f"/sdcard/main.py ({len(text.encode()):,} B)" in done.stderr and "pass --force" in done.stderr
    forced = tinymask("camera", "copy", "--port", sdcard, changed, "--force")
    assert forced.returncode == 0 and "copied 2 of 5 files" in forced.stdout, forced.stdout + forced.stderr
    assert "UNCERTAIN_BELOW = 0.7" in mpremote(sdcard, "fs", "cat", "/sdcard/main.py")
    back = tinymask("camera", "copy", "--port", sdcard, bundle, "--force")  # the exported bundle again
    assert back.returncode == 0 and "copied 2 of 5 files" in back.stdout


def test_copy_refuses_a_card_without_room(sdcard, bundle, copied):
    mpremote(sdcard, "exec", ram_drive(32 * 1024, "/tiny"))  # a card with 32 KB left
    try:
        done = tinymask("camera", "copy", "--port", sdcard, bundle, "--dest", "/tiny")
        listing = ls(sdcard, "/tiny")
    finally:  # its 32 KB back to the heap, for the model's arena in the tests below
        mpremote(sdcard, "exec", "import vfs, gc\nvfs.umount('/tiny')\ngc.collect()")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    expected = (r"^tinymask camera: error: the drive at /tiny has 32,768 B free but the files need [0-9]{3},[0-9]{3}"
                r" B: free some space on the SD card or use a larger one$")
    assert re.search(expected, done.stderr), done.stderr
    assert listing == {}, "nothing is written when the room is short"


def test_camera_side_code_raises_only_what_micropython_has():
    """The code tinymask sends to the camera runs in MicroPython, where tinymask's error classes do not exist: a
    ``raise InputError`` there would be a NameError instead of the message."""
    import ast
    import builtins

    for name, code in [("camera_link helpers", camera_link._HELPERS),
                       ("parity script", camera.parity_script("/sdcard/m.tflite", 96, 96))]:
        raised = {n.exc.func.id for n in ast.walk(ast.parse(code))
                  if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call) and isinstance(n.exc.func, ast.Name)}
        assert raised and all(isinstance(getattr(builtins, e, None), type) for e in raised), (name, raised)
