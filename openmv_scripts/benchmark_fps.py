# benchmark_fps.py: time the tinymask model on the camera and print one line to paste into the notebook.
#
# Firmware: OpenMV 4.5.6 or newer (ml.Model; the camera is csi.CSI where the firmware has it, 4.8.0+,
# else `sensor`). Copy the model (.tflite) next to this script (on the SD card: the H7's internal
# drive is 128 KB), run it from the OpenMV IDE and copy the line that starts with TINYMASK_BENCH
# from the serial terminal into notebooks/07_openmv_deployment.ipynb (tinymask.deploy.parse_benchmark
# reads it):
#
#   TINYMASK_BENCH model=<file> fw=<x.y.z> board=<board> runs=<n> size=<w>x<h>x<c>
#       infer_ms=<ms> infer_fps=<fps> frame_ms=<ms> frame_fps=<fps>     (all on one line)
#
# infer_*: model.predict() alone, RUNS times on one fixed frame (the firmware's scaling of the frame
# to the model input is included, as it is in every predict call). frame_*: snapshot() + predict(),
# RUNS times: what a live script gets at best. Close the frame buffer view in the IDE (or disable
# it) for the fastest figures: sending frames to the IDE takes time too.

import gc
import time

import ml

MODEL_FILE = "tinymask_mask.tflite"
INPUT_SIZE = (96, 96)
CHANNELS = 3
WINDOW = 240
RUNS = 50
WARMUP = 3
LOAD_TO_FB = True


def firmware():
    """("x.y.z", board): omv.version_major/minor/patch are ints, not functions, in every firmware (MP_ROM_INT in
    py_omv.c, 4.5.6 to 5.0.0); omv.board_type() is a function."""
    try:
        import omv

        version = "%d.%d.%d" % (omv.version_major, omv.version_minor, omv.version_patch)
    except (ImportError, AttributeError, TypeError):
        return "unknown", "unknown"
    try:
        board = omv.board_type()
    except (AttributeError, TypeError):
        board = "unknown"
    return version, board


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
        cam.framesize(csi.QVGA)
        cam.window((window, window))
        cam.snapshot(time=2000)
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


def main():
    model = load_model(MODEL_FILE, LOAD_TO_FB)
    snapshot = start_camera(CHANNELS == 1, WINDOW)
    img = snapshot()
    for _ in range(WARMUP):
        model.predict([img])
    gc.collect()

    start = time.ticks_us()
    for _ in range(RUNS):
        model.predict([img])
    infer_us = time.ticks_diff(time.ticks_us(), start) / RUNS

    start = time.ticks_us()
    for _ in range(RUNS):
        model.predict([snapshot()])
    frame_us = time.ticks_diff(time.ticks_us(), start) / RUNS

    version, board = firmware()
    print(
        "TINYMASK_BENCH model=%s fw=%s board=%s runs=%d size=%dx%dx%d infer_ms=%.2f infer_fps=%.2f "
        "frame_ms=%.2f frame_fps=%.2f"
        % (MODEL_FILE, version, board.replace(" ", "_"), RUNS, INPUT_SIZE[0], INPUT_SIZE[1], CHANNELS,
           infer_us / 1000, 1e6 / infer_us, frame_us / 1000, 1e6 / frame_us)
    )


main()
