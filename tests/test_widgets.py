"""The budget explorer redraws with the right verdict when a control changes."""

import matplotlib

matplotlib.use("Agg")

import tinymask as tm


def test_budget_explorer_reports_the_chosen_configuration(capsys):
    box = tm.widgets.budget_explorer(size=96, channels=3, dtype="int8", board_key="openmv-h7")
    assert "27,648 B of 273,408 B arena heap block on OpenMV Cam H7" in capsys.readouterr().out
    size_slider = box.children[0].children[0]
    dtype_menu, board_menu = box.children[1].children
    dtype_menu.value = "float32"
    size_slider.value = 224
    out = capsys.readouterr().out
    assert "602,112 B of 273,408 B" in out and "does NOT fit" in out
    board_menu.value = "openmv-h7-plus"
    assert "602,112 B of 4,194,304 B arena heap block on OpenMV Cam H7 Plus" in capsys.readouterr().out
