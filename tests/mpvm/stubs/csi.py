# csi.py: stand-in for `csi` per tag. v4.5.6 has no csi module (no MP_REGISTER_MODULE(MP_QSTR_csi) in
# src/omv/modules): ImportError. v4.6-v4.7 register the legacy sensor module as `csi` too (modules/py_csi.c
# v4.7.0: MP_REGISTER_MODULE(MP_QSTR_csi, omv_csi_module)), which has no CSI class: run.mjs aliases
# sys.modules["csi"] to the sensor stand-in for those tags. v4.8.0+: modules/py_csi_ng.c, the csi.CSI class.
import image
from _camera import CAMERA, QQVGA, QVGA, VGA
from _omvsim import at_least, get_int, parse_args

if not at_least(4, 6, 0):
    raise ImportError("no module named 'csi'")

RGB565, GRAYSCALE = image.RGB565, image.GRAYSCALE


class CSI:
    def __init__(self, *args, **kwargs):
        # py_csi_make_new (modules/py_csi_ng.c): cid, delays, fflush keyword-only (v5.0.0 adds stream).
        names = ["cid", "delays", "fflush"] + (["stream"] if at_least(5, 0, 0) else [])
        parse_args(names, {"cid": -1, "delays": True, "fflush": True, "stream": None}, args, kwargs,
                   kw_only=tuple(names))

    def reset(self, *args, **kwargs):
        # py_csi_reset: hard= keyword-only.
        parse_args(["hard"], {"hard": True}, args, kwargs, kw_only=("hard",))
        CAMERA.reset()

    def pixformat(self, *args):
        # py_csi_pixformat: getter with no argument, setter with one.
        if not args:
            return CAMERA.pixformat
        CAMERA.set_pixformat(args[0])

    def framesize(self, *args):
        if not args:
            return CAMERA.framesize
        CAMERA.set_framesize(args[0])

    def window(self, *args):
        if not args:
            return CAMERA.window
        CAMERA.set_window(args[0])

    def snapshot(self, *args, **kwargs):
        # py_csi_snapshot: time, frames, blocking, image keyword-only; with time= or frames= it drops frames and
        # returns None (cam.snapshot(time=2000) settles the exposure), else it returns the frame.
        opts = parse_args(["time", "frames", "blocking", "image"],
                          {"time": -1, "frames": -1, "blocking": True, "image": None}, args, kwargs,
                          kw_only=("time", "frames", "blocking", "image"))
        if opts["time"] != -1 or opts["frames"] != -1:
            CAMERA.settle(get_int(opts["time"]), get_int(opts["frames"]))
            return None
        return CAMERA.capture()

    def sleep(self, enable):
        # py_csi_sleep(self, enable): MP_DEFINE_CONST_FUN_OBJ_2.
        CAMERA.asleep = bool(enable)

    def width(self):
        return CAMERA.size()[0]

    def height(self):
        return CAMERA.size()[1]
