# probe.py: the OpenMV calls the course's scripts make, each printed as its result or `TypeName: message`.
# Run on the real firmware (omv-qemu --rom <dir with tinymask_mask.tflite/.txt> probe.py) and under the 5.0.0
# stand-ins (node tests/mpvm/run.mjs --firmware 5.0.0 ...); tests/test_scripts_micropython.py compares the two.
# Only what does not depend on the board is printed (no file system layout, no timings, no scores); lines marked
# [board] differ by board (the QEMU board has no LEDs and no sleep modes) and are not compared.


def probe(name, fn):
    try:
        print(name, "->", fn())
    except Exception as e:
        print(name, "->", "%s: %s" % (type(e).__name__, e))


import omv

probe("omv.version_major type", lambda: type(omv.version_major).__name__)
probe("omv.version_major()", lambda: omv.version_major())
probe("omv.board_type type", lambda: type(omv.board_type()).__name__)

probe("import csi", lambda: __import__("csi").__name__)
probe("hasattr csi.CSI", lambda: hasattr(__import__("csi"), "CSI"))
probe("import sensor", lambda: __import__("sensor").__name__)

import csi

cam = csi.CSI()
probe("cam.reset()", lambda: cam.reset())
probe("cam.pixformat(RGB565)", lambda: cam.pixformat(csi.RGB565))
probe("cam.framesize(QVGA)", lambda: cam.framesize(csi.QVGA))
probe("cam.window((240, 240))", lambda: cam.window((240, 240)))
probe("cam.window((1, 2, 3))", lambda: cam.window((1, 2, 3)))
probe("cam.snapshot(time=100)", lambda: cam.snapshot(time=100))
img = cam.snapshot()
probe("img size", lambda: (img.width(), img.height()))
probe("cam.sleep(True)", lambda: cam.sleep(True))
probe("cam.sleep(False)", lambda: cam.sleep(False))

probe("draw_string(2, 2, s)", lambda: img.draw_string(2, 2, "x") is img)
probe("draw_string((2, 2), s)", lambda: img.draw_string((2, 2), "x", color=(255, 255, 255), scale=2) is img)
probe("draw_string((2, 2, 3), s)", lambda: img.draw_string((2, 2, 3), "x") is img)
probe("draw_rectangle(1, 2, 3, 4)", lambda: img.draw_rectangle(1, 2, 3, 4) is img)
probe("draw_rectangle((1, 2, 3, 4))", lambda: img.draw_rectangle((1, 2, 3, 4), color=(0, 255, 0), thickness=2) is img)
probe("draw_rectangle((1, 2))", lambda: img.draw_rectangle((1, 2)) is img)
probe("copy(roi=) size", lambda: (lambda c: (c.width(), c.height()))(img.copy(roi=(10, 20, 30, 40))))

import image

probe("HaarCascade(/rom/..., stages=25)", lambda: type(image.HaarCascade("/rom/haarcascade_frontalface.cascade",
                                                                         stages=25)).__name__)
probe("HaarCascade('frontalface')", lambda: image.HaarCascade("frontalface", stages=25))
probe("HaarCascade(/rom/missing)", lambda: image.HaarCascade("/rom/missing.cascade"))
cascade = image.HaarCascade("/rom/haarcascade_frontalface.cascade", stages=25)
probe("find_features(scale_factor=)",
      lambda: type(img.find_features(cascade, threshold=0.75, scale_factor=1.25)).__name__)
probe("find_features(scale=)", lambda: type(img.find_features(cascade, threshold=0.75, scale=1.25)).__name__)

import ml

probe("ml.Model(missing)", lambda: ml.Model("no_such_model.tflite"))
probe("ml.Model(load_to_fb=True)", lambda: type(ml.Model("tinymask_mask.tflite", load_to_fb=True)).__name__)
probe("ml.Model(path, True)", lambda: type(ml.Model("tinymask_mask.tflite", True)).__name__)
model = ml.Model("tinymask_mask.tflite")
probe("model.labels", lambda: model.labels)
probe("predict(img)", lambda: model.predict(img))
out = model.predict([img])
probe("predict type", lambda: type(out).__name__)
probe("predict len", lambda: len(out))
probe("predict[0] type", lambda: type(out[0]).__name__)
probe("predict[0] shape", lambda: out[0].shape)
probe("flatten().tolist()", lambda: [type(v).__name__ for v in out[0].flatten().tolist()])

import time

clock = time.clock()
probe("clock.tick()", lambda: clock.tick())
probe("clock.fps() type", lambda: type(clock.fps()).__name__)
probe("ticks_ms type", lambda: type(time.ticks_ms()).__name__)
probe("ticks_diff", lambda: time.ticks_diff(5, 3))

import machine

probe("[board] machine.LED('LED_RED')", lambda: type(machine.LED("LED_RED")).__name__)
probe("[board] machine.LED(1)", lambda: machine.LED(1))
probe("[board] hasattr lightsleep", lambda: hasattr(machine, "lightsleep"))
probe("[board] hasattr deepsleep", lambda: hasattr(machine, "deepsleep"))

import sensor

probe("sensor.reset()", lambda: sensor.reset())
probe("sensor.set_pixformat", lambda: sensor.set_pixformat(sensor.RGB565))
probe("sensor.set_framesize", lambda: sensor.set_framesize(sensor.QVGA))
probe("sensor.set_windowing((240, 240))", lambda: sensor.set_windowing((240, 240)))
probe("sensor.skip_frames(time=100)", lambda: sensor.skip_frames(time=100))
probe("sensor.snapshot size", lambda: (lambda i: (i.width(), i.height()))(sensor.snapshot()))
probe("sensor.sleep(False)", lambda: sensor.sleep(False))
print("probe done")
