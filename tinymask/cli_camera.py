"""``tinymask camera copy|run|parity|fps --port PORT``: the command line's camera commands (README; chapter 7's lab).

Each handler connects with :class:`tinymask.camera.Camera` and prints what the camera did; a
:class:`tinymask.camera.CameraError` (a TinymaskError) reaches ``tinymask.cli.main``, which prints it as one line
with exit status 2. ``tinymask.cli`` adds this parser (:func:`add_camera_parser`) and re-exports the handlers.
"""

import argparse
import sys
from pathlib import Path

from .errors import InputError, MissingPathError, ToolError

__all__ = ["add_camera_parser", "cmd_camera_copy", "cmd_camera_run", "cmd_camera_parity", "cmd_camera_fps"]


def _say(*parts):
    print(*parts, flush=True)


def _print_now(stream):
    def write(text):
        stream.write(text)
        stream.flush()
    return write


def _print_error(result):
    """A script's traceback, as the camera sent it, on stderr."""
    sys.stderr.write(result.error if result.error.endswith("\n") else result.error + "\n")


def cmd_camera_copy(args):
    from . import camera

    bundle = camera.read_bundle(args.bundle)  # local inputs are checked before connecting
    with camera.Camera(args.port) as cam:
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
        raise MissingPathError(f"{path}: no such script on this computer; give the path of a MicroPython .py file")
    try:
        code = path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file; give a MicroPython .py script") from None
    from . import camera

    with camera.Camera(args.port) as cam:
        result = camera.run_code(cam, code, seconds=args.seconds, cwd=args.cwd, out=_print_now(sys.stdout))
    if result.raised:
        _print_error(result)
        return 1
    if result.stopped:
        print(f"tinymask camera run: stopped {path.name} after {args.seconds:g} s (Ctrl-C)", file=sys.stderr)
    return 0


def cmd_camera_parity(args):
    from . import camera

    bundle = camera.read_bundle(args.bundle)
    names, images = camera.load_samples(args.samples)
    with camera.Camera(args.port) as cam:
        result = camera.parity(cam, bundle, names, images, dest=args.dest, force=args.force)
    _say(f"parity: {result.identical}/{result.n} images with identical scores (camera ml.Model.predict on "
         f"{result.model_path} vs host tinymask.quantize.predict); largest difference {result.max_difference:.6g}")
    for i in result.mismatches()[:10]:
        _say(f"  differs: {result.names[i]}: camera {result.camera[i].tolist()} host {result.host[i].tolist()}")
    return 0 if result.identical == result.n else 1


def cmd_camera_fps(args):
    from . import camera

    bundle = camera.read_bundle(args.bundle) if args.bundle else None
    with camera.Camera(args.port) as cam:
        result, bench = camera.benchmark(cam, bundle, dest=args.dest, force=args.force, runs=args.runs,
                                         seconds=args.seconds, out=_print_now(sys.stdout))
    if result.raised:
        _print_error(result)
        return 1
    if bench is None:
        raise ToolError(f"benchmark_fps.py printed no TINYMASK_BENCH line within {args.seconds:g} s; give more "
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


def add_camera_parser(sub):
    """Add ``tinymask camera copy|run|parity|fps --port PORT`` to the subparsers ``sub`` (used by tinymask.cli)."""
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
