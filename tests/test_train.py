"""tinymask.train: the metrics the course reports, and a short real training run."""

import numpy as np
import pytest

from tinymask import train


def test_confusion_matrix_and_report_on_a_hand_worked_example():
    y_true = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    y_pred = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    m = train.confusion_matrix(y_true, y_pred, 2)
    assert m.tolist() == [[3, 1], [2, 4]]
    report = train.classification_report(y_true, y_pred, ("mask", "no_mask"))
    assert report["accuracy"] == pytest.approx(0.7)
    mask = report["classes"]["mask"]
    assert mask["precision"] == pytest.approx(3 / 5) and mask["recall"] == pytest.approx(3 / 4)
    assert mask["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35) and mask["support"] == 4
    assert "no_mask" in train.format_report(report)


def test_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="shape"):
        train.confusion_matrix([0, 1], [0], 2)


def test_subgroup_accuracy_and_gap():
    y_true = np.array([0, 1, 0, 1, 0, 1])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    groups = np.array(["dim", "dim", "bright", "bright", "normal", "normal"])
    by_group = train.subgroup_accuracy(y_true, y_pred, groups)
    assert by_group == {"bright": (0.5, 2), "dim": (1.0, 2), "normal": (0.5, 2)}
    gap, best, worst = train.worst_subgroup_gap(by_group)
    assert gap == 0.5 and best == "dim" and worst in ("bright", "normal")
    with pytest.raises(ValueError, match="lengths"):
        train.subgroup_accuracy(y_true, y_pred, groups[:3])


def test_fit_learns_a_trivial_task_and_keeps_the_best_weights():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 256)
    images = np.zeros((256, 8, 8, 3), np.uint8)
    images[labels == 1] = 255  # bright means class 1
    net = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                            keras.layers.Dense(2, activation="softmax")])
    history = train.fit(net, (images, labels), (images, labels), epochs=4, lr=0.05, batch_size=32)
    assert history["best_epoch"] is not None and max(history["val_accuracy"]) == 1.0
    assert (train.predict_labels(net, images) == labels).all()
    with pytest.raises(ValueError, match="epochs"):
        train.fit(net, (images, labels), (images, labels), epochs=0)
    with pytest.raises(ValueError, match="differ"):
        train.fit(net, (images, labels[:10]), (images, labels), epochs=1)


def test_to_model_input_scales_pixels():
    x = train.to_model_input(np.array([[0, 255]], np.uint8))
    assert x.dtype == np.float32 and x.tolist() == [[0.0, 1.0]]


def test_pixel_rule_is_one_function_for_arrays_and_tf_tensors():
    from tinymask import dataset

    assert train.to_model_input is dataset.to_model_input
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    floats = dataset.to_model_input(pixels)
    assert floats.dtype == np.float32 and floats.max() == 1.0 and floats[0, 0, 1, 0] == np.float32(1 / 255)
    assert dataset.to_model_input(floats) is floats  # floats are taken as model input already
    tf = pytest.importorskip("tensorflow")
    in_graph = next(iter(tf.data.Dataset.from_tensor_slices(pixels).batch(1).map(dataset.to_model_input)))
    np.testing.assert_array_equal(in_graph.numpy(), floats)  # the tf.data pipelines compute the same bytes
    batch = next(iter(dataset.Dataset(pixels, np.array([0]), ("a", "b")).to_tf()))[0]
    np.testing.assert_array_equal(batch.numpy(), floats)


def test_labels_from_scores_is_argmax_or_a_sigmoid_threshold():
    from tinymask import dataset

    assert dataset.labels_from_scores([[0.2, 0.7, 0.1], [0.9, 0.05, 0.05]]).tolist() == [1, 0]
    assert dataset.labels_from_scores([[0.5], [0.49], [0.9]]).tolist() == [1, 0, 1]  # one sigmoid unit
    assert dataset.labels_from_scores(np.zeros((0, 2))).dtype == np.int64


def test_fit_takes_datasets_or_pairs_and_names_a_bad_argument():
    from tinymask import dataset

    images, labels = np.zeros((4, 8, 8, 3), np.uint8), np.array([0, 1, 0, 1])
    data = dataset.Dataset(images, labels, ("a", "b"))
    got = dataset.images_and_labels(data)
    assert got[0] is images and got[1] is labels
    assert dataset.images_and_labels((images, labels))[1] is labels
    with pytest.raises(TypeError, match="val must be a Dataset or an \\(images, labels\\) pair, got int"):
        train.fit(None, data, 3, epochs=1)


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_building_the_training_state_first_changes_no_weight(monkeypatch, head):
    """fit creates the optimizer's and the metrics' variables before Keras traces the training step (one trace
    instead of two); the weights it trains are the ones Keras' own lazy path gives, bit for bit."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 96)
    images = rng.integers(0, 256, (96, 12, 12, 3)).astype(np.uint8)
    units, activation = (2, "softmax") if head == "softmax" else (1, "sigmoid")

    def trained():
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3),
                                keras.layers.BatchNormalization(), keras.layers.ReLU(),
                                keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2),
                                keras.layers.Dense(units, activation=activation)])
        history = train.fit(net, (images, labels), (images, labels), epochs=2, batch_size=32,
                            augment=train.augmentation(seed=0))
        return net.get_weights(), history

    built_first, history_first = trained()
    monkeypatch.setattr(train, "_build_training_state", lambda *args: None)
    lazy, history_lazy = trained()
    assert len(built_first) == len(lazy) == 8
    assert all(np.array_equal(a, b) for a, b in zip(built_first, lazy))
    assert history_first == history_lazy


def test_transfer_learn_in_two_calls_is_the_one_call_and_refuses_no_epochs():
    """Phase 1 alone, then phase 2 with head_epochs=0 (chapter 4 measures the model in between): the same weights as
    one call, bit for bit; zero epochs in both phases, or a negative count, is an error that names the setting."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 64)
    images = rng.integers(0, 256, (64, 12, 12, 3)).astype(np.uint8)

    def classifier():
        keras.utils.set_random_seed(0)
        backbone = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3),
                                     keras.layers.BatchNormalization(), keras.layers.ReLU()], name="backbone")
        inputs = keras.Input((12, 12, 3))
        x = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))

    pair = (images, labels)
    once = classifier()
    both = train.transfer_learn(once, pair, pair, head_epochs=1, finetune_epochs=2, batch_size=16,
                                augment=train.augmentation(seed=0))
    twice, augment = classifier(), train.augmentation(seed=0)
    head = train.transfer_learn(twice, pair, pair, head_epochs=1, finetune_epochs=0, batch_size=16, augment=augment)
    fine = train.transfer_learn(twice, pair, pair, head_epochs=0, finetune_epochs=2, batch_size=16, augment=augment)
    assert set(head) == {"head"} and set(fine) == {"finetune"} and set(both) == {"head", "finetune"}
    assert all(np.array_equal(a, b) for a, b in zip(once.get_weights(), twice.get_weights()))
    assert both["finetune"] == fine["finetune"]
    with pytest.raises(ValueError, match="nothing to train"):
        train.transfer_learn(twice, pair, pair, head_epochs=0, finetune_epochs=0)
    with pytest.raises(ValueError, match="head_epochs"):
        train.transfer_learn(twice, pair, pair, head_epochs=-1)
