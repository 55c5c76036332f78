"""Parameters and multiply-accumulates (MACs) per layer of any Keras model (introduced in
notebooks/03_mobilenet_alpha.ipynb)."""

from dataclasses import dataclass

__all__ = ["LayerCost", "layer_costs", "totals", "format_table", "PAPER_MACS_M", "PAPER_PARAMS_M"]

#: Million MACs at input 224/192/160/128 and million parameters, from the MobileNetV1 paper and its model zoo table.
PAPER_MACS_M = {
    1.0: {224: 569, 192: 418, 160: 291, 128: 186},
    0.75: {224: 317, 192: 233, 160: 162, 128: 104},
    0.5: {224: 150, 192: 110, 160: 77, 128: 49},
    0.25: {224: 41, 192: 34, 160: 21, 128: 14},
}
PAPER_PARAMS_M = {1.0: 4.24, 0.75: 2.59, 0.5: 1.34, 0.25: 0.47}


@dataclass(frozen=True)
class LayerCost:
    """One layer's cost: ``kind`` is "conv", "depthwise", "pointwise", "dense" or "other" (no MACs counted)."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int


def _spatial(shape):
    dims = [int(d) for d in shape[1:-1]]
    out = 1
    for d in dims:
        out *= d
    return out


def _cost(layer):
    cls = layer.__class__.__name__
    params = layer.count_params()
    out_shape = tuple(layer.output.shape)
    if cls == "DepthwiseConv2D":
        kh, kw = layer.kernel_size
        channels_in = int(layer.input.shape[-1])
        macs = _spatial(out_shape) * kh * kw * channels_in * layer.depth_multiplier
        return "depthwise", params, macs
    if cls == "SeparableConv2D":
        kh, kw = layer.kernel_size
        channels_in = int(layer.input.shape[-1])
        depth = _spatial(out_shape) * kh * kw * channels_in * layer.depth_multiplier
        point = _spatial(out_shape) * channels_in * layer.depth_multiplier * int(out_shape[-1])
        return "conv", params, depth + point
    if cls == "Conv2D":
        kh, kw = layer.kernel_size
        channels_in = int(layer.input.shape[-1]) // getattr(layer, "groups", 1)
        macs = _spatial(out_shape) * kh * kw * channels_in * int(out_shape[-1])
        return ("pointwise" if (kh, kw) == (1, 1) else "conv"), params, macs
    if cls == "Dense":
        positions = _spatial(out_shape) if len(out_shape) > 2 else 1
        return "dense", params, positions * int(layer.input.shape[-1]) * int(out_shape[-1])
    return "other", params, 0


def layer_costs(model):
    """A :class:`LayerCost` per layer, descending into nested models; MACs for one input image.

    Convolutions: output positions x kernel area x input channels x output channels; depthwise: output positions x
    kernel area x channels; dense: inputs x outputs. Batch norm, activations and pooling count no MACs, as in the
    MobileNet paper.
    """
    rows = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.__class__.__name__ in ("Functional", "Sequential", "Model"):
            rows += layer_costs(layer)
            continue
        if layer.__class__.__name__ == "InputLayer":
            continue
        kind, params, macs = _cost(layer)
        rows.append(LayerCost(layer.name, kind, tuple(layer.output.shape[1:]), params, macs))
    return rows


def totals(model):
    """``(parameters, MACs)`` of the whole model for one input image."""
    rows = layer_costs(model)
    return sum(r.params for r in rows), sum(r.macs for r in rows)


def format_table(model, kinds=("conv", "depthwise", "pointwise", "dense")):
    """A text table of the layers that do arithmetic, with totals and each kind's share of the MACs."""
    rows = [r for r in layer_costs(model) if r.kind in kinds]
    params, macs = totals(model)
    lines = [f"{'layer':24s} {'kind':10s} {'output':>16s} {'params':>10s} {'MACs':>12s}"]
    for r in rows:
        lines.append(f"{r.name:24s} {r.kind:10s} {str(r.output_shape):>16s} {r.params:>10,} {r.macs:>12,}")
    lines.append(f"{'total (all layers)':24s} {'':10s} {'':>16s} {params:>10,} {macs:>12,}")
    for kind in kinds:
        share = sum(r.macs for r in rows if r.kind == kind) / macs if macs else 0.0
        lines.append(f"  {kind:10s} {share:6.1%} of MACs")
    return "\n".join(lines)
