# _omvsim.py: shared state of the OpenMV stand-ins (firmware tag, virtual clock, frame budget, argument parsing).
# Not an OpenMV module: run.mjs writes _omvfw.py (FIRMWARE, FRAMES, ...) next to it before a script runs.
# The stand-ins follow the OpenMV firmware's C and Python sources per tag (git tags v4.5.6, v4.7.0, v4.8.1,
# v5.0.0 of github.com/openmv/openmv); each one cites the file and tag its behaviour comes from.

from _omvfw import FIRMWARE, FRAMES, MAX_VIRTUAL_MS, OUTPUTS


class StopRun(BaseException):
    """Ends a run cleanly (frame budget spent, deepsleep reset); a BaseException so `except Exception` can't eat it."""


class Clock:
    """Virtual milliseconds: the camera, predict and sleeps advance it, so a run takes no real time."""

    def __init__(self):
        self.us = 0

    def advance_ms(self, ms):
        self.us += int(ms * 1000)
        if self.us > MAX_VIRTUAL_MS * 1000:
            raise StopRun("virtual time budget of %d ms spent" % MAX_VIRTUAL_MS)

    def advance_us(self, us):
        self.advance_ms(us / 1000)


CLOCK = Clock()
FRAME_MS = 33  # one QVGA frame at ~30 fps
PREDICT_MS = 20  # one predict of a small int8 model (a plausible H7 figure; only its sign matters)


class _Frames:
    def __init__(self):
        self.taken = 0

    def take(self):
        """Count one frame returned to the script; past the budget the run stops cleanly."""
        if self.taken >= FRAMES:
            raise StopRun("frame budget of %d frames spent" % FRAMES)
        self.taken += 1
        CLOCK.advance_ms(FRAME_MS)
        return self.taken


FRAMES_TAKEN = _Frames()


def at_least(*version):
    return FIRMWARE >= version


# MicroPython's py/argcheck.c mp_arg_parse_all (MICROPY_ERROR_REPORTING_NORMAL, as the v5.0.0 QEMU build prints):
# too many positionals -> TypeError "extra positional arguments given", an unknown keyword -> TypeError "extra
# keyword arguments given", a missing required one -> TypeError "'<name>' argument required".
REQUIRED = object()


def parse_args(names, defaults, args, kwargs, kw_only=()):
    """mp_arg_parse_all over `names` (positional-or-keyword) then `kw_only` (keyword only); returns a dict."""
    out = {}
    positional = [n for n in names if n not in kw_only]
    if len(args) > len(positional):
        raise TypeError("extra positional arguments given")
    for i, name in enumerate(names):
        if name not in kw_only and i < len(args):
            if name in kwargs:
                raise TypeError("argument '%s' given positionally and by keyword" % name)  # unused by the scripts
            out[name] = args[i]
        elif name in kwargs:
            out[name] = kwargs[name]
        elif defaults.get(name, REQUIRED) is REQUIRED:
            raise TypeError("'%s' argument required" % name)
        else:
            out[name] = defaults[name]
    for k in kwargs:
        if k not in names:
            raise TypeError("extra keyword arguments given")
    return out


# MicroPython py/obj.c mp_obj_get_array / mp_obj_get_array_fixed_n (NORMAL error reporting; the messages the
# v5.0.0 QEMU build prints): a non-sequence -> TypeError "object '<type>' isn't a tuple or list"; a wrong length ->
# ValueError "requested length N but object has length M".
def get_array(obj):
    if not isinstance(obj, (tuple, list)):
        raise TypeError("object '%s' isn't a tuple or list" % type(obj).__name__)
    return obj


def get_array_fixed_n(obj, n):
    items = get_array(obj)
    if len(items) != n:
        raise ValueError("requested length %d but object has length %d" % (n, len(items)))
    return items


def get_int(obj):
    """mp_obj_get_int: ints and bools; anything else TypeError "can't convert <type> to int"."""
    if isinstance(obj, bool) or isinstance(obj, int):
        return int(obj)
    raise TypeError("can't convert %s to int" % type(obj).__name__)


def get_str(obj):
    """mp_obj_str_get_str: a str, else TypeError "can't convert '<type>' object to str implicitly"."""
    if isinstance(obj, str):
        return obj
    raise TypeError("can't convert '%s' object to str implicitly" % type(obj).__name__)


# The VM's file system is Emscripten's, whose errno numbers are not MicroPython's (ENOENT is 44 there, 2 on a
# camera, printed "[Errno 2] ENOENT" by the v5.0.0 QEMU build). Errors the firmware raises go through this.
_EMSCRIPTEN_ERRNO = {44: 2, 20: 17, 54: 20, 31: 21, 2: 13, 28: 22}  # ENOENT, EEXIST, ENOTDIR, EISDIR, EACCES, EINVAL


def camera_errno(e):
    """The OSError a camera raises for the VM's OSError `e` (the same error, MicroPython's errno number)."""
    code = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else None)
    if isinstance(code, int) and code in _EMSCRIPTEN_ERRNO:
        return OSError(_EMSCRIPTEN_ERRNO[code])
    return e


_vm_open = open  # the VM's own open (run.mjs then makes builtins.open this vfs_open, for the scripts too)


def vfs_open(path, mode="r", *args, **kwargs):
    """mp_vfs_open as the firmware calls it: the file, or OSError with the camera's errno."""
    try:
        return _vm_open(path, mode, *args, **kwargs)
    except OSError as e:
        raise camera_errno(e)
