"""tinymask.recipe: one frozen Recipe, its named instances, and the places that read their defaults from it."""

import dataclasses
import inspect
import json
from pathlib import Path

import pytest

from tinymask import cli, pipeline, recipe, train
from tinymask.errors import InputError
from tinymask.recipe import CAMERA, COURSE, RUN, Recipe

ROOT = Path(__file__).resolve().parents[1]


def test_an_unknown_key_raises_naming_it_and_the_known_ones():
    with pytest.raises(InputError, match="'finetune_epoch'") as error:
        Recipe.from_dict({"alpha": 0.25, "finetune_epoch": 3})
    assert "finetune_epochs" in str(error.value) and "num_calibration" in str(error.value)
    with pytest.raises(InputError, match="'learning_rate'"):
        COURSE.replace(learning_rate=1e-2)
    with pytest.raises(InputError, match="'zooom'.*rotation"):
        Recipe.from_dict({"augmentation": {"zooom": 0.1}})
    with pytest.raises(InputError, match="'head_epoch'"):  # the misspelt key fails before any training
        pipeline.train_classifier({}, ("mask", "no_mask"), head_epoch=1)


def test_a_recipe_is_frozen_and_replace_makes_a_copy():
    with pytest.raises(dataclasses.FrozenInstanceError):
        COURSE.finetune_epochs = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        COURSE.augmentation.zoom = 0.5
    short = COURSE.replace(finetune_epochs=3)
    assert short.finetune_epochs == 3 and COURSE.finetune_epochs == 22 and short.lr == COURSE.lr


def test_bad_values_are_refused_when_the_recipe_is_made():
    with pytest.raises(InputError, match="epochs must be at least 1"):
        COURSE.replace(finetune_epochs=-1)
    with pytest.raises(InputError, match="head_epochs=0"):
        COURSE.replace(head_epochs=0)
    with pytest.raises(InputError, match="channels=2"):
        COURSE.replace(channels=2)
    assert COURSE.replace(finetune_epochs=0).finetune_epochs == 0  # head training only


def test_a_recipe_survives_a_json_round_trip():
    for r in (COURSE, RUN, CAMERA):
        assert Recipe.from_dict(json.loads(json.dumps(r.as_dict()))) == r


def test_tinymask_run_defaults_are_RUN_which_is_COURSE_from_imagenet_weights():
    args = cli.build_parser().parse_args(["run"])
    assert cli.recipe_from_args(args) == RUN
    assert RUN == COURSE.replace(weights="auto")  # the one difference: the shipped model used the shapes backbone
    assert (args.alpha, args.size, args.epochs, args.head_epochs, args.calibration, args.seed, args.grayscale) == (
        COURSE.alpha, COURSE.size, COURSE.finetune_epochs, COURSE.head_epochs, COURSE.num_calibration, COURSE.seed,
        COURSE.channels == 1)
    assert args.board == recipe.BOARD
    options = cli.build_parser().parse_args(["run", "--epochs", "3", "--grayscale", "--weights", "shipped"])
    assert cli.recipe_from_args(options) == RUN.replace(finetune_epochs=3, channels=1, weights="shipped")


def test_pipeline_RECIPE_is_a_read_only_view_of_COURSE():
    assert pipeline.RECIPE["num_calibration"] == COURSE.num_calibration == 500  # what chapter 5 reads
    assert {k: (dict(v) if k == "augmentation" else v) for k, v in pipeline.RECIPE.items()} == COURSE.as_dict()
    assert pipeline.RECIPE["weights"] == "shipped"  # how the shipped course model was made
    with pytest.raises(TypeError):
        pipeline.RECIPE["num_calibration"] = 20
    with pytest.raises(TypeError):
        pipeline.RECIPE["augmentation"]["zoom"] = 0.5


def test_train_defaults_are_the_course_recipe():
    defaults = {k: p.default for k, p in inspect.signature(train.transfer_learn).parameters.items()}
    assert (defaults["head_epochs"], defaults["finetune_epochs"], defaults["lr"], defaults["finetune_lr"],
            defaults["batch_size"]) == (COURSE.head_epochs, COURSE.finetune_epochs, COURSE.lr, COURSE.finetune_lr,
                                        COURSE.batch_size)
    augment = {k: p.default for k, p in inspect.signature(train.augmentation).parameters.items() if k != "seed"}
    assert augment == dataclasses.asdict(COURSE.augmentation)


def test_CAMERA_is_the_recipe_the_committed_camera_figures_record():
    recorded = json.loads((ROOT / "benchmarks" / "real_results.json").read_text())["camera_recipe"]
    assert Recipe.from_dict(recorded) == CAMERA
    assert (CAMERA.weights, CAMERA.head_epochs, CAMERA.finetune_epochs, CAMERA.selection_fraction) == (
        "imagenet", 3, 20, 0.15)
