# classify.py: live face-mask classification with the tinymask int8 model on an OpenMV Cam.
#
# Firmware: OpenMV 4.5.6 or newer (the `ml` module: ml.Model and model.predict; `tf.load` and
# `tf.classify` were removed in 4.5.6, which is what "module has no attribute load" means).
# Tested on the real firmware 5.0.0 and on its build with the TensorFlow Lite Micro of 4.6-4.8.1
# (QEMU, tests/test_firmware_qemu.py). The script asks the firmware what it can do instead of
# reading its version: the camera is `csi.CSI` where the firmware has it (4.8.0+; on 4.6-4.7
# `import csi` works but is the old `sensor` module), else `sensor`; draw_string takes the tuple
# form of 5.0 or the flat form of 4.x, whichever the firmware accepts; no LED is no error.
# On 4.7+ the firmware also reads the labels from "<model name>.txt" itself; this script reads
# that file (else labels.txt, else LABELS below) so it works on 4.5.6 too.
#
# Copy to the camera's SD card (the model, ~300 KB, does not fit the H7's 128 KB internal drive):
# this file as main.py, the .tflite model and its .txt labels (what tinymask.deploy.export_bundle
# writes). Run it from the OpenMV IDE; the frame buffer shows the label and FPS, the serial
# terminal prints one line per frame:
#     label=<label or uncertain> class=<best class> score=<0..1> fps=<frames a second>
# LED: green = mask, red = no mask (or another class), blue = uncertain (top score below
# UNCERTAIN_BELOW).
#
# How the firmware feeds the model (tinymask.openmv_emu.firmware_input does the same on a PC):
# the RGB565 frame is scaled to the model's input with bilinear interpolation, keeping the
# aspect ratio and cropping the centre (SCALE_ASPECT_EXPAND), each 5/6-bit channel is expanded
# to 8 bits, and an int8 input gets pixel - 128 whatever the tensor's scale and zero point say.

import gc
import time

import ml

# --- tinymask configuration: tinymask.deploy.export_bundle rewrites these lines for a bundle ---
MODEL_FILE = "tinymask_mask.tflite"  # the int8 model, next to this script
LABELS = ("mask", "no_mask")  # used only when no labels file is found
INPUT_SIZE = (96, 96)  # model input (width, height)
CHANNELS = 3  # 3: RGB565 camera frames, 1: GRAYSCALE
WINDOW = 240  # square centre window of the QVGA frame (the model sees a square)
UNCERTAIN_BELOW = 0.6  # top score below this -> "uncertain"
LOAD_TO_FB = True  # firmware 4.x: put the model in the frame buffer (OpenMV Cam H7)
# --- end of tinymask configuration ---

LED_FOR_LABEL = {"mask": "green", "uncertain": "blue"}  # any other label: red


def firmware_version():
    """(major, minor, patch): ints, not functions, in every firmware (MP_ROM_INT in py_omv.c, 4.5.6 to 5.0.0)."""
    try:
        import omv

        return (omv.version_major, omv.version_minor, omv.version_patch)
    except (ImportError, AttributeError):
        return (0, 0, 0)


def start_camera(grayscale, window):
    """The camera with `csi.CSI` (firmware 4.8.0+) or `sensor` (older); returns a snapshot function."""
    try:
        import csi
    except ImportError:  # firmware 4.5
        csi = None
    if csi is not None and hasattr(csi, "CSI"):  # 4.6-4.7: `csi` is the sensor module (modules/py_csi.c)
        cam = csi.CSI()
        cam.reset()
        cam.pixformat(csi.GRAYSCALE if grayscale else csi.RGB565)
        cam.framesize(csi.QVGA)  # 320x240
        cam.window((window, window))
        cam.snapshot(time=2000)  # let exposure and white balance settle
        return cam.snapshot
    import sensor

    sensor.reset()
    sensor.set_pixformat(sensor.GRAYSCALE if grayscale else sensor.RGB565)
    sensor.set_framesize(sensor.QVGA)
    sensor.set_windowing((window, window))
    sensor.skip_frames(time=2000)
    return sensor.snapshot


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
    labels = getattr(model, "labels", None)  # firmware 4.7+: read from "<model name>.txt"
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


class NoLed:
    """Stands in for an LED on a board without one (the QEMU build has neither machine.LED nor pyb)."""

    def on(self):
        pass

    def off(self):
        pass


def make_leds():
    """The red, green and blue LEDs: machine.LED on current firmware, else pyb.LED(1..3), else none."""
    try:
        from machine import LED

        return {"red": LED("LED_RED"), "green": LED("LED_GREEN"), "blue": LED("LED_BLUE")}
    except (ImportError, AttributeError, TypeError, ValueError):
        pass
    try:
        import pyb

        return {"red": pyb.LED(1), "green": pyb.LED(2), "blue": pyb.LED(3)}
    except (ImportError, AttributeError):
        return {"red": NoLed(), "green": NoLed(), "blue": NoLed()}


def show(leds, colour):
    for name in leds:
        if name == colour:
            leds[name].on()
        else:
            leds[name].off()


def draw_text(img, x, y, text, **options):
    """draw_string((x, y), text) on firmware 5.0 (modules/py_image.c v5.0.0), draw_string(x, y, text) on 4.x,
    where a 2-tuple raises."""
    try:
        img.draw_string((x, y), text, **options)
    except (TypeError, ValueError):
        img.draw_string(x, y, text, **options)


def decide(scores, labels, uncertain_below):
    """(label shown, best class, top score): arg-max, or score >= 0.5 for a single sigmoid output."""
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


def main():
    model = load_model(MODEL_FILE, LOAD_TO_FB)
    labels = read_labels(model, MODEL_FILE, LABELS)
    print("firmware %d.%d.%d" % firmware_version(), "model", MODEL_FILE, "labels", labels)
    snapshot = start_camera(CHANNELS == 1, WINDOW)
    leds = make_leds()
    clock = time.clock()
    while True:
        clock.tick()
        img = snapshot()
        scores = model.predict([img])[0].flatten().tolist()  # dequantized floats
        label, best, top = decide(scores, labels, UNCERTAIN_BELOW)
        show(leds, LED_FOR_LABEL.get(label, "red"))
        fps = clock.fps()
        draw_text(img, 2, 2, "%s %.2f" % (label, top), color=(255, 255, 255), scale=2)
        draw_text(img, 2, 22, "%.1f fps" % fps, color=(255, 255, 255), scale=2)
        print("label=%s class=%s score=%.3f fps=%.1f" % (label, best, top, fps))
        gc.collect()


main()
