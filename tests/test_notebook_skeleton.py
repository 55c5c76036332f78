"""Every chapter has the course's skeleton, in order, and opens with the Colab cell, then `tm.setup(seed=0)`.

The skeleton: one H1 (the first cell); Overview with numbered objectives; Prerequisites with a table and the time to
learn; Imports; the content; Summary; Exercises with their solutions behind a toggle; What's next; References.
The Colab cell (the first code cell) installs the course on Colab only, names the repository exactly as
`repository.url` in _config.yml does, and does nothing and prints nothing anywhere else.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import types

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SETUP_SOURCE = "import tinymask as tm\n\ntm.setup(seed=0)"
COLAB_MARKER = '"google.colab" in sys.modules'
HEAD = ["Overview", "Prerequisites", "Imports"]
TAIL = ["Summary", "Exercises", "What's next", "References"]
URL = re.compile(r"https?://[^\s\"'<>)]+")
# A toggle that hides the solutions in the book: a MyST dropdown (directive, or admonition with the dropdown class),
# or a toggle directive.
TOGGLE = re.compile(r"^\s*(:::+|```+)\s*\{(dropdown|toggle)\}|^\s*:class:[^\n]*\bdropdown\b", re.M)
TOGGLE_TAGS = {"hide-input", "hide-cell", "hide-output", "toggle"}

with_notebooks = pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)


def load(path):
    return json.loads(path.read_text())


def source(cell):
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def repository_url():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def outline(nb):
    """Headings and sections of a notebook.

    Returns (headings, sections): headings is a list of (cell index, level, title) outside fenced code blocks (a
    `# comment` in a bash block is no heading); sections maps each H2 title to {"text": markdown under it,
    "cells": the cells under it}.
    """
    headings, sections, current = [], {}, None
    for index, cell in enumerate(nb["cells"]):
        if current is not None:
            sections[current]["cells"].append(cell)
        if cell["cell_type"] != "markdown":
            continue
        fence = None
        for line in source(cell).splitlines():
            stripped = line.lstrip()
            opener = re.match(r"(`{3,}|~{3,})", stripped)
            if fence is None and opener:
                fence = opener.group(1)
            elif fence is not None and stripped.startswith(fence):
                fence = None
            elif fence is None:
                heading = re.match(r"(#{1,6})\s+(.*?)\s*#*\s*$", line)
                if heading:
                    level, title = len(heading.group(1)), heading.group(2)
                    headings.append((index, level, title))
                    if level == 2:
                        current = title
                        sections.setdefault(current, {"text": "", "cells": [cell]})
                        continue
            if current is not None:
                sections[current]["text"] += line + "\n"
    return headings, sections


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@with_notebooks
def test_one_h1_and_it_opens_the_notebook(path):
    nb = load(path)
    headings, _ = outline(nb)
    h1 = [(i, title) for i, level, title in headings if level == 1]
    assert len(h1) == 1, f"{path.name}: needs exactly one H1 (the chapter title), found {h1}"
    assert h1[0][0] == 0 and nb["cells"][0]["cell_type"] == "markdown", (
        f"{path.name}: the H1 must be in the first cell, found it in cell {h1[0][0]}"
    )
    assert headings[0][1] == 1, f"{path.name}: the first heading must be the H1, found {headings[0]}"


@with_notebooks
def test_sections_follow_the_skeleton_in_order(path):
    headings, _ = outline(load(path))
    h2 = [title for _, level, title in headings if level == 2]
    assert h2[: len(HEAD)] == HEAD, f"{path.name}: the first sections must be {HEAD}, found {h2[: len(HEAD)]}"
    assert h2[-len(TAIL) :] == TAIL, f"{path.name}: the last sections must be {TAIL}, found {h2[-len(TAIL) :]}"
    for title in HEAD + TAIL:
        assert h2.count(title) == 1, f"{path.name}: section '{title}' appears {h2.count(title)} times"
    assert len(h2) > len(HEAD) + len(TAIL), f"{path.name}: has no content section between Imports and Summary"


@with_notebooks
def test_overview_lists_numbered_objectives(path):
    _, sections = outline(load(path))
    numbers = [int(n) for n in re.findall(r"^\s*(\d+)\.\s+\S", sections["Overview"]["text"], re.M)]
    assert len(numbers) >= 2, f"{path.name}: the Overview needs a numbered list of objectives (1. ..., 2. ...)"
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: objectives numbered {numbers}, not 1..n"


@with_notebooks
def test_prerequisites_have_a_table_and_the_time_to_learn(path):
    _, sections = outline(load(path))
    text = sections["Prerequisites"]["text"]
    assert re.search(r"^\|.*\|\s*$", text, re.M), f"{path.name}: Prerequisites needs a table (concept, importance, ...)"
    assert re.search(r"Time to learn\W*(about\s+)?\d+\s*(minutes|min|hours?)", text), (
        f"{path.name}: Prerequisites must say 'Time to learn: N minutes'"
    )


@with_notebooks
def test_first_code_cells_are_the_colab_cell_then_setup(path):
    nb = load(path)
    cells = code_cells(nb)
    assert len(cells) >= 2, f"{path.name}: needs the Colab cell and the setup cell"
    assert COLAB_MARKER in source(cells[0]), (
        f"{path.name}: the first code cell must be the Colab install cell, the same as in the other chapters "
        "(see 'The Colab cell' in book/instructor_guide.md)"
    )
    assert source(cells[1]).strip() == SETUP_SOURCE, (
        f"{path.name}: the second code cell must be exactly {SETUP_SOURCE!r}, found {source(cells[1])!r}"
    )
    headings, _ = outline(nb)
    imports_cell = next(i for i, level, title in headings if level == 2 and title == "Imports")
    setup_cell = nb["cells"].index(cells[1])
    assert setup_cell < imports_cell, f"{path.name}: tm.setup must come before the Imports section"


def colab_cell(path):
    cells = code_cells(load(path))
    if not cells or COLAB_MARKER not in source(cells[0]):
        pytest.fail(f"{path.name}: has no Colab cell as its first code cell")
    return cells[0]


@with_notebooks
def test_colab_cell_names_the_repository_of_config_once(path):
    urls = URL.findall(source(colab_cell(path)))
    assert urls == [repository_url()], (
        f"{path.name}: the Colab cell must name the repository once, as _config.yml's repository.url "
        f"({repository_url()}); found {urls}"
    )


def test_every_colab_cell_is_the_same():
    sources = {source(colab_cell(path)) for path in NOTEBOOKS}
    assert len(sources) == 1, "the notebooks' Colab cells differ: every chapter must have the same one"


@with_notebooks
def test_colab_cell_is_visible_and_stores_no_output(path):
    cell = colab_cell(path)
    tags = set(cell.get("metadata", {}).get("tags", []))
    assert not tags & {"remove-cell", "remove-input", "nbval-skip"}, (
        f"{path.name}: the Colab cell must be shown to students and run by nbval; it has tags {sorted(tags)}"
    )
    assert cell["outputs"] == [], f"{path.name}: outside Colab the Colab cell must print nothing"


@with_notebooks
def test_colab_cell_does_nothing_outside_colab(path, tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", source(colab_cell(path)) + "\nimport os; print(os.getcwd())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, f"{path.name}: the Colab cell failed outside Colab:\n{run.stderr}"
    assert run.stderr == "", f"{path.name}: the Colab cell wrote to stderr outside Colab:\n{run.stderr}"
    assert run.stdout == f"{tmp_path}\n", f"{path.name}: outside Colab the cell printed or changed directory"
    assert list(tmp_path.iterdir()) == [], f"{path.name}: outside Colab the cell created files"


@with_notebooks
def test_colab_cell_installs_the_course_on_colab(path, monkeypatch):
    """Run the cell as Colab would, with the commands recorded instead of run."""
    calls, moves, existing = [], [], set()

    def fake_run(command, check=False, **kwargs):
        calls.append(list(map(str, command)))
        if command[:2] == ["git", "clone"]:
            existing.add(str(command[-1]))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(os, "chdir", moves.append)
    monkeypatch.setattr(os.path, "isdir", lambda p: str(p) in existing)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code = compile(source(colab_cell(path)), f"{path.name}:colab-cell", "exec")

    exec(code, {})
    clones = [c for c in calls if c[:2] == ["git", "clone"]]
    assert len(clones) == 1 and repository_url() in clones[0], f"{path.name}: must clone {repository_url()}: {calls}"
    clone = clones[0][-1]
    installs = [c for c in calls if c[:4] == [sys.executable, "-m", "pip", "install"]]
    assert installs and clone in installs[0] and {"-e", "--editable"} & set(installs[0]), (
        f"{path.name}: must `pip install -e` the clone with the kernel's own Python: {calls}"
    )
    assert clone in sys.path, f"{path.name}: the clone must be importable without a restart"
    assert moves == [os.path.join(clone, "notebooks")], f"{path.name}: must change into the clone's notebooks/"

    calls.clear()
    exec(code, {})  # run again (say, after a runtime restart): no second clone or install
    assert calls == [], f"{path.name}: re-running the Colab cell must not clone or install again: {calls}"
    assert sys.path.count(clone) == 1


@with_notebooks
def test_exercises_have_solutions_behind_a_toggle(path):
    _, sections = outline(load(path))
    exercises = sections["Exercises"]
    assert re.search(r"^\s*\d+\.\s+\S", exercises["text"], re.M), f"{path.name}: Exercises needs numbered exercises"
    toggled_cells = [
        c for c in exercises["cells"] if TOGGLE_TAGS & set(c.get("metadata", {}).get("tags", []))
    ]
    assert TOGGLE.search(exercises["text"]) or toggled_cells, (
        f"{path.name}: put the solutions behind a toggle: ':::{{dropdown}} Solutions', an admonition with "
        "':class: dropdown', or a cell tagged hide-input"
    )
    hidden = exercises["text"] + "".join(source(c) for c in toggled_cells)
    assert re.search(r"solution", hidden, re.I), f"{path.name}: the toggle should say it holds the solutions"


@with_notebooks
def test_summary_whats_next_and_references_have_content(path):
    _, sections = outline(load(path))
    for title in ("Summary", "What's next"):
        assert sections[title]["text"].strip(), f"{path.name}: section '{title}' is empty"
    assert re.search(r"\{cite(:p|:t)?\}`[^`]+`", sections["References"]["text"]), (
        f"{path.name}: References must cite its sources with {{cite}}`key` (entries in book/references.bib)"
    )
