"""The command line, ``tinymask`` / ``python -m tinymask`` (README; book/instructor_guide.md).

Commands: run, budget, profile, export, dataset, camera.

``tinymask run`` is the course in one command: a thin wrapper of :func:`tinymask.pipeline.run` (data, transfer
learning, int8 conversion, camera-domain evaluation, footprint and a bundle for the camera, with a report in Markdown
and JSON) whose options default to :data:`tinymask.recipe.RUN`. The camera commands are in
:mod:`tinymask.cli_camera`. Modules are imported by the command that needs them, so ``tinymask --help`` is quick.
"""

import argparse
import sys
from pathlib import Path

from .cli_camera import add_camera_parser, cmd_camera_copy, cmd_camera_fps, cmd_camera_parity, cmd_camera_run
from .errors import NotAFolderError, OutputExistsError, TinymaskError
from .recipe import BOARD, RUN

__all__ = ["main", "build_parser", "CliError", "recipe_from_args", "cmd_run", "cmd_camera_copy", "cmd_camera_run",
           "cmd_camera_parity", "cmd_camera_fps"]


class CliError(TinymaskError):
    """A user error the command line reports as one line (exit status 2)."""


# --------------------------------------------------------------------------------------------- helpers
def _say(*parts):
    print(*parts, flush=True)


def _new_output(out, force):
    """``--out`` as a Path, refused in the command line's words when it is a file, or not empty without --force
    (:func:`tinymask.folders.check_output`)."""
    from .folders import check_output

    try:
        return check_output(out, force=force)
    except NotAFolderError:
        raise CliError(f"--out {out} is a file; give a folder") from None
    except OutputExistsError:
        raise CliError(f"--out {out} is not empty; choose a new folder or pass --force to replace it "
                       "(the old folder is only removed once the new one is complete)") from None


def _labels_arg(text):
    """``mask,no_mask`` or a file with one label per line."""
    path = Path(text)
    if path.is_file():
        labels = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    else:
        labels = [part.strip() for part in text.split(",") if part.strip()]
    if not labels:
        raise CliError(f"--labels {text!r} holds no labels; give 'mask,no_mask' or a file with one label per line")
    return labels


def _read_model(path):
    """The bytes of a .tflite file (footprint checks it is one), or a one-line error naming the file."""
    from .tflite import as_bytes

    try:
        return as_bytes(Path(path))
    except ValueError as error:
        raise CliError(f"{path}: {error}") from None


# --------------------------------------------------------------------------------------------- run
def recipe_from_args(args):
    """The :class:`tinymask.recipe.Recipe` ``tinymask run`` trains: :data:`tinymask.recipe.RUN` with the options."""
    return RUN.replace(alpha=args.alpha, size=args.size, channels=1 if args.grayscale else 3, weights=args.weights,
                       head_epochs=args.head_epochs, finetune_epochs=args.epochs, num_calibration=args.calibration,
                       seed=args.seed)


def cmd_run(args):
    from . import pipeline

    out = _new_output(args.out, args.force)
    report = pipeline.run(recipe_from_args(args), args.data, out, force=args.force, board=args.board,
                          ops_per_s=args.ops_per_s, limit=args.limit)
    if not report.fits:
        raise CliError(f"the model does not fit the {report.figures['board']['name']}, so no bundle was written:\n"
                       f"{report.fit}\ntry a lower --alpha or --size, --grayscale, or another --board")
    return 0


# --------------------------------------------------------------------------------------------- other commands
def cmd_budget(args):
    from . import memory

    nbytes = memory.tensor_bytes((args.size, args.size, args.channels), args.dtype)
    _say(f"one {args.size}x{args.size}x{args.channels} {args.dtype} image: {memory.format_bytes(nbytes)}")
    keys = [args.board] if args.board else list(memory.BOARDS)
    for key in keys:
        _say(f"  {memory.fits(nbytes, key, 'ram')}")
    return 0


def cmd_profile(args):
    from . import footprint, memory

    data = _read_model(args.model)
    summary = footprint.describe(data, measure=not args.no_measure)
    board = memory.board(args.board)
    _say(f"{args.model}: {summary['flash_bytes']:,} B")
    _say(f"  input  {summary['input']['dtype']} {summary['input']['shape']}, output {summary['output']['dtype']} "
         f"{summary['output']['shape']}; full int8: {summary['full_int8']}")
    _say(f"  operators: {', '.join(summary['operators'])}")
    arena = summary["arena"]
    _say(f"  arena: lower bound {summary['lower_bound_bytes']:,} B, greedy estimate "
         f"{summary['greedy_estimate_bytes']:,} B" + (f", measured (TFLite Micro) {arena}" if arena else ""))
    n_macs = footprint.macs(data)
    if n_macs:
        latency = footprint.latency_estimate(n_macs, args.ops_per_s)
        _say(f"  {n_macs:,} MACs -> {latency.seconds * 1000:.1f} ms, {latency.fps:.1f} FPS at "
             f"{latency.ops_per_s / 1e6:.1f} M MACs/s (estimate)")
    fit = footprint.fits_board(data, board, summary["arena_figure"].bytes)
    _say(f"  model: {fit.model}")
    _say(f"  arena: {fit.arena}")
    for note in summary["notes"]:
        _say(f"  note: {note}")
    runs = summary["full_int8"] and not summary["tflm_unsupported"] and not summary["per_channel_fully_connected"]
    return 0 if fit.fits and runs else 1


def cmd_export(args):
    from . import deploy

    data = _read_model(args.model)
    labels = _labels_arg(args.labels)
    # export_bundle refuses a non-empty folder (or, with overwrite, one holding other files) and stages its writes
    bundle = deploy.export_bundle(data, labels, args.out, board=args.board, model_name=args.name,
                                  overwrite=args.force)
    _say(f"bundle written to {bundle.folder}:")
    for name, size in bundle.sizes.items():
        _say(f"  {name:24s} {size:>9,d} B")
    _say(f"  zip: {bundle.zip_path}")
    _say(f"  copy the folder's files to {bundle.copy_to['where']}")
    return 0


def cmd_dataset(args):
    from . import data, folders, synth

    out = _new_output(args.out, args.force)
    splits = synth.course_splits(size=args.size)
    names = {"train": "Train", "validation": "Validation", "test": "Test"}
    with folders.staged_output(out, force=args.force) as stage:
        for key, batch in splits.items():
            written = data.save_folder(batch.images, batch.labels, batch.classes, stage / names[key])
            _say(f"  {names[key]}: {len(written)} images ({batch.domain if hasattr(batch, 'domain') else key})")
    _say(f"dataset written to {out} (Train/Validation/Test/<class>/*.png; `tinymask run --data {out}` reads it)")
    return 0


def _whole_number(minimum, what):
    """An argparse type: a whole number of at least ``minimum`` (``what`` names it in the error)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of {what}, {minimum} or more")
        return value

    return parse


# --------------------------------------------------------------------------------------------- parser
def build_parser():
    parser = argparse.ArgumentParser(
        prog="tinymask",
        description="The tinymask course from the command line: train a face-mask classifier, quantize it to int8, "
                    "measure its footprint and export a bundle for the OpenMV Cam H7.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="data -> training -> int8 -> evaluation -> footprint -> camera bundle",
                         description="Train MobileNetV1 on the course's synthetic data (or --data), quantize it to "
                                     "int8, evaluate it on the held-out camera domain, measure its footprint and "
                                     "write OUT/openmv/ (the bundle for the camera), OUT/report.md and "
                                     "OUT/report.json. Refuses a non-empty OUT unless --force.")
    run.add_argument("--data", help="your images: Train/Validation/Test/<class>/ folders (put each person in one "
                                    "split only: book/own_data.md), or <class>/ folders split 70/15/15 at random "
                                    "(default: the synthetic course data)")
    # every default is recipe.RUN's (tests/test_recipe.py checks that recipe_from_args of no options is RUN)
    run.add_argument("--alpha", type=float, default=RUN.alpha,
                     help=f"MobileNetV1 width multiplier (default {RUN.alpha:g})")
    run.add_argument("--size", type=int, default=RUN.size, help=f"input side in pixels (default {RUN.size})")
    run.add_argument("--grayscale", action="store_true", default=RUN.channels == 1,
                     help="train and deploy a 1-channel model")
    run.add_argument("--epochs", type=int, default=RUN.finetune_epochs,
                     help=f"fine-tuning epochs after the head epochs (default {RUN.finetune_epochs})")
    run.add_argument("--head-epochs", type=int, default=RUN.head_epochs,
                     help=f"epochs training the head alone (default {RUN.head_epochs})")
    run.add_argument("--weights", default=RUN.weights, help="backbone weights: auto (ImageNet: the Keras cache, else "
                                                            "the copy tinymask ships for alpha 0.25), imagenet, "
                                                            "shipped (the shapes-pretrained backbone), a path, or none")
    run.add_argument("--calibration", type=_whole_number(1, "images"), default=RUN.num_calibration,
                     help=f"int8 calibration images (default {RUN.num_calibration})")
    run.add_argument("--limit", type=_whole_number(0, "images"), default=0,
                     help="use at most this many training images (0: all)")
    run.add_argument("--board", default=BOARD, help=f"board to check against (default {BOARD})")
    run.add_argument("--ops-per-s", type=float, default=None, help="MACs per second for the latency estimate")
    run.add_argument("--seed", type=int, default=RUN.seed)
    run.add_argument("--out", default="build", help="output folder (default build/)")
    run.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    run.set_defaults(func=cmd_run)

    budget = sub.add_parser("budget", help="bytes of one input image against each board's RAM",
                            description="How many bytes one input image takes, and whether it fits each board.")
    budget.add_argument("--size", type=int, default=96)
    budget.add_argument("--channels", type=int, choices=(1, 3), default=3, help="3 (RGB) or 1 (grayscale)")
    budget.add_argument("--dtype", default="int8", help="float32, int8, uint8, ...")
    budget.add_argument("--board", default=None, help="one board (default: all in the catalogue)")
    budget.set_defaults(func=cmd_budget)

    profile = sub.add_parser("profile", help="flash, ops, arena, latency and fit of a .tflite model",
                             description="Footprint of a .tflite model: flash, operators, int8 check, tensor arena "
                                         "(measured with TFLite Micro where available), MACs, latency estimate and "
                                         "the fit on a board. Exit status 1 when it cannot run on the board.")
    profile.add_argument("model", help="a .tflite file")
    profile.add_argument("--board", default=BOARD)
    profile.add_argument("--ops-per-s", type=float, default=None, help="MACs per second for the latency estimate")
    profile.add_argument("--no-measure", action="store_true", help="skip running TFLite Micro")
    profile.set_defaults(func=cmd_profile)

    export = sub.add_parser("export", help="a bundle for the camera from an int8 .tflite",
                            description="Write the model, its labels (<name>.txt and labels.txt) and a configured "
                                        "main.py to OUT, plus a zip; refuses a float model, labels that do not "
                                        "match the outputs, or a model that does not fit the board.")
    export.add_argument("model", help="an int8 .tflite file")
    export.add_argument("--labels", required=True, help="'mask,no_mask' or a file with one label per line")
    export.add_argument("--out", required=True, help="a new folder (the zip is written beside it, as OUT.zip)")
    export.add_argument("--board", default=BOARD)
    export.add_argument("--name", default="tinymask_mask", help="model file name on the camera")
    export.add_argument("--force", action="store_true", help="replace a bundle exported to --out before")
    export.set_defaults(func=cmd_export)

    dataset = sub.add_parser("dataset", help="write the synthetic course data as image folders",
                             description="Write the course's synthetic train/validation (studio) and test (camera) "
                                         "splits as OUT/{Train,Validation,Test}/<class>/*.png.")
    dataset.add_argument("--out", required=True)
    dataset.add_argument("--size", type=int, default=96)
    dataset.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    dataset.set_defaults(func=cmd_dataset)
    add_camera_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "weights", None) == "none":
        args.weights = None
    if getattr(args, "ops_per_s", "unset") is None:
        from .footprint import DEFAULT_OPS_PER_S

        args.ops_per_s = DEFAULT_OPS_PER_S
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("tinymask: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
    except (TinymaskError, ValueError, OSError, RuntimeError) as error:  # a TinymaskError names the input and fix
        print(f"tinymask {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
