"""The README's two commands stay true: CI runs the test command verbatim, and both use the pinned requirements."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    commands = [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]
    return commands[:2]


def test_readme_opens_with_two_commands_that_install_the_pins():
    main, tests = readme_commands()
    for command in (main, tests):
        assert "pip install -r requirements.txt" in command
    assert main.endswith(".venv/bin/tinymask run"), "the main job is `tinymask run` (issue: the CLI)"
    assert tests.endswith("pytest")


def test_the_main_command_is_installed_as_a_console_script():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'tinymask = "tinymask.cli:main"' in pyproject
    from tinymask import cli

    assert cli.build_parser().parse_args(["run"]).func is cli.cmd_run


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines(), "CI must run the README's test command verbatim"
    assert "jupyter-book build . -W -n --keep-going" in ci


def test_requirements_pin_every_package_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#") or line == "-e .":
            continue
        assert re.match(r"^[A-Za-z0-9_.\-]+==[^=\s;]+(;.*)?$", line), f"not an exact pin: {line}"
