"""The table of figures that the workflow draws: a row for every figure of the figure CLI, with its caption."""

from conftest import REPO
from toponets.cli.figure import FIGURES as CLI_FIGURES
from toponets.figure_table import FIGURES


def test_every_figure_of_the_cli_has_one_row_named_after_it_with_a_caption():
    assert set(FIGURES) == set(CLI_FIGURES)
    for name, figure in FIGURES.items():
        assert figure.stem.startswith(f"{name}_") and figure.tables
        assert (REPO / "report" / "captions" / f"{figure.stem}.rst").is_file()
    assert len({figure.stem for figure in FIGURES.values()}) == len(FIGURES)
