# collect_dataset.py: capture labelled face snapshots to the SD card for the tinymask course.
#
# Writes /sd/tinymask_dataset/<LABEL>/<n>.jpg: one folder per class, the layout that
# tinymask.data.load_folder() reads on the laptop (copy the tinymask_dataset folder off the card).
# Firmware: OpenMV 4.5 or newer (the `sensor` module, still available on firmware 5).
#
# In the lab: set LABEL (e.g. "mask", then "no_mask"), run from the OpenMV IDE with the SD card
# inserted, and keep a face in the centre of the frame. A snapshot is saved every INTERVAL_MS until
# COUNT are saved; the green LED blinks for each one. Existing images are never overwritten:
# numbering continues after the highest number already in the folder.

import os
import time

import sensor

LABEL = "mask"
COUNT = 50
INTERVAL_MS = 1000
ROOT = "/sd/tinymask_dataset"


def green_led():
    try:
        from machine import LED

        return LED("LED_GREEN")
    except (ImportError, TypeError, ValueError):
        import pyb

        return pyb.LED(2)


def make_dirs(path):
    part = ""
    for name in path.strip("/").split("/"):
        part += "/" + name
        try:
            os.mkdir(part)
        except OSError:
            pass  # already there


def next_index(folder):
    highest = -1
    for name in os.listdir(folder):
        stem = name.split(".")[0]
        if stem.isdigit():
            highest = max(highest, int(stem))
    return highest + 1


def main():
    if "sd" not in os.listdir("/"):
        raise OSError("no SD card: insert one (FAT32) and reset the camera")
    folder = ROOT + "/" + LABEL
    make_dirs(folder)
    index = next_index(folder)

    sensor.reset()
    sensor.set_pixformat(sensor.RGB565)
    sensor.set_framesize(sensor.QVGA)  # 320x240
    sensor.set_windowing((240, 240))  # the centred square a face classifier sees
    sensor.skip_frames(time=2000)  # let exposure and white balance settle

    led = green_led()
    saved = 0
    last = time.ticks_ms()
    while saved < COUNT:
        img = sensor.snapshot()
        if time.ticks_diff(time.ticks_ms(), last) >= INTERVAL_MS:
            last = time.ticks_ms()
            path = "%s/%d.jpg" % (folder, index)
            img.save(path, quality=90)
            led.on()
            time.sleep_ms(50)
            led.off()
            print("saved", path)
            index += 1
            saved += 1
    print("done:", saved, "images in", folder)


main()
