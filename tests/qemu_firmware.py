"""Run scripts on the real OpenMV firmware built for QEMU (../shared/openmv-qemu): chapter 7's firmware evidence.

Used by tests/test_firmware_qemu.py and benchmarks/firmware_check.py. Everything here needs ``../shared/openmv-qemu``,
``qemu-system-arm`` and ``mpremote`` (:func:`unavailable` says which is missing); nothing else of ``../shared``.
"""

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QEMU_DIR = ROOT.parent / "shared" / "openmv-qemu"
OMV_QEMU = QEMU_DIR / "omv-qemu"
SCRIPTS_DIR = ROOT / "openmv_scripts"
MODEL = ROOT / "tinymask" / "weights" / "mask_real_mobilenet_v1_a0.25_96_int8.tflite"  # the camera model
SAMPLES = ROOT / "datasets" / "samples" / "camera"
CLASSES = ("mask", "no_mask", "incorrect_mask")
LABELS = ("mask", "no_mask")
#: The two builds: OpenMV v5.0.0 with a 2026 TFLite Micro, and with the TFLite Micro of firmware 4.6.0-4.8.1.
FIRMWARES = ("5.0.0", "tflm-2024-09")
FIRMWARE_FILES = {"5.0.0": "openmv-5.0.0-mps2-an500.elf", "tflm-2024-09": "openmv-5.0.0-mps2-an500-tflm-2024-09.elf"}
PARITY_FILE = "tinymask_parity.rgb565"  # every sample as 96x96 RGB565, little-endian, one after another
MARK = "@@@ tinymask script "
TEST_MODEL = "tinymask_mask"  # the bundle's model name, so the scripts find the model under their default name

# --- a RAM drive for scripts that write: this build has no vfs.VfsFat and no writable drive --------------------
RAMFS_PRELUDE = '''# --- test prelude (tests/qemu_firmware.py): a RAM drive at MOUNT stands in for the SD card ---
import io as _io
import vfs as _vfs


class _RamFile(_io.IOBase):
    def __init__(self, files, path, data, writing):
        self._files, self._path, self._data, self._pos, self._writing = files, path, data, 0, writing

    def readinto(self, buf):
        n = min(len(buf), len(self._data) - self._pos)
        buf[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n

    def read(self, n=-1):
        end = len(self._data) if n is None or n < 0 else min(len(self._data), self._pos + n)
        out = bytes(self._data[self._pos:end])
        self._pos = end
        return out

    def write(self, buf):
        self._data.extend(buf.encode() if isinstance(buf, str) else bytes(buf))
        return len(buf)

    def ioctl(self, op, arg):
        if op == 4 and self._writing:  # MP_STREAM_CLOSE: the file's bytes land on the drive
            self._files[self._path] = self._data
        return 0

    def close(self):
        self.ioctl(4, 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _RamFS:
    def __init__(self):
        self.files, self.dirs, self.cwd = {}, {"/"}, "/"

    def _abs(self, path):
        path = path if path.startswith("/") else self.cwd.rstrip("/") + "/" + path
        return "/" + "/".join(p for p in path.split("/") if p)

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def ilistdir(self, path):
        base = self._abs(path).rstrip("/") + "/"
        names = {}
        for p in list(self.dirs) + list(self.files):
            if p != "/" and p.startswith(base) and "/" not in p[len(base):]:
                names[p[len(base):]] = 0x4000 if p in self.dirs else 0x8000
        return iter([(n, t, 0) for n, t in sorted(names.items())])

    def mkdir(self, path):
        path = self._abs(path)
        if path in self.dirs or path in self.files:
            raise OSError(17)  # EEXIST
        self.dirs.add(path)

    def rmdir(self, path):
        self.dirs.discard(self._abs(path))

    def remove(self, path):
        self.files.pop(self._abs(path))

    def rename(self, old, new):
        self.files[self._abs(new)] = self.files.pop(self._abs(old))

    def stat(self, path):
        path = self._abs(path)
        if path in self.dirs:
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if path in self.files:
            return (0x8000, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)
        raise OSError(2)  # ENOENT

    def statvfs(self, path):
        return (512, 512, 65536, 65536, 65536, 0, 0, 0, 0, 255)  # 32 MB, as an SD card

    def open(self, path, mode):
        path = self._abs(path)
        if "w" in mode or "a" in mode:
            data = bytearray(self.files.get(path, b"")) if "a" in mode else bytearray()
            return _RamFile(self.files, path, data, True)
        if path not in self.files:
            raise OSError(2)
        return _RamFile(self.files, path, self.files[path], False)

    def chdir(self, path):
        self.cwd = self._abs(path)

    def getcwd(self):
        return self.cwd


_RAMFS = _RamFS()
_vfs.mount(_RAMFS, MOUNT)
# --- end of the test prelude ---
'''
#: Appended to a script run on the RAM drive: one line per file it wrote, ``FILE <path> <bytes> <is JPEG>``.
RAMFS_LISTING = '''
for _name in sorted(_RAMFS.files):
    _data = _RAMFS.files[_name]
    print("FILE", MOUNT + _name, len(_data), 1 if bytes(_data[:3]) == b"\\xff\\xd8\\xff" else 0)
'''


STOP_PRELUDE = '''# --- test prelude (tests/qemu_firmware.py): end cleanly after COUNT lines that start with PREFIX ---
import builtins as _builtins

_print, _seen = _builtins.print, [0]


def _counting_print(*args, **kwargs):
    _print(*args, **kwargs)
    if args and isinstance(args[0], str) and args[0].startswith(PREFIX):
        _seen[0] += 1
        if _seen[0] >= COUNT:
            raise SystemExit  # no traceback: the firmware's REPL takes it as a clean end


_builtins.print = _counting_print
# --- end of the test prelude ---
'''


def unavailable():
    """Why the firmware cannot be run here (one line), or None when it can."""
    if not OMV_QEMU.is_file():
        return f"the OpenMV firmware for QEMU is not at {QEMU_DIR} (put ../shared/openmv-qemu beside the repository)"
    if shutil.which("qemu-system-arm") is None:
        return "qemu-system-arm is not installed (apt-get install qemu-system-arm)"
    if _mpremote() is None:
        return "mpremote is not installed (pip install mpremote pyserial)"
    return None


def _mpremote():
    here = Path(sys.executable).parent / "mpremote"
    return str(here) if here.is_file() else shutil.which("mpremote")


def firmware_sha256():
    """{firmware: sha256 of its .elf}, from the files (the README of ../shared/openmv-qemu lists the same)."""
    return {fw: hashlib.sha256((QEMU_DIR / "firmware" / name).read_bytes()).hexdigest()
            for fw, name in FIRMWARE_FILES.items()}


def readme_sha256():
    """{firmware: sha256} as ../shared/openmv-qemu/README.md states them."""
    text = (QEMU_DIR / "README.md").read_text()
    return {fw: m.group(1) for fw in FIRMWARES
            for m in [re.search(r"`([0-9a-f]{64})` \(" + re.escape(fw) + r"\)", text)] if m}


def set_constants(text, **values):
    """``text`` with each top-level ``NAME = ...`` line set to ``NAME = repr(value)`` (a shorter run for a test)."""
    for name, value in values.items():
        text, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", text, count=1, flags=re.MULTILINE)
        if n != 1:
            raise ValueError(f"the script sets no top-level {name} = ...; nothing to shorten")
    return text


def stop_after(text, prefix, count):
    """``text`` that ends (SystemExit, no traceback) once it has printed ``count`` lines starting with ``prefix``:
    a ``while True`` camera loop becomes a run of a few frames, however fast the machine is."""
    return f"PREFIX = {prefix!r}\nCOUNT = {int(count)}\n" + STOP_PRELUDE + text


def on_ram_drive(text, mount):
    """``text`` run with a RAM drive mounted at ``mount`` first and the files it wrote listed after it."""
    return f"MOUNT = {mount!r}\n" + RAMFS_PRELUDE + text + RAMFS_LISTING


def function_source(path, name):
    """The source of the top-level function ``name`` in the script at ``path``."""
    text = Path(path).read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    raise ValueError(f"{Path(path).name} has no function {name}()")


@dataclass(frozen=True)
class Run:
    """What one script printed on the firmware and the first line of its error (None when none was raised)."""

    name: str
    firmware: str
    output: str
    error: str | None

    @property
    def ok(self):
        return self.error is None

    def lines(self, prefix):
        return [line for line in self.output.splitlines() if line.startswith(prefix)]


def first_error(output):
    """The exception line of the first traceback in ``output`` (e.g. ``TypeError: 'int' object isn't callable``)."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            for rest in lines[i + 1:]:
                if not rest.startswith(" "):
                    return rest.strip()
            return "Traceback (no exception line)"
    return None


def run_scripts(scripts, firmware, rom, *, run_for=None, timeout=120):
    """Run ``{name: text}`` one after another on ``firmware`` with the files of the folder ``rom`` in ``/rom``;
    returns ``{name: Run}``. ``run_for``: stop each script after that many seconds (``while True`` loops)."""
    if firmware not in FIRMWARES:
        raise ValueError(f"firmware {firmware!r}: use one of {FIRMWARES}")
    work = Path(rom).parent / f"scripts-{firmware}"
    work.mkdir(exist_ok=True)
    paths = []
    for i, (name, text) in enumerate(scripts.items()):
        path = work / f"{i:02d}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}.py"
        path.write_text(f"print({MARK + name!r})\n" + text)
        paths.append(str(path))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               MPREMOTE=_mpremote())
    env.pop("OMV_QEMU_RUN_FOR", None)
    if run_for:
        env["OMV_QEMU_RUN_FOR"] = str(run_for)
    else:
        env["OMV_QEMU_TIMEOUT"] = str(timeout)
    limit = (run_for or timeout) * len(paths) + 60
    done = subprocess.run(["bash", str(OMV_QEMU), "--firmware", firmware, "--rom", str(rom), *paths],
                          capture_output=True, text=True, env=env, timeout=limit)
    text = done.stdout
    timed_out = {Path(p).name for p in re.findall(r"^omv-qemu: (\S+) timed out$", done.stderr, re.MULTILINE)}
    if done.returncode == 2:
        raise RuntimeError(f"omv-qemu could not start the {firmware} firmware: {done.stderr.strip()[-400:]}")
    parts = re.split(r"^" + re.escape(MARK) + r"(.*)$", text, flags=re.MULTILINE)
    found = dict(zip(parts[1::2], parts[2::2]))
    runs = {}
    for name, path in zip(scripts, paths):
        if Path(path).name in timed_out:
            out = found.get(name, "").strip("\n")
            runs[name] = Run(name, firmware, out, first_error(out) or f"timed out after {run_for or timeout} s")
        elif name not in found:
            runs[name] = Run(name, firmware, "", f"no output (omv-qemu: {done.stderr.strip()[-200:] or 'nothing'})")
        else:
            out = found[name].strip("\n")
            runs[name] = Run(name, firmware, out, first_error(out))
    return runs


# --- the bundle and the golden images ---------------------------------------------------------------------------
def export_bundle(out_dir, tflite_bytes=None):
    """The bundle ``tinymask export`` writes for the shipped model (its main.py is classify.py configured)."""
    from tinymask import deploy

    data = MODEL.read_bytes() if tflite_bytes is None else tflite_bytes
    return deploy.export_bundle(data, LABELS, out_dir, model_name=TEST_MODEL)


def sample_images():
    """(names, uint8 array (n, 96, 96, 3)) of the committed camera samples, sorted by class then file."""
    from PIL import Image

    names, images = [], []
    for cls in CLASSES:
        for path in sorted((SAMPLES / cls).glob("*.png")):
            names.append(f"{cls}/{path.name}")
            images.append(np.asarray(Image.open(path).convert("RGB")))
    return names, np.stack(images)


def rgb565_bytes(images):
    """RGB565 pixels, little-endian (how an image.RGB565 buffer holds them on the Cortex-M7), for uint8 RGB."""
    from tinymask import openmv_emu

    return openmv_emu.rgb888_to_rgb565(images).astype("<u2").tobytes()


PROBE_PIXELS = ((0, 0), (95, 0), (37, 61), (95, 95))


def parity_script(count, height=96, width=96):
    """Firmware script: the model's arena, then per sample ``P <i> <raw int8 scores> | <r,g,b at PROBE_PIXELS>``."""
    return f'''import image, ml
try:
    model = ml.Model("/rom/{TEST_MODEL}.tflite")
except Exception as e:
    print("LOADERR", type(e).__name__, e)
    raise
print("MODEL", model)
print("RAM", model.ram)
scale, zero = model.output_scale[0], model.output_zero_point[0]
print("OUTQ", repr(scale), zero)
size = {width} * {height} * 2
with open("/rom/{PARITY_FILE}", "rb") as f:
    for i in range({count}):
        img = image.Image({width}, {height}, image.RGB565, buffer=bytearray(f.read(size)))
        scores = model.predict([img])[0].flatten().tolist()
        raw = [int(round(s / scale)) + zero for s in scores]
        px = [img.get_pixel((x, y)) for x, y in {PROBE_PIXELS!r}]  # a tuple on 5.0 (py_image.c v5.0.0)
        print("P", i, " ".join(str(q) for q in raw), "|", " ".join("%d,%d,%d" % p for p in px))
'''


def parse_parity(output):
    """({i: raw int8 scores}, {i: probe pixels}, ram, (scale, zero point)) from :func:`parity_script`'s output."""
    scores, pixels, ram, outq = {}, {}, None, None
    for line in output.splitlines():
        if line.startswith("P "):
            head, px = line[2:].split("|")
            i, *raw = head.split()
            scores[int(i)] = [int(v) for v in raw]
            pixels[int(i)] = [tuple(int(c) for c in p.split(",")) for p in px.split()]
        elif line.startswith("RAM "):
            ram = int(line.split()[1])
        elif line.startswith("OUTQ "):
            outq = (float(line.split()[1]), int(line.split()[2]))
    return scores, pixels, ram, outq


def host_raw_scores(tflite_bytes, images):
    """The project's scores on the host (``tinymask.quantize.predict``, TFLite Micro's reference kernels), as raw
    int8 with the model's output quantization."""
    from tinymask import quantize

    floats = quantize.predict(tflite_bytes, images)
    out = quantize.tensor_details(tflite_bytes)["output"]
    scale, zero = float(out.scale), int(out.zero_point)
    return np.rint(floats / scale).astype(np.int64) + zero, floats, (scale, zero)


#: What the scripts should print: a regular expression and how many lines at least.
EXPECTED = {
    "classify.py": (r"^label=\S+ class=\S+ score=[0-9.]+ fps=[0-9.]+$", 5),
    "main.py": (r"^label=\S+ class=\S+ score=[0-9.]+ fps=[0-9.]+$", 5),
    "face_mask.py": (r"^frame faces=\d+ fps=[0-9.]+$", 5),
    "low_power.py": (r"^wake n=\d+ label=\S+ class=\S+ score=[0-9.]+$", 2),
    "benchmark_fps.py": (r"^TINYMASK_BENCH ", 1),
    "collect_dataset.py": (r"^FILE /\S+/tinymask_dataset/mask/\d+\.jpg \d+ 1$", 2),
}
SCRIPTS = ("classify.py", "face_mask.py", "low_power.py", "benchmark_fps.py", "collect_dataset.py")
#: Mount points the RAM drive takes for collect_dataset.py: the SD card of firmware 4.6+ and the /sd fallback.
SD_MOUNT = {"5.0.0": "/sdcard", "tflm-2024-09": "/sd"}


def camera_scripts(bundle_dir, firmware):
    """``{name: text}``: every camera script and the bundle's main.py, made finite for a test run.

    The ``while True`` loops end after the lines :data:`EXPECTED` asks for (:func:`stop_after`); benchmark_fps.py
    runs RUNS=5, low_power.py sleeps PERIOD_MS=300, collect_dataset.py saves COUNT=2 every INTERVAL_MS=300 to a
    RAM drive at :data:`SD_MOUNT` and lists what it wrote. Nothing else of a script is changed."""
    text = {name: (SCRIPTS_DIR / name).read_text() for name in SCRIPTS}
    text["main.py"] = (Path(bundle_dir) / "main.py").read_text()
    count = {name: least for name, (_, least) in EXPECTED.items()}
    return {
        "classify.py": stop_after(text["classify.py"], "label=", count["classify.py"]),
        "main.py": stop_after(text["main.py"], "label=", count["main.py"]),
        "face_mask.py": stop_after(text["face_mask.py"], "frame faces=", count["face_mask.py"]),
        "low_power.py": stop_after(set_constants(text["low_power.py"], PERIOD_MS=300), "wake n=",
                                   count["low_power.py"]),
        "benchmark_fps.py": set_constants(text["benchmark_fps.py"], RUNS=5),
        "collect_dataset.py": on_ram_drive(set_constants(text["collect_dataset.py"], COUNT=2, INTERVAL_MS=300),
                                           SD_MOUNT[firmware]),
    }


def check_output(run):
    """None when ``run`` printed what its script should (:data:`EXPECTED`), else what is wrong."""
    pattern, least = EXPECTED[run.name]
    if run.error:
        return f"{run.name} on {run.firmware} raised {run.error}"
    found = [line for line in run.output.splitlines() if re.match(pattern, line)]
    if len(found) < least:
        return (f"{run.name} on {run.firmware} printed {len(found)} lines matching {pattern!r}, expected at "
                f"least {least}:\n{run.output[-1500:]}")
    return None


def prepare_rom(folder, tflite_bytes=None):
    """A /rom folder: the bundle of the shipped model plus the samples as RGB565 (:data:`PARITY_FILE`);
    returns (bundle, sample names, uint8 images)."""
    bundle = export_bundle(Path(folder) / "rom", tflite_bytes)
    names, images = sample_images()
    (bundle.folder / PARITY_FILE).write_bytes(rgb565_bytes(images))
    return bundle, names, images


def facts_script():
    """Firmware script: ``FACT <name> <what happened>`` for each API difference the camera scripts work around,
    and ``FACT draw_text[<script>] <lit pixels>`` for the draw helper of classify.py and face_mask.py."""
    lines = ["import image, ml, omv, csi", "",
             "def fact(name, call):",
             "    try:",
             "        call()",
             "        print('FACT', name, 'ok')",
             "    except Exception as e:",
             "        print('FACT', name, type(e).__name__)",
             "",
             "img = image.Image(64, 32, image.RGB565)",
             "gray = image.Image(64, 64, image.GRAYSCALE)",
             "print('FACT omv.version_major', type(omv.version_major).__name__)",
             "print('FACT csi.CSI', 'ok' if hasattr(csi, 'CSI') else 'missing')",
             "fact('draw_string((x,y),text)', lambda: img.draw_string((2, 2), 'a'))",
             "fact('draw_string(x,y,text)', lambda: img.draw_string(2, 2, 'a'))",
             "fact('draw_rectangle((x,y,w,h))', lambda: img.draw_rectangle((1, 1, 5, 5)))",
             "fact('draw_rectangle(x,y,w,h)', lambda: img.draw_rectangle(1, 1, 5, 5))",
             "cascade = image.HaarCascade('/rom/haarcascade_frontalface.cascade', stages=25)",
             "fact('HaarCascade(\"frontalface\")', lambda: image.HaarCascade('frontalface'))",
             "fact('find_features(scale_factor=)', lambda: gray.find_features(cascade, threshold=0.75, "
             "scale_factor=1.25))",
             "fact('find_features(scale=)', lambda: gray.find_features(cascade, threshold=0.75, scale=1.25))",
             f"fact('ml.Model(load_to_fb=True)', lambda: ml.Model('/rom/{TEST_MODEL}.tflite', load_to_fb=True))",
             ""]
    for script in ("classify.py", "face_mask.py"):
        lines += [function_source(SCRIPTS_DIR / script, "draw_text"),
                  "canvas = image.Image(64, 24, image.RGB565)",
                  "draw_text(canvas, 2, 2, 'ok', color=(255, 255, 255))",
                  "lit = sum(1 for y in range(24) for x in range(64) if canvas.get_pixel((x, y)) != (0, 0, 0))",
                  f"print('FACT draw_text[{script}]', lit)", ""]
    return "\n".join(lines)


def parse_facts(output):
    """``{name: what happened}`` from :func:`facts_script`'s output."""
    found = {}
    for line in output.splitlines():
        if line.startswith("FACT "):
            name, _, value = line[5:].rpartition(" ")
            found[name] = value
    return found


def firmware_runs(bundle, images, firmware, timeout=120):
    """One boot of ``firmware``: every script of :func:`camera_scripts`, collect_dataset.py with no SD card, the
    facts and the parity script; ``{name: Run}``."""
    scripts = camera_scripts(bundle.folder, firmware)
    scripts["collect_dataset.py (no card)"] = (SCRIPTS_DIR / "collect_dataset.py").read_text()
    scripts["facts"] = facts_script()
    scripts["parity"] = parity_script(len(images))
    return run_scripts(scripts, firmware, bundle.folder, timeout=timeout)


def parity(bundle, images, run):
    """The firmware's ``model.predict`` (``run`` of :func:`parity_script`) against the host's on the samples."""
    from tinymask import openmv_emu

    data = (bundle.folder / f"{TEST_MODEL}.tflite").read_bytes()
    fw_scores, fw_pixels, ram, outq = parse_parity(run.output)
    result = {"firmware": run.firmware, "loads": ram is not None, "error": run.error, "ram": ram,
              "n": len(images), "compared": len(fw_scores)}
    if not fw_scores:
        return result
    host_raw, _, host_q = host_raw_scores(data, images)
    expected_px = openmv_emu.rgb565_round_trip(images)
    same = [i for i in range(len(images)) if fw_scores.get(i) == host_raw[i].tolist()]
    diffs = [abs(a - b) for i in fw_scores for a, b in zip(fw_scores[i], host_raw[i].tolist())]
    pixels_ok = all(fw_pixels[i] == [tuple(int(c) for c in expected_px[i, y, x]) for x, y in PROBE_PIXELS]
                    for i in fw_pixels)
    result.update(identical=len(same), max_abs_raw_diff=max(diffs), max_abs_score_diff=max(diffs) * host_q[0],
                  distinct_scores=len({tuple(v) for v in fw_scores.values()}),
                  output_quantization=list(outq), host_output_quantization=list(host_q), pixels_match=pixels_ok)
    return result


# --- the evidence benchmarks/firmware_check.py writes and tests/test_firmware_qemu.py re-checks ------------------
def sha256(data):
    return hashlib.sha256(data).hexdigest()


def bundle_model_info(bundle):
    """The camera's copy of the model in the exported bundle (tflite.camera_copy): its bytes, SHA-256, bytes saved."""
    data = (bundle.folder / f"{TEST_MODEL}.tflite").read_bytes()
    manifest = json.loads((bundle.folder / "bundle.json").read_text())
    return {"bytes": len(data), "sha256": sha256(data), "names_stripped_bytes": manifest["names_stripped_bytes"],
            "zero_points_compacted_bytes": manifest["zero_points_compacted_bytes"],
            "source_sha256": manifest["source_model_sha256"], "bundle_bytes": manifest["copy_to"]["bundle_bytes"]}


def anatomy(bundle):
    """Where the bytes of the shipped model and of the bundle's copy go (``tinymask.tflite.anatomy``)."""
    from tinymask import tflite

    return {"model": tflite.anatomy(MODEL.read_bytes()),
            "camera_copy": tflite.anatomy((bundle.folder / f"{TEST_MODEL}.tflite").read_bytes())}


def firmware_info():
    """{firmware: {"elf", "sha256", "sha256_as_in_readme"}} for the two builds."""
    files, readme = firmware_sha256(), readme_sha256()
    return {fw: {"elf": FIRMWARE_FILES[fw], "sha256": files[fw], "sha256_as_in_readme": files[fw] == readme.get(fw)}
            for fw in FIRMWARES}


def status(run):
    """"ok" when the script ran without a traceback and printed its lines, else the first line of what went wrong."""
    if run.name in EXPECTED:
        problem = check_output(run)
        return "ok" if problem is None else (run.error or problem.splitlines()[0])
    return "ok" if run.error is None else run.error


def parity_summary(result):
    """The machine-independent figures of :func:`parity`."""
    keys = ("loads", "n", "compared", "identical", "max_abs_raw_diff", "max_abs_score_diff", "pixels_match")
    return {k: result.get(k) for k in keys}


def evidence(folder):
    """Everything benchmarks/firmware_check.py records: scripts x firmware, parity, model.ram, facts, hashes."""
    bundle, names, images = prepare_rom(folder)
    out = {"model": {"path": str(MODEL.relative_to(ROOT)), "bytes": MODEL.stat().st_size,
                     "sha256": sha256(MODEL.read_bytes())},
           "bundle_model": bundle_model_info(bundle),
           "anatomy": anatomy(bundle),
           "firmware": firmware_info(), "samples": len(names),
           "scripts": {name: {} for name in SCRIPTS + ("main.py",)}, "parity": {}, "ram_size": {}, "facts": {}}
    for fw in FIRMWARES:
        runs = firmware_runs(bundle, images, fw)
        for name in out["scripts"]:
            out["scripts"][name][fw] = status(runs[name])
        result = parity(bundle, images, runs["parity"])
        out["parity"][fw] = parity_summary(result)
        out["ram_size"][fw] = result["ram"]
        out["facts"][fw] = parse_facts(runs["facts"].output)
    return out
