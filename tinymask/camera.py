"""Drive a real OpenMV camera from the laptop over its USB serial REPL: copy a bundle to its SD card, run a script,
check the model's scores against the host's, measure FPS (introduced in notebooks/06_openmv_deployment.ipynb).

``tinymask camera copy|run|parity|fps --port PORT`` calls these. Everything goes through MicroPython's raw REPL with
``mpremote``'s :class:`~mpremote.transport_serial.SerialTransport`; the camera is interrupted with Ctrl-C but never
reset, so its SD card stays mounted and nothing but the files named is touched. Files and images travel as raw
chunks of at most 8 KB (zlib-compressed where the firmware has ``deflate``), each sent only once the camera says it
is reading and checked with a CRC-32 there; a copied file is checked again with SHA-256 before it takes its name.
Each failure is a :class:`CameraError` whose message is one line naming the input and what to do.
"""

import ast
import codecs
import contextlib
import hashlib
import io
import json
import os
import re
import signal
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, TinymaskError

__all__ = [
    "CameraError",
    "CONNECT_TIMEOUT",
    "FLASH_DRIVE_MAX_BYTES",
    "CHUNK_BYTES",
    "SAMPLES_DIR",
    "BENCHMARK_SCRIPT",
    "SCORES_PREFIX",
    "Camera",
    "RunResult",
    "FileCopy",
    "LocalBundle",
    "ParityResult",
    "read_bundle",
    "bundle_files",
    "choose_drive",
    "copy_files",
    "run_code",
    "camera_payloads",
    "pack_chunk",
    "parity_script",
    "parse_scores",
    "camera_scores",
    "load_samples",
    "parity",
    "benchmark_script",
    "benchmark",
    "copy_bundle",
]

ROOT = Path(__file__).resolve().parents[1]
#: Seconds to wait for the REPL to answer Ctrl-C / Ctrl-A when connecting.
CONNECT_TIMEOUT = 5.0
#: A drive this small is the camera's internal flash (128 KB on the H7, ``OMV_FLASH_FFS_LENGTH``), not an SD card.
FLASH_DRIVE_MAX_BYTES = 4 * 1024 * 1024
#: Bytes of a file per REPL command (before compression).
CHUNK_BYTES = 8192
SAMPLES_DIR = ROOT / "datasets" / "samples" / "camera"
BENCHMARK_SCRIPT = ROOT / "openmv_scripts" / "benchmark_fps.py"
#: What each line of :func:`parity_script`'s scores starts with.
SCORES_PREFIX = "TINYMASK_SCORES"
_ZLIB_WBITS = 10  # a 1 KB window: what the camera's deflate.DeflateIO allocates to decompress a chunk
_PORT_HINT = "plug the camera in and give its port (Linux /dev/ttyACM0, macOS /dev/cu.usbmodem*, Windows COM3)"


class CameraError(TinymaskError, RuntimeError):
    """A problem with the camera, its port or the inputs, as one line naming the input and what to do."""


# --------------------------------------------------------------------------------------------- the connection
def _ports_seen():
    try:
        from serial.tools import list_ports

        names = sorted(p.device for p in list_ports.comports())
    except Exception:  # listing ports is only a hint
        names = []
    return f" (serial ports here: {', '.join(names)})" if names else ""


def _open_transport(port, timeout):
    """An mpremote SerialTransport in the raw REPL on ``port``, or a CameraError saying why not."""
    try:
        import serial
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
    except ImportError:
        raise CameraError("talking to the camera needs mpremote and pyserial: pip install -r requirements.txt "
                          "(or pip install mpremote==1.29.0 pyserial)") from None

    if str(port).startswith("/dev/") and not os.path.exists(port):
        raise CameraError(f"--port {port}: no such port; {_PORT_HINT}{_ports_seen()}")
    try:  # mpremote hides why a port would not open: ask pyserial first
        serial.Serial(port, exclusive=True).close()
    except serial.SerialException as error:
        number = getattr(error, "errno", None)
        if number == 11 or "lock" in str(error).lower():
            raise CameraError(f"--port {port} is busy: another program holds it (the OpenMV IDE, a serial "
                              "terminal, another mpremote or tinymask); close it and try again") from None
        if number == 13:
            raise CameraError(f"--port {port}: permission denied; on Linux add yourself to the dialout group "
                              "(sudo usermod -aG dialout $USER, then log in again)") from None
        if number == 2 or "could not open" in str(error).lower() and "no such" in str(error).lower():
            raise CameraError(f"--port {port}: no such port; {_PORT_HINT}{_ports_seen()}") from None
        raise CameraError(f"--port {port}: cannot open it ({error}); check the cable and the port name") from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints what it read when the REPL fails
            transport = SerialTransport(port, baudrate=115200, exclusive=True)
    except (TransportError, OSError) as error:
        raise CameraError(f"--port {port}: cannot open it ({error}); check the cable and the port name") from None
    try:
        transport.serial.timeout = 0.2  # mpremote reads a pty (QEMU's) blocking: let its overall timeout work
        with contextlib.redirect_stdout(io.StringIO()):
            transport.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
        transport.serial.timeout = 15  # mpremote reads whole answers; a board that died must not hang us
    except (TransportError, OSError) as error:
        transport.close()
        raise CameraError(f"--port {port}: no MicroPython REPL answered within {timeout:g} s; give the camera's "
                          "port (not another serial device), or unplug and replug the camera if a script there "
                          f"ignores Ctrl-C ({error})") from None
    return transport


@dataclass(frozen=True)
class RunResult:
    """What a script printed on the camera (``output``), its traceback (``error``, empty when none), and whether
    it was stopped with Ctrl-C after the time given (``stopped``)."""

    output: str
    error: str
    stopped: bool
    seconds: float

    @property
    def raised(self):
        """True when the script raised, not counting the KeyboardInterrupt of a stop after ``seconds``."""
        lines = [line for line in self.error.splitlines() if line.strip()]
        if not lines:
            return False
        return not (self.stopped and lines[-1].startswith("KeyboardInterrupt"))


class Camera:
    """A MicroPython REPL on a serial port (an OpenMV camera, or the QEMU firmware's pty), in raw REPL mode.

    ``with Camera("/dev/ttyACM0") as cam: cam.eval("1 + 1")``. Connecting interrupts a running script with Ctrl-C;
    the board is not reset. :meth:`exec` returns what the code printed; an exception on the camera becomes a
    CameraError carrying its traceback's last line.
    """

    def __init__(self, port, timeout=None):
        self.port = str(port)
        self._t = _open_transport(self.port, CONNECT_TIMEOUT if timeout is None else timeout)
        self._helpers = False
        self._broken = False  # set when the camera stopped answering: close() then asks it nothing
        self.compress = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._t is None:
            return
        if self._helpers and not self._broken:  # leave the namespace and heap as found: a model needs the room
            with contextlib.suppress(Exception):
                self.exec("for _k in [k for k in globals() if k.startswith('_tm_')]:\n    del globals()[_k]\n"
                          "del _k\nimport gc\ngc.collect()")
        with contextlib.suppress(Exception):
            self._t.exit_raw_repl()
        with contextlib.suppress(Exception):
            self._t.close()
        self._t = None

    def _lost(self, error):
        self._broken = True
        return CameraError(f"--port {self.port}: the camera stopped answering ({error}); check the cable, then "
                           "unplug and replug the camera and try again")

    def exec(self, code, timeout=30):
        """Run ``code`` on the camera and return what it printed (str); a traceback raises CameraError."""
        from mpremote.transport import TransportError

        try:
            out, err = self._t.exec_raw(code, timeout=timeout)
        except (TransportError, OSError) as error:
            raise self._lost(error) from None
        return _answer(out, err)

    def eval(self, expression):
        """The value of a MicroPython expression whose repr is a Python literal."""
        text = self.exec(f"print(repr({expression}))").strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise CameraError(f"the camera answered {text[:80]!r} to {expression[:40]!r}; is it a MicroPython "
                              "REPL?") from None

    def helpers(self):
        """Define tinymask's small camera-side helpers once per connection; sets :attr:`compress`."""
        if not self._helpers:
            self.exec(_HELPERS)
            self.compress = bool(self.eval("_tm_z"))
            self._helpers = True
        return self

    def stream(self, code, *, seconds=None, out=None, err=None, grace=5.0):
        """Run ``code`` and pass its output to ``out(text)`` (and its traceback to ``err(text)``) as it arrives;
        after ``seconds`` send Ctrl-C. Returns a :class:`RunResult`."""
        from mpremote.transport import TransportError

        try:
            self._t.exec_raw_no_follow(code)
        except (TransportError, OSError) as error:
            raise self._lost(error) from None
        ser = self._t.serial
        old_timeout = ser.timeout
        ser.timeout = 0.05
        start = time.monotonic()
        deadline = None if seconds is None else start + float(seconds)
        decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2)]
        parts = [[], []]
        sinks = [out, err]
        stage, stopped, give_up, pending = 0, False, None, bytearray()
        try:
            while stage < 2:
                now = time.monotonic()
                if deadline is not None and not stopped and now >= deadline:
                    ser.write(b"\x03")  # Ctrl-C: KeyboardInterrupt in the script
                    stopped, give_up = True, now + grace
                if give_up is not None and now >= give_up:
                    self._broken = True
                    raise CameraError(f"the script on {self.port} did not stop on Ctrl-C within {grace:g} s of "
                                      "the time given; press the camera's reset button (or replug it)")
                byte = ser.read(1)  # one at a time, as mpremote does: the REPL's next prompt is not ours to eat
                if byte and byte != b"\x04":
                    pending += byte
                if pending and (byte in (b"", b"\n", b"\x04") or len(pending) >= 512 or not ser.in_waiting):
                    text = decoders[stage].decode(bytes(pending), final=byte == b"\x04").replace("\r", "")
                    pending.clear()
                    if text:
                        parts[stage].append(text)
                        if sinks[stage] is not None:
                            sinks[stage](text)
                if byte == b"\x04":
                    stage += 1
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                ser.write(b"\x03")
            raise
        except OSError as error:
            raise self._lost(error) from None
        finally:
            ser.timeout = old_timeout
        return RunResult("".join(parts[0]), "".join(parts[1]), stopped, time.monotonic() - start)

    # ----------------------------------------------------------------------------------------- files
    def stat_size(self, path):
        """The size of a file on the camera, or None when there is none (-1 for a folder)."""
        return self.eval(f"_tm_size({path!r})")

    def sha256(self, path):
        return self.eval(f"_tm_sha({path!r})")

    def exec_with_bytes(self, code, payload, timeout=30):
        """Run ``code``, which must start by calling ``_tm_recv(len(payload), crc32(payload))`` (see
        :meth:`helpers`), and send it ``payload`` as raw bytes once the camera says it is reading (a 0x06 byte);
        returns what the code printed. A camera that fails before reading gets no bytes."""
        from mpremote.transport import TransportError

        ser = self._t.serial
        try:
            self._t.exec_raw_no_follow(code)
            ready, out, err = self._until_ready(timeout)
            if ready:
                with _sigint_held():  # half a chunk would leave the camera waiting for the rest
                    ser.write(bytes(payload))
                out, err = self._t.follow(timeout)
        except (TransportError, OSError) as error:
            raise self._lost(error) from None
        return _answer(out, err)

    def _until_ready(self, timeout):
        """Read until the camera's 0x06 (ready for the bytes) or the end of its answer: (ready, out, err)."""
        ser, got, start = self._t.serial, bytearray(), time.monotonic()
        old, ser.timeout = ser.timeout, 0.05
        try:
            while time.monotonic() - start < timeout:
                got += ser.read(1)
                if got.endswith(b"\x06"):
                    return True, b"", b""
                if got.count(b"\x04") >= 2:
                    out, err = bytes(got).split(b"\x04")[:2]
                    return False, out, err
        finally:
            ser.timeout = old
        self._broken = True
        raise CameraError(f"--port {self.port}: the camera did not answer within {timeout:g} s; unplug and "
                          "replug it and try again")

    def write_file(self, path, data):
        """Write ``data`` to ``path`` on the camera through ``path + '.part'``, renamed over ``path`` when all of
        it is there and its SHA-256 matches."""
        self.helpers()
        part = path + ".part"
        self.exec(f"_tm_open({part!r})")
        try:
            for start in range(0, len(data), CHUNK_BYTES):
                chunk = pack_chunk(data[start:start + CHUNK_BYTES], self.compress)
                self.exec_with_bytes(f"_tm_w(_tm_recv({len(chunk)}, {zlib.crc32(chunk)}))", chunk)
        finally:
            with contextlib.suppress(CameraError):
                self.exec("_tm_f.close()")
        if self.sha256(part) != hashlib.sha256(data).hexdigest():
            self.exec(f"_tm_rm({part!r})")
            raise CameraError(f"{path} arrived damaged on the camera (SHA-256 differs); check the cable and try "
                              "again, or format the SD card (FAT32)")
        self.exec(f"_tm_rm({path!r})\n__import__('os').rename({part!r}, {path!r})")


def _answer(out, err):
    """What a tinymask command printed on the camera, or a CameraError with its traceback's last line."""
    if err:
        text = err.decode(errors="replace").strip().splitlines()
        raise CameraError(f"the camera raised {text[-1] if text else 'an error'} in a tinymask command; reset the "
                          "camera and try again (firmware 4.5.6 or newer is needed)")
    return out.decode(errors="replace").replace("\r\n", "\n")


@contextlib.contextmanager
def _sigint_held():
    """Ctrl-C on the laptop waits until the block is over (POSIX; elsewhere it is not held)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# Camera-side helpers (MicroPython): _tm_recv reads a chunk of raw bytes from the REPL's stdin (Ctrl-C off while it
# does, a 0x06 byte first to say it is reading, a CRC-32 check after); _tm_un inflates it where the firmware has
# `deflate` (_tm_z); then file size, SHA-256 and the drives there are.
_HELPERS = '''import os, io, sys, binascii, micropython
try:
    import deflate
    _tm_z = 1
except ImportError:
    _tm_z = 0
_tm_rx = bytearray(1024)
def _tm_recv(n, crc):
    global _tm_rx
    if len(_tm_rx) < n:
        _tm_rx = None
        _tm_rx = bytearray(n)
    mv = memoryview(_tm_rx)[:n]
    micropython.kbd_intr(-1)
    try:
        sys.stdout.write("\\x06")
        m = 0
        while m < n:
            m += sys.stdin.buffer.readinto(mv[m:])
    finally:
        micropython.kbd_intr(3)
    if binascii.crc32(mv) != crc:
        raise InputError("a chunk arrived damaged")
    return mv
def _tm_un(mv):
    return deflate.DeflateIO(io.BytesIO(mv), deflate.ZLIB).read() if _tm_z else mv
def _tm_open(p):
    global _tm_f
    _tm_f = open(p, "wb")
def _tm_w(mv):
    _tm_f.write(_tm_un(mv))
def _tm_rm(p):
    try:
        os.remove(p)
    except OSError:
        pass
def _tm_size(p):
    try:
        s = os.stat(p)
    except OSError:
        return None
    return -1 if s[0] & 0x4000 else s[6]
def _tm_sha(p):
    import hashlib
    h = hashlib.sha256()
    b = bytearray(1024)
    f = open(p, "rb")
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(b if n == len(b) else memoryview(b)[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _tm_drives():
    r = {"names": os.listdir("/")}
    for p in ("/sdcard", "/flash", "/"):
        try:
            s = os.statvfs(p)
            r[p] = (s[1] * s[2], s[1] * s[4])
        except OSError:
            pass
    return r
'''


def pack_chunk(data, compress=True):
    """The bytes :meth:`Camera.exec_with_bytes` sends for ``data``: zlib with a 1 KB window when ``compress`` (the
    camera's ``deflate.DeflateIO(..., deflate.ZLIB)`` inflates it with 1 KB of memory), else ``data`` itself."""
    if not compress:
        return bytes(data)
    packer = zlib.compressobj(9, zlib.DEFLATED, _ZLIB_WBITS)
    return packer.compress(bytes(data)) + packer.flush()


# --------------------------------------------------------------------------------------------- bundles
@dataclass(frozen=True)
class LocalBundle:
    """A bundle folder on this computer: ``manifest`` (its bundle.json) and ``files`` ({name: bytes}, bundle.json
    included), each checked against the manifest."""

    folder: Path
    manifest: dict
    files: dict

    @property
    def model_file(self):
        return f"{self.manifest['model_name']}.tflite"


def read_bundle(folder):
    """The :class:`LocalBundle` of a folder as ``tinymask.deploy.export_bundle`` wrote it, every file checked
    against ``bundle.json`` (size and SHA-256); CameraError when the folder is missing or incomplete."""
    folder = Path(folder)
    again = f"export it again (tinymask export MODEL.tflite --labels mask,no_mask --out {folder})"
    if not folder.is_dir():
        raise CameraError(f"bundle folder {folder} does not exist; give the folder tinymask export or tinymask run "
                          "wrote (e.g. build/openmv)")
    try:
        manifest = json.loads((folder / "bundle.json").read_text())
        listed = dict(manifest["files"])
        model_name = str(manifest["model_name"])
    except FileNotFoundError:
        raise CameraError(f"{folder} has no bundle.json, so it is not a tinymask bundle; {again}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CameraError(f"{folder}/bundle.json is damaged ({error}); {again}") from None
    needed = ["main.py", "labels.txt", f"{model_name}.tflite", f"{model_name}.txt"]
    missing = [name for name in needed if name not in listed] + \
        [name for name in listed if not (folder / name).is_file()]
    if missing:
        raise CameraError(f"bundle {folder} is incomplete (missing {', '.join(sorted(set(missing)))}); {again}")
    files = {}
    for name, info in listed.items():
        data = (folder / name).read_bytes()
        if len(data) != info.get("bytes") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
            raise CameraError(f"{folder / name} differs from what bundle.json lists (size or SHA-256): the file was "
                              f"changed after the export; {again}")
        files[name] = data
    files["bundle.json"] = (folder / "bundle.json").read_bytes()
    return LocalBundle(folder, manifest, files)


def bundle_files(manifest):
    """The bundle's file names in the order they are copied: the model and labels first, ``bundle.json``, then
    ``main.py`` last (a camera reset mid-copy never boots a main.py whose model is not there yet)."""
    names = [n for n in manifest["files"] if n != "main.py"]
    names.sort(key=lambda n: (not n.endswith(".tflite"), n))
    return names + ["bundle.json", "main.py"]


def choose_drive(drives, dest=None):
    """The folder on the camera that stands for its SD card, from ``_tm_drives()``'s answer.

    ``/sdcard`` on firmware 4.7+ (``ports/stm32/main.c`` at v4.7.0 mounts the card there and the internal drive at
    ``/flash``); ``/`` on 4.5.6 (``src/omv/ports/stm32/main.c`` at v4.5.6 mounts the card at ``/`` when one is in,
    else the internal flash), told apart by size. ``dest`` overrides (it must be a drive or a folder on one)."""
    names = list(drives.get("names", []))
    here = ", ".join("/" + n for n in names) or "nothing"
    if dest:
        return dest
    if "sdcard" in names and drives.get("/sdcard", (0, 0))[0] > 0:
        return "/sdcard"
    root_total = drives.get("/", (0, 0))[0]
    if root_total > FLASH_DRIVE_MAX_BYTES:
        return "/"
    if "flash" in names or 0 < root_total <= FLASH_DRIVE_MAX_BYTES:
        total = drives.get("/flash", drives.get("/", (0, 0)))[0]
        raise CameraError(f"the camera has only its internal drive ({'/flash' if 'flash' in names else '/'}, "
                          f"{total // 1024} KB), too small for the model: insert a micro SD card (FAT32), "
                          "reset the camera and try again (--dest /flash takes a bundle that fits there)")
    raise CameraError(f"the camera shows no SD card (it has {here}): insert a micro SD card (FAT32) and reset "
                      "the camera, or give --dest FOLDER")


def _join(folder, name):
    return folder.rstrip("/") + "/" + name


@dataclass(frozen=True)
class FileCopy:
    """One file of a copy: its name on the camera, bytes, and ``"written"`` or ``"unchanged"``."""

    path: str
    size: int
    action: str


def copy_files(cam, files, *, dest=None, force=False):
    """Copy ``{name: bytes}`` (in that order) to the camera's SD card (or ``dest``); returns ``(folder,
    [FileCopy])``. Files already there with the same bytes are left alone; a different file of the same name is
    refused unless ``force``; nothing is written when the card lacks the room."""
    cam.helpers()
    drives = cam.eval("_tm_drives()")
    folder = choose_drive(drives, dest)
    kind = cam.stat_size(folder)
    if kind != -1:
        raise CameraError(f"--dest {folder} is not a folder on the camera (it has "
                          f"{', '.join('/' + n for n in drives.get('names', []))}); give an existing folder")
    plan, conflicts = [], []
    for name, data in files.items():
        path = _join(folder, name)
        size = cam.stat_size(path)
        if size == -1:
            raise CameraError(f"{path} on the camera is a folder; move it away and try again")
        if size is not None and size == len(data) and cam.sha256(path) == hashlib.sha256(data).hexdigest():
            plan.append(FileCopy(path, len(data), "unchanged"))
            continue
        if size is not None:
            conflicts.append(f"{path} ({size:,} B)")
        plan.append(FileCopy(path, len(data), "written"))
    if conflicts and not force:
        raise CameraError(f"the camera already has other files of the same names: {', '.join(conflicts)}; pass "
                          "--force to replace them (copy them off first if you need them)")
    need = sum(c.size for c in plan if c.action == "written")
    free = cam.eval(f"(lambda s: s[1] * s[4])(__import__('os').statvfs({folder!r}))")
    if need and free < need + len(files) * 4096:  # a cluster of slack per file
        what = "is read-only or full" if free == 0 else f"has {free:,} B free"
        raise CameraError(f"the drive at {folder} {what} but the files need {need:,} B: free some space on the SD "
                          "card or use a larger one")
    for item, data in zip(plan, files.values()):
        if item.action == "written":
            cam.write_file(item.path, data)
    return folder, plan


# --------------------------------------------------------------------------------------------- run
def run_code(cam, code, *, seconds=None, cwd=None, out=None, err=None):
    """Run MicroPython ``code`` on the camera (in ``cwd`` if given), streaming its output; a :class:`RunResult`."""
    if cwd:
        if cam.helpers().stat_size(cwd) != -1:
            raise CameraError(f"--cwd {cwd} is not a folder on the camera; give one that is there (e.g. /sdcard)")
        cam.exec(f"__import__('os').chdir({cwd!r})")
    return cam.stream(code, seconds=seconds, out=out, err=err)


# --------------------------------------------------------------------------------------------- parity
def camera_payloads(images, channels=3):
    """``(seen, payloads)`` for uint8 RGB images (n, h, w, 3): ``seen`` is what the camera will hold (uint8 (n, h,
    w, channels): RGB after RGB565, or its luma for ``channels=1``) and ``payloads`` the bytes of each
    ``image.Image(w, h, image.RGB565 | image.GRAYSCALE, buffer=...)``: RGB565 little-endian, as the Cortex-M7 holds
    it (checked on the v5.0.0 firmware: bytes 00 F8 read back as (255, 0, 0))."""
    from . import openmv_emu

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise InputError(f"expected uint8 RGB images (n, h, w, 3), got {images.dtype} {images.shape}")
    rgb565 = openmv_emu.rgb888_to_rgb565(images)
    if channels == 1:
        gray = openmv_emu.rgb565_to_gray(rgb565)
        return gray[..., None], [g.tobytes() for g in gray]
    if channels != 3:
        raise InputError(f"channels={channels}: the camera feeds RGB565 (3) or GRAYSCALE (1) images")
    return openmv_emu.rgb565_to_rgb888(rgb565), [p.astype("<u2").tobytes() for p in rgb565]


def parity_script(model_path, width, height, channels=3):
    """MicroPython that loads ``model_path`` with ``ml.Model`` and defines ``_tm_predict(n, crc)``: it reads one
    image's payload (:func:`camera_payloads`, packed with :func:`pack_chunk`) with the helpers' ``_tm_recv``, runs
    ``model.predict([img])`` and prints ``TINYMASK_SCORES <hex of the scores as little-endian float32>``, the exact
    values the firmware returned. Run :meth:`Camera.helpers` first; :func:`camera_scores` drives it."""
    pixformat = "RGB565" if channels == 3 else "GRAYSCALE"
    size = width * height * (2 if channels == 3 else 1)
    return f'''import ml, image, struct, gc
gc.collect()  # ml.Model sizes its arena from the largest free block of the heap (lib/tflm/tflm_backend.cc, v5.0.0)
_tm_model = ml.Model({model_path!r})
_tm_buf = bytearray({size})
_tm_img = image.Image({width}, {height}, image.{pixformat}, buffer=_tm_buf)
def _tm_predict(n, crc):
    mv = _tm_recv(n, crc)
    if _tm_z:
        got = deflate.DeflateIO(io.BytesIO(mv), deflate.ZLIB).readinto(_tm_buf)
    else:
        got = len(mv)
        _tm_buf[:got] = mv
    if got != {size}:
        raise InputError("image of %d bytes, expected {size}" % got)
    out = _tm_model.predict([_tm_img])[0].flatten().tolist()
    print({SCORES_PREFIX!r}, binascii.hexlify(struct.pack("<%df" % len(out), *out)).decode())
'''


def parse_scores(text):
    """float32 scores from the ``TINYMASK_SCORES`` line in ``text`` (ValueError when there is none)."""
    for line in str(text).splitlines():
        if line.startswith(SCORES_PREFIX):
            return np.frombuffer(bytes.fromhex(line.split()[1]), dtype="<f4").astype(np.float32)
    raise InputError(f"no {SCORES_PREFIX} line in the camera's answer: {str(text)[:200]!r}")


def camera_scores(cam, model_path, images, channels=3, progress=None):
    """``(seen, scores)``: the camera's ``ml.Model(model_path).predict`` on each uint8 RGB image, sent over the
    REPL one image per command; ``seen`` is what the camera held (compare the host's predictions on it)."""
    seen, payloads = camera_payloads(images, channels)
    _, height, width, _ = seen.shape
    cam.helpers().exec(parity_script(model_path, width, height, channels), timeout=60)
    rows = []
    for i, payload in enumerate(payloads):
        packed = pack_chunk(payload, cam.compress)
        rows.append(parse_scores(cam.exec_with_bytes(f"_tm_predict({len(packed)}, {zlib.crc32(packed)})", packed)))
        if progress:
            progress(i + 1, len(payloads))
    cam.exec("del _tm_model, _tm_img, _tm_buf\nimport gc\ngc.collect()")
    return seen, np.stack(rows)


def load_samples(folder=None):
    """``(names, uint8 (n, h, w, 3))`` of ``folder/<class>/*.png`` (default: the committed camera samples)."""
    from PIL import Image

    folder = Path(folder or SAMPLES_DIR)
    paths = sorted(folder.glob("*/*.png"))
    if not paths:
        raise CameraError(f"--samples {folder}: no <class>/*.png images there; give a folder like "
                          "datasets/samples/camera")
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    if len({im.shape for im in images}) != 1:
        raise CameraError(f"--samples {folder}: the images differ in size; give images of the model's input size")
    return [f"{p.parent.name}/{p.name}" for p in paths], np.stack(images)


@dataclass(frozen=True)
class ParityResult:
    """The camera's and the host's scores on the same images: ``identical`` of ``n`` equal to the last bit."""

    names: list
    camera: np.ndarray
    host: np.ndarray
    model_path: str

    @property
    def n(self):
        return len(self.names)

    @property
    def identical(self):
        return int((self.camera == self.host).all(axis=1).sum())

    @property
    def max_difference(self):
        return float(np.abs(self.camera.astype(np.float64) - self.host).max()) if self.n else 0.0

    def mismatches(self):
        return [i for i in range(self.n) if not (self.camera[i] == self.host[i]).all()]


def parity(cam, bundle, names, images, *, dest=None, force=False, progress=None):
    """Copy the :class:`LocalBundle`'s model to the camera when it is not there yet, run it there on ``images``
    (uint8 RGB, named ``names``) and compare with ``tinymask.quantize.predict`` on the host: a
    :class:`ParityResult`."""
    from . import quantize

    shape = bundle.manifest["input_shape"]
    if tuple(images.shape[1:3]) != (shape[1], shape[2]):
        raise CameraError(f"the samples are {images.shape[2]}x{images.shape[1]} but the model takes "
                          f"{shape[2]}x{shape[1]}; give --samples of the model's input size")
    model = bundle.files[bundle.model_file]
    folder, _ = copy_files(cam, {bundle.model_file: model}, dest=dest, force=force)
    model_path = _join(folder, bundle.model_file)
    seen, scores = camera_scores(cam, model_path, images, int(shape[3]), progress)
    host = np.asarray(quantize.predict(model, seen), dtype=np.float32)
    return ParityResult(list(names), scores, host.reshape(scores.shape), model_path)


# --------------------------------------------------------------------------------------------- fps
def _literal(value):
    return json.dumps(value) if isinstance(value, str) else repr(value)


def benchmark_script(*, model_file=None, input_size=None, channels=None, runs=None, template=None):
    """``openmv_scripts/benchmark_fps.py`` with its top-level ``MODEL_FILE``, ``INPUT_SIZE``, ``CHANNELS`` and
    ``RUNS`` lines set to the values given (None keeps the script's own)."""
    text = Path(template or BENCHMARK_SCRIPT).read_text()
    values = {"MODEL_FILE": model_file, "INPUT_SIZE": tuple(input_size) if input_size else None,
              "CHANNELS": channels, "RUNS": runs}
    for name, value in values.items():
        if value is None:
            continue
        text, count = re.subn(rf"^{name} = [^#\n]*", f"{name} = {_literal(value)}", text, count=1,
                              flags=re.MULTILINE)
        if count != 1:
            raise InputError(f"{Path(template or BENCHMARK_SCRIPT).name} has no top-level {name} = ... line to set")
    return text


def benchmark(cam, bundle=None, *, dest=None, force=False, runs=None, seconds=60, out=None, err=None):
    """Run ``benchmark_fps.py`` on the camera in its SD card folder, configured for the :class:`LocalBundle`'s
    model (copied there
    when missing) or, without a bundle, for the ``tinymask_mask.tflite`` already there; returns ``(RunResult,
    deploy.BenchResult or None)``."""
    from . import deploy

    if bundle is not None:
        model_file = bundle.model_file
        folder, _ = copy_files(cam, {model_file: bundle.files[model_file]}, dest=dest, force=force)
        _, height, width, channels = bundle.manifest["input_shape"]
        script = benchmark_script(model_file=model_file, input_size=(width, height), channels=channels, runs=runs)
    else:
        cam.helpers()
        folder = choose_drive(cam.eval("_tm_drives()"), dest)
        script = benchmark_script(runs=runs)
        model_file = re.search(r'^MODEL_FILE = "([^"]+)"', script, re.MULTILINE).group(1)
        if cam.stat_size(_join(folder, model_file)) in (None, -1):
            raise CameraError(f"the camera has no {_join(folder, model_file)}; give --bundle DIR (its model is "
                              "copied first) or copy a bundle with tinymask camera copy")
    cam.exec("import gc\ngc.collect()")  # room for the arena: see parity_script
    result = run_code(cam, script, seconds=seconds, cwd=folder, out=out, err=err)
    try:
        bench = deploy.parse_benchmark(result.output)[-1]
    except ValueError:
        bench = None
    return result, bench


def copy_bundle(cam, bundle, *, dest=None, force=False):
    """Copy a :class:`LocalBundle`'s files to the camera's SD card (:func:`copy_files` in :func:`bundle_files`
    order)."""
    names = bundle_files(bundle.manifest)
    return copy_files(cam, {name: bundle.files[name] for name in names}, dest=dest, force=force)
