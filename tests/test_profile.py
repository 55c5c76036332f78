"""tinymask.profile: MACs and parameters per layer, checked against hand formulas and the MobileNet paper."""

import pytest

keras = pytest.importorskip("keras")

from tinymask import profile  # noqa: E402


def test_standard_and_separable_convolutions_match_the_formulas():
    h, k, cin, cout = 14, 3, 16, 32
    standard = keras.Sequential([keras.Input((h, h, cin)), keras.layers.Conv2D(cout, k, padding="same")])
    separable = keras.Sequential([
        keras.Input((h, h, cin)),
        keras.layers.DepthwiseConv2D(k, padding="same", use_bias=False),
        keras.layers.Conv2D(cout, 1, use_bias=False),
    ])
    assert profile.totals(standard) == (k * k * cin * cout + cout, h * h * k * k * cin * cout)
    assert profile.totals(separable) == (k * k * cin + cin * cout, h * h * k * k * cin + h * h * cin * cout)
    kinds = [r.kind for r in profile.layer_costs(separable)]
    assert kinds == ["depthwise", "pointwise"]


def test_strided_conv_dense_and_separable_layers():
    net = keras.Sequential([
        keras.Input((8, 8, 2)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same"),  # 4x4 outputs
        keras.layers.SeparableConv2D(6, 3, padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ])
    rows = profile.layer_costs(net)
    assert rows[0].macs == 4 * 4 * 9 * 2 * 4
    assert rows[1].macs == 4 * 4 * 9 * 4 + 4 * 4 * 4 * 6
    assert rows[2].kind == "other" and rows[2].macs == 0
    assert rows[3].macs == 96 * 5


def test_nested_models_are_descended_into():
    inner = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 1)], name="backbone")
    inputs = keras.Input((8, 8, 3))
    outer = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inner(inputs))))
    names = [r.name for r in profile.layer_costs(outer)]
    assert names[0] == inner.layers[0].name
    assert profile.totals(outer)[1] == 8 * 8 * 3 * 4 + 4 * 2


@pytest.mark.parametrize("alpha, size", [(1.0, 224), (1.0, 128), (0.5, 160), (0.25, 224), (0.25, 128)])
def test_mobilenet_paper_table_within_two_percent(alpha, size):
    model = keras.applications.MobileNet(input_shape=(size, size, 3), alpha=alpha, include_top=True, weights=None)
    params, macs = profile.totals(model)
    published = profile.PAPER_MACS_M[alpha][size]
    assert abs(macs / 1e6 - published) / published <= 0.02 or round(macs / 1e6) == published
    assert abs(params / 1e6 - profile.PAPER_PARAMS_M[alpha]) / profile.PAPER_PARAMS_M[alpha] <= 0.02


def test_format_table_lists_totals_and_shares():
    net = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 1)])
    text = profile.format_table(net)
    assert "total (all layers)" in text and "100.0% of MACs" in text
