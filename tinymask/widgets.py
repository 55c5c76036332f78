"""Interactive explorers for JupyterLab and Colab (introduced in notebooks/01_memory_budget.ipynb and
03_mobilenet_alpha.ipynb)."""

from . import memory, viz

__all__ = ["budget_explorer", "mobilenet_explorer"]


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


def mobilenet_explorer(alpha=0.25, size=96, channels=3, board_key="openmv-h7"):
    """Sliders for MobileNetV1's alpha and input size: MACs, parameters, int8 weight bytes and activation RAM."""
    import ipywidgets as w

    from . import profile
    from ._setup import import_tensorflow

    import_tensorflow()
    import keras

    alpha_w = w.SelectionSlider(options=[0.1, 0.25, 0.5, 0.75, 1.0], value=alpha, description="alpha")
    size_w = w.IntSlider(value=size, min=32, max=224, step=16, description="resolution")
    channels_w = w.Dropdown(options=[1, 3], value=channels, description="channels")
    board_w = w.Dropdown(options=list(memory.BOARDS), value=board_key, description="board")
    out = w.Output()

    def redraw(*_):
        net = keras.applications.MobileNet(input_shape=(size_w.value, size_w.value, channels_w.value),
                                           alpha=alpha_w.value, include_top=False, weights=None)
        params, macs = profile.totals(net)
        peak = memory.peak_activation_bytes(net, "int8")
        with out:
            out.clear_output(wait=True)
            print(f"{macs / 1e6:,.1f} M MACs, {params:,} parameters")
            print("weights, int8:   ", memory.fits(params, board_w.value, memory="flash"))
            print("activations, int8:", memory.fits(peak, board_w.value))
        keras.backend.clear_session()

    for control in (alpha_w, size_w, channels_w, board_w):
        control.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([alpha_w, size_w]), w.HBox([channels_w, board_w]), out])
