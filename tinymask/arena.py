"""The tensor arena of a .tflite model: measured by the real TensorFlow Lite Micro interpreter (in a child Python),
and planned from tensor lifetimes the way its greedy memory planner places them (chapter 6,
notebooks/06_on_device_budget.ipynb; used by ``footprint``, ``board_fit``, ``deploy`` and ``cli``)."""

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import memory, tflite, tflm_ops
from .errors import ToolError

__all__ = [
    "NO_TFLM_NOTE",
    "ARENA_ALIGNMENT",
    "MEASURED",
    "PLANNED",
    "ArenaUsage",
    "ArenaFigure",
    "TensorLifetime",
    "measured_arena_bytes",
    "lifetimes",
    "live_bytes",
    "activation_lower_bound",
    "plan_arena",
    "greedy_arena_estimate",
    "arena_bytes",
]

#: What the RAM figures say where the real TFLite Micro interpreter cannot run.
NO_TFLM_NOTE = "estimate only: tflite-micro has no wheel for this platform (it is published for Linux only)"

#: TFLite Micro aligns every arena buffer to 16 bytes (``MicroArenaBufferAlignment()``).
ARENA_ALIGNMENT = 16


# --------------------------------------------------------------------------------------------- measured arena
@dataclass(frozen=True)
class ArenaUsage:
    """The tensor arena TFLite Micro used, as its ``RecordingMicroAllocator`` printed it.

    ``total`` = ``head`` (the non-persistent section: the planned activation buffers and scratch buffers) + ``tail``
    (persistent: tensor structs, quantization data, op data, node structs). ``parts`` holds each recorded
    allocation type's bytes as printed; ``text`` the lines themselves.
    """

    total: int
    head: int
    tail: int
    parts: dict = field(default_factory=dict)
    text: str = ""

    def __str__(self):
        return (f"{self.total:,} B arena = {self.head:,} B head (activations, scratch) + "
                f"{self.tail:,} B tail (persistent)")


_TOTAL = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_PART = re.compile(r"'([^']+)' used (\d+) bytes")


def _parse_allocations(text):
    figures = {k: int(v) for k, v in _TOTAL.findall(text)}
    if "total" not in figures:
        raise ToolError(
            "TFLite Micro's print_allocations() printed no 'Arena allocation total' line "
            f"(got {text.strip()[:300]!r}); this tflite-micro version prints another format"
        )
    parts = {k: int(v) for k, v in _PART.findall(text)}
    lines = "\n".join(line for line in text.splitlines() if "RecordingMicroAllocator" in line)
    return ArenaUsage(figures["total"], figures.get("head", 0), figures.get("tail", 0), parts, lines)


def _measure_here(data, arena_size, invoke):
    """Build TFLite Micro's interpreter on ``data`` in this process, run it once, return the printed allocations."""
    import numpy as np
    from tflite_micro import runtime

    with tflite.captured_fds() as log:
        try:
            interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena_size)
            built = True
        except RuntimeError:
            built = False
    if not built:
        said = " ".join(log["text"].split())[:400] or "no message"
        raise ToolError(f"TFLite Micro could not prepare this model ({arena_size:,} B arena): {said}; if it ran out "
                        "of arena, pass a larger arena_size")
    if invoke:
        for i in range(len(tflite.io_rows(data, "inputs"))):
            details = interpreter.get_input_details(i)
            interpreter.set_input(np.zeros(details["shape"], details["dtype"]), i)
        with tflite.captured_fds() as log:
            interpreter.invoke()
    with tflite.captured_fds() as log:
        interpreter.print_allocations()
    return log["text"]


_ANSWER = "\n@@ALLOC@@"  # what the child prints before its JSON answer, after anything TFLite Micro printed
_CHILD = f"""\
import json, sys
from tinymask import arena, errors
data = open(sys.argv[1], 'rb').read()
try:
    answer = {{'allocations': arena._measure_here(data, int(sys.argv[2]), sys.argv[3] == '1')}}
except errors.ToolError as error:
    answer = {{'failure': str(error)}}
sys.stdout.write({_ANSWER!r} + json.dumps(answer))
"""


def _measure_isolated(data, arena_size, invoke):
    """The same in a child Python: a model that makes TFLite Micro abort kills the child, not this kernel. The child
    answers in JSON: ``{"allocations": text}``, or ``{"failure": message}`` where TFLite Micro refused the model."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)
        env = dict(os.environ)  # the child imports this package even from a checkout that is not installed
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(arena_size), "1" if invoke else "0"],
                capture_output=True, text=True, timeout=600, env=env,
            )
        except subprocess.TimeoutExpired:
            raise ToolError("TFLite Micro ran over 10 minutes on this model; measure it with isolate=False to see "
                            "where it hangs") from None
    answer = done.stdout.partition(_ANSWER)[2]
    if done.returncode < 0:
        raise ToolError(
            f"TFLite Micro crashed on this model (child process exit status {done.returncode}); an arena_size too "
            "small for the model, or an untrained model calibrated on random data, can do this: measure a trained "
            "model calibrated on real images, with the default arena_size"
        )
    if done.returncode != 0 or not answer:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])[:400] or "no message"
        raise ToolError(f"the child Python that measures TFLite Micro's arena failed (exit status "
                        f"{done.returncode}): {tail}")
    answer = json.loads(answer)
    if "failure" in answer:
        raise ToolError(answer["failure"])
    return answer["allocations"]


def measured_arena_bytes(tflite_bytes, *, arena_size=None, invoke=True, isolate=True):
    """The tensor arena the real TFLite Micro interpreter needs for this model, as an :class:`ArenaUsage`.

    Builds ``tflite_micro.runtime.Interpreter.from_bytes`` (its default allocation-recording mode), runs it once
    on an all-zero input (``invoke``; kernels may claim scratch buffers on the first run) and parses what
    ``print_allocations()`` prints from C++ to stdout: ``[RecordingMicroAllocator] Arena allocation total|head|tail
    N bytes`` and one ``'<allocation type>' used N bytes ...`` line per part. That output is captured with a
    file-descriptor redirect into a temp file. ``isolate`` (default) does this in a child Python, so that a model
    which makes TFLite Micro abort cannot take the notebook kernel with it.

    ``arena_size`` is the arena handed to the interpreter (default: 10x the model, at least 4 MiB); the figure
    returned is what it used. The figures are those of the host build of TFLite Micro (64-bit pointers): a 32-bit
    Cortex-M build stores smaller structs, so its persistent part (``tail``) is somewhat smaller; the planned
    activations (``head``) are the same. Returns None where tflite-micro has no wheel
    (macOS, Windows): use :func:`greedy_arena_estimate` there (see :data:`NO_TFLM_NOTE`).

    Before TFLite Micro is built, ``tflm_ops.check_tflm_ops`` raises ``UnsupportedOpError`` for an op it has no
    kernel for and ``tflm_ops.check_not_hybrid`` raises ``HybridModelError`` for a dynamic-range model; a model
    TFLite Micro still refuses raises ``ToolError`` with what it printed. Used in notebooks 05-07 and by
    :func:`arena_bytes`.
    """
    data = tflite.as_bytes(tflite_bytes)
    if not tflm_ops.tflm_available():
        return None
    tflm_ops.check_tflm_ops(data)  # a missing kernel gets its clear error here, before TFLite Micro is built
    tflm_ops.check_not_hybrid(data)  # so does a float-activation, int8-weight op
    arena_size = max(10 * len(data), 4 * memory.MIB) if arena_size is None else int(arena_size)
    text = (_measure_isolated if isolate else _measure_here)(data, arena_size, invoke)
    return _parse_allocations(text)


# --------------------------------------------------------------------------------------------- planned arena
@dataclass(frozen=True)
class TensorLifetime:
    """A non-constant tensor: its bytes and the ops it lives from (written, or 0 for a graph input) to (last read,
    or the last op for a graph output)."""

    index: int
    name: str
    dtype: str
    shape: tuple
    nbytes: int
    first_op: int
    last_op: int


def lifetimes(tflite_bytes, subgraph=0):
    """:class:`TensorLifetime` of every tensor that needs arena space (constants, whose values sit in the
    flatbuffer, are skipped), read from the subgraph's operators in execution order."""
    model = tflite.read(tflite_bytes)
    graph = model.subgraphs[subgraph]
    ops = graph.operators or []
    last = len(ops) - 1
    first, final = {}, {}
    for i in range(len(graph.tensors)):
        if graph.tensors[i].isVariable:
            first[i], final[i] = 0, last
    for t in graph.inputs:
        first[int(t)] = 0
    for i, op in enumerate(ops):
        for t in op.inputs if op.inputs is not None else ():
            if t >= 0:
                first.setdefault(int(t), i)
                final[int(t)] = max(final.get(int(t), i), i)
        for t in op.outputs if op.outputs is not None else ():
            first.setdefault(int(t), i)
            final[int(t)] = max(final.get(int(t), i), i)
    for t in graph.outputs:
        first.setdefault(int(t), 0)
        final[int(t)] = last
    rows = []
    for t in sorted(first):
        tensor = graph.tensors[t]
        if tflite.is_constant(model, tensor):
            continue
        rows.append(TensorLifetime(t, tflite.text(tensor.name), tflite.dtype(tensor), tflite.shape(tensor),
                                   tflite.nbytes(tensor), first[t], max(final.get(t, first[t]), first[t])))
    return rows


def live_bytes(tflite_bytes, subgraph=0):
    """Per op, in execution order: ``(op index, op name, bytes of tensors alive while it runs)``; plot it to see
    where the activation peak sits."""
    spans = lifetimes(tflite_bytes, subgraph)
    return [(row.index, row.op, sum(s.nbytes for s in spans if s.first_op <= row.index <= s.last_op))
            for row in tflm_ops.op_table(tflite_bytes, subgraph)]


def activation_lower_bound(tflite_bytes, subgraph=0):
    """The most bytes of tensors that must be alive at the same time (an op's inputs and outputs, and every tensor
    written earlier and read later): no memory planner can use less arena for the activations."""
    rows = live_bytes(tflite_bytes, subgraph)
    return max((b for _, _, b in rows), default=0)


def _align(n, alignment=ARENA_ALIGNMENT):
    return -(-n // alignment) * alignment


def plan_arena(spans, alignment=ARENA_ALIGNMENT):
    """Offsets a greedy first-fit planner gives buffers, as TFLite Micro's ``GreedyMemoryPlanner`` does: buffers
    sorted by size (largest first; equal sizes in descending tensor index, as TFLite Micro orders them), each put
    at the lowest ``alignment``-aligned offset where it overlaps no already placed buffer alive at the same time.
    ``spans`` are :class:`TensorLifetime` rows (or anything with ``nbytes``, ``first_op`` and ``last_op``); returns
    ``[(span, offset), ...]`` in placement order. On the course's models this reproduces the ``head`` TFLite Micro
    measures (e.g. 73,728 B for int8 MobileNetV1 alpha 0.25 at 96x96).
    """
    # Ties go to the later tensor first: TFLite Micro lists its buffers from the last tensor back, then sorts
    # them by size with a stable sort.
    order = sorted(spans, key=lambda s: (-s.nbytes, -getattr(s, "index", 0)))
    placed = []
    for s in order:
        busy = sorted((offset, offset + p.nbytes) for p, offset in placed
                      if p.first_op <= s.last_op and s.first_op <= p.last_op)
        offset = 0
        for start, end in busy:
            if offset + s.nbytes <= start:
                break
            offset = max(offset, _align(end, alignment))
        placed.append((s, offset))
    return placed


def greedy_arena_estimate(tflite_bytes, subgraph=0, alignment=ARENA_ALIGNMENT):
    """Arena bytes the activations take when :func:`plan_arena` places them: the highest buffer end.

    Always >= :func:`activation_lower_bound` (buffers alive together cannot share bytes); the arena TFLite Micro
    measures adds its persistent data and the kernels' scratch buffers on top.
    """
    placed = plan_arena(lifetimes(tflite_bytes, subgraph), alignment)
    return max((offset + s.nbytes for s, offset in placed), default=0)


# --------------------------------------------------------------------------------------------- the one figure
#: :attr:`ArenaFigure.source` of a figure TFLite Micro measured, and of one the greedy planner estimated.
MEASURED = "measured by TFLite Micro (host build)"
PLANNED = "planned (greedy estimate)"


@dataclass(frozen=True)
class ArenaFigure:
    """The arena bytes a model needs and where the figure comes from: ``source`` is :data:`MEASURED` or
    :data:`PLANNED`; ``note`` says why a planned figure was not measured (empty for a measured one)."""

    bytes: int
    source: str
    note: str = ""

    @property
    def measured(self):
        return self.source == MEASURED

    def __str__(self):
        return f"{self.bytes:,} B ({self.source}{'; ' + self.note if self.note else ''})"


def arena_bytes(tflite_bytes, measure=True):
    """The arena figure to budget with, as an :class:`ArenaFigure`: TFLite Micro's measured total
    (:func:`measured_arena_bytes`) where it runs the model, else :func:`greedy_arena_estimate` of the activations
    with a note saying why (no tflite-micro wheel, an op it lacks, a hybrid model, ``measure=False``). Used by
    ``board_fit.fits_board`` (chapter 6) and in its place wherever "measured, else estimated" is wanted."""
    data = tflite.as_bytes(tflite_bytes)
    if not measure:
        note = "not measured (measure=False)"
    elif not tflm_ops.tflm_available():
        note = NO_TFLM_NOTE
    else:
        try:
            return ArenaFigure(measured_arena_bytes(data).total, MEASURED)
        except (ToolError, tflm_ops.UnsupportedOpError) as error:  # budget with the estimate, and say why
            note = f"TFLite Micro failed: {str(error)[:80]}"
    return ArenaFigure(greedy_arena_estimate(data), PLANNED, note)
