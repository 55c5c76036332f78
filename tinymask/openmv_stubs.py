"""The stand-ins of the OpenMV firmware's modules for one run (introduced in notebooks/07_openmv_deployment.ipynb;
used by :func:`tinymask.openmv_emu.run_script`).

:func:`make_modules` builds ``sensor``/``csi``, ``image``, ``ml``/``tf``, ``time``, ``machine``, ``pyb``, ``gc``,
``os``, ``omv`` and ``micropython``, each bound to the run's board (``tinymask.openmv_emu``'s board: frames, virtual
time, LEDs, file system, events). Each is made by one ``_<name>_module`` function whose docstring names the firmware
source it follows; the classes they hand out (``image.Image``, ``image.HaarCascade``, ``ml.Model``) are
:mod:`tinymask.openmv_classes`.
"""

import types

from .errors import InputError
from .openmv_classes import GRAYSCALE, RGB565, HaarCascade, Image, Model

__all__ = ["BoardReset", "make_modules"]

_FRAMESIZES = {"QQVGA": (160, 120), "QVGA": (320, 240), "VGA": (640, 480), "HQVGA": (240, 160),
               "B64X64": (64, 64), "B128X128": (128, 128), "QCIF": (176, 144), "HVGA": (480, 320)}


class BoardReset(BaseException):
    """Raised by ``machine.deepsleep``/``machine.reset`` stand-ins: on the camera the board restarts (re-exported by
    :mod:`tinymask.openmv_emu`, whose :func:`~tinymask.openmv_emu.run_script` ends the run on it)."""


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    return m


def _noop(*args, **kwargs):
    """A call the stand-ins accept and do not emulate (auto gain, contrast, ``gc.collect``, ...)."""


_FRAMESIZE_NAMES = {k: k for k in _FRAMESIZES}
_SENSOR_SETTINGS = ("set_auto_gain", "set_auto_whitebal", "set_auto_exposure", "set_contrast", "set_brightness",
                    "set_saturation", "set_gainceiling", "set_hmirror", "set_vflip")


def _sensor_module(b):
    """``sensor``: src/omv/modules/py_sensor.c (v4.5.6), py_csi.c (v4.6.0; modules/py_csi.c v4.7.0 to v5.0.0)."""

    def skip_frames(n=None, time=None):
        b.advance_ms(time or 0)
        b.snapshot(settle=True)

    def set_pixformat(fmt):
        b.pixformat = fmt

    return _module(
        "sensor", RGB565=RGB565, GRAYSCALE=GRAYSCALE, **_FRAMESIZE_NAMES, reset=_noop, set_pixformat=set_pixformat,
        set_framesize=lambda size: b.event("framesize", size=size),
        set_windowing=lambda *w: b.event("window", window=w), skip_frames=skip_frames, snapshot=b.snapshot,
        sleep=lambda enable: b.event("sensor_sleep", enable=bool(enable)),
        shutdown=lambda enable: b.event("sensor_shutdown", enable=bool(enable)),
        width=lambda: Image.from_frame(b.frames[0]).width(), height=lambda: Image.from_frame(b.frames[0]).height(),
        **{k: _noop for k in _SENSOR_SETTINGS},
    )


def _csi_module(b, sensor):
    """``csi``: ``csi.CSI`` of modules/py_csi_ng.c (v4.8.0+); py_csi.c's sensor module (v4.6-4.7); None (v4.5.6)."""
    if b.version < (4, 6, 0):
        return None
    if b.version < (4, 8, 0):  # 4.6-4.7: `import csi` gives the old sensor-style module, with no CSI class
        return _module("csi", **{k: v for k, v in vars(sensor).items() if not k.startswith("__")})

    class CSI:  # csi.CSI() arrives in 4.8.0
        def __init__(self, *args, **kwargs):
            pass

        reset = staticmethod(_noop)
        pixformat = staticmethod(sensor.set_pixformat)

        def framesize(self, size):
            b.event("framesize", size=size)

        def window(self, *w):
            b.event("window", window=w)

        def snapshot(self, time=None, frames=None, **kwargs):
            if time is not None or frames is not None:
                b.advance_ms(time or 0)
                return b.snapshot(settle=True)
            return b.snapshot()

        def sleep(self, enable):
            b.event("sensor_sleep", enable=bool(enable))

        def width(self):
            return Image.from_frame(b.frames[0]).width()

        def height(self):
            return Image.from_frame(b.frames[0]).height()

        def __getattr__(self, name):  # auto_gain, auto_whitebal, contrast, ...: accepted, not emulated
            if name.startswith("_"):
                raise AttributeError(name)
            return _noop

    return _module("csi", CSI=CSI, RGB565=RGB565, GRAYSCALE=GRAYSCALE, **_FRAMESIZE_NAMES)


def _image_module(b):
    """``image``: modules/py_image.c (v4.7.0 to v5.0.0; src/omv/modules/ on v4.5.6); hint values are placeholders."""
    # The hint constants are named as in py_image.c but do not hold lib/imlib/imlib.h's values (v5.0.0: BILINEAR is
    # 1 << 1, CENTER 1 << 7, ...): the stand-in Image takes no hints, so a script can only pass them along.
    return _module(
        "image", Image=Image,
        HaarCascade=lambda path, stages=25, **k: HaarCascade(path, stages, _board=b),
        RGB565=RGB565, GRAYSCALE=GRAYSCALE, BILINEAR=1, BICUBIC=2, AREA=4, CENTER=8, SCALE_ASPECT_KEEP=16,
        SCALE_ASPECT_EXPAND=32, SCALE_ASPECT_IGNORE=64, BLACK_BACKGROUND=128,
    )


def _ml_module(b):
    """``ml``: ``ml.Model`` of modules/py_ml.c (4.x) and scripts/libraries/ml/ml-core/ml/model.py (v5.0.0)."""
    return _module("ml", Model=lambda *a, **k: Model(*a, _board=b, **k))


def _tf_module(ml):
    """``tf``: the old name of ``ml`` (modules/py_ml.c registers both, v4.5.6 to v5.0.0); no tf.load, tf.classify."""
    return _module("tf", Model=ml.Model)  # the old name still imports; tf.load and tf.classify are gone


def _time_module(b):
    """``time``/``utime``: MicroPython's ticks and sleeps on virtual time; ``clock`` as modules/py_clock.c (v4.5.6+)."""

    class Clock:
        def __init__(self):
            self._tick = None

        def tick(self):
            self._tick = b.now_us

        def fps(self):
            if self._tick is None or b.now_us <= self._tick:
                return 0.0
            return 1e6 / (b.now_us - self._tick)

        def avg(self):
            return 0.0 if self._tick is None else (b.now_us - self._tick) / 1000.0

    return _module(
        "time", ticks_ms=lambda: int(b.now_us // 1000), ticks_us=lambda: int(b.now_us),
        ticks_diff=lambda new, old: new - old, ticks_add=lambda t, d: t + d, sleep_ms=b.advance_ms,
        sleep_us=lambda us: b.advance_ms(us / 1000.0), sleep=lambda s: b.advance_ms(1000.0 * s),
        time=lambda: int(b.now_us // 1e6), time_ns=lambda: int(1000 * b.now_us), clock=Clock,
    )


class _LED:
    """An LED of the board ``b``: on/off/toggle/value as the LED class of scripts/libraries/machine.py (v4.5.6+)."""

    def __init__(self, b, colour):
        self._board, self.colour = b, colour

    def on(self):
        self._board.leds[self.colour] = True

    def off(self):
        self._board.leds[self.colour] = False

    def toggle(self):
        self._board.leds[self.colour] = not self._board.leds[self.colour]

    def value(self, v=None):
        if v is None:
            return int(self._board.leds[self.colour])
        self._board.leds[self.colour] = bool(v)


_MACHINE_LEDS = {"LED_RED": "red", "LED_GREEN": "green", "LED_BLUE": "blue", "LED_IR": "ir"}
_PYB_LEDS = {1: "red", 2: "green", 3: "blue", 4: "ir"}


def _machine_module(b):
    """``machine``: ``LED(pin name)`` of scripts/libraries/machine.py (v4.5.6 to v5.0.0), sleeps and reset."""

    def led(name):
        if name not in _MACHINE_LEDS:
            raise InputError(f"invalid LED name {name!r}")
        return _LED(b, _MACHINE_LEDS[name])

    def lightsleep(ms=None):
        b.event("lightsleep", ms=ms)
        b.advance_ms(ms or 0)

    def deepsleep(ms=None):
        b.event("deepsleep", ms=ms)
        raise BoardReset

    def reset():
        raise BoardReset

    return _module("machine", LED=led, lightsleep=lightsleep, deepsleep=deepsleep, reset=reset,
                   idle=_noop, freq=lambda *a: 480_000_000)


def _pyb_module(b):
    """``pyb``: ``LED(1..4)``, ``delay``, ``millis`` of MicroPython's stm32 port (the lib/micropython submodule)."""
    return _module("pyb", LED=lambda n: _LED(b, _PYB_LEDS[n]), delay=b.advance_ms, millis=lambda: int(b.now_us // 1000),
                   elapsed_millis=lambda t: int(b.now_us // 1000) - t)


def _gc_module():
    """``gc``: MicroPython's py/modgc.c, with fixed memory figures (200,000 B free, 50,000 B allocated)."""
    return _module("gc", collect=_noop, mem_free=lambda: 200_000, mem_alloc=lambda: 50_000, enable=_noop,
                   disable=_noop)


def _os_module(b):
    """``os``/``uos``: MicroPython's VFS calls on the drive; SD card mounted as scripts/libraries/_boot.py (v4.6.0)."""

    def remove(path):
        b.fs.files.pop(b.fs.norm(path))

    def statvfs(path):
        """(bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax): an 8 GB card where one is
        mounted at ``path``, else the H7's 128 KB internal drive."""
        key = b.fs.norm(path)
        card = b.fs.sd_card and (key == b.fs.sd_mount or key.startswith(b.fs.sd_mount.rstrip("/") + "/"))
        blocks = (8 << 30) // 512 if card else (128 << 10) // 512
        b.fs.stat(path)  # OSError where nothing is
        return (512, 512, blocks, blocks // 2, blocks // 2, 0, 0, 0, 0, 255)

    return _module("os", listdir=b.fs.listdir, mkdir=b.fs.mkdir, stat=b.fs.stat, remove=remove, getcwd=lambda: "/",
                   sync=_noop, sep="/", statvfs=statvfs)


def _omv_module(b):
    """``omv``: modules/py_omv.c (v4.5.6 to v5.0.0; src/omv/modules/ on v4.5.6), reporting the emulated firmware."""
    # modules/py_omv.c (v4.5.6 to v5.0.0): version_major/minor/patch are MP_ROM_INT, version_string() a function.
    return _module("omv", version_major=b.version[0], version_minor=b.version[1],
                   version_patch=b.version[2], version_string=lambda: b.firmware,
                   board_type=lambda: b.board_type, board_id=lambda: "EMULATED", arch=lambda: "emulated")


def _micropython_module():
    """``micropython``: ``const``, ``opt_level`` and ``mem_info`` of MicroPython's py/modmicropython.c."""
    return _module("micropython", const=lambda x: x, opt_level=_noop, mem_info=_noop)


def make_modules(b):
    """The stand-in modules for one run, bound to the board state ``b``, under the names a script imports (used by
    :func:`tinymask.openmv_emu.run_script`)."""
    sensor, ml, time_, os_ = _sensor_module(b), _ml_module(b), _time_module(b), _os_module(b)
    modules = {"sensor": sensor, "image": _image_module(b), "ml": ml, "tf": _tf_module(ml), "time": time_,
               "utime": time_, "machine": _machine_module(b), "pyb": _pyb_module(b), "gc": _gc_module(),
               "os": os_, "uos": os_, "omv": _omv_module(b), "micropython": _micropython_module()}
    csi = _csi_module(b, sensor)
    if csi is not None:
        modules["csi"] = csi
    return modules
