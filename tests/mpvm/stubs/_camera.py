# _camera.py: the camera state both `sensor` and `csi.CSI` drive (a synthetic sensor: frames of the right size).
import image
from _omvsim import CLOCK, FRAMES_TAKEN, FRAME_MS, get_array, get_int

# Frame sizes used by the scripts (omv_csi framesize table): QQVGA 160x120, QVGA 320x240, VGA 640x480.
RESOLUTION = {1: (160, 120), 2: (320, 240), 3: (640, 480)}
QQVGA, QVGA, VGA = 1, 2, 3


class Camera:
    def __init__(self):
        self.pixformat = None
        self.framesize = None
        self.window = None
        self.asleep = False

    def reset(self):
        self.pixformat = self.framesize = self.window = None
        self.asleep = False

    def set_pixformat(self, fmt):
        fmt = get_int(fmt)
        if fmt not in (image.GRAYSCALE, image.RGB565):
            raise ValueError("Invalid pixel format")
        self.pixformat = fmt

    def set_framesize(self, size):
        size = get_int(size)
        if size not in RESOLUTION:
            raise ValueError("Invalid frame size")
        self.framesize = size
        self.window = None

    def set_window(self, roi):
        # py_csi_window v4.8.1/v5.0.0 and py_sensor_set_windowing v4.x: (w, h) centred or (x, y, w, h),
        # else ValueError "Expected (w, h) or (x, y, w, h) tuple/list." (seen on the v5.0.0 QEMU build).
        if self.framesize is None:
            raise RuntimeError("Invalid frame size")
        items = get_array(roi)
        tw, th = RESOLUTION[self.framesize]
        if len(items) == 2:
            w, h = get_int(items[0]), get_int(items[1])
            x, y = tw // 2 - w // 2, th // 2 - h // 2
        elif len(items) == 4:
            x, y, w, h = (get_int(v) for v in items)
        else:
            raise ValueError("Expected (w, h) or (x, y, w, h) tuple/list.")
        if w < 1 or h < 1:
            raise ValueError("Invalid ROI dimensions!")
        x0, y0, x1, y1 = max(0, x), max(0, y), min(tw, x + w), min(th, y + h)
        if x1 <= x0 or y1 <= y0:
            raise ValueError("ROI does not overlap on the image!")
        self.window = (x0, y0, x1 - x0, y1 - y0)

    def size(self):
        if self.window:
            return self.window[2], self.window[3]
        return RESOLUTION[self.framesize]

    def capture(self):
        """One frame for the script (counts against the frame budget)."""
        self._check()
        FRAMES_TAKEN.take()
        w, h = self.size()
        return image.Image(w, h, self.pixformat)

    def settle(self, time_ms=-1, frames=-1):
        """snapshot(time=)/skip_frames(): frames the script never sees (not counted, but the clock runs)."""
        self._check()
        if time_ms < 0 and frames < 0:
            frames = 10  # py_sensor_skip_frames v4.x: 10 frames when neither n nor time is given
        if frames >= 0:
            CLOCK.advance_ms(FRAME_MS * frames)
        if time_ms >= 0:
            CLOCK.advance_ms(time_ms)

    def _check(self):
        # omv_csi_snapshot: no pixel format / frame size set -> RuntimeError (omv_csi_raise_error).
        if self.pixformat is None:
            raise RuntimeError("Sensor Error: Invalid pixel format")
        if self.framesize is None:
            raise RuntimeError("Sensor Error: Invalid frame size")


CAMERA = Camera()
