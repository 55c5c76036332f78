"""Plots shared by the chapters: memory budgets, image grids (introduced in notebooks/01_memory_budget.ipynb and
02_dataset.ipynb)."""

from . import memory

__all__ = ["budget_bars", "image_grid", "class_grid"]


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
    ax.axvline(b.sram_bytes / memory.KIB, color="black", linestyle="--",
               label=f"all SRAM ({b.sram_bytes // memory.KIB} KiB)")
    if b.arena_bytes is not None:
        ax.axvline(b.arena_bytes / memory.KIB, color="tab:orange",
                   label=f"arena block ({b.arena_bytes // memory.KIB} KiB)")
    for y, value in enumerate(kib):
        ax.text(value, y, f" {value:,.1f}", va="center", fontsize=8)
    ax.set_xlabel("KiB")
    ax.set_title(f"Memory budget on {b.name}")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def image_grid(images, titles=None, ncols=8, size=1.1, suptitle=None):
    """Show uint8 images in a grid, each with an optional title; returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image = images[i]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def class_grid(images, labels, classes, per_class=8, suptitle=None):
    """The first ``per_class`` images of each class, one row per class, titled with the class name."""
    import numpy as np

    picked, titles = [], []
    for k, name in enumerate(classes):
        rows = np.flatnonzero(np.asarray(labels) == k)[:per_class]
        picked += [images[i] for i in rows] + [np.zeros_like(images[0])] * (per_class - len(rows))
        titles += [name] * per_class
    return image_grid(picked, titles, ncols=per_class, suptitle=suptitle)
