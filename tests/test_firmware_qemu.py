"""The camera scripts, the exported bundle and the shipped model on the real OpenMV firmware built for QEMU.

Needs ../shared/openmv-qemu, qemu-system-arm and mpremote (else the whole file is skipped with one line). Each
firmware build boots once and runs every script for a few frames (tests/qemu_firmware.py), about 30 s a build.
"""

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_firmware as qf  # noqa: E402

REASON = qf.unavailable()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

NAMES = qf.SCRIPTS + ("main.py",)
RESULTS = qf.ROOT / "benchmarks" / "firmware_results.json"


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    """{firmware: {"runs": {name: Run}, "parity": {...}, "facts": {...}}}: one boot per firmware build."""
    bundle, _, images = qf.prepare_rom(tmp_path_factory.mktemp("firmware"))
    seen = {}
    for fw in qf.FIRMWARES:
        runs = qf.firmware_runs(bundle, images, fw)
        seen[fw] = {"runs": runs, "parity": qf.parity(bundle, images, runs["parity"]),
                    "facts": qf.parse_facts(runs["facts"].output), "bundle": bundle}
    return seen


@pytest.mark.parametrize("fw", qf.FIRMWARES)
@pytest.mark.parametrize("name", NAMES)
def test_script_runs_on_the_firmware_and_prints_its_lines(firmware, fw, name):
    run = firmware[fw]["runs"][name]
    assert run.error is None, f"{name} on firmware {fw} raised:\n{run.output[-2000:]}"
    problem = qf.check_output(run)
    assert problem is None, problem


@pytest.mark.parametrize("fw", qf.FIRMWARES)
def test_benchmark_line_parses_and_names_the_firmware(firmware, fw):
    from tinymask import deploy

    line = firmware[fw]["runs"]["benchmark_fps.py"].lines("TINYMASK_BENCH")[0]
    result = deploy.parse_benchmark_line(line)
    assert result.firmware == "5.0.0" and result.runs == 5 and result.size == (96, 96, 3)


@pytest.mark.parametrize("fw", qf.FIRMWARES)
def test_main_py_reads_the_bundle_labels(firmware, fw):
    out = firmware[fw]["runs"]["main.py"].output
    assert "labels ('mask', 'no_mask')" in out
    classes = {re.search(r"class=(\S+)", line).group(1) for line in out.splitlines() if line.startswith("label=")}
    assert classes <= {"mask", "no_mask"}


@pytest.mark.parametrize("fw", qf.FIRMWARES)
def test_collect_dataset_finds_the_card_or_says_there_is_none(firmware, fw):
    runs = firmware[fw]["runs"]
    mount = qf.SD_MOUNT[fw]
    assert f"saving to {mount}/tinymask_dataset/mask from 0" in runs["collect_dataset.py"].output
    error = runs["collect_dataset.py (no card)"].error
    assert error and error.startswith("OSError: no SD card (none of /sdcard, /sd, / is a writable card)"), error


@pytest.mark.parametrize("fw", qf.FIRMWARES)
def test_shipped_model_loads(firmware, fw):
    result = firmware[fw]["parity"]
    assert result["loads"], f"the shipped model does not load on firmware {fw}: {result['error']}"
    assert "ram_size: %d" % result["ram"] in firmware[fw]["runs"]["parity"].output


@pytest.mark.parametrize("fw", qf.FIRMWARES)
def test_firmware_predicts_exactly_what_the_host_predicts(firmware, fw):
    result = firmware[fw]["parity"]
    assert result["compared"] == result["n"] == 48, result
    assert result["pixels_match"], "the RGB565 samples do not read back as the host's pixels (byte order?)"
    assert result["output_quantization"] == result["host_output_quantization"]
    assert result["distinct_scores"] > 1, "every sample got the same scores: the comparison would prove nothing"
    assert result["identical"] == result["n"], f"firmware {fw} differs from tinymask.quantize.predict: {result}"


@pytest.mark.parametrize("fw", qf.FIRMWARES)
def test_firmware_has_the_differences_the_scripts_work_around(firmware, fw):
    facts = firmware[fw]["facts"]
    assert facts["omv.version_major"] == "int"  # not a function
    assert facts["csi.CSI"] == "ok"
    assert facts["draw_string((x,y),text)"] == "ok" and facts["draw_string(x,y,text)"] == "TypeError"
    assert facts["draw_rectangle((x,y,w,h))"] == "ok"
    assert facts["find_features(scale_factor=)"] == "TypeError" and facts["find_features(scale=)"] == "ok"
    assert facts["ml.Model(load_to_fb=True)"] == "ok"  # 5.0's ml.Model ignores the keyword
    for script in ("classify.py", "face_mask.py"):
        assert int(facts[f"draw_text[{script}]"]) > 0, f"{script}'s draw_text() drew nothing"


def test_committed_evidence_is_what_the_firmware_says(firmware):
    """benchmarks/firmware_results.json (read by chapter 7) still tells the truth: re-run, compare."""
    committed = json.loads(RESULTS.read_text())
    assert committed["model"]["sha256"] == qf.sha256(qf.MODEL.read_bytes()), (
        "the shipped model changed: run .venv/bin/python benchmarks/firmware_check.py and commit its results")
    assert committed["firmware"] == qf.firmware_info(), "the firmware changed: rerun benchmarks/firmware_check.py"
    bundle = next(iter(firmware.values()))["bundle"]
    assert committed["bundle_model"] == qf.bundle_model_info(bundle), "the exported model changed: rerun it"
    assert committed["anatomy"] == qf.anatomy(bundle), "the model's anatomy changed: rerun firmware_check.py"
    for fw in qf.FIRMWARES:
        seen = firmware[fw]
        assert committed["ram_size"][fw] == seen["parity"]["ram"], fw
        assert committed["parity"][fw] == qf.parity_summary(seen["parity"]), fw
        for name in NAMES:
            assert committed["scripts"][name][fw] == qf.status(seen["runs"][name]), (name, fw)
        assert committed["facts"][fw] == seen["facts"], fw
