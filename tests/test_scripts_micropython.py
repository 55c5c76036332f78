"""The course's OpenMV scripts on the real MicroPython VM with stand-in OpenMV modules per firmware tag
(notebooks/07_openmv_deployment.ipynb).

tests/mpvm/run.mjs runs a script under @micropython/micropython-webassembly-pyscript (Node) with the stand-ins of
tests/mpvm/stubs/, which follow the OpenMV firmware's sources of v4.5.6, v4.7.0, v4.8.1 and v5.0.0; the 5.0.0
stand-ins are checked against the real 5.0.0 firmware in QEMU (../shared/openmv-qemu) by the probe test below.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MPVM = ROOT / "tests" / "mpvm"
SCRIPTS = ROOT / "openmv_scripts"
MODEL = ROOT / "tinymask" / "weights" / "mask_mobilenet_v1_a0.25_96_int8.tflite"
QEMU_DIR = ROOT.parent / "shared" / "openmv-qemu"
TAGS = ("4.5.6", "4.7.0", "4.8.1", "5.0.0")
SCRIPT_NAMES = sorted(p.stem for p in SCRIPTS.glob("*.py")) + ["main"]  # main: the exported bundle's main.py
FRAMES = 60

NODE = shutil.which("node")
if NODE is None or not (MPVM / "node_modules" / "@micropython" / "micropython-webassembly-pyscript").is_dir():
    pytest.skip("needs node and the MicroPython VM: run `npm ci --prefix tests/mpvm`", allow_module_level=True)


def _run_batch(cases, tmp):
    path = Path(tmp) / "cases.json"
    path.write_text(json.dumps(cases))
    proc = subprocess.run([NODE, str(MPVM / "run.mjs"), "--batch", str(path)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The exported bundle (tinymask.deploy.export_bundle) of the shipped int8 model."""
    from tinymask.deploy import export_bundle

    out = tmp_path_factory.mktemp("mpvm") / "bundle"
    export_bundle(MODEL.read_bytes(), ("mask", "no_mask"), out)
    return out


@pytest.fixture(scope="module")
def results(bundle, tmp_path_factory):
    """Every script x firmware tag, run in one Node process (one fresh VM per case)."""
    drive = [str(bundle / n) for n in ("tinymask_mask.tflite", "tinymask_mask.txt", "labels.txt")]
    cases = []
    for name in SCRIPT_NAMES:
        script = bundle / "main.py" if name == "main" else SCRIPTS / f"{name}.py"
        for tag in TAGS:
            cases.append({"id": f"{name}@{tag}", "script": str(script), "firmware": tag, "frames": FRAMES,
                          "drive": drive})
    return _run_batch(cases, tmp_path_factory.mktemp("mpvm_cases"))


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_script_runs_on_firmware(results, name, tag):
    r = results[f"{name}@{tag}"]
    tail = "\n".join(r["output"].splitlines()[-8:])
    assert r["status"] in ("ok", "stopped"), (
        f"{name}.py on firmware {tag} raised: {r['error']}\n{r.get('traceback', '')}\noutput tail:\n{tail}")


def _run_one(tmp_path, source, tag, frames=5):
    script = tmp_path / f"case_{tag.replace('.', '_')}.py"
    script.write_text(source)
    return _run_batch([{"id": "x", "script": str(script), "firmware": tag, "frames": frames}], tmp_path)["x"]


def test_frame_budget_stop_is_not_swallowed_by_except_exception(tmp_path):
    src = ("import sensor\nsensor.reset()\nsensor.set_pixformat(sensor.RGB565)\nsensor.set_framesize(sensor.QVGA)\n"
           "n = 0\nwhile True:\n    try:\n        sensor.snapshot()\n        n += 1\n    except Exception:\n"
           "        pass\n")
    r = _run_one(tmp_path, src, "4.7.0", frames=7)
    assert r["status"] == "stopped", r
    assert "frame budget of 7 frames" in r["output"]


def test_uncaught_exception_is_a_crash_with_its_line(tmp_path):
    r = _run_one(tmp_path, "import omv\nprint(omv.version_major())\n", "4.8.1")
    assert r["status"] == "crash"
    assert r["error"] == "TypeError: 'int' object isn't callable"
    assert 'File "main.py", line 2' in r["traceback"]


FACTS = """
def probe(name, fn):
    try:
        print(name, "->", fn())
    except Exception as e:
        print(name, "->", "%s: %s" % (type(e).__name__, e))

def has_csi_class():
    import csi
    return hasattr(csi, "CSI")

import sensor, image, ml, os
sensor.reset(); sensor.set_pixformat(sensor.RGB565); sensor.set_framesize(sensor.QVGA)
img = sensor.snapshot()
probe("csi.CSI", has_csi_class)
probe("flat draw_string", lambda: img.draw_string(2, 2, "x", color=(255, 255, 255), scale=2) is img)
probe("tuple draw_string", lambda: img.draw_string((2, 2), "x") is img)
probe("flat draw_rectangle", lambda: img.draw_rectangle(1, 2, 3, 4) is img)
probe("rom cascade", lambda: type(image.HaarCascade("/rom/haarcascade_frontalface.cascade", stages=25)).__name__)
probe("builtin cascade", lambda: type(image.HaarCascade("frontalface", stages=25)).__name__)
c = image.HaarCascade("frontalface" if "rom" not in os.listdir("/") else "/rom/haarcascade_frontalface.cascade")
probe("scale_factor", lambda: type(img.find_features(c, threshold=0.75, scale_factor=1.25)).__name__)
probe("scale", lambda: type(img.find_features(c, threshold=0.75, scale=1.25)).__name__)
probe("missing model", lambda: ml.Model("missing.tflite", load_to_fb=True))
probe("root", lambda: sorted(os.listdir("/")))
probe("cwd", lambda: os.getcwd())
"""

EXPECTED = {
    "4.5.6": {"csi.CSI": "ImportError: no module named 'csi'",
              "tuple draw_string": "ValueError: requested length 3 but object has length 2",
              "flat draw_string": "True", "flat draw_rectangle": "True",
              "rom cascade": "OSError: Could not find the path", "builtin cascade": "Cascade",
              "scale_factor": "list", "scale": "list",
              "missing model": "OSError: Could not find the file", "root": "['.openmv_disk', 'main.py']", "cwd": "/"},
    "4.7.0": {"csi.CSI": "False", "tuple draw_string": "ValueError: requested length 3 but object has length 2",
              "flat draw_string": "True", "rom cascade": "Cascade", "builtin cascade": "OSError: [Errno 2] ENOENT",
              "scale_factor": "list", "scale": "list", "missing model": "OSError: [Errno 2] ENOENT",
              "root": "['flash', 'rom', 'sdcard']", "cwd": "/sdcard"},
    "4.8.1": {"csi.CSI": "True", "flat draw_string": "True", "scale_factor": "list"},
    "5.0.0": {"csi.CSI": "True", "flat draw_string": "TypeError: object 'int' isn't a tuple or list",
              "flat draw_rectangle": "TypeError: object 'int' isn't a tuple or list", "tuple draw_string": "True",
              "scale_factor": "TypeError: extra keyword arguments given", "scale": "list",
              "missing model": "OSError: [Errno 2] ENOENT"},
}


@pytest.mark.parametrize("tag", TAGS)
def test_stand_ins_follow_the_firmware_of_each_tag(tmp_path, tag):
    r = _run_one(tmp_path, FACTS, tag)
    assert r["status"] == "ok", r
    seen = dict(line.split(" -> ", 1) for line in r["output"].splitlines() if " -> " in line)
    for name, want in EXPECTED[tag].items():
        assert seen.get(name) == want, f"{tag} {name}: {seen.get(name)!r}, expected {want!r}"


def _probe_lines(text):
    """The probe's board-independent result lines (QEMU's serial output has CRLF line ends)."""
    return [line for line in text.replace("\r", "").splitlines() if " -> " in line and not line.startswith("[board]")]


def test_5_0_0_stand_ins_match_the_real_firmware_in_qemu(bundle, tmp_path):
    omv_qemu = QEMU_DIR / "omv-qemu"
    if not omv_qemu.exists() or shutil.which("qemu-system-arm") is None:
        pytest.skip(f"needs the OpenMV firmware for QEMU at {QEMU_DIR} and qemu-system-arm")
    venv_bin = ROOT / ".venv" / "bin"
    env = dict(os.environ, PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    if shutil.which("mpremote", path=env["PATH"]) is None:
        pytest.skip("needs mpremote for omv-qemu: pip install mpremote pyserial")
    rom = tmp_path / "rom"
    rom.mkdir()
    for n in ("tinymask_mask.tflite", "tinymask_mask.txt"):
        shutil.copy(bundle / n, rom / n)
    probe = MPVM / "probe.py"
    real = subprocess.run([str(omv_qemu), "--rom", str(rom), str(probe)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert real.returncode == 0, real.stdout + real.stderr
    ours = subprocess.run([NODE, str(MPVM / "run.mjs"), "--firmware", "5.0.0", "--drive", str(rom), str(probe)],
                          capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    real_lines, our_lines = _probe_lines(real.stdout), _probe_lines(ours.stdout)
    assert len(real_lines) > 40, real.stdout
    assert our_lines == real_lines
