"""The figures of a ``tinymask run``: the :class:`Report` it returns, ``report.md`` and the worst subgroup gap
(introduced with :func:`tinymask.pipeline.run`, notebooks/05_int8_quantization.ipynb and README).

:mod:`tinymask.pipeline` trains, converts and measures; it re-exports these names (``pipeline.Report`` is
``report.Report``).
"""

import dataclasses
from pathlib import Path

from . import train

__all__ = [
    "SUBGROUP_ATTRIBUTES",
    "subgroup_gap",
    "report_markdown",
    "Report",
]

#: The test-image attributes whose worst subgroup gap ``tinymask run`` reports (the synthetic data has them).
SUBGROUP_ATTRIBUTES = ("skin_tone", "lighting", "background", "occluder")


def subgroup_gap(test_batch, predicted):
    """The largest best-minus-worst subgroup accuracy over :data:`SUBGROUP_ATTRIBUTES`, or None without them
    (the ``subgroup_gap`` figure of :func:`tinymask.pipeline.run`)."""
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


def report_markdown(figures):
    """``report.md``: the figures of a :func:`tinymask.pipeline.run` (what ``report.json`` holds) as a Markdown
    table."""
    r = figures
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


@dataclasses.dataclass(frozen=True, eq=False)
class Report:
    """What :func:`tinymask.pipeline.run` made: the folder it wrote, its figures (``report.json``), the Keras model,
    the int8 bytes and their fit on the board (a :class:`tinymask.footprint.BoardFit`)."""

    out: Path
    figures: dict
    model: object
    tflite: bytes
    fit: object

    @property
    def fits(self):
        """Whether the model fits the board (no bundle is written when it does not)."""
        return bool(self.fit.fits)
