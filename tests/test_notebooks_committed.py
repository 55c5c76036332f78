"""The committed notebooks are in their executed, clean form, so nbval compares every cell and the book shows real
outputs."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(/root/|/home/[a-z]|/tmp/[A-Za-z0-9_]{6,}|/work/|[A-Z]:\\\\Users|/Users/[A-Za-z])")
NBVAL_COMMENT = re.compile(r"#\s*NBVAL_", re.IGNORECASE)
# A float in scientific notation: its mantissa's digits and its exponent.
SCIENTIFIC = re.compile(r"(?<![\w.])[-+]?(\d+)(?:\.(\d+))?[eE]([-+]?\d{1,3})(?![\w.])")
FULL_PRECISION = re.compile(r"(?<![\w.])\d*\.\d{9,}(?![\w.])")  # a float's repr, e.g. 0.003921568859368563
IGNORED = {"nbval-ignore-output", "nbval-skip", "skip-execution"}


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3", f"{path.name}: kernelspec must be python3"
    cells = code_cells(nb)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..n; run it top to bottom in a fresh kernel before committing"
    )
    for i, cell in enumerate(cells, start=1):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: code cell {i} stored an error"
            text = json.dumps(out)
            assert not MACHINE_PATH.search(text), f"{path.name}: code cell {i} shows a machine path"
            assert not re.search(r"ei_[0-9a-f]{32,}", text), f"{path.name}: code cell {i} shows an API key"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_setup_and_uses_tags_not_comments(path):
    nb = json.loads(path.read_text())
    cells = code_cells(nb)
    setup = [i for i, c in enumerate(cells) if "tm.setup(seed=" in "".join(c["source"])]
    assert setup and setup[0] <= 1, (
        f"{path.name}: tm.setup(seed=...) must be the first code cell (after the Colab install cell)")
    for i, cell in enumerate(cells, start=1):
        assert not NBVAL_COMMENT.search("".join(cell["source"])), (
            f"{path.name}: code cell {i} uses an NBVAL comment; use a cell tag (nbval-ignore-output, nbval-skip)"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_table_of_contents(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"notebooks/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"


def _machine_dependent_numbers(text):
    """Printed numbers whose last digits are rounding noise: scientific notation with more than 2 significant
    digits or an exponent of -6 and below (float32 round-off, e.g. '6.9e-08' where another CPU prints '0.0e+00'),
    and full-precision float reprs (9 or more decimals)."""
    found = []
    for m in SCIENTIFIC.finditer(text):
        digits = (m.group(1) + (m.group(2) or "")).lstrip("0")
        if len(digits) > 2 or int(m.group(3)) <= -6:
            found.append(m.group(0))
    found += FULL_PRECISION.findall(text)
    return found


def test_the_noise_detector_catches_what_once_failed_ci():
    assert _machine_dependent_numbers("max relative difference 6.9e-08") == ["6.9e-08"]
    assert _machine_dependent_numbers("error 3.66e-03, scale=0.003921568859368563") == [
        "3.66e-03", "0.003921568859368563"]
    assert _machine_dependent_numbers("below 1e-05; 2.5e+06 MACs; sha 811091e8509037; 98.17%") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_compared_outputs_print_no_rounding_noise(path):
    """Outputs nbval compares must not print digits that differ between CPUs, thread counts or kernel choices."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(code_cells(nb), start=1):
        if IGNORED & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for out in cell["outputs"]:
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            noisy = _machine_dependent_numbers(text)
            assert not noisy, (
                f"{path.name}: code cell {i} prints {noisy[:3]}: round to the precision the claim needs (or assert "
                "the bound and print the bound); tag the cell nbval-ignore-output only if it cannot be made stable"
            )
