"""Does a .tflite model fit the board? Its bytes against the board's model region and its tensor arena against the
arena heap block, with numbers (chapter 6, notebooks/06_on_device_budget.ipynb; used by ``footprint``, ``deploy``,
``cli`` and the benchmarks)."""

import math
from dataclasses import dataclass

from . import arena, memory, tflite
from .errors import InputError, is_int, is_number

__all__ = ["OPENMV_FRAME_BYTES", "BoardFit", "flash_bytes", "fits_board"]

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
    320x240 RGB565 frame = 153,600 B; the OpenMV H7 loads the model into its ~480 KB frame-buffer region, beside the
    frames), else against the heap block that also holds the arena (the H7 Plus reads the model into its SDRAM
    heap), else against its flash (a runtime that keeps the model in flash). Arena: ``arena_bytes`` if given, else
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
