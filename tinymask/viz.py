"""Plots shared by the chapters: memory budgets against a board (introduced in notebooks/01_memory_budget.ipynb)."""

from . import memory

__all__ = ["budget_bars"]


def budget_bars(items, board_key, ax=None):
    """Horizontal bars of ``(label, bytes)`` items in KiB, with the board's RAM limits drawn as lines."""
    import matplotlib.pyplot as plt

    b = memory.board(board_key)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 0.45 * len(items) + 1.4))
    labels = [label for label, _ in items]
    kib = [n / memory.KIB for _, n in items]
    limit = memory.fits(0, b).available
    colours = ["tab:green" if n <= limit else "tab:red" for _, n in items]
    ax.barh(labels, kib, color=colours)
    ax.invert_yaxis()
    ax.axvline(b.sram_bytes / memory.KIB, color="black", linestyle="--", label=f"all SRAM ({b.sram_bytes // memory.KIB} KiB)")
    if b.arena_bytes is not None:
        ax.axvline(b.arena_bytes / memory.KIB, color="tab:orange", label=f"arena block ({b.arena_bytes // memory.KIB} KiB)")
    for y, value in enumerate(kib):
        ax.text(value, y, f" {value:,.1f}", va="center", fontsize=8)
    ax.set_xlabel("KiB")
    ax.set_title(f"Memory budget on {b.name}")
    ax.legend(loc="lower right", fontsize=8)
    return ax
