"""Export a checked OpenMV bundle (model, labels, configured main.py) and read the camera's benchmark lines (introduced
in notebooks/07_openmv_deployment.ipynb).

:func:`export_bundle` refuses, with numbers, what would fail on the camera: a float or dynamic-range model, an
int8 input that is not ``pixel - 128`` (the firmware feeds exactly that), ops TFLite Micro lacks, a model or
arena too big for the board, labels that do not match the outputs, an output folder holding other files. The
bundle's ``main.py`` is ``openmv_scripts/classify.py`` with its marked configuration lines rewritten, so the
script the tests run in :mod:`tinymask.openmv_emu` is the one that goes on the camera.
"""

import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import folders, footprint, memory, quantize, tflite
from .errors import InputError, InputTypeError, TinymaskError

__all__ = [
    "SCRIPTS_DIR",
    "CLASSIFY_TEMPLATE",
    "MIN_FIRMWARE",
    "BENCH_PREFIX",
    "BundleError",
    "NotInt8Error",
    "InputQuantizationError",
    "DoesNotFitError",
    "LabelCountError",
    "OutputDirNotEmptyError",
    "Bundle",
    "BenchResult",
    "configure_script",
    "export_bundle",
    "parse_benchmark",
    "parse_benchmark_line",
]

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "openmv_scripts"
CLASSIFY_TEMPLATE = SCRIPTS_DIR / "classify.py"
#: The oldest OpenMV firmware the bundle's main.py runs on: ``ml.Model`` and ``model.predict`` arrived (and
#: ``tf.load`` left) in 4.5.6. From 4.7 the firmware also reads ``<model>.txt`` as ``model.labels`` itself.
MIN_FIRMWARE = "4.5.6"
#: What every line of ``openmv_scripts/benchmark_fps.py``'s result starts with.
BENCH_PREFIX = "TINYMASK_BENCH"
_BUNDLE_FILES = ("main.py", "labels.txt", "bundle.json")  # plus <model_name>.tflite and <model_name>.txt
_CONFIG_START = "# --- tinymask configuration"
_CONFIG_END = "# --- end of tinymask configuration ---"


class BundleError(TinymaskError, ValueError):
    """Base of the exporter's refusals."""


class NotInt8Error(BundleError):
    """The model is not full-integer int8 (float, dynamic-range or uint8): OpenMV runs int8 models."""


class InputQuantizationError(BundleError):
    """The int8 input is not ``pixel - 128`` (scale 1/255, zero point -128), which is what the firmware feeds."""


class DoesNotFitError(BundleError):
    """The model or its tensor arena is larger than the board has room for; ``.fit`` is the ``BoardFit``."""

    def __init__(self, message, fit):
        super().__init__(message)
        self.fit = fit


class LabelCountError(BundleError):
    """The number of labels does not match the model's outputs (or a label cannot be written to a labels file)."""


class OutputDirNotEmptyError(BundleError):
    """The output folder exists and holds files; nothing is overwritten unless asked."""


@dataclass(frozen=True)
class Bundle:
    """An exported bundle: its folder, its zip, each file's bytes (``sizes``), and what ``main.py`` was set to."""

    folder: Path
    zip_path: Path
    model_name: str
    sizes: dict
    labels: tuple
    input_shape: tuple
    pixformat: str
    fit: footprint.BoardFit
    copy_to: dict | None = None

    @property
    def files(self):
        """Paths of the bundle's files, by name."""
        return {name: self.folder / name for name in self.sizes}

    def camera_files(self):
        """``{name: bytes}`` of what goes on the camera's drive (for ``openmv_emu.run_script(files=...)``)."""
        return {name: path.read_bytes() for name, path in self.files.items()}

    @property
    def main_py(self):
        return self.folder / "main.py"


# --------------------------------------------------------------------------------------------- main.py
def _literal(value):
    """A MicroPython literal for a config value, strings in double quotes as the template writes them."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        items = [_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    raise InputTypeError(f"cannot write {value!r} into main.py")


def configure_script(template_text, values):
    """``template_text`` with each ``NAME = ...`` line of its marked configuration block set to ``repr(value)``.

    Only lines between ``# --- tinymask configuration`` and ``# --- end of tinymask configuration ---`` are touched;
    each name in ``values`` must be there exactly once (else ValueError), and a line's trailing comment is kept.
    Values are written as literals (strings in double quotes, tuples, numbers, booleans).
    """
    start, end = template_text.find(_CONFIG_START), template_text.find(_CONFIG_END)
    if start < 0 or end < start:
        raise InputError("the template has no '# --- tinymask configuration ... # --- end of tinymask "
                         "configuration ---' block; use openmv_scripts/classify.py")
    block = template_text[start:end]
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = [^#\n]*?(\s*#[^\n]*)?$", re.MULTILINE)
        found = pattern.findall(block)
        if len(found) != 1:
            raise InputError(f"the configuration block must set {name} exactly once, found {len(found)} lines")
        line = f"{name} = {_literal(value)}"
        block = pattern.sub(lambda m, line=line: line + (m.group(1) or ""), block)
    return template_text[:start] + block + template_text[end:]


# --------------------------------------------------------------------------------------------- checks
def _board_key(board):
    if isinstance(board, memory.Board):
        return board
    key = str(board).replace("_", "-").lower()
    return memory.board(key)


def _check_model(data):
    try:
        quantize.check_int8(data)
    except ValueError as error:
        raise NotInt8Error(
            f"{error}. OpenMV firmware runs full-int8 models only (uint8 models no longer run)"
        ) from None
    if not quantize.input_is_pixel_minus_128(data):
        scale, zero_point = quantize.input_quantization(data)
        raise InputQuantizationError(
            f"the int8 input has scale {scale:.6g} and zero point {zero_point}, but the OpenMV firmware feeds "
            f"pixel - 128 (scale 1/255 = {1 / 255:.6g}, zero point -128) and ignores the tensor's own values: the "
            "camera would not see what the notebook tested. Convert with quantize.to_int8(..., pin_range=True) "
            "from a model that takes pixel / 255"
        )
    footprint.check_tflm_ops(data)
    footprint.check_firmware_tflm(data)  # loads on the TFLM of every firmware from MIN_FIRMWARE on
    details = quantize.tensor_details(data)
    info = details["input"]
    if isinstance(info, list) or isinstance(details["output"], list):
        raise BundleError("the model has several inputs or outputs; classify.py feeds one image and reads one output")
    shape = tuple(info.shape)
    if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
        raise BundleError(f"the model's input is {shape}; OpenMV feeds one image shaped (1, height, width, 1 or 3)")
    outputs = 1
    for d in details["output"].shape[1:]:
        outputs *= int(d)
    return shape, outputs


def _check_labels(labels, outputs):
    labels = tuple(labels)
    for label in labels:
        if not isinstance(label, str) or not label.strip() or label != label.strip() or "\n" in label:
            raise LabelCountError(f"label {label!r}: each label must be a non-empty one-line string without "
                                  "leading or trailing spaces (one per line in the labels file)")
        if "=" in label or " " in label:
            raise LabelCountError(f"label {label!r}: use no spaces or '=' (the camera prints label=<name>)")
    if len(set(labels)) != len(labels):
        raise LabelCountError(f"labels {labels} repeat a name; give each class its own")
    expected = 2 if outputs == 1 else outputs
    if len(labels) != expected:
        what = "a single sigmoid output needs 2 labels (score < 0.5, score >= 0.5)" if outputs == 1 else \
            f"the model has {outputs} outputs"
        raise LabelCountError(f"{len(labels)} labels {labels} but {what}; pass {expected} labels in output order")
    return labels


def _check_out_dir(out_dir, overwrite, model_name):
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputDirNotEmptyError(f"{out_dir} exists and is a file; pick a folder name for the bundle")
    names = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if names and not overwrite:
        raise OutputDirNotEmptyError(
            f"{out_dir} is not empty ({len(names)} entries: {', '.join(names[:5])}"
            f"{', ...' if len(names) > 5 else ''}); "
            "pick a new folder, or pass overwrite=True to replace a bundle exported there before"
        )
    ours = {*_BUNDLE_FILES}
    foreign = [n for n in names if n not in ours and not n.endswith((".tflite", ".txt"))]
    if foreign:
        raise OutputDirNotEmptyError(
            f"{out_dir} holds files a bundle does not write ({', '.join(foreign[:5])}); overwrite=True replaces "
            "only a folder of bundle files: move those files or pick another folder"
        )
    zip_path = out_dir.with_name(out_dir.name + ".zip")
    if zip_path.exists() and (not overwrite or not zip_path.is_file()):
        raise OutputDirNotEmptyError(f"{zip_path} exists; pass overwrite=True to replace it or pick another out_dir")


# --------------------------------------------------------------------------------------------- export
def _destination(board, total_bytes):
    """Where the bundle's files go on the camera, checked against the board's internal drive."""
    drive = board.drive_bytes
    needs_sd = drive is not None and total_bytes > drive
    if drive is None:
        where = "the board's drive"
    elif needs_sd:
        where = (f"an SD card: the bundle is {total_bytes:,} B and the {board.name}'s internal drive holds "
                 f"{drive:,} B; {board.drive_note}")
    else:
        where = f"the internal drive ({total_bytes:,} of {drive:,} B) or an SD card; {board.drive_note}"
    return {"bundle_bytes": total_bytes, "internal_drive_bytes": drive, "needs_sd_card": needs_sd, "where": where}


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def export_bundle(tflite_bytes, labels, out_dir, *, board="openmv-h7", model_name="tinymask_mask",
                  uncertain_below=0.6, window=240, arena_bytes=None, overwrite=False, template=None,
                  camera_copy=True):
    """Check an int8 model for the camera and write a bundle folder ``out_dir`` and a zip ``out_dir.zip``.

    The folder holds ``<model_name>.tflite``, the labels twice (``<model_name>.txt``, which firmware 4.7+ reads
    as ``model.labels``, and ``labels.txt``, the Edge Impulse name), ``main.py`` (``openmv_scripts/classify.py``
    configured for this model: file name, labels, input size, channels/pixel format, uncertain band, camera
    window, ``load_to_fb`` for a board whose model shares the frame buffer) and ``bundle.json`` (sizes, SHA-256,
    input, board fit, minimum firmware). Refused with a :class:`BundleError` subclass and numbers:
    :class:`NotInt8Error`, :class:`InputQuantizationError`, ``footprint.UnsupportedOpError`` (a ValueError),
    :class:`DoesNotFitError` (``footprint.fits_board`` on ``board``; ``arena_bytes`` overrides the measured arena),
    :class:`LabelCountError`, :class:`OutputDirNotEmptyError` (``overwrite=True`` replaces a folder that holds only
    bundle files). The bundle is written to a temporary folder beside ``out_dir`` and moved into place at the end,
    so an interrupted export leaves no half bundle. ``board`` accepts ``"openmv-h7"`` or ``"openmv_h7"``.
    With ``camera_copy`` (the default) the bundle holds :func:`tflite.camera_copy` of the model: its names and
    signature definitions removed and each weight tensor's zero points (all 0) written once, which TFLite Micro
    reads as 0 for every channel (22,456 + 43,344 B of the course's 318,056 B model; on the real firmware the same
    scores bit for bit); ``bundle.json`` records the bytes each saved and the SHA-256 of the model you passed.
    """
    given = tflite.as_bytes(tflite_bytes)
    out_dir = Path(out_dir)
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", model_name or ""):
        raise BundleError(f"model_name {model_name!r}: use letters, digits, '_' and '-' only (firmware 4.7+ finds "
                          "the labels file by cutting the model path at its first '.')")
    if not 0.0 <= float(uncertain_below) <= 1.0:
        raise BundleError(f"uncertain_below={uncertain_below!r}: a score threshold from 0 to 1")
    b = _board_key(board)
    _check_out_dir(out_dir, overwrite, model_name)
    shape, outputs = _check_model(given)  # on the model as given: its errors name its tensors
    labels = _check_labels(labels, outputs)
    data = tflite.camera_copy(given) if camera_copy else tflite.StrippedModel(given)
    fit = footprint.fits_board(data, b, arena_bytes)
    if not fit.fits:
        raise DoesNotFitError(f"the model does not fit the {b.name}:\n{fit}\nUse a smaller model (lower alpha or "
                              "input size, or grayscale) or a board with more memory (e.g. openmv-h7-plus)", fit)
    _, height, width, channels = shape
    window = int(window)
    if window < max(height, width):
        raise BundleError(f"window={window} is smaller than the model input {width}x{height}; the camera window "
                          "should be at least the input size")
    pixformat = "RGB565" if channels == 3 else "GRAYSCALE"
    template_text = Path(template or CLASSIFY_TEMPLATE).read_text()
    main_py = configure_script(template_text, {
        "MODEL_FILE": f"{model_name}.tflite",
        "LABELS": labels,
        "INPUT_SIZE": (width, height),
        "CHANNELS": channels,
        "WINDOW": window,
        "UNCERTAIN_BELOW": float(uncertain_below),
        "LOAD_TO_FB": b.model_region_bytes is not None,
    })
    label_text = "\n".join(labels) + "\n"
    contents = {
        f"{model_name}.tflite": data,
        f"{model_name}.txt": label_text.encode(),
        "labels.txt": label_text.encode(),
        "main.py": main_py.encode(),
    }
    manifest = {
        "model_name": model_name,
        "labels": list(labels),
        "input_shape": list(shape),
        "pixformat": pixformat,
        "min_firmware": MIN_FIRMWARE,
        "board": b.key,
        "model_bytes": fit.model.needed,
        "model_room_bytes": fit.model.available,
        "arena_bytes": fit.arena.needed,
        "arena_room_bytes": fit.arena.available,
        "arena_source": fit.arena_source,
        "uncertain_below": float(uncertain_below),
        "source_model_sha256": _sha256(given),
        "names_stripped_bytes": data.names_saved,
        "zero_points_compacted_bytes": data.zero_points_saved,
        "files": {name: {"bytes": len(blob), "sha256": _sha256(blob)} for name, blob in contents.items()},
    }
    total = sum(len(blob) for blob in contents.values())
    manifest["copy_to"] = _destination(b, total)
    contents["bundle.json"] = (json.dumps(manifest, indent=2) + "\n").encode()

    zip_path = out_dir.with_name(out_dir.name + ".zip")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        for name, blob in contents.items():  # fixed dates and modes: the same bundle gives the same zip
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            z.writestr(info, blob)
    # checked above: out_dir is empty, or holds only a previous bundle and overwrite=True
    partial = f".{zip_path.name}.partial"
    with folders.staged_output(out_dir, force=True) as stage:  # the folder swapped in whole, or not at all
        for name, blob in contents.items():
            (stage / name).write_bytes(blob)
        (stage / partial).write_bytes(zipped.getvalue())
    os.replace(out_dir / partial, zip_path)  # then the zip, in one rename
    sizes = {name: len(blob) for name, blob in contents.items()}
    return Bundle(out_dir, zip_path, model_name, sizes, labels, shape, pixformat, fit, manifest["copy_to"])


# --------------------------------------------------------------------------------------------- benchmark lines
@dataclass(frozen=True)
class BenchResult:
    """One ``TINYMASK_BENCH`` line of ``openmv_scripts/benchmark_fps.py``: inference alone and capture + inference."""

    model: str
    firmware: str
    board: str
    runs: int
    size: tuple
    infer_ms: float
    infer_fps: float
    frame_ms: float
    frame_fps: float


_FIELDS = ("model", "fw", "board", "runs", "size", "infer_ms", "infer_fps", "frame_ms", "frame_fps")


def parse_benchmark_line(line):
    """A :class:`BenchResult` from one line starting with ``TINYMASK_BENCH`` (``key=value`` fields); a missing or
    malformed field, or an FPS that disagrees with its milliseconds by more than 2%, raises ValueError."""
    text = str(line).strip()
    if not text.startswith(BENCH_PREFIX):
        raise InputError(f"not a benchmark line (it must start with {BENCH_PREFIX}): {text[:80]!r}")
    pairs = dict(re.findall(r"(\w+)=(\S+)", text))
    missing = [k for k in _FIELDS if k not in pairs]
    if missing:
        raise InputError(f"the benchmark line lacks {', '.join(missing)}; paste the whole line that "
                         f"openmv_scripts/benchmark_fps.py printed: {text[:120]!r}")
    try:
        size = tuple(int(v) for v in pairs["size"].split("x"))
        numbers = {k: float(pairs[k]) for k in ("infer_ms", "infer_fps", "frame_ms", "frame_fps")}
        runs = int(pairs["runs"])
    except ValueError:
        raise InputError(f"a number in the benchmark line does not parse: {text[:160]!r}") from None
    for kind in ("infer", "frame"):
        ms, fps = numbers[f"{kind}_ms"], numbers[f"{kind}_fps"]
        if ms <= 0 or fps <= 0 or abs(fps * ms / 1000.0 - 1.0) > 0.02:
            raise InputError(f"{kind}_ms={ms} and {kind}_fps={fps} disagree (fps should be 1000 / ms); "
                             "was the line edited?")
    return BenchResult(pairs["model"], pairs["fw"], pairs["board"], runs, size, **numbers)


def parse_benchmark(text):
    """Every ``TINYMASK_BENCH`` line in pasted serial-terminal text, as :class:`BenchResult` rows (ValueError when
    there is none)."""
    lines = [line for line in str(text).splitlines() if line.strip().startswith(BENCH_PREFIX)]
    if not lines:
        raise InputError(f"no line starting with {BENCH_PREFIX} in the pasted text; run "
                         "openmv_scripts/benchmark_fps.py on the camera and paste its output")
    return [parse_benchmark_line(line) for line in lines]
