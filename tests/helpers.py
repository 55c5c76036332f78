"""Shared by the tests: a small MobileNet-like CNN that trains in seconds."""


def small_cnn(keras):
    """A MobileNet-like CNN that trains in seconds: rescale to [-1, 1], a 3x3 convolution (no batch norm, so its
    kernel is quantized as it stands), two depthwise-separable blocks with batch norm, pooling, softmax."""
    L = keras.layers
    layers = [keras.Input((32, 32, 3), name="image"), L.Rescaling(2.0, offset=-1.0, name="to_pm1"),
              L.Conv2D(16, 3, strides=2, padding="same", activation="relu6", name="conv")]
    for i, filters in enumerate((32, 64)):
        layers += [L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False, name=f"dw{i}"),
                   L.BatchNormalization(momentum=0.9, name=f"dw{i}_bn"), L.ReLU(6.0, name=f"dw{i}_relu"),
                   L.Conv2D(filters, 1, use_bias=False, name=f"pw{i}"),
                   L.BatchNormalization(momentum=0.9, name=f"pw{i}_bn"), L.ReLU(6.0, name=f"pw{i}_relu")]
    layers += [L.GlobalAveragePooling2D(name="pool"), L.Dense(2, activation="softmax", name="classifier")]
    return keras.Sequential(layers, name="small")
