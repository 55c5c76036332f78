# face_mask.py: find faces with the built-in Haar cascade, then run the tinymask model on each face.
#
# Firmware: OpenMV 4.5.6 or newer (ml.Model). The script asks the firmware what it can do instead
# of reading its version: the cascade is "/rom/haarcascade_frontalface.cascade" on firmware 4.7+
# and the built-in "frontalface" before; find_features() takes scale_factor= on 4.x (which ignores
# an unknown keyword) and scale= on 5.0 (which raises TypeError for scale_factor=); the camera is
# csi.CSI where the firmware has it (4.8.0+), else `sensor`; draw_string takes the tuple form of 5.0
# or the flat form of 4.x. Copy the model (.tflite) and its labels (.txt) next to this script, on
# the SD card (the H7's internal drive is 128 KB).
#
# This is the OpenMV smile-detection pattern: the detector proposes face boxes on the whole frame,
# and the classifier sees only the face (a copy of the box, slightly enlarged, which the firmware
# then scales to the model's input). The Haar cascade finds frontal faces; a mask over nose and
# mouth can hide the features it looks for, so expect misses: lower FACE_THRESHOLD if it never
# fires, and see the notebook for what the detector costs in frames per second.
#
# Serial output, one line per face and frame:
#     face x=<x> y=<y> w=<w> h=<h> label=<label or uncertain> class=<best class> score=<0..1>
# and one "frame faces=<n> fps=<f>" line per frame.

import gc
import time

import image
import ml

MODEL_FILE = "tinymask_mask.tflite"
LABELS = ("mask", "no_mask")  # used only when no labels file is found
UNCERTAIN_BELOW = 0.6
LOAD_TO_FB = True
FACE_THRESHOLD = 0.75  # Haar: lower finds more faces (and more false ones)
FACE_SCALE = 1.25  # Haar: image pyramid step
FACE_STAGES = 25  # Haar: fewer stages are faster and less strict
MARGIN = 0.15  # enlarge each face box by this fraction on every side (the model saw whole heads)


def start_camera():
    """The camera with `csi.CSI` (firmware 4.8.0+) or `sensor` (older); returns a snapshot function."""
    try:
        import csi
    except ImportError:  # firmware 4.5
        csi = None
    if csi is not None and hasattr(csi, "CSI"):  # 4.6-4.7: `csi` is the sensor module (modules/py_csi.c)
        cam = csi.CSI()
        cam.reset()
        cam.pixformat(csi.RGB565)
        cam.framesize(csi.QVGA)
        cam.snapshot(time=2000)
        return cam.snapshot
    import sensor

    sensor.reset()
    sensor.set_pixformat(sensor.RGB565)
    sensor.set_framesize(sensor.QVGA)
    sensor.skip_frames(time=2000)
    return sensor.snapshot


def load_cascade():
    for path in ("/rom/haarcascade_frontalface.cascade", "frontalface"):  # firmware 4.7+, then older
        try:
            return image.HaarCascade(path, stages=FACE_STAGES)
        except (OSError, ValueError):
            pass
    raise OSError("no frontal-face Haar cascade found on this firmware")


def find_faces(img, cascade):
    """Firmware 4.x reads scale_factor= and ignores other keywords; 5.0 reads scale= and rejects scale_factor=
    (find_features in modules/py_image.c, v4.8.1 and v5.0.0), so try 4.x's keyword first."""
    try:
        return img.find_features(cascade, threshold=FACE_THRESHOLD, scale_factor=FACE_SCALE)
    except TypeError:
        return img.find_features(cascade, threshold=FACE_THRESHOLD, scale=FACE_SCALE)


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


def draw_text(img, x, y, text, **options):
    """draw_string((x, y), text) on firmware 5.0 (modules/py_image.c v5.0.0), draw_string(x, y, text) on 4.x,
    where a 2-tuple raises."""
    try:
        img.draw_string((x, y), text, **options)
    except (TypeError, ValueError):
        img.draw_string(x, y, text, **options)


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


def enlarge(box, margin, width, height):
    """The face box grown by `margin` on every side, kept inside the frame."""
    x, y, w, h = box
    dx, dy = int(w * margin), int(h * margin)
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
    return (x0, y0, x1 - x0, y1 - y0)


COLOURS = {"mask": (0, 255, 0), "uncertain": (0, 0, 255)}  # any other label: red


def main():
    model = load_model(MODEL_FILE, LOAD_TO_FB)
    labels = read_labels(model, MODEL_FILE, LABELS)
    cascade = load_cascade()
    snapshot = start_camera()
    clock = time.clock()
    while True:
        clock.tick()
        img = snapshot()
        faces = find_faces(img, cascade)
        results = []
        for box in faces:
            roi = enlarge(box, MARGIN, img.width(), img.height())
            face = img.copy(roi=roi)  # the classifier sees only the face
            scores = model.predict([face])[0].flatten().tolist()
            del face
            results.append((roi, decide(scores, labels, UNCERTAIN_BELOW)))
        for roi, (label, best, top) in results:  # draw only after every face was classified
            colour = COLOURS.get(label, (255, 0, 0))
            img.draw_rectangle(roi, color=colour, thickness=2)  # a 4-tuple: every firmware takes it
            draw_text(img, roi[0] + 2, roi[1] + 2, "%s %.2f" % (label, top), color=colour)
            print("face x=%d y=%d w=%d h=%d label=%s class=%s score=%.3f" % (roi + (label, best, top)))
        print("frame faces=%d fps=%.1f" % (len(results), clock.fps()))
        gc.collect()


main()
