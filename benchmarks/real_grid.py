"""The model grid on real photos, with the Pareto front (issue 16, item 1); ``run_benchmarks.py --real PATH`` runs it.

    .venv/bin/python benchmarks/run_benchmarks.py --real ../shared/real_faces_dev        # about an hour, 2 cores
    .venv/bin/python benchmarks/real_grid.py --report-only                              # rewrite .md and plot

For each candidate: int8 accuracy on ``validation/`` (409 photos never used for training, with its 95 % Wilson
interval), the camera copy's file size (``tflite.camera_copy``, as ``tinymask export`` writes it), the TFLite Micro
arena, MACs, the latency estimate of chapter 6, and what the real OpenMV firmware (``../shared/openmv-qemu``, v5.0.0 and
the TFLite Micro of 4.6-4.8.1) says when it loads the file and runs one ``predict``: its ``model.ram``, or the first
line of its error.

Every candidate is trained on ``train/`` alone with one fixed recipe and its last weights kept (no photo is spent on
choosing an epoch), so rows compare architectures, not tuning:

* from ImageNet (MobileNetV1 alpha 0.25, the only width with ImageNet weights offline, and the same network cut
  after ``conv_pw_6``): 2 head epochs on a frozen backbone, then 8 epochs fine-tuning everything (the few-shot
  curve's recipe for all photos, ``real_faces.few_shot_recipe``);
* from random weights (alpha 0.2 and 0.1, which Keras has no ImageNet weights for, and the reconstruction of the
  face-mask paper's tiny CNN at 32x32): ``RANDOM_EPOCHS`` epochs, all layers trained;
* the distilled students of ``benchmarks/distill.py`` are read from ``distill_results.json`` (trained there with the
  camera recipe); with ``--students DIR ...`` (distill.py's output folders) their files go to the firmware too.

Writes ``benchmarks/real_grid.{json,md}`` and ``benchmarks/pareto_real.png`` (the results page includes them); the
JSON is saved after every row, and a rerun skips the rows it holds (delete it to start again). Real photos are read,
never written or copied.
"""

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
for path in (ROOT, HERE, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import tinymask  # noqa: E402

JSON_PATH = HERE / "real_grid.json"
MD_PATH = HERE / "real_grid.md"
PLOT_PATH = HERE / "pareto_real.png"
RANDOM_EPOCHS = 15
LIMIT_SMALL = 64_000  # issue 16: a model of at most 64 KB ...
AIM_ACCURACY = 0.95  # ... at 95 % or more on real photos
CALIBRATION = 500


def candidates():
    """The grid, in the order it is trained (the most informative rows first): (name, config)."""
    rows = [{"kind": "mobilenet_v1", "alpha": 0.25, "size": size, "channels": channels, "weights": "imagenet"}
            for size, channels in ((96, 3), (64, 3), (96, 1), (64, 1))]
    rows += [{"kind": "truncated", "alpha": 0.25, "size": size, "channels": 3, "weights": "imagenet", "block": 6}
             for size in (96, 64)]
    rows.append({"kind": "tiny_cnn", "alpha": None, "size": 32, "channels": 3, "weights": "random"})
    rows.append({"kind": "mobilenet_v1", "alpha": 0.25, "size": 128, "channels": 3, "weights": "imagenet"})
    rows += [{"kind": "mobilenet_v1", "alpha": alpha, "size": size, "channels": channels, "weights": "random"}
             for alpha in (0.2, 0.1) for size, channels in ((96, 3), (64, 3), (96, 1))]
    return [(name_of(c), c) for c in rows]


def name_of(c):
    colour = "gray" if c["channels"] == 1 else "RGB"
    if c["kind"] == "tiny_cnn":
        return f"tiny CNN (reconstruction) {c['size']}x{c['size']} {colour}"
    if c["kind"] == "truncated":
        return f"MobileNetV1 a=0.25 cut after pw{c['block']} {c['size']}x{c['size']} {colour}"
    return f"MobileNetV1 a={c['alpha']:g} {c['size']}x{c['size']} {colour}"


# --------------------------------------------------------------------------------------------- training
def _load(real, size, channels, cache):
    from tinymask import data

    key = (size, channels)
    if key not in cache:
        root = Path(real)
        cache[key] = {name: data.load_folder(root / name, size=size, channels=channels, classes=("mask", "no_mask"))
                      for name in ("train", "validation")}
    return cache[key]


def _fit_all(model, x, y, epochs, lr=1e-3, seed=0, batch_size=64):
    """Random weights: every layer trained for ``epochs`` epochs with the course's augmentation; last weights."""
    from tinymask import train

    keras = tinymask.import_keras()
    loss = "binary_crossentropy" if model.output_shape[-1] == 1 else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    ds = train.tf_dataset(x, y, batch_size, True, seed, train.augmentation(seed=seed))
    model.fit(ds, epochs=epochs, verbose=0, shuffle=False)


def build(c):
    from tinymask import models

    keras = tinymask.import_keras()
    if c["kind"] == "tiny_cnn":
        keras.utils.set_random_seed(0)
        return models.tiny_cnn(input_size=c["size"], channels=c["channels"])
    if c["kind"] == "truncated":
        import distill

        return distill.student(block=c["block"], size=c["size"])
    return models.mobilenet_v1(alpha=c["alpha"], input_size=c["size"], channels=c["channels"], num_classes=2,
                               weights=None if c["weights"] == "random" else c["weights"])


def _range_ms(latency):
    """The estimate's range in ms: the MACs at the fastest and the slowest published MAC rate."""
    low, high = latency.ops_range
    return [round(latency.macs / high * 1000, 1), round(latency.macs / low * 1000, 1)]


def train_row(name, c, sets):
    import real_faces as rf

    from tinymask import footprint, quantize, tflite

    tinymask.setup(seed=0)
    start = time.perf_counter()
    x, y = sets["train"].images, sets["train"].labels
    model = build(c)
    if c["weights"] == "imagenet":
        recipe = rf.few_shot_recipe(len(x))
        rf.fixed_epochs(model, x, y, **recipe)
    else:
        recipe = {"epochs": RANDOM_EPOCHS, "lr": 1e-3, "batch_size": 64, "all_layers": True}
        _fit_all(model, x, y, RANDOM_EPOCHS)
    seconds_training = time.perf_counter() - start
    int8 = tflite.camera_copy(quantize.to_int8(model, x, num_calibration=CALIBRATION, seed=0))
    xv, yv = sets["validation"].images, sets["validation"].labels
    figure = footprint.arena_bytes(int8)
    macs = footprint.macs(int8)
    latency = footprint.latency_estimate(macs)
    from tinymask import train

    row = {"name": name, **c, "recipe": recipe,
           "int8": rf.accuracy_block(yv, quantize.predict_labels(int8, xv)),
           "float_accuracy": float((train.predict_labels(model, xv) == yv).mean()),
           "file_bytes": len(int8), "file_sha256": hashlib.sha256(int8).hexdigest(),
           "params": int(model.count_params()),
           "arena_bytes": figure.bytes, "arena_source": figure.source, "macs": macs,
           "latency_ms": round(latency.seconds * 1000, 1),
           "latency_range_ms": _range_ms(latency),
           "per_channel_dense": bool(footprint.per_channel_fully_connected(int8)),
           "seconds_training": round(seconds_training, 1), "seconds": round(time.perf_counter() - start, 1)}
    return row, bytes(int8)


# --------------------------------------------------------------------------------------------- firmware
def _slug(name):
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_").lower()[:60]


def _load_script(filename):
    return f'''import image, ml
try:
    model = ml.Model("/rom/{filename}")
except Exception as e:
    print("FWERR", type(e).__name__, e)
    raise
print("RAM", model.ram)
img = image.Image(96, 96, image.RGB565)
img.draw_rectangle((20, 20, 56, 56), color=(200, 120, 60), fill=True)
scores = model.predict([img])[0].flatten().tolist()
print("SCORES", len(scores), " ".join("%.4f" % s for s in scores))
'''


def firmware_check(models):
    """``{name: {firmware: {"loads", "ram", "outputs", "error"}}}`` for ``{name: tflite bytes}`` on both builds."""
    import qemu_firmware as qf

    reason = qf.unavailable()
    if reason:
        print(f"firmware check skipped: {reason}", flush=True)
        return {}
    seen = {name: {} for name in models}
    with tempfile.TemporaryDirectory() as tmp:
        rom = Path(tmp) / "rom"
        rom.mkdir()
        scripts = {}
        for name, data in models.items():
            filename = _slug(name) + ".tflite"
            (rom / filename).write_bytes(data)
            scripts[name] = _load_script(filename)
        for firmware in qf.FIRMWARES:
            runs = qf.run_scripts(scripts, firmware, rom, timeout=60)
            for name, run in runs.items():
                ram = [int(line.split()[1]) for line in run.lines("RAM ")]
                scores = [line.split()[2:] for line in run.lines("SCORES ")]
                seen[name][firmware] = {"loads": bool(ram), "ram": ram[0] if ram else None,
                                        "outputs": len(scores[0]) if scores else None, "error": run.error}
    return seen


# --------------------------------------------------------------------------------------------- report
def pareto_front(rows, key):
    """The rows no other row beats on both int8 accuracy (higher) and ``key`` (smaller), by ``key``."""
    front = []
    for r in sorted(rows, key=lambda r: (r[key], -r["int8"]["accuracy"])):
        if not front or r["int8"]["accuracy"] > front[-1]["int8"]["accuracy"]:
            front.append(r)
    return front


def _all_rows(results):
    return results["grid"] + results.get("students", [])


def _pct(block):
    low, high = block["ci95"]
    return f"{100 * block['accuracy']:.1f} % ({100 * low:.1f}-{100 * high:.1f})"


def _fw(row, fw):
    seen = row.get("firmware", {}).get(fw)
    if not seen:
        return "-"
    if seen["loads"] and seen["outputs"]:
        return f"{seen['ram']:,}"
    return seen["error"] or "no output"


def write_markdown(results, path=MD_PATH):
    rows = _all_rows(results)
    lines = [f"Measured by `benchmarks/run_benchmarks.py --real` on {results['machine']['cpu']} "
             f"({results['machine']['cores']} cores), {results['date']}; TensorFlow {results['machine']['tensorflow']}."
             f" Accuracy: int8 (LiteRT's reference kernels, what TFLite Micro computes) on the "
             f"{results['validation_photos']} photos of `validation/`, with 95 % Wilson intervals; trained on the "
             f"{results['train_photos']:,} photos of `train/` only: from ImageNet 2 head + 8 fine-tuning epochs, from "
             f"random weights {results['random_epochs']} epochs (the last epoch's weights in both). The distilled "
             "students come from `benchmarks/distill.py` with the camera model's longer recipe (best selection "
             "epoch kept), so they are not a like-for-like comparison with the rows cut after the same block here, "
             "and each was trained after the figures of the ones before were seen (`benchmarks/distill_results.md`). "
             "File: the camera's copy (`tinymask export`: names "
             "stripped, weight zero points written once). "
             "Arena: TFLite Micro on this machine; firmware columns: `model.ram` that the real OpenMV firmware "
             "reports after loading the file and running one predict (QEMU build; \"-\": not run).", ""]
    lines += ["| model | weights | int8 accuracy | float | file (B) | arena (B) | MACs | est. latency (ms) | "
              "5.0.0 `model.ram` | 4.6-4.8.1 `model.ram` |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["file_bytes"]):
        flt = "-" if r.get("float_accuracy") is None else f"{100 * r['float_accuracy']:.1f} %"
        lines.append(f"| {r['name']} | {r['weights']} | {_pct(r['int8'])} | {flt} | {r['file_bytes']:,} | "
                     f"{r['arena_bytes']:,} | {r['macs'] / 1e6:.1f} M | {r['latency_ms']:.0f} "
                     f"({r['latency_range_ms'][0]:.0f}-{r['latency_range_ms'][1]:.0f}) | {_fw(r, '5.0.0')} | "
                     f"{_fw(r, 'tflm-2024-09')} |")
    lines += ["", "**Pareto front** (no other model is both more accurate and smaller):", ""]
    for key, label in (("file_bytes", "file size"), ("arena_bytes", "arena")):
        front = pareto_front(rows, key)
        lines.append(f"* against {label}: " + "; ".join(
            f"{r['name']} ({r[key]:,} B, {100 * r['int8']['accuracy']:.1f} %)" for r in front) + ".")
    small = [r for r in rows if r["file_bytes"] <= LIMIT_SMALL]
    best = max(small, key=lambda r: r["int8"]["accuracy"]) if small else None
    met = bool(best) and best["int8"]["accuracy"] >= AIM_ACCURACY
    lines += ["", f"**Aim: a model of at most {LIMIT_SMALL:,} B at >= {AIM_ACCURACY:.0%} on real photos: "
              f"{'met' if met else 'missed'}.** "
              + (f"The most accurate model at or under {LIMIT_SMALL:,} B is {best['name']}: {best['file_bytes']:,} B, "
                 f"{_pct(best['int8'])}." if best else f"No model in the grid is at or under {LIMIT_SMALL:,} B.")]
    reaching = [r for r in rows if r["int8"]["accuracy"] >= AIM_ACCURACY]
    if reaching:
        smallest = min(reaching, key=lambda r: r["file_bytes"])
        lines.append(f"The smallest model at >= {AIM_ACCURACY:.0%} is {smallest['name']}: "
                     f"{smallest['file_bytes']:,} B, {_pct(smallest['int8'])}.")
    if PLOT_PATH.exists():
        lines += ["", "![int8 accuracy on real photos against file size and arena](pareto_real.png)"]
    path.write_text("\n".join(lines) + "\n")


def plot(results, path=PLOT_PATH):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = _all_rows(results)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    styles = {"mobilenet_v1": "o", "truncated": "D", "tiny_cnn": "s", "distilled": "*"}
    for ax, key, label in ((axes[0], "file_bytes", "file on the camera (KB)"),
                           (axes[1], "arena_bytes", "TFLite Micro arena (KB)")):
        for r in rows:
            acc = 100 * r["int8"]["accuracy"]
            low, high = (100 * v for v in r["int8"]["ci95"])
            colour = "tab:blue" if r["weights"] == "imagenet" else ("tab:green" if r["kind"] == "distilled"
                                                                    else "tab:orange")
            fill = "none" if r["channels"] == 1 else colour
            ax.errorbar(r[key] / 1000, acc, yerr=[[acc - low], [high - acc]], fmt=styles[r["kind"]], color=colour,
                        markerfacecolor=fill, ecolor="lightgrey", capsize=2)
        front = pareto_front(rows, key)
        ax.step([r[key] / 1000 for r in front], [100 * r["int8"]["accuracy"] for r in front], where="post",
                color="black", linewidth=0.8, label="Pareto front")
        for r in front:
            ax.annotate(r["name"].replace("MobileNetV1 ", "").replace(" (reconstruction)", ""),
                        (r[key] / 1000, 100 * r["int8"]["accuracy"]), fontsize=6, xytext=(4, -8),
                        textcoords="offset points")
        ax.axhline(100 * AIM_ACCURACY, color="grey", linestyle=":")
        if key == "file_bytes":
            ax.axvline(LIMIT_SMALL / 1000, color="grey", linestyle=":")
        ax.set(xlabel=label, ylabel="int8 accuracy on real photos (%)", xscale="log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "2358"
                                                                     else ""))
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.legend(loc="lower right", fontsize=7)
    fig.suptitle("Real photos: blue from ImageNet, orange from random weights, green distilled; hollow = grayscale; "
                 "o MobileNetV1, diamond truncated, square tiny CNN, star distilled", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def student_rows(folders):
    """The distilled students of distill_results.json as grid rows; their files from ``folders`` (if given)."""
    summary = json.loads((HERE / "distill_results.json").read_text())
    rows, files = [], {}
    from tinymask import footprint, tflite

    by_recipe = {}
    for folder in folders:
        result = json.loads((Path(folder) / "distill_results.json").read_text())
        key = (result["recipe"]["student"], result["recipe"]["camera_recipe"])
        by_recipe[key] = Path(folder) / "student_int8.tflite"
    for run in summary["runs"]:
        s = run["students"]["distilled"]
        size = int(re.search(r"(\d+)x\d+", run["recipe"]["student"]).group(1))
        block = int(re.search(r"conv_pw_(\d+)", run["recipe"]["student"]).group(1))
        epochs = re.search(r"finetune_epochs=(\d+)", run["recipe"]["camera_recipe"])
        name = f"distilled student (pw{block} cut) {size}x{size} RGB"
        name += f", {epochs.group(1)} epochs" if epochs else ""
        macs = s["macs"]
        latency = footprint.latency_estimate(macs)
        row = {"name": name, "kind": "distilled", "alpha": 0.25, "size": size, "channels": 3,
               "weights": "imagenet + teacher", "recipe": "benchmarks/distill.py (recipe.CAMERA)",
               "int8": s["int8"], "float_accuracy": None, "file_bytes": s["int8_bytes"], "params": s["params"],
               "arena_bytes": s["arena_bytes"], "arena_source": s["arena_source"], "macs": macs,
               "latency_ms": round(latency.seconds * 1000, 1),
               "latency_range_ms": _range_ms(latency)}
        path = by_recipe.get((run["recipe"]["student"], run["recipe"]["camera_recipe"]))
        if path is not None and path.is_file():
            files[name] = bytes(tflite.camera_copy(path.read_bytes()))
            row["file_bytes"] = len(files[name])
            row["file_sha256"] = hashlib.sha256(files[name]).hexdigest()
        rows.append(row)
    return rows, files


def run(real, students=(), out_json=JSON_PATH):
    import real_faces as rf

    rf.load_real(real, 32)  # the folder check, with its one-line message
    tinymask.setup(seed=0)
    results = json.loads(out_json.read_text()) if out_json.exists() else {"grid": []}
    results.update(date=time.strftime("%Y-%m-%d"), machine=rf.machine_info(), real=str(real),
                   random_epochs=RANDOM_EPOCHS, calibration=CALIBRATION)
    done = {r["name"] for r in results["grid"]}
    files, cache = {}, {}
    models_dir = Path(tempfile.mkdtemp(prefix="tinymask-grid-"))
    for name, c in candidates():
        if name in done:
            continue
        print(name, flush=True)
        sets = _load(real, c["size"], c["channels"], cache)
        results["train_photos"], results["validation_photos"] = len(sets["train"].labels), len(
            sets["validation"].labels)
        row, data = train_row(name, c, sets)
        (models_dir / (_slug(name) + ".tflite")).write_bytes(data)
        files[name] = data
        print(f"  int8 {row['int8']['accuracy']:.3f} {row['int8']['ci95']} file {row['file_bytes']:,} arena "
              f"{row['arena_bytes']:,} ({row['seconds']:.0f} s)", flush=True)
        results["grid"].append(row)
        out_json.write_text(json.dumps(results, indent=2) + "\n")
    _finish(results, files, students, out_json)
    print(f"models of this run kept in {models_dir}")
    return results


def _finish(results, files, students, out_json):
    """Add the distilled students, run every file in ``files`` (and the students') on the firmware, save the JSON
    and write the report and the plot."""
    results["students"], student_files = student_rows(students)
    files.update(student_files)
    if files:
        print(f"firmware: {len(files)} models on both builds", flush=True)
        seen = firmware_check(files)
        for row in _all_rows(results):
            if row["name"] in seen:
                row["firmware"] = seen[row["name"]]
    out_json.write_text(json.dumps(results, indent=2) + "\n")
    plot(results)
    write_markdown(results)
    print(MD_PATH.read_text())


def refresh(models_dir, students=(), out_json=JSON_PATH):
    """Recompute each grid row's file size from the models a run kept (``models_dir``, as the camera copy) and run
    the firmware check again on them and on the students' files; rewrite the report."""
    from tinymask import tflite

    results = json.loads(out_json.read_text())
    files = {}
    for row in results["grid"]:
        path = Path(models_dir) / (_slug(row["name"]) + ".tflite")
        if path.is_file():
            data = bytes(tflite.camera_copy(path.read_bytes()))
            row["file_bytes"], files[row["name"]] = len(data), data
            row["file_sha256"] = hashlib.sha256(data).hexdigest()
    _finish(results, files, students, out_json)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/real_grid.py", description=__doc__.split("\n")[0])
    parser.add_argument("--real", help="folder with train/ and validation/ of mask, no_mask photos")
    parser.add_argument("--students", nargs="*", default=(), help="benchmarks/distill.py output folders")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md and the plot from the JSON")
    parser.add_argument("--refresh", metavar="MODELS_DIR", help="file sizes and firmware check again, from the "
                        "models a run kept (it prints the folder)")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(JSON_PATH.read_text())
        plot(results)
        write_markdown(results)
        print(f"rewrote {MD_PATH} and {PLOT_PATH} from {JSON_PATH}")
        return 0
    if args.refresh:
        refresh(args.refresh, args.students)
        return 0
    if not args.real:
        parser.error("--real PATH is needed (or --report-only)")
    run(args.real, args.students)
    return 0


if __name__ == "__main__":
    sys.exit(main())
