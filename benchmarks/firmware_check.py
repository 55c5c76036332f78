"""Run every camera script, the exported bundle and the shipped model on the real OpenMV firmware (QEMU) and write
benchmarks/firmware_results.{json,md}: the evidence chapter 7 shows (it reads the JSON, never ../shared).

    .venv/bin/python benchmarks/firmware_check.py       # about a minute; needs ../shared/openmv-qemu

Recorded (machine-independent only: no timings): script x firmware -> "ok" or the first line of what went wrong,
golden-image parity of ``ml.Model.predict`` against ``tinymask.quantize.predict`` on the 48 camera samples, the
firmware's ``model.ram`` (TFLite Micro's arena), the API differences the scripts work around as the firmware shows
them, and the SHA-256 of the model and of both firmware builds. tests/test_firmware_qemu.py re-runs the firmware
and fails when the committed JSON no longer says what it sees.
"""

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import qemu_firmware as qf  # noqa: E402

JSON_PATH = ROOT / "benchmarks" / "firmware_results.json"
MD_PATH = ROOT / "benchmarks" / "firmware_results.md"
#: The scripts before issue 13 (commit d471156, model sha256 cee653d8...), same runs: the first error line.
BEFORE = {
    "classify.py": {"5.0.0": "TypeError: 'int' object isn't callable",
                    "tflm-2024-09": "ValueError: Failed to allocate tensors"},
    "face_mask.py": {"5.0.0": "TypeError: 'int' object isn't callable",
                     "tflm-2024-09": "TypeError: 'int' object isn't callable"},
    "low_power.py": {"5.0.0": "ImportError: no module named 'pyb'",
                     "tflm-2024-09": "ValueError: Failed to allocate tensors"},
    "benchmark_fps.py": {"5.0.0": "TypeError: 'int' object isn't callable",
                         "tflm-2024-09": "ValueError: Failed to allocate tensors"},
    "collect_dataset.py": {"5.0.0": "OSError: no SD card: insert one (FAT32) and reset the camera",
                           "tflm-2024-09": "OSError: no SD card: insert one (FAT32) and reset the camera"},
    "main.py": {"5.0.0": "TypeError: 'int' object isn't callable",
                "tflm-2024-09": "ValueError: Failed to allocate tensors"},
}


#: What BEFORE was measured with: the scripts of commit d471156 and the model shipped then, whose per-channel
#: FULLY_CONNECTED the TFLite Micro of firmware 4.6.0-4.8.1 refuses (it loaded on 5.0.0, ram_size 101376).
BEFORE_CONTEXT = {"scripts_commit": "d471156",
                  "model_sha256": "cee653d84c834f8630d5da7b00444ad8f500b67c9d35628f5c035d02c7ab2ab6",
                  "model_on": {"5.0.0": "loads", "tflm-2024-09": "ValueError: Failed to allocate tensors"}}

#: The size aim for the default model (issue 16).
AIM_BYTES = 300_000


def markdown(results):
    """A small table of the results."""
    fws = qf.FIRMWARES
    rows = ["# The camera scripts on the real OpenMV firmware (QEMU)", "",
            "Written by `benchmarks/firmware_check.py`; the firmware is OpenMV v5.0.0 built for QEMU, once with a "
            "2026 TensorFlow Lite Micro (`5.0.0`) and once with the one firmware 4.6.0-4.8.1 ship (`tflm-2024-09`). "
            f"Model `{results['model']['path']}` ({results['model']['bytes']:,} B, sha256 "
            f"`{results['model']['sha256'][:12]}`); the bundle `tinymask export` writes holds the camera's copy "
            f"(`tinymask.tflite.camera_copy`): {results['bundle_model']['bytes']:,} B "
            f"({results['bundle_model']['names_stripped_bytes']:,} B of names and "
            f"{results['bundle_model']['zero_points_compacted_bytes']:,} B of weight zero points less, sha256 "
            f"`{results['bundle_model']['sha256'][:12]}`), the whole bundle "
            f"{results['bundle_model']['bundle_bytes']:,} B. The parity below is that copy on the firmware against "
            "the host's scores.", "",
            "| script | " + " | ".join(f"before, {fw}" for fw in fws) + " | " + " | ".join(f"now, {fw}" for fw in fws)
            + " |", "|---" * (1 + 2 * len(fws)) + "|"]
    for name, seen in results["scripts"].items():
        before = [f"`{results['before'][name][fw]}`" for fw in fws]
        now = [seen[fw] if seen[fw] == "ok" else f"`{seen[fw]}`" for fw in fws]
        rows.append(f"| {name} | " + " | ".join(before + now) + " |")
    rows += ["", f"Before: the scripts of commit {BEFORE_CONTEXT['scripts_commit']} with the model shipped then "
             f"(sha256 `{BEFORE_CONTEXT['model_sha256'][:12]}`, per-channel dense weights). Now: a traceback-free "
             "run that printed what the script prints (tests/qemu_firmware.py `EXPECTED`)."]
    rows += ["", "| firmware | model loads | `model.ram` (B) | parity with `tinymask.quantize.predict` "
             "| max score diff |",
             "|---|---|---|---|---|"]
    for fw in fws:
        p = results["parity"][fw]
        rows.append(f"| {fw} | {'yes' if p['loads'] else 'no'} | {results['ram_size'][fw]} | "
                    f"{p['identical']}/{p['n']} identical | {p['max_abs_score_diff']} |")
    parts = results["anatomy"]
    rows += ["", "Where the model file's bytes go (`tinymask.tflite.anatomy`), and what `tinymask export` removes: the "
             "tensor names and the signature definition, which the interpreter never reads (LiteRT's "
             "`flatbuffer_utils.strip_strings`), and all but one of each weight tensor's zero points (int64, 8 B a "
             "channel, all 0: TFLite Micro reads a single zero point as the value of every channel, "
             "`tensorflow/lite/micro/micro_allocator.cc`).", "",
             "| part | shipped model (B) | the bundle's copy (B) |", "|---|---|---|"]
    rows += [f"| {part} | {parts['model'][part]:,} | {parts['camera_copy'][part]:,} |" for part in parts["model"]]
    copy, whole = results["bundle_model"]["bytes"], results["bundle_model"]["bundle_bytes"]
    rows += ["", f"Aim (issue 16): the default model on the camera <= {AIM_BYTES:,} B: "
             f"{'met' if copy <= AIM_BYTES else 'missed'} ({copy:,} B); the whole bundle with `main.py` and the "
             f"labels is {whole:,} B ({'within' if whole <= AIM_BYTES else 'over'} the same figure). Scores are "
             "unchanged: the parity above is the camera's copy."]
    return "\n".join(rows) + "\n"


def main():
    reason = qf.unavailable()
    if reason:
        print(f"firmware_check: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        results = qf.evidence(Path(tmp))
    results = {"generated_by": "benchmarks/firmware_check.py", **results, "before": BEFORE,
               "before_context": BEFORE_CONTEXT}
    JSON_PATH.write_text(json.dumps(results, indent=2) + "\n")
    MD_PATH.write_text(markdown(results))
    print(MD_PATH.read_text())
    bad = [f"{name} on {fw}: {s}" for name, seen in results["scripts"].items() for fw, s in seen.items() if s != "ok"]
    bad += [f"parity on {fw}: {p}" for fw, p in results["parity"].items() if p["identical"] != p["n"]]
    for line in bad:
        print("NOT OK:", line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
