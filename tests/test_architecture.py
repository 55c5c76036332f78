"""The library's layering (unit tests of our own code's shape, not evidence about the camera).

No module, benchmark or notebook reaches into another tinymask module's private names (``footprint._model``,
``from tinymask._setup import ...``): what one module offers another is public, documented and kept stable. The base
layer ``tinymask.tflite`` imports no other tinymask module (only ``_setup`` and ``errors``, which import none).
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinymask"


def _sources():
    for path in sorted(PACKAGE.glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        lines = [line for line in code.splitlines() if not line.lstrip().startswith(("!", "%"))]
        yield path.relative_to(ROOT).as_posix(), "\n".join(lines)


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_aliases(tree, in_package):
    """Names bound to tinymask or one of its modules in this file."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "tinymask" or a.name.startswith("tinymask."):
                    aliases.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            ours = node.module == "tinymask" or (in_package and node.level == 1 and node.module is None)
            if ours:
                aliases.update(a.asname or a.name for a in node.names)
    return aliases


def violations(name, text, in_package):
    """``file:line what`` for every private name of another tinymask module this source uses."""
    tree = ast.parse(text)
    aliases = _module_aliases(tree, in_package)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            ours = module == "tinymask" or module.startswith("tinymask.") or (in_package and node.level >= 1)
            parts = module.split(".") if module else []
            if ours and any(_private(p) for p in parts if p != "tinymask"):
                if not (in_package and parts == ["_setup"]):  # the package's own private module, inside it
                    found.append(f"{name}:{node.lineno} imports from private module {module}")
            if ours and module:
                found += [f"{name}:{node.lineno} imports {a.name} from {module}"
                          for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                found.append(f"{name}:{node.lineno} uses {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("name,text", [pytest.param(n, t, id=n) for n, t in _sources()])
def test_no_private_names_across_modules(name, text):
    found = violations(name, text, name.startswith("tinymask/"))
    assert not found, "private names used across modules (make them public or move the code):\n" + "\n".join(found)


def test_the_checker_can_fail():
    bad = "from . import footprint\nfrom .quantize import _convert\nx = footprint._model(b'')\n"
    assert len(violations("x.py", bad, True)) == 2
    assert violations("nb", "import tinymask as tm\ntm._setup.import_tensorflow()\n", False)
    assert not violations("ok.py", "from . import footprint\nfootprint.describe(b'')\n_local = 1\n", True)


def test_tflite_is_the_base_layer():
    tree = ast.parse((PACKAGE / "tflite.py").read_text())
    ours = [n for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.level or 0) >= 1 and n.module not in ("_setup", "errors")]
    assert not ours, f"tinymask/tflite.py imports {[ast.unparse(n) for n in ours]}: it must depend on no other module"


BUILTIN_ERRORS = {"ValueError", "TypeError", "RuntimeError", "FileNotFoundError", "FileExistsError",
                  "NotADirectoryError", "KeyError", "IndexError", "OSError", "Exception"}


#: The emulator's stand-ins raise the OSError the real firmware raises (a missing file, a bad cascade path).
FIRMWARE_OSERROR = ("openmv_emu.py", "openmv_classes.py", "openmv_stubs.py")


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_errors_raised_on_purpose_are_tinymask_errors(path):
    """``raise ValueError(...)`` in the library is a bare built-in a caller cannot tell from a bug; raise a
    tinymask.errors class (each derives from the built-in too)."""
    tree = ast.parse(path.read_text())
    bare = [f"{path.name}:{n.lineno} raise {n.exc.func.id}" for n in ast.walk(tree)
            if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call) and isinstance(n.exc.func, ast.Name)
            and n.exc.func.id in BUILTIN_ERRORS
            and not (path.name in FIRMWARE_OSERROR and n.exc.func.id == "OSError")]
    assert not bare, "raise a tinymask.errors class instead:\n" + "\n".join(bare)


def test_every_error_class_is_a_tinymask_error():
    import importlib
    import inspect

    from tinymask.errors import TinymaskError

    loose = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.stem in ("__main__",):
            continue
        module = importlib.import_module(f"tinymask.{path.stem}" if path.stem != "__init__" else "tinymask")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, Exception) and not issubclass(cls, Warning):
                if not issubclass(cls, TinymaskError):
                    loose.append(f"{module.__name__}.{name}")
    assert not loose, f"error classes outside the TinymaskError family: {loose}"


def test_every_module_is_reachable_as_tm_attribute():
    """``tm.<module>`` works for every public module (``tm.pretrain`` once raised AttributeError)."""
    import tinymask

    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert modules == set(tinymask._SUBMODULES), (
        f"add to tinymask/__init__.py _SUBMODULES: {sorted(modules - set(tinymask._SUBMODULES))}; "
        f"remove: {sorted(set(tinymask._SUBMODULES) - modules)}")
