# pyb.py: pyb.LED(n) of MicroPython's stm32 port (ports/stm32/led.c: LED ids 1..4 on an OpenMV Cam: red, green,
# blue, IR; another id raises ValueError "LED(%d) doesn't exist").
from _omvsim import CLOCK, get_int


class LED:
    def __init__(self, n):
        n = get_int(n)
        if not 1 <= n <= 4:
            raise ValueError("LED(%d) doesn't exist" % n)
        self.n = n
        self._on = False

    def on(self):
        self._on = True

    def off(self):
        self._on = False

    def toggle(self):
        self._on = not self._on


def delay(ms):
    CLOCK.advance_ms(ms)


def millis():
    return CLOCK.us // 1000
