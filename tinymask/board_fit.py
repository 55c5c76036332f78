"""Does a .tflite model fit the board? Its bytes against the board's model region and its tensor arena against the
arena heap block, with numbers (chapter 6, notebooks/06_on_device_budget.ipynb; used by ``footprint``, ``deploy``,
``cli`` and the benchmarks)."""

import math
from dataclasses import dataclass

from . import arena, memory, tflite
from .errors import InputError, is_int, is_number

__all__ = ["OPENMV_FRAME_BYTES", "BoardFit", "flash_bytes", "fits_board", "MODEL_ALIGN_5_0", "SCRIPT_HEAP_HOLD",
           "Placement", "firmware5_placement"]

#: One 320x240 RGB565 camera frame (2 bytes a pixel): what the OpenMV frame buffer holds beside the model.
OPENMV_FRAME_BYTES = 320 * 240 * 2


def flash_bytes(tflite_bytes):
    """Bytes of the .tflite file: what the model takes in flash (or in the RAM region it is loaded to)."""
    return len(tflite.as_bytes(tflite_bytes))


# --------------------------------------------------------------------------------------------- does it fit?
@dataclass(frozen=True)
class BoardFit:
    """Model bytes against the board's model region and arena bytes against its arena block, as two
    ``memory.Fit`` answers; true only when both fit. ``arena_source`` says where the arena figure came from."""

    model: memory.Fit
    arena: memory.Fit
    arena_source: str

    @property
    def fits(self):
        return self.model.fits and self.arena.fits

    def __bool__(self):
        return self.fits

    def __str__(self):
        verdict = "fits" if self.fits else "does NOT fit"
        return (f"{self.model.board.name}: {verdict}\n  model: {self.model}\n"
                f"  arena ({self.arena_source}): {self.arena}")


def _arena_needed(data, arena_bytes):
    if arena_bytes is not None:
        if not is_int(arena_bytes) or arena_bytes < 0:
            raise InputError(f"arena_bytes must be a non-negative int of bytes, got {arena_bytes!r}")
        return arena_bytes, "given"
    figure = arena.arena_bytes(data)
    if figure.measured:
        return figure.bytes, "measured by TFLite Micro"
    return figure.bytes, f"greedy planner estimate of the activations, {figure.note}"


def _frame_bytes(value):
    if not is_number(value) or not value >= 0 or math.isinf(value):
        raise InputError(f"frame_bytes must be a number >= 0, got {value!r}")
    return int(value)


def fits_board(tflite_bytes, board="openmv-h7", arena_bytes=None, *, frame_bytes=OPENMV_FRAME_BYTES):
    """Does the model fit the board? A :class:`BoardFit` with numbers for the model and for the arena.

    Model: the .tflite bytes against the board's model region less one camera frame (``frame_bytes``, default a
    320x240 RGB565 frame = 153,600 B; with firmware 4.x the OpenMV H7 loads the model into its ~480 KB
    frame-buffer region beside the frames; 5.0: :func:`firmware5_placement`), else against the heap block that
    also holds the arena (the H7 Plus bundle reads the model into its 4 MiB SDRAM heap block), else against its
    flash (a runtime that keeps the model in flash). Arena: ``arena_bytes`` if given, else
    ``arena.arena_bytes``: the arena TFLite Micro measures, else the greedy planner's estimate; against the board's
    arena heap block (~267 KB on the H7), else its SRAM. ``board`` is a key of ``memory.BOARDS`` or a
    ``memory.Board``. Used in notebooks 05 and 06, by ``deploy.export_bundle`` and ``cli``.
    """
    data = tflite.as_bytes(tflite_bytes)
    b = memory.board(board)
    frame_bytes = _frame_bytes(frame_bytes)
    needed, source = _arena_needed(data, arena_bytes)
    if b.model_region_bytes is not None:
        region = max(b.model_region_bytes - frame_bytes, 0)
        label = f"model region less a {frame_bytes:,} B frame"
        model_fit = memory.Fit(len(data), region, label, b)
    elif b.arena_bytes is not None:  # the firmware reads the model file into the heap block that holds the arena
        model_fit = memory.Fit(len(data), max(b.arena_bytes - needed, 0), f"heap block less the {needed:,} B arena", b)
    else:  # a board whose runtime keeps the model in flash
        model_fit = memory.fits(len(data), b, "flash")
    return BoardFit(model_fit, memory.fits(needed, b, "ram"), source)


# ------------------------------------------------------------------------------ where firmware 5.0 puts the model
#: Alignment of a model file read into RAM (IMLIB_ML_MODEL_ALIGN = OMV_CACHE_LINE_SIZE, modules/py_ml.c v5.0.0).
MODEL_ALIGN_5_0 = 32
#: What the camera scripts hold of the heap while they retry a load on 5.0 (HEAP_HOLD in openmv_scripts/*.py).
SCRIPT_HEAP_HOLD = 65536


@dataclass(frozen=True)
class Placement:
    """Where OpenMV firmware 5.0 puts a model file and whether its tensor arena then finds a heap block.

    ``model_in``: "heap" or "uma"; ``heap_free``: the heap's free blocks (bytes) after the model; ``loads``: the
    arena (``ram_bytes``) fits the largest of them and, for a model in the UMA pool, the pool holds it."""

    model_in: str
    heap_free: tuple
    ram_bytes: int
    uma_free: int | None
    loads: bool

    def __bool__(self):
        return self.loads

    def __str__(self):
        where = "the MicroPython heap" if self.model_in == "heap" else "the UMA pool"
        arena = max(self.heap_free, default=0)
        verdict = "loads" if self.loads else 'does NOT load ("Failed to allocate tensors")'
        return (f"model in {where}; arena {self.ram_bytes:,} B against the largest free heap block "
                f"{arena:,} B: {verdict}")


def _heap_bytes(nbytes):
    return -(-nbytes // 16) * 16  # whole 16-byte blocks (MICROPY_BYTES_PER_GC_BLOCK)


def firmware5_placement(model_bytes, ram_bytes, board="openmv-h7", *, heap_in_use=0, hold_bytes=0):
    """Does ``ml.Model(path)`` of a ``model_bytes`` file load on OpenMV firmware 5.0? A :class:`Placement`.

    From the firmware's sources at v5.0.0: modules/py_ml.c reads the file into the first heap block with room for
    it (``m_malloc_maybe``, the size aligned to 32 B plus 31) and into the UMA pool only when no block has room;
    lib/tflm/tflm_backend.cc then gives the arena the heap's largest free block, which must hold ``ram_bytes``
    (``model.ram``). The heap's blocks are the board's ``heap_blocks_5_0``, filled in order by ``heap_in_use``
    bytes of objects; ``hold_bytes``: a block the script holds while loading (the scripts' retry). The camera
    scripts' retry is checked on the real firmware (tests/test_firmware_heap.py), this function against it."""
    b = memory.board(board)
    if not b.heap_blocks_5_0:
        raise InputError(f"{b.name}: no firmware 5.0 heap layout in tinymask.memory; use 'openmv-h7'")
    for name, value in (("model_bytes", model_bytes), ("ram_bytes", ram_bytes), ("heap_in_use", heap_in_use),
                        ("hold_bytes", hold_bytes)):
        if not is_int(value) or value < 0:
            raise InputError(f"{name} must be a non-negative int of bytes, got {value!r}")
    free = [memory.heap_block_usable(n) for n in b.heap_blocks_5_0]
    used = heap_in_use
    for i, block in enumerate(free):  # objects fill the first block first
        taken = min(block, _heap_bytes(used))
        free[i], used = block - taken, max(0, used - taken)

    def take(nbytes):
        for i, block in enumerate(free):
            if block >= nbytes:
                free[i] -= nbytes
                return True
        return False

    if hold_bytes and not take(_heap_bytes(hold_bytes)):
        raise InputError(f"a hold of {hold_bytes:,} B does not fit the heap's free blocks {free}")
    aligned = -(-model_bytes // MODEL_ALIGN_5_0) * MODEL_ALIGN_5_0
    in_heap = take(_heap_bytes(aligned + MODEL_ALIGN_5_0 - 1))
    uma_free = None if in_heap else b.uma_bytes_5_0 - aligned
    loads = ram_bytes <= max(free) and (uma_free is None or uma_free >= 0)
    return Placement("heap" if in_heap else "uma", tuple(free), ram_bytes, uma_free, loads)
