"""Drive a real OpenMV camera from the laptop over its USB serial REPL: copy a bundle to its SD card, run a script,
check the model's scores against the host's, measure FPS (introduced in notebooks/07_openmv_deployment.ipynb).

``tinymask camera copy|run|parity|fps --port PORT`` calls these. This module holds the commands: reading and
checking a bundle, copying files with a SHA-256 check and the ``--force`` rule, running a script, parity and FPS.
Talking to the board (the port, the raw REPL, files and streamed output over ``mpremote``) is
:mod:`tinymask.camera_link`; its public names (:class:`Camera`, :class:`CameraError`, :class:`RunResult`,
:func:`pack_chunk`, ...) are re-exported here, so ``camera.Camera`` is ``camera_link.Camera``. Nothing but the files
named is touched on the camera. Each failure is a :class:`CameraError` whose message is one line naming the input
and what to do.
"""

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .camera_link import CHUNK_BYTES, CONNECT_TIMEOUT, Camera, CameraError, RunResult, pack_chunk
from .errors import InputError

__all__ = [
    "CameraError",
    "CONNECT_TIMEOUT",
    "FLASH_DRIVE_MAX_BYTES",
    "CHUNK_BYTES",
    "SAMPLES_DIR",
    "BENCHMARK_SCRIPT",
    "SCORES_PREFIX",
    "Camera",
    "RunResult",
    "FileCopy",
    "LocalBundle",
    "ParityResult",
    "read_bundle",
    "bundle_files",
    "choose_drive",
    "copy_files",
    "run_code",
    "camera_payloads",
    "pack_chunk",
    "parity_script",
    "parse_scores",
    "camera_scores",
    "load_samples",
    "parity",
    "benchmark_script",
    "benchmark",
    "copy_bundle",
]

ROOT = Path(__file__).resolve().parents[1]
#: A drive this small is the camera's internal flash (128 KB on the H7, ``OMV_FLASH_FFS_LENGTH``), not an SD card.
FLASH_DRIVE_MAX_BYTES = 4 * 1024 * 1024
SAMPLES_DIR = ROOT / "datasets" / "samples" / "camera"
BENCHMARK_SCRIPT = ROOT / "openmv_scripts" / "benchmark_fps.py"
#: What each line of :func:`parity_script`'s scores starts with.
SCORES_PREFIX = "TINYMASK_SCORES"


# --------------------------------------------------------------------------------------------- bundles
@dataclass(frozen=True)
class LocalBundle:
    """A bundle folder on this computer: ``manifest`` (its bundle.json) and ``files`` ({name: bytes}, bundle.json
    included), each checked against the manifest."""

    folder: Path
    manifest: dict
    files: dict

    @property
    def model_file(self):
        return f"{self.manifest['model_name']}.tflite"


def read_bundle(folder):
    """The :class:`LocalBundle` of a folder as ``tinymask.deploy.export_bundle`` wrote it, every file checked
    against ``bundle.json`` (size and SHA-256); CameraError when the folder is missing or incomplete."""
    folder = Path(folder)
    again = f"export it again (tinymask export MODEL.tflite --labels mask,no_mask --out {folder})"
    if not folder.is_dir():
        raise CameraError(f"bundle folder {folder} does not exist; give the folder tinymask export or tinymask run "
                          "wrote (e.g. build/openmv)")
    try:
        manifest = json.loads((folder / "bundle.json").read_text())
        listed = dict(manifest["files"])
        model_name = str(manifest["model_name"])
    except FileNotFoundError:
        raise CameraError(f"{folder} has no bundle.json, so it is not a tinymask bundle; {again}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CameraError(f"{folder}/bundle.json is damaged ({error}); {again}") from None
    needed = ["main.py", "labels.txt", f"{model_name}.tflite", f"{model_name}.txt"]
    missing = [name for name in needed if name not in listed] + \
        [name for name in listed if not (folder / name).is_file()]
    if missing:
        raise CameraError(f"bundle {folder} is incomplete (missing {', '.join(sorted(set(missing)))}); {again}")
    files = {}
    for name, info in listed.items():
        data = (folder / name).read_bytes()
        if len(data) != info.get("bytes") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
            raise CameraError(f"{folder / name} differs from what bundle.json lists (size or SHA-256): the file was "
                              f"changed after the export; {again}")
        files[name] = data
    files["bundle.json"] = (folder / "bundle.json").read_bytes()
    return LocalBundle(folder, manifest, files)


def bundle_files(manifest):
    """The bundle's file names in the order they are copied: the model and labels first, ``bundle.json``, then
    ``main.py`` last (a camera reset mid-copy never boots a main.py whose model is not there yet)."""
    names = [n for n in manifest["files"] if n != "main.py"]
    names.sort(key=lambda n: (not n.endswith(".tflite"), n))
    return names + ["bundle.json", "main.py"]


def choose_drive(drives, dest=None):
    """The folder on the camera that stands for its SD card, from ``_tm_drives()``'s answer.

    ``/sdcard`` on firmware 4.7+ (``ports/stm32/main.c`` at v4.7.0 mounts the card there and the internal drive at
    ``/flash``); ``/`` on 4.5.6 (``src/omv/ports/stm32/main.c`` at v4.5.6 mounts the card at ``/`` when one is in,
    else the internal flash), told apart by size. ``dest`` overrides (it must be a drive or a folder on one)."""
    names = list(drives.get("names", []))
    here = ", ".join("/" + n for n in names) or "nothing"
    if dest:
        return dest
    if "sdcard" in names and drives.get("/sdcard", (0, 0))[0] > 0:
        return "/sdcard"
    root_total = drives.get("/", (0, 0))[0]
    if root_total > FLASH_DRIVE_MAX_BYTES:
        return "/"
    if "flash" in names or 0 < root_total <= FLASH_DRIVE_MAX_BYTES:
        total = drives.get("/flash", drives.get("/", (0, 0)))[0]
        raise CameraError(f"the camera has only its internal drive ({'/flash' if 'flash' in names else '/'}, "
                          f"{total // 1024} KB), too small for the model: insert a micro SD card (FAT32), "
                          "reset the camera and try again (--dest /flash takes a bundle that fits there)")
    raise CameraError(f"the camera shows no SD card (it has {here}): insert a micro SD card (FAT32) and reset "
                      "the camera, or give --dest FOLDER")


def _join(folder, name):
    return folder.rstrip("/") + "/" + name


@dataclass(frozen=True)
class FileCopy:
    """One file of a copy: its name on the camera, bytes, and ``"written"`` or ``"unchanged"``."""

    path: str
    size: int
    action: str


def copy_files(cam, files, *, dest=None, force=False):
    """Copy ``{name: bytes}`` (in that order) to the camera's SD card (or ``dest``); returns ``(folder,
    [FileCopy])``. Files already there with the same bytes are left alone; a different file of the same name is
    refused unless ``force``; nothing is written when the card lacks the room."""
    cam.helpers()
    drives = cam.eval("_tm_drives()")
    folder = choose_drive(drives, dest)
    kind = cam.stat_size(folder)
    if kind != -1:
        raise CameraError(f"--dest {folder} is not a folder on the camera (it has "
                          f"{', '.join('/' + n for n in drives.get('names', []))}); give an existing folder")
    plan, conflicts = [], []
    for name, data in files.items():
        path = _join(folder, name)
        size = cam.stat_size(path)
        if size == -1:
            raise CameraError(f"{path} on the camera is a folder; move it away and try again")
        if size is not None and size == len(data) and cam.sha256(path) == hashlib.sha256(data).hexdigest():
            plan.append(FileCopy(path, len(data), "unchanged"))
            continue
        if size is not None:
            conflicts.append(f"{path} ({size:,} B)")
        plan.append(FileCopy(path, len(data), "written"))
    if conflicts and not force:
        raise CameraError(f"the camera already has other files of the same names: {', '.join(conflicts)}; pass "
                          "--force to replace them (copy them off first if you need them)")
    need = sum(c.size for c in plan if c.action == "written")
    free = cam.eval(f"(lambda s: s[1] * s[4])(__import__('os').statvfs({folder!r}))")
    if need and free < need + len(files) * 4096:  # a cluster of slack per file
        what = "is read-only or full" if free == 0 else f"has {free:,} B free"
        raise CameraError(f"the drive at {folder} {what} but the files need {need:,} B: free some space on the SD "
                          "card or use a larger one")
    for item, data in zip(plan, files.values()):
        if item.action == "written":
            cam.write_file(item.path, data)
    return folder, plan


# --------------------------------------------------------------------------------------------- run
def run_code(cam, code, *, seconds=None, cwd=None, out=None, err=None):
    """Run MicroPython ``code`` on the camera (in ``cwd`` if given), streaming its output; a :class:`RunResult`."""
    if cwd:
        if cam.helpers().stat_size(cwd) != -1:
            raise CameraError(f"--cwd {cwd} is not a folder on the camera; give one that is there (e.g. /sdcard)")
        cam.exec(f"__import__('os').chdir({cwd!r})")
    return cam.stream(code, seconds=seconds, out=out, err=err)


# --------------------------------------------------------------------------------------------- parity
def camera_payloads(images, channels=3):
    """``(seen, payloads)`` for uint8 RGB images (n, h, w, 3): ``seen`` is what the camera will hold (uint8 (n, h,
    w, channels): RGB after RGB565, or its luma for ``channels=1``) and ``payloads`` the bytes of each
    ``image.Image(w, h, image.RGB565 | image.GRAYSCALE, buffer=...)``: RGB565 little-endian, as the Cortex-M7 holds
    it (checked on the v5.0.0 firmware: bytes 00 F8 read back as (255, 0, 0))."""
    from . import openmv_emu

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise InputError(f"expected uint8 RGB images (n, h, w, 3), got {images.dtype} {images.shape}")
    rgb565 = openmv_emu.rgb888_to_rgb565(images)
    if channels == 1:
        gray = openmv_emu.rgb565_to_gray(rgb565)
        return gray[..., None], [g.tobytes() for g in gray]
    if channels != 3:
        raise InputError(f"channels={channels}: the camera feeds RGB565 (3) or GRAYSCALE (1) images")
    return openmv_emu.rgb565_to_rgb888(rgb565), [p.astype("<u2").tobytes() for p in rgb565]


def parity_script(model_path, width, height, channels=3):
    """MicroPython that loads ``model_path`` with ``ml.Model`` and defines ``_tm_predict(n, crc)``: it reads one
    image's payload (:func:`camera_payloads`, packed with :func:`pack_chunk`) with the helpers' ``_tm_recv``, runs
    ``model.predict([img])`` and prints ``TINYMASK_SCORES <hex of the scores as little-endian float32>``, the exact
    values the firmware returned. Run :meth:`Camera.helpers` first; :func:`camera_scores` drives it."""
    pixformat = "RGB565" if channels == 3 else "GRAYSCALE"
    size = width * height * (2 if channels == 3 else 1)
    return f'''import ml, image, struct, gc
gc.collect()  # ml.Model sizes its arena from the largest free block of the heap (lib/tflm/tflm_backend.cc, v5.0.0)
_tm_model = ml.Model({model_path!r})
_tm_buf = bytearray({size})
_tm_img = image.Image({width}, {height}, image.{pixformat}, buffer=_tm_buf)
def _tm_predict(n, crc):
    mv = _tm_recv(n, crc)
    if _tm_z:
        got = deflate.DeflateIO(io.BytesIO(mv), deflate.ZLIB).readinto(_tm_buf)
    else:
        got = len(mv)
        _tm_buf[:got] = mv
    if got != {size}:
        raise ValueError("image of %d bytes, expected {size}" % got)
    out = _tm_model.predict([_tm_img])[0].flatten().tolist()
    print({SCORES_PREFIX!r}, binascii.hexlify(struct.pack("<%df" % len(out), *out)).decode())
'''


def parse_scores(text):
    """float32 scores from the ``TINYMASK_SCORES`` line in ``text`` (ValueError when there is none)."""
    for line in str(text).splitlines():
        if line.startswith(SCORES_PREFIX):
            return np.frombuffer(bytes.fromhex(line.split()[1]), dtype="<f4").astype(np.float32)
    raise InputError(f"no {SCORES_PREFIX} line in the camera's answer: {str(text)[:200]!r}")


def camera_scores(cam, model_path, images, channels=3, progress=None):
    """``(seen, scores)``: the camera's ``ml.Model(model_path).predict`` on each uint8 RGB image, sent over the
    REPL one image per command; ``seen`` is what the camera held (compare the host's predictions on it)."""
    seen, payloads = camera_payloads(images, channels)
    _, height, width, _ = seen.shape
    cam.helpers().exec(parity_script(model_path, width, height, channels), timeout=60)
    rows = []
    for i, payload in enumerate(payloads):
        packed = pack_chunk(payload, cam.compress)
        rows.append(parse_scores(cam.exec_with_bytes(f"_tm_predict({len(packed)}, {zlib.crc32(packed)})", packed)))
        if progress:
            progress(i + 1, len(payloads))
    cam.exec("del _tm_model, _tm_img, _tm_buf\nimport gc\ngc.collect()")
    return seen, np.stack(rows)


def load_samples(folder=None):
    """``(names, uint8 (n, h, w, 3))`` of ``folder/<class>/*.png`` (default: the committed camera samples)."""
    from PIL import Image

    folder = Path(folder or SAMPLES_DIR)
    paths = sorted(folder.glob("*/*.png"))
    if not paths:
        raise CameraError(f"--samples {folder}: no <class>/*.png images there; give a folder like "
                          "datasets/samples/camera")
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    if len({im.shape for im in images}) != 1:
        raise CameraError(f"--samples {folder}: the images differ in size; give images of the model's input size")
    return [f"{p.parent.name}/{p.name}" for p in paths], np.stack(images)


@dataclass(frozen=True)
class ParityResult:
    """The camera's and the host's scores on the same images: ``identical`` of ``n`` equal to the last bit."""

    names: list
    camera: np.ndarray
    host: np.ndarray
    model_path: str

    @property
    def n(self):
        return len(self.names)

    @property
    def identical(self):
        return int((self.camera == self.host).all(axis=1).sum())

    @property
    def max_difference(self):
        return float(np.abs(self.camera.astype(np.float64) - self.host).max()) if self.n else 0.0

    def mismatches(self):
        return [i for i in range(self.n) if not (self.camera[i] == self.host[i]).all()]


def parity(cam, bundle, names, images, *, dest=None, force=False, progress=None):
    """Copy the :class:`LocalBundle`'s model to the camera when it is not there yet, run it there on ``images``
    (uint8 RGB, named ``names``) and compare with ``tinymask.quantize.predict`` on the host: a
    :class:`ParityResult`."""
    from . import quantize

    shape = bundle.manifest["input_shape"]
    if tuple(images.shape[1:3]) != (shape[1], shape[2]):
        raise CameraError(f"the samples are {images.shape[2]}x{images.shape[1]} but the model takes "
                          f"{shape[2]}x{shape[1]}; give --samples of the model's input size")
    model = bundle.files[bundle.model_file]
    folder, _ = copy_files(cam, {bundle.model_file: model}, dest=dest, force=force)
    model_path = _join(folder, bundle.model_file)
    seen, scores = camera_scores(cam, model_path, images, int(shape[3]), progress)
    host = np.asarray(quantize.predict(model, seen), dtype=np.float32)
    return ParityResult(list(names), scores, host.reshape(scores.shape), model_path)


# --------------------------------------------------------------------------------------------- fps
def _literal(value):
    return json.dumps(value) if isinstance(value, str) else repr(value)


def benchmark_script(*, model_file=None, input_size=None, channels=None, runs=None, template=None):
    """``openmv_scripts/benchmark_fps.py`` with its top-level ``MODEL_FILE``, ``INPUT_SIZE``, ``CHANNELS`` and
    ``RUNS`` lines set to the values given (None keeps the script's own)."""
    text = Path(template or BENCHMARK_SCRIPT).read_text()
    values = {"MODEL_FILE": model_file, "INPUT_SIZE": tuple(input_size) if input_size else None,
              "CHANNELS": channels, "RUNS": runs}
    for name, value in values.items():
        if value is None:
            continue
        text, count = re.subn(rf"^{name} = [^#\n]*", f"{name} = {_literal(value)}", text, count=1,
                              flags=re.MULTILINE)
        if count != 1:
            raise InputError(f"{Path(template or BENCHMARK_SCRIPT).name} has no top-level {name} = ... line to set")
    return text


def benchmark(cam, bundle=None, *, dest=None, force=False, runs=None, seconds=60, out=None, err=None):
    """Run ``benchmark_fps.py`` on the camera in its SD card folder, configured for the :class:`LocalBundle`'s
    model (copied there
    when missing) or, without a bundle, for the ``tinymask_mask.tflite`` already there; returns ``(RunResult,
    deploy.BenchResult or None)``."""
    from . import deploy

    if bundle is not None:
        model_file = bundle.model_file
        folder, _ = copy_files(cam, {model_file: bundle.files[model_file]}, dest=dest, force=force)
        _, height, width, channels = bundle.manifest["input_shape"]
        script = benchmark_script(model_file=model_file, input_size=(width, height), channels=channels, runs=runs)
    else:
        cam.helpers()
        folder = choose_drive(cam.eval("_tm_drives()"), dest)
        script = benchmark_script(runs=runs)
        model_file = re.search(r'^MODEL_FILE = "([^"]+)"', script, re.MULTILINE).group(1)
        if cam.stat_size(_join(folder, model_file)) in (None, -1):
            raise CameraError(f"the camera has no {_join(folder, model_file)}; give --bundle DIR (its model is "
                              "copied first) or copy a bundle with tinymask camera copy")
    cam.exec("import gc\ngc.collect()")  # room for the arena: see parity_script
    result = run_code(cam, script, seconds=seconds, cwd=folder, out=out, err=err)
    try:
        bench = deploy.parse_benchmark(result.output)[-1]
    except ValueError:
        bench = None
    return result, bench


def copy_bundle(cam, bundle, *, dest=None, force=False):
    """Copy a :class:`LocalBundle`'s files to the camera's SD card (:func:`copy_files` in :func:`bundle_files`
    order)."""
    names = bundle_files(bundle.manifest)
    return copy_files(cam, {name: bundle.files[name] for name in names}, dest=dest, force=force)
