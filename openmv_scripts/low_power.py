# low_power.py: wake up, take one picture, classify it, report, sleep; repeat every PERIOD_MS.
#
# Firmware: OpenMV 4.5.6 or newer (ml.Model, machine.lightsleep). Save as main.py on the camera's SD
# card (the H7's internal drive, 128 KB, is too small for the model) with the model (.tflite) and
# labels (.txt) and run it on battery, not from the IDE: while the board
# sleeps its USB link stops, and the IDE loses the connection. Between pictures the camera sensor is
# put to sleep too (it draws tens of milliamps when awake).
#
# machine.lightsleep(ms) keeps RAM, so the loop goes on where it stopped and the model stays loaded.
# machine.deepsleep(ms) draws less but resets the board on wake-up: main.py starts again from the
# top and reloads the model (set DEEP_SLEEP = True to use it, with the RTC waking the board).
# Each wake-up prints:  wake n=<count> label=<label or uncertain> class=<best class> score=<0..1>
# and blinks the LED of the result (green mask, red no mask, blue uncertain) for BLINK_MS.

import gc
import time

import machine
import ml

MODEL_FILE = "tinymask_mask.tflite"
LABELS = ("mask", "no_mask")
UNCERTAIN_BELOW = 0.6
WINDOW = 240
PERIOD_MS = 60000  # one picture a minute
SETTLE_MS = 300  # let exposure settle after the sensor wakes
BLINK_MS = 100
DEEP_SLEEP = False
LOAD_TO_FB = True


def camera():
    """(snapshot, sleep) functions with `csi.CSI` (firmware 4.8.0+) or `sensor` (older; on 4.6-4.7 `import csi`
    works but is the sensor module, modules/py_csi.c)."""
    try:
        import csi
    except ImportError:  # firmware 4.5
        csi = None
    if csi is not None and hasattr(csi, "CSI"):
        cam = csi.CSI()
        cam.reset()
        cam.pixformat(csi.RGB565)
        cam.framesize(csi.QVGA)
        cam.window((WINDOW, WINDOW))
        return cam.snapshot, cam.sleep
    import sensor

    sensor.reset()
    sensor.set_pixformat(sensor.RGB565)
    sensor.set_framesize(sensor.QVGA)
    sensor.set_windowing((WINDOW, WINDOW))
    return sensor.snapshot, sensor.sleep


# Firmware 5.0 on the H7: more than its first heap block holds (64000 B), thus this hold lands in the 264 KiB
# block of SRAM1 (OMV_GC_BLOCK0/1_SIZE, boards/OPENMV4/board_config.h at v5.0.0); see load_model.
HEAP_HOLD = 65536


def _new_model(path, load_to_fb):
    try:
        return ml.Model(path, load_to_fb=load_to_fb)
    except TypeError:  # an ml.Model without load_to_fb (5.0's ml/model.py accepts and ignores it)
        return ml.Model(path)


def load_model(path, load_to_fb):
    """The model: in the frame buffer on firmware 4.x (load_to_fb), and out of the arena's heap block on 5.0.

    Firmware 5.0 copies the file into the MicroPython heap when a free block is large enough (else into its UMA
    pool), then gives the tensor arena the heap's largest free block (modules/py_ml.c, lib/tflm/tflm_backend.cc
    at v5.0.0). On the H7 a 252 KB model fits the heap's 264 KiB block and leaves the arena too little: "Failed
    to allocate tensors". Then we load it again while holding HEAP_HOLD bytes of that block, which sends the
    model to the UMA pool and keeps the rest of the block for the arena."""
    try:
        return _new_model(path, load_to_fb)
    except ValueError:
        gc.collect()
    hold = bytearray(HEAP_HOLD)
    try:
        return _new_model(path, load_to_fb)
    finally:
        del hold
        gc.collect()


def read_labels(model, model_file, fallback):
    labels = getattr(model, "labels", None)
    if labels:
        return tuple(labels)
    stem = model_file.rsplit(".", 1)[0]
    for path in (stem + ".txt", "labels.txt"):
        try:
            with open(path) as f:
                found = [line.strip() for line in f if line.strip()]
            if found:
                return tuple(found)
        except OSError:
            pass
    return tuple(fallback)


def decide(scores, labels, uncertain_below):
    if len(scores) == 1:
        p = scores[0]
        best = 1 if p >= 0.5 else 0
        top = p if best == 1 else 1.0 - p
    else:
        best = 0
        for i in range(1, len(scores)):
            if scores[i] > scores[best]:
                best = i
        top = scores[best]
    name = labels[best]
    return ("uncertain" if top < uncertain_below else name), name, top


class NoLed:
    """Stands in for an LED on a board without one (the QEMU build has neither machine.LED nor pyb)."""

    def on(self):
        pass

    def off(self):
        pass


def led(colour):
    """machine.LED on current firmware, else pyb.LED(1..3), else none."""
    try:
        return machine.LED({"red": "LED_RED", "green": "LED_GREEN", "blue": "LED_BLUE"}[colour])
    except (AttributeError, TypeError, ValueError):
        pass
    try:
        import pyb

        return pyb.LED({"red": 1, "green": 2, "blue": 3}[colour])
    except (ImportError, AttributeError):
        return NoLed()


def sleep_ms(ms, deep):
    """machine.deepsleep / lightsleep where the port has them (the H7's stm32 port does), else time.sleep_ms."""
    if deep and hasattr(machine, "deepsleep"):
        machine.deepsleep(ms)  # resets: main.py runs again from the top
    if hasattr(machine, "lightsleep"):
        machine.lightsleep(ms)
    else:
        time.sleep_ms(ms)


def main():
    model = load_model(MODEL_FILE, LOAD_TO_FB)
    labels = read_labels(model, MODEL_FILE, LABELS)
    snapshot, sensor_sleep = camera()
    count = 0
    while True:
        sensor_sleep(False)
        start = time.ticks_ms()
        img = snapshot()
        while time.ticks_diff(time.ticks_ms(), start) < SETTLE_MS:
            img = snapshot()
        scores = model.predict([img])[0].flatten().tolist()
        label, best, top = decide(scores, labels, UNCERTAIN_BELOW)
        sensor_sleep(True)
        count += 1
        print("wake n=%d label=%s class=%s score=%.3f" % (count, label, best, top))
        light = led({"mask": "green", "uncertain": "blue"}.get(label, "red"))
        light.on()
        time.sleep_ms(BLINK_MS)
        light.off()
        sleep_ms(PERIOD_MS, DEEP_SLEEP)


main()
