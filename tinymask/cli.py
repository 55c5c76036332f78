"""The command line, ``tinymask`` / ``python -m tinymask``: run, budget, profile, export, dataset, camera (README; book/instructor_guide.md).

``tinymask run`` is the course in one command: data, transfer learning, int8 conversion, camera-domain evaluation,
footprint, and a bundle for the camera, with a report in Markdown and JSON.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .errors import TinymaskError

__all__ = ["main", "build_parser", "CliError"]

SUBGROUP_ATTRIBUTES = ("skin_tone", "lighting", "background", "occluder")


class CliError(TinymaskError):
    """A user error the command line reports as one line (exit status 2)."""


# --------------------------------------------------------------------------------------------- helpers
def _say(*parts):
    print(*parts, flush=True)


def _step(number, total, text):
    _say(f"[{number}/{total}] {text}")


def _check_new_output(out, force):
    """Refuse a non-empty output folder unless --force (nothing a user made is replaced silently)."""
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CliError(f"--out {out} is not empty; choose a new folder or pass --force to replace it "
                       "(the old folder is only removed once the new one is complete)")


@contextlib.contextmanager
def _staged(out):
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` in one rename, on failure it is
    removed and ``out`` is left as it was."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    stage.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    stage.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _epoch_bar(total, description):
    """A Keras callback that advances a tqdm bar once per epoch (silent under TINYMASK_QUIET)."""
    from tqdm.auto import tqdm

    from ._setup import import_tensorflow, quiet_mode

    import_tensorflow()
    import keras

    bar = tqdm(total=total, desc=description, unit="epoch", disable=quiet_mode(), file=sys.stdout)

    class EpochBar(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            bar.set_postfix(val_accuracy=f"{logs.get('val_accuracy', float('nan')):.3f}")
            bar.update(1)

    return EpochBar(), bar


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
def _subgroup_gap(test_batch, predicted):
    from . import train

    if test_batch is None or not getattr(test_batch, "attributes", None):
        return None
    gaps = {}
    for attribute in SUBGROUP_ATTRIBUTES:
        if attribute in test_batch.attributes:
            by_group = train.subgroup_accuracy(test_batch.labels, predicted, test_batch.attributes[attribute])
            gaps[attribute] = train.worst_subgroup_gap(by_group)
    if not gaps:
        return None
    attribute = max(gaps, key=lambda k: gaps[k][0])
    gap, best, worst = gaps[attribute]
    return {"attribute": attribute, "gap": float(gap), "best": str(best), "worst": str(worst)}


def _report_markdown(report):
    r = report
    lines = [
        "# tinymask run report",
        "",
        f"Model: MobileNetV1 alpha {r['config']['alpha']:g}, {r['config']['size']}x{r['config']['size']}, "
        f"{'grayscale' if r['config']['channels'] == 1 else 'RGB'}; data: {r['config']['data']}; "
        f"classes: {', '.join(r['classes'])}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| test accuracy, float (Keras) | {r['accuracy']['float']:.2%} |",
        f"| test accuracy, int8 (LiteRT reference kernels, as TFLite Micro on the camera) | "
        f"{r['accuracy']['int8']:.2%} |",
        f"| int8 agreement with float | {r['accuracy']['agreement']:.2%} |",
        f"| test images | {r['accuracy']['test_images']} |",
        f"| int8 model (flash) | {r['footprint']['flash_bytes']:,} B |",
        f"| tensor arena | {r['footprint']['arena_bytes']:,} B ({r['footprint']['arena_source']}) |",
        f"| arena lower bound / greedy estimate | {r['footprint']['lower_bound_bytes']:,} B / "
        f"{r['footprint']['greedy_estimate_bytes']:,} B |",
        f"| MACs per inference | {r['footprint']['macs']:,} |",
        f"| estimated latency on {r['board']['name']} | {r['footprint']['latency_ms']:.1f} ms "
        f"({r['footprint']['fps']:.1f} FPS at {r['footprint']['ops_per_s'] / 1e6:.1f} M MACs/s) |",
        f"| fits {r['board']['name']} | {'yes' if r['board']['fits'] else 'NO'} |",
    ]
    if r.get("subgroup_gap"):
        lines.append(f"| worst subgroup gap | {r['subgroup_gap']['gap']:.1%} ({r['subgroup_gap']['attribute']}) |")
    lines.append(f"| backbone weights | {r['config']['weights']} |")
    confusion = r["accuracy"].get("int8_confusion")
    if confusion:
        lines += ["", "int8 confusion on the test split (rows: true class, columns: predicted):", "",
                  "| true class | " + " | ".join(r["classes"]) + " | recall |",
                  "|---|" + "---|" * (len(r["classes"]) + 1)]
        for name, row in zip(r["classes"], confusion):
            recall = row[r["classes"].index(name)] / max(sum(row), 1)
            lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + f" | {recall:.1%} |")
    lines += ["", f"Board: model {r['board']['model']}", "", f"Board: arena {r['board']['arena']}", "",
              "Bundle: " + (", ".join(f"{name} {size:,} B" for name, size in r["bundle"]["files"].items())
                            + f" in {r['bundle']['folder']}/ and {r['bundle']['zip']}" if r["bundle"]
                            else "not written (the model does not fit the board)"),
              "", f"Time: {r['seconds']:.0f} s", ""]
    return "\n".join(lines)


def cmd_run(args):
    out = Path(args.out)
    _check_new_output(out, args.force)
    start = time.perf_counter()
    from . import deploy, footprint, memory, pipeline, quantize, synth, train
    from ._setup import setup

    board = memory.board(args.board)
    channels = 1 if args.grayscale else 3
    setup(seed=args.seed)
    total = 6
    _step(1, total, f"data: {'folders under ' + str(args.data) if args.data else 'the synthetic course splits'}"
          f" at {args.size}x{args.size}, {'grayscale' if channels == 1 else 'RGB'}")
    test_batch = None
    if args.data:
        splits, classes = pipeline.course_data(size=args.size, channels=channels, path=args.data)
    else:
        batches = synth.course_splits(size=args.size)
        classes = tuple(batches["train"].classes)
        splits = {k: (pipeline.to_channels(b.images, channels), b.labels) for k, b in batches.items()}
        test_batch = batches["test"]
    if args.limit:
        splits["train"] = tuple(a[: args.limit] for a in splits["train"])
    _say(f"      train {len(splits['train'][1])}, validation {len(splits['validation'][1])}, "
         f"test {len(splits['test'][1])} images; classes {', '.join(classes)}")

    epochs = args.head_epochs + args.epochs
    _step(2, total, f"training MobileNetV1 alpha {args.alpha:g}: {args.head_epochs} head + {args.epochs} "
          "fine-tuning epochs")
    callback, bar = _epoch_bar(epochs, "training")
    try:
        model = pipeline.train_classifier(splits, classes, alpha=args.alpha, size=args.size, channels=channels,
                                          weights=args.weights, head_epochs=args.head_epochs,
                                          finetune_epochs=args.epochs, seed=args.seed, callbacks=[callback],
                                          verbose=0)  # the epoch bar reports progress
    finally:
        bar.close()

    _step(3, total, f"full-int8 conversion ({args.calibration} calibration images)")
    tflite = quantize.to_int8(model, splits["train"][0], num_calibration=args.calibration, seed=args.seed)

    _step(4, total, "evaluating on the test split (camera domain for the synthetic data)")
    images, labels = splits["test"]
    keras_pred = train.predict_labels(model, images)
    int8_pred = quantize.predict_labels(tflite, images)
    accuracy = {"float": float((keras_pred == labels).mean()), "int8": float((int8_pred == labels).mean()),
                "agreement": float((int8_pred == keras_pred).mean()), "test_images": int(len(labels)),
                "int8_confusion": train.confusion_matrix(labels, int8_pred, len(classes)).tolist()}
    _say(f"      float {accuracy['float']:.2%}, int8 {accuracy['int8']:.2%}, agreement {accuracy['agreement']:.2%}")

    _step(5, total, f"footprint on {board.name}")
    summary = footprint.describe(tflite)
    arena = summary["arena"]
    arena_bytes = arena.total if arena is not None else summary["greedy_estimate_bytes"]
    arena_source = "measured with TFLite Micro" if arena is not None else "greedy estimate; " + "; ".join(summary["notes"])
    fit = footprint.fits_board(tflite, board, arena_bytes)
    n_macs = footprint.macs(tflite)
    latency = footprint.latency_estimate(n_macs, args.ops_per_s)
    _say(f"      flash {len(tflite):,} B, arena {arena_bytes:,} B, {latency.seconds * 1000:.1f} ms estimated; "
         f"{'fits' if fit.fits else 'does NOT fit'}")

    _step(6, total, f"writing {out}")
    report = {
        "config": {"alpha": args.alpha, "size": args.size, "channels": channels, "epochs": args.epochs,
                   "head_epochs": args.head_epochs, "data": str(args.data) if args.data else "synthetic",
                   "weights": getattr(model, "weights_source", None), "seed": args.seed,
                   "calibration": args.calibration},
        "classes": list(classes),
        "accuracy": accuracy,
        "footprint": {"flash_bytes": len(tflite), "arena_bytes": int(arena_bytes), "arena_source": arena_source,
                      "lower_bound_bytes": summary["lower_bound_bytes"],
                      "greedy_estimate_bytes": summary["greedy_estimate_bytes"], "macs": n_macs,
                      "latency_ms": latency.seconds * 1000, "fps": latency.fps, "ops_per_s": latency.ops_per_s,
                      "operators": summary["operators"]},
        "board": {"key": args.board, "name": board.name, "fits": bool(fit.fits), "model": str(fit.model),
                  "arena": str(fit.arena)},
        "subgroup_gap": _subgroup_gap(test_batch, int8_pred),
        "bundle": None,
    }
    with _staged(out) as stage:
        (stage / "model_int8.tflite").write_bytes(tflite)
        pipeline.save_weights(model, stage / "model.weights.h5")
        if fit.fits:
            bundle = deploy.export_bundle(tflite, classes, stage / "openmv", board=board.key,
                                          arena_bytes=arena_bytes)
            report["bundle"] = {"folder": "openmv", "zip": bundle.zip_path.name,
                                "files": {name: int(size) for name, size in bundle.sizes.items()}}
        report["seconds"] = round(time.perf_counter() - start, 1)
        (stage / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (stage / "report.md").write_text(_report_markdown(report))
    _say(f"done in {report['seconds']:.0f} s: {out}/report.md" + (f", bundle {out}/openmv/" if fit.fits else ""))
    if not fit.fits:
        raise CliError(f"the model does not fit the {board.name}, so no bundle was written:\n{fit}\n"
                       "try a lower --alpha or --size, --grayscale, or another --board")
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
    fit = footprint.fits_board(data, board, arena.total if arena else summary["greedy_estimate_bytes"])
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
    from . import data, synth

    out = Path(args.out)
    _check_new_output(out, args.force)
    splits = synth.course_splits(size=args.size)
    names = {"train": "Train", "validation": "Validation", "test": "Test"}
    with _staged(out) as stage:
        for key, batch in splits.items():
            written = data.save_folder(batch.images, batch.labels, batch.classes, stage / names[key])
            _say(f"  {names[key]}: {len(written)} images ({batch.domain if hasattr(batch, 'domain') else key})")
    _say(f"dataset written to {out} (Train/Validation/Test/<class>/*.png; `tinymask run --data {out}` reads it)")
    return 0


# --------------------------------------------------------------------------------------------- camera
@contextlib.contextmanager
def _camera(port):
    """A connection to the camera on ``port``; its CameraErrors become CliErrors (one line, exit status 2)."""
    from . import camera

    try:
        with camera.Camera(port) as cam:
            yield cam
    except camera.CameraError as error:
        raise CliError(str(error)) from None


def _camera_input(function, *args):
    """A check of local inputs (bundle, samples) before connecting; CameraError as CliError."""
    from . import camera

    try:
        return function(*args)
    except camera.CameraError as error:
        raise CliError(str(error)) from None


def _print_now(stream):
    def write(text):
        stream.write(text)
        stream.flush()
    return write


def cmd_camera_copy(args):
    from . import camera

    bundle = _camera_input(camera.read_bundle, args.bundle)
    with _camera(args.port) as cam:
        folder, plan = camera.copy_bundle(cam, bundle, dest=args.dest, force=args.force)
    for item in plan:
        _say(f"  {item.path:36s} {item.size:>9,d} B  {item.action}")
    written = sum(item.action == "written" for item in plan)
    _say(f"copied {written} of {len(plan)} files to {folder} on {args.port} ({len(plan) - written} were already "
         "there); press the camera's reset button (or replug it) to start main.py")
    return 0


def cmd_camera_run(args):
    path = Path(args.script)
    if not path.is_file():
        raise CliError(f"{path}: no such script on this computer; give the path of a MicroPython .py file")
    try:
        code = path.read_text()
    except UnicodeDecodeError:
        raise CliError(f"{path} is not a text file; give a MicroPython .py script") from None
    from . import camera

    with _camera(args.port) as cam:
        result = camera.run_code(cam, code, seconds=args.seconds, cwd=args.cwd, out=_print_now(sys.stdout))
    if result.raised:
        sys.stderr.write(result.error if result.error.endswith("\n") else result.error + "\n")
        return 1
    if result.stopped:
        print(f"tinymask camera run: stopped {path.name} after {args.seconds:g} s (Ctrl-C)", file=sys.stderr)
    return 0


def cmd_camera_parity(args):
    from . import camera

    bundle = _camera_input(camera.read_bundle, args.bundle)
    names, images = _camera_input(camera.load_samples, args.samples)
    with _camera(args.port) as cam:
        result = camera.parity(cam, bundle, names, images, dest=args.dest, force=args.force)
    _say(f"parity: {result.identical}/{result.n} images with identical scores (camera ml.Model.predict on "
         f"{result.model_path} vs host tinymask.quantize.predict); largest difference {result.max_difference:.6g}")
    for i in result.mismatches()[:10]:
        _say(f"  differs: {result.names[i]}: camera {result.camera[i].tolist()} host {result.host[i].tolist()}")
    return 0 if result.identical == result.n else 1


def cmd_camera_fps(args):
    from . import camera

    bundle = _camera_input(camera.read_bundle, args.bundle) if args.bundle else None
    with _camera(args.port) as cam:
        result, bench = camera.benchmark(cam, bundle, dest=args.dest, force=args.force, runs=args.runs,
                                         seconds=args.seconds, out=_print_now(sys.stdout))
    if result.raised:
        sys.stderr.write(result.error if result.error.endswith("\n") else result.error + "\n")
        return 1
    if bench is None:
        raise CliError(f"benchmark_fps.py printed no TINYMASK_BENCH line within {args.seconds:g} s; give more "
                       "--seconds or fewer --runs")
    _say(f"FPS: {bench.infer_fps:.2f} inference alone ({bench.infer_ms:.2f} ms), {bench.frame_fps:.2f} capture + "
         f"inference ({bench.frame_ms:.2f} ms); {bench.model}, {bench.runs} runs, firmware {bench.firmware}, "
         f"board {bench.board}")
    return 0


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


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


def _add_camera_parser(sub):
    """``tinymask camera copy|run|parity|fps --port PORT``."""
    camera = sub.add_parser("camera", help="drive an OpenMV camera over USB: copy a bundle, run a script, parity, FPS",
                            description="Talk to an OpenMV camera's MicroPython REPL over its USB serial port "
                                        "(mpremote): copy a bundle to its SD card, run a script and stream its "
                                        "output, check the model's scores on the camera against the host's, "
                                        "measure FPS. The running script is interrupted (Ctrl-C); the camera is "
                                        "not reset.")
    port = argparse.ArgumentParser(add_help=False)
    port.add_argument("--port", required=True, help="the camera's serial port (Linux /dev/ttyACM0, macOS "
                                                    "/dev/cu.usbmodem*, Windows COM3)")
    actions = camera.add_subparsers(dest="camera_command", metavar="ACTION")
    actions.required = True

    copy = actions.add_parser("copy", parents=[port], help="copy a bundle's files to the camera's SD card",
                              description="Copy the files of a bundle folder (bundle.json lists them; main.py goes "
                                          "last) to the camera's SD card: /sdcard on firmware 4.6+, / on 4.5.6. "
                                          "Refuses the 128 KB internal drive, a card without the room, and files "
                                          "of the same name with other contents (unless --force).")
    copy.add_argument("bundle", help="the bundle folder (what tinymask export or tinymask run wrote, e.g. "
                                     "build/openmv)")
    copy.add_argument("--dest", help="a folder on the camera instead of its SD card (e.g. /sdcard)")
    copy.add_argument("--force", action="store_true", help="replace files on the camera that differ")
    copy.set_defaults(func=cmd_camera_copy)

    run = actions.add_parser("run", parents=[port], help="run a local script on the camera, streaming its output",
                             description="Send a MicroPython script to the camera, run it and stream what it "
                                         "prints. Exit status 1 when it raised (its traceback is printed as the "
                                         "camera sent it).")
    run.add_argument("script", help="a MicroPython .py file on this computer")
    run.add_argument("--seconds", type=_positive_seconds, default=None,
                     help="stop the script with Ctrl-C after this many seconds (for while True loops)")
    run.add_argument("--cwd", help="a folder on the camera to run in (e.g. /sdcard, where the model is)")
    run.set_defaults(func=cmd_camera_run)

    parity = actions.add_parser("parity", parents=[port], help="the golden-image check: camera vs host scores",
                                description="Send the committed camera samples to the camera, run the bundle's "
                                            "model on them with ml.Model(...).predict and compare the scores with "
                                            "tinymask.quantize.predict on this computer. The model is copied to "
                                            "the SD card first when it is not there. Exit status 1 on a mismatch.")
    parity.add_argument("--bundle", required=True, help="the bundle folder whose model to check")
    parity.add_argument("--samples", help="a folder of <class>/*.png at the model's input size "
                                          "(default datasets/samples/camera)")
    parity.add_argument("--dest", help="a folder on the camera for the model instead of its SD card")
    parity.add_argument("--force", action="store_true", help="replace a different model file of the same name")
    parity.set_defaults(func=cmd_camera_parity)

    fps = actions.add_parser("fps", parents=[port], help="measure frames per second with benchmark_fps.py",
                             description="Run openmv_scripts/benchmark_fps.py on the camera, in its SD card folder, "
                                         "configured for the bundle's model (copied first when missing; without "
                                         "--bundle the tinymask_mask.tflite already there), and print the FPS of "
                                         "its TINYMASK_BENCH line.")
    fps.add_argument("--bundle", help="the bundle folder whose model to time")
    fps.add_argument("--seconds", type=_positive_seconds, default=120.0,
                     help="give up after this many seconds (default 120)")
    fps.add_argument("--runs", type=int, default=None, help="predictions per figure (default: the script's 50)")
    fps.add_argument("--dest", help="a folder on the camera for the model instead of its SD card")
    fps.add_argument("--force", action="store_true", help="replace a different model file of the same name")
    fps.set_defaults(func=cmd_camera_fps)


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
    run.add_argument("--alpha", type=float, default=0.25, help="MobileNetV1 width multiplier (default 0.25)")
    run.add_argument("--size", type=int, default=96, help="input side in pixels (default 96)")
    run.add_argument("--grayscale", action="store_true", help="train and deploy a 1-channel model")
    run.add_argument("--epochs", type=int, default=22, help="fine-tuning epochs after the head epochs (default 22)")
    run.add_argument("--head-epochs", type=int, default=2, help="epochs training the head alone (default 2)")
    run.add_argument("--weights", default="auto", help="backbone weights: auto (ImageNet: the Keras cache, else "
                                                       "the copy tinymask ships for alpha 0.25), imagenet, shipped "
                                                       "(the shapes-pretrained backbone), a path, or none")
    run.add_argument("--calibration", type=_whole_number(1, "images"), default=500,
                     help="int8 calibration images (default 500)")
    run.add_argument("--limit", type=_whole_number(0, "images"), default=0,
                     help="use at most this many training images (0: all)")
    run.add_argument("--board", default="openmv-h7", help="board to check against (default openmv-h7)")
    run.add_argument("--ops-per-s", type=float, default=None, help="MACs per second for the latency estimate")
    run.add_argument("--seed", type=int, default=0)
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
    profile.add_argument("--board", default="openmv-h7")
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
    export.add_argument("--board", default="openmv-h7")
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
    _add_camera_parser(sub)
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
