# os.py: the VM's own os (the Emscripten file system laid out as the camera's drives by run.mjs), except that
# listdir("/") hides the Emscripten folders (tmp, home, dev, proc) that a camera does not have. Drives per tag:
# v4.5.6 mounts the SD card (else the internal flash) at "/" (src/omv/ports/stm32/main.c: vfs->str = "/");
# v4.7.0+ mount /flash and /sdcard (ports/stm32/main.c looks up "/sdcard") and ROMFS at /rom.
import sys

from _omvsim import camera_errno

_os = sys.modules["_host_os"]
_HIDDEN = ("tmp", "home", "dev", "proc")


def listdir(path=None):
    try:
        names = _os.listdir() if path is None else _os.listdir(path)
    except OSError as e:
        raise camera_errno(e)
    try:
        root = (path if path is not None else _os.getcwd()).rstrip("/") == ""
    except Exception:
        root = False
    return [n for n in names if not (root and n in _HIDDEN)]


def ilistdir(path=None):
    names = listdir(path)
    for entry in (_os.ilistdir() if path is None else _os.ilistdir(path)):
        if entry[0] in names:
            yield entry


def _camera_errors(fn):
    # Errors with the camera's errno numbers (MicroPython's, not Emscripten's; see _omvsim.camera_errno).
    def call(*args):
        try:
            return fn(*args)
        except OSError as e:
            raise camera_errno(e)

    return call


for _name in ("mkdir", "rmdir", "remove", "rename", "stat", "statvfs", "chdir"):
    if hasattr(_os, _name):
        globals()[_name] = _camera_errors(getattr(_os, _name))
for _name in ("getcwd", "sync", "uname", "urandom", "sep", "dupterm"):
    if hasattr(_os, _name):
        globals()[_name] = getattr(_os, _name)
