"""The camera's transport: a MicroPython raw REPL over the USB serial port, through mpremote (introduced in
notebooks/07_openmv_deployment.ipynb, used by :mod:`tinymask.camera`).

:class:`Camera` opens the port with ``mpremote``'s :class:`~mpremote.transport_serial.SerialTransport` and enters the
raw REPL; the camera is interrupted with Ctrl-C but never reset, so its SD card stays mounted. It runs code
(:meth:`Camera.exec`, :meth:`Camera.eval`), streams a script's output (:meth:`Camera.stream`), and reads and writes
files there through small camera-side helpers (:meth:`Camera.helpers`: size, SHA-256, the drives). Files and images
travel as raw chunks of at most 8 KB (zlib-compressed where the firmware has ``deflate``, :func:`pack_chunk`), each
sent only once the camera says it is reading and checked with a CRC-32 there; a written file is checked again with
SHA-256 before it takes its name. Each failure is a :class:`CameraError` whose message is one line naming the input
and what to do. What to copy and run (bundles, parity, FPS) is :mod:`tinymask.camera`'s job.
"""

import ast
import codecs
import contextlib
import hashlib
import io
import os
import signal
import time
import zlib
from dataclasses import dataclass

from .errors import TinymaskError

__all__ = [
    "CameraError",
    "CONNECT_TIMEOUT",
    "CHUNK_BYTES",
    "Camera",
    "RunResult",
    "pack_chunk",
]

#: Seconds to wait for the REPL to answer Ctrl-C / Ctrl-A when connecting (``Camera(port)`` without a timeout).
CONNECT_TIMEOUT = 5.0
#: Bytes of a file per REPL command (before compression).
CHUNK_BYTES = 8192
_ZLIB_WBITS = 10  # a 1 KB window: what the camera's deflate.DeflateIO allocates to decompress a chunk
_PORT_HINT = "plug the camera in and give its port (Linux /dev/ttyACM0, macOS /dev/cu.usbmodem*, Windows COM3)"


class CameraError(TinymaskError, RuntimeError):
    """A problem with the camera, its port or the inputs, as one line naming the input and what to do (raised by
    this module and :mod:`tinymask.camera`; ``tinymask camera`` prints it and exits 2)."""


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
    it was stopped with Ctrl-C after the time given (``stopped``); from :meth:`Camera.stream` (``camera run``)."""

    output: str
    error: str
    stopped: bool
    seconds: float

    @property
    def raised(self):
        """True when the script raised, not counting the KeyboardInterrupt of a stop after ``seconds``."""
        lines = [line for line in self.error.splitlines() if line.strip()]
        return bool(lines) and not (self.stopped and lines[-1].startswith("KeyboardInterrupt"))


class Camera:
    """A MicroPython REPL on a serial port (an OpenMV camera, or the QEMU firmware's pty), in raw REPL mode.

    ``with Camera("/dev/ttyACM0") as cam: cam.eval("1 + 1")``. Connecting interrupts a running script with Ctrl-C;
    the board is not reset. :meth:`exec` returns what the code printed; an exception on the camera becomes a
    CameraError carrying its traceback's last line. Opened by ``tinymask camera`` (tinymask/cli.py) and handed to
    the commands of :mod:`tinymask.camera`.
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
        raise ValueError("a chunk arrived damaged")
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
    camera's ``deflate.DeflateIO(..., deflate.ZLIB)`` inflates it with 1 KB of memory), else ``data`` itself; also
    used by ``tinymask.camera.camera_scores``."""
    if not compress:
        return bytes(data)
    packer = zlib.compressobj(9, zlib.DEFLATED, _ZLIB_WBITS)
    return packer.compress(bytes(data)) + packer.flush()
