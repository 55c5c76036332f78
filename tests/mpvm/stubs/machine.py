# machine.py: the parts of the camera's `machine` module the course's scripts use (OpenMV's MicroPython fork,
# ports/stm32: machine.LED by name, as the firmware's own examples use it in scripts/examples of v4.5.6 through
# v5.0.0, e.g. LED("LED_BLUE"); lightsleep/deepsleep are upstream MicroPython's stm32 machine functions).
from _omvsim import CLOCK, StopRun

_LED_NAMES = ("LED_RED", "LED_GREEN", "LED_BLUE", "LED_IR")


class LED:
    def __init__(self, name):
        # The fork's machine_led looks the name up among the board's LEDs; an unknown one is a ValueError
        # (message not in the openmv repository: the fork is a submodule).
        if not isinstance(name, str):
            raise TypeError("can't convert %s to str" % type(name).__name__)
        if name not in _LED_NAMES:
            raise ValueError("invalid LED name")
        self.name = name
        self._on = False

    def on(self):
        self._on = True

    def off(self):
        self._on = False

    def toggle(self):
        self._on = not self._on

    def value(self, v=None):
        if v is None:
            return int(self._on)
        self._on = bool(v)


def lightsleep(ms=None):
    # RAM kept: the script goes on after `ms` (virtual) milliseconds.
    CLOCK.advance_ms(ms or 0)


def deepsleep(ms=None):
    # The board resets on wake-up: main.py would start again from the top; the run ends here.
    raise StopRun("machine.deepsleep(%r): the board resets" % (ms,))


def reset():
    raise StopRun("machine.reset(): the board resets")


def freq():
    return 480000000
