"""Output folders written safely: refuse a non-empty one, stage a new one and swap it in with one rename
(introduced with ``tinymask run`` in notebooks/05_int8_quantization.ipynb and the README; re-exported by
:mod:`tinymask.pipeline`, so ``pipeline.staged_output`` is ``folders.staged_output``).
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import NotAFolderError, OutputExistsError

__all__ = ["REPLACE_HINT", "check_output", "staged_output"]

#: What :func:`check_output` tells the user to do about a non-empty folder, unless the caller names its own flag.
REPLACE_HINT = ("choose a new folder or pass force=True to replace it (the old folder is only removed once the new one "
                "is complete)")


def check_output(out, *, force=False, fix=REPLACE_HINT):
    """``out`` as a Path; refused when it is a file, or when it is a folder that is not empty unless ``force``
    (``fix`` says what to do instead, e.g. ``"choose a new folder or pass overwrite=True ..."``). Nothing a user
    made is replaced silently. Used by ``pipeline.run``, ``tinymask run|dataset``, ``data.save_folder`` and the
    benchmarks."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotAFolderError(f"{out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputExistsError(f"{out} is not empty; {fix}")
    return out


@contextlib.contextmanager
def staged_output(out, *, force=False):
    """Yield a new temporary folder beside ``out`` to write into; on success it replaces ``out`` in one rename, on
    any failure (Ctrl-C included) it is removed and ``out`` is left as it was. Checks ``out`` with
    :func:`check_output` first. Used by ``pipeline.run`` and ``tinymask dataset``."""
    out = check_output(out, force=force).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    stage.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    stage.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
