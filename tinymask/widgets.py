"""Interactive explorers for JupyterLab and Colab (introduced in notebooks/01_memory_budget.ipynb)."""

from . import memory, viz

__all__ = ["budget_explorer"]


def budget_explorer(size=96, channels=3, dtype="int8", board_key="openmv-h7"):
    """Sliders for input resolution, channels, dtype and board; redraws the input's bytes against the board's RAM."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    size_w = w.IntSlider(value=size, min=16, max=320, step=16, description="resolution")
    channels_w = w.Dropdown(options=[1, 3], value=channels, description="channels")
    dtype_w = w.Dropdown(options=list(memory.DTYPE_BYTES), value=dtype, description="dtype")
    board_w = w.Dropdown(options=list(memory.BOARDS), value=board_key, description="board")
    out = w.Output()

    def redraw(*_):
        shape = (size_w.value, size_w.value, channels_w.value)
        nbytes = memory.tensor_bytes(shape, dtype_w.value)
        with out:
            out.clear_output(wait=True)
            viz.budget_bars([(f"{shape} {dtype_w.value}", nbytes)], board_w.value)
            plt.show()
            print(memory.fits(nbytes, board_w.value))

    for control in (size_w, channels_w, dtype_w, board_w):
        control.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([size_w, channels_w]), w.HBox([dtype_w, board_w]), out])
