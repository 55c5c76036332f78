# time.py: stand-in for the camera's `time` (MicroPython's time plus OpenMV's Clock, modules/py_clock.c) on a
# virtual clock, so sleeps and frame waits cost no real time.
from _omvsim import CLOCK

_PERIOD = 1 << 30  # MicroPython's MICROPY_PY_TIME_TICKS_PERIOD: ticks wrap at 2**30


def ticks_ms():
    return (CLOCK.us // 1000) % _PERIOD


def ticks_us():
    return CLOCK.us % _PERIOD


def ticks_cpu():
    return CLOCK.us % _PERIOD


def ticks_diff(end, start):
    # MicroPython extmod/modtime.c: ((end - start + PERIOD/2) & (PERIOD-1)) - PERIOD/2
    return ((end - start + _PERIOD // 2) & (_PERIOD - 1)) - _PERIOD // 2


def ticks_add(ticks, delta):
    return (ticks + delta) % _PERIOD


def sleep_ms(ms):
    CLOCK.advance_ms(ms)


def sleep_us(us):
    CLOCK.advance_us(us)


def sleep(seconds):
    CLOCK.advance_ms(seconds * 1000)


def time():
    return CLOCK.us // 1000000  # seconds since the (unset) RTC's epoch


def time_ns():
    return CLOCK.us * 1000


class clock:
    """modules/py_clock.c (v4.5.6 src/omv/..., v4.7.0, v4.8.1, v5.0.0): time.clock() -> Clock with tick/fps/avg/reset."""

    def __init__(self):
        self.t_start = ticks_ms()
        self.t_ticks = 0
        self.t_frame = 0

    def tick(self):
        # py_clock_tick: t_start = now
        self.t_start = ticks_ms()

    def fps(self):
        # py_clock_fps: t_frame++, t_ticks += now - t_start, return 1000 / (t_ticks / t_frame) (a C float: inf on 0)
        self.t_frame += 1
        self.t_ticks += ticks_ms() - self.t_start
        return 1000.0 / (self.t_ticks / self.t_frame) if self.t_ticks else float("inf")

    def avg(self):
        # py_clock_avg: t_frame++, t_ticks += now - t_start, return t_ticks / t_frame
        self.t_frame += 1
        self.t_ticks += ticks_ms() - self.t_start
        return self.t_ticks / self.t_frame

    def reset(self):
        self.t_start = self.t_ticks = self.t_frame = 0
