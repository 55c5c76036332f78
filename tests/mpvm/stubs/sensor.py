# sensor.py: stand-in for the legacy `sensor` module (src/omv/modules/py_sensor.c v4.5.6; modules/py_csi.c
# v4.7.0, v4.8.1, v5.0.0, registered as both `csi` and `sensor` on v4.6-v4.7 and as `sensor` only from v4.8.0,
# whose `csi` is the new csi.CSI module, modules/py_csi_ng.c). Its __name__ is "sensor" on v4.5.6 and "csi" from
# v4.7.0 (MP_QSTR_csi in py_csi.c; `import sensor` prints module 'csi' on the v5.0.0 QEMU build).
import image
from _camera import CAMERA, QQVGA, QVGA, VGA
from _omvsim import at_least, get_int

if at_least(4, 6, 0):
    __name__ = "csi"

RGB565, GRAYSCALE = image.RGB565, image.GRAYSCALE


def reset():
    CAMERA.reset()


def set_pixformat(fmt):
    CAMERA.set_pixformat(fmt)


def set_framesize(size):
    CAMERA.set_framesize(size)


def set_windowing(*args):
    # py_sensor_set_windowing: one (w, h) / (x, y, w, h) tuple (flat ints are read as a tuple too on 4.x).
    CAMERA.set_window(args[0] if len(args) == 1 else args)


def skip_frames(n=-1, time=-1):
    # py_sensor_skip_frames(n=, time=): drops frames for n frames or `time` ms.
    CAMERA.settle(get_int(time), get_int(n))


def snapshot():
    return CAMERA.capture()


def sleep(enable):
    CAMERA.asleep = bool(enable)


def width():
    return CAMERA.size()[0]


def height():
    return CAMERA.size()[1]
