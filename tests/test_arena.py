"""tinymask.arena without a model: the greedy planner on hand-worked lifetimes, the parsing of TFLite Micro's
print_allocations() text, and the one arena figure (chapter 6). The measured arena is in test_footprint.py, beside
the trained models."""

import pytest

from tinymask import arena
from tinymask.errors import ToolError


def test_plan_arena_on_hand_worked_lifetimes():
    span = arena.TensorLifetime
    a = span(1, "a", "int8", (100,), 100, 0, 1)
    b = span(2, "b", "int8", (50,), 50, 1, 2)
    c = span(3, "c", "int8", (100,), 100, 2, 3)
    placed = {s.name: offset for s, offset in arena.plan_arena([a, b, c])}
    # c first (largest, later tensor on a tie) at 0; a never meets c, so 0 too; b meets both: after them, aligned.
    assert placed == {"c": 0, "a": 0, "b": 112}
    assert {s.name: o for s, o in arena.plan_arena([a, b, c], alignment=1)}["b"] == 100


def test_print_allocations_text_is_parsed():
    text = (
        "[RecordingMicroAllocator] Arena allocation total 41888 bytes\n"
        "[RecordingMicroAllocator] Arena allocation head 36000 bytes\n"
        "[RecordingMicroAllocator] Arena allocation tail 5888 bytes\n"
        "[RecordingMicroAllocator] 'TfLiteEvalTensor data' used 648 bytes with alignment overhead "
        "(requested 648 bytes for 27 allocations)\n"
    )
    usage = arena._parse_allocations(text)
    assert (usage.total, usage.head, usage.tail) == (41888, 36000, 5888)
    assert usage.parts == {"TfLiteEvalTensor data": 648}
    with pytest.raises(ToolError, match="Arena allocation total"):
        arena._parse_allocations("nothing useful")


def test_an_arena_figure_says_where_it_comes_from():
    measured = arena.ArenaFigure(103_888, arena.MEASURED)
    planned = arena.ArenaFigure(73_728, arena.PLANNED, arena.NO_TFLM_NOTE)
    assert measured.measured and not planned.measured
    assert str(measured) == "103,888 B (measured by TFLite Micro (host build))"
    assert str(planned) == f"73,728 B (planned (greedy estimate); {arena.NO_TFLM_NOTE})"
    with pytest.raises(AttributeError):
        measured.bytes = 0  # frozen: a figure is a record, not a running total
