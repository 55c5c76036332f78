"""The committed notebooks are in their executed, clean form, so nbval compares every cell and the book shows real outputs."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(/root/|/home/[a-z]|/tmp/[A-Za-z0-9_]{6,}|/work/|[A-Z]:\\\\Users|/Users/[A-Za-z])")
NBVAL_COMMENT = re.compile(r"#\s*NBVAL_", re.IGNORECASE)


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
    assert setup and setup[0] <= 1, f"{path.name}: tm.setup(seed=...) must be the first code cell (after the Colab install cell)"
    for i, cell in enumerate(cells, start=1):
        assert not NBVAL_COMMENT.search("".join(cell["source"])), (
            f"{path.name}: code cell {i} uses an NBVAL comment; use a cell tag (nbval-ignore-output, nbval-skip)"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_table_of_contents(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"notebooks/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"
