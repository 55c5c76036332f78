# collect_dataset.py: capture labelled face snapshots to the SD card for the tinymask course.
#
# Firmware: OpenMV 4.5.6 or newer (the `sensor` module, still available on firmware 5).
# Writes <SD card>/tinymask_dataset/<LABEL>/<n>.jpg: one folder per class, the layout that
# tinymask.data.load_folder() reads on the laptop (copy the tinymask_dataset folder off the card).
# The SD card is mounted at /sdcard from firmware 4.6.0 (scripts/libraries/_boot.py; the internal
# drive is /flash) and at / on 4.5.x (src/omv/ports/stm32/main.c of v4.5.6, where / is the internal
# drive when no card is in): the script probes /sdcard, /sd, then /, and takes the first that is
# writable (/ only when it is larger than the H7's 128 KB internal drive).
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
FOLDER = "tinymask_dataset"
SD_CANDIDATES = ("/sdcard", "/sd", "/")  # firmware 4.6+, other MicroPython boards, firmware 4.5
INTERNAL_DRIVE_BYTES = 128 * 1024  # OMV_FLASH_FFS_LENGTH of the OpenMV Cam H7


class NoLed:
    """Stands in for an LED on a board without one (the QEMU build has neither machine.LED nor pyb)."""

    def on(self):
        pass

    def off(self):
        pass


def green_led():
    try:
        from machine import LED

        return LED("LED_GREEN")
    except (ImportError, AttributeError, TypeError, ValueError):
        pass
    try:
        import pyb

        return pyb.LED(2)
    except (ImportError, AttributeError):
        return NoLed()


def join(root, name):
    return root.rstrip("/") + "/" + name


def writable(root):
    """True when a file can be created and removed in `root`."""
    probe = join(root, ".tinymask_probe")
    try:
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
        return True
    except OSError:
        return False


def drive_bytes(root):
    try:
        st = os.statvfs(root)
        return st[0] * st[2]  # block size * blocks
    except (OSError, AttributeError):
        return 0


def find_sd_card():
    """The SD card's mount point: the first of SD_CANDIDATES that is writable (/ only if it is no internal drive)."""
    for root in SD_CANDIDATES:
        if root != "/":
            try:
                os.stat(root)
            except OSError:
                continue  # not mounted
        elif drive_bytes(root) <= INTERNAL_DRIVE_BYTES:
            continue  # / is the internal drive: no card in
        if writable(root):
            return root
    raise OSError("no SD card (none of %s is a writable card): insert a FAT32 card and reset the camera"
                  % ", ".join(SD_CANDIDATES))


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
    folder = join(join(find_sd_card(), FOLDER), LABEL)
    make_dirs(folder)
    index = next_index(folder)
    print("saving to", folder, "from", index)

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
