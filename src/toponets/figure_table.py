"""The paper's figures the workflow draws: one row each, read by rules/figures.smk (one job per row) and the tests.

A row names the figure as `python -m toponets.cli.figure` does (its `FIGURES` says which module draws it and
`WITH_PUBLISHED` which figures also read the prior models), the figure's output stem
(results/figures/<stem>.<format>, caption report/captions/<stem>.rst), the tidy tables it reads
(results/tables/<table>.csv) and which experiments it draws (`--models`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    stem: str
    tables: tuple[str, ...]
    # --models: None (every experiment of the tables), "vision_pool" (section 3.2's pool), "selectivity" (the
    # first experiment whose selectivity is mapped) or a language family (its experiments)
    models: str | None = None


FIGURES = {
    "fig2a": Figure("fig2a_topography_vs_accuracy", ("vision_metrics",)),
    "fig2b": Figure("fig2b_topography_vs_blimp", ("language_metrics",)),
    "fig3": Figure("fig3_dimensionality", ("vision_metrics",), models="vision_pool"),
    "fig4a": Figure("fig4a_pruning", ("pruning_curves",)),
    "fig4b": Figure("fig4b_downsampling_gpt_neo", ("downsampling_curves",), models="gpt_neo"),
    "fig5a": Figure("fig5a_selectivity_maps", ("selectivity_maps", "selectivity_ssim"), models="selectivity"),
    "fig5b": Figure("fig5b_integration_windows", ("integration_window_units",)),
    "fig6": Figure("fig6_tokens_vs_blimp", ("training", "language_metrics"), models="nanogpt"),
    "fig7": Figure("fig7_correlation_vs_distance", ("smoothness_curves",)),
    "fig8": Figure("fig8_integration_windows_all_layers", ("integration_window_units",)),
    "fig9": Figure("fig9_dimensionality_vs_perplexity", ("language_metrics",)),
    "fig10": Figure("fig10_downsampling_nanogpt", ("downsampling_curves",), models="nanogpt"),
    "fig11": Figure("fig11_lora_curves", ("lora_curves",)),
    "fig12": Figure("fig12_lora_deltas", ("lora_deltas",)),
}
