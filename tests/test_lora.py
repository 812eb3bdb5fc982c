"""LoRA fine-tuning (METHODS §10): only the adapter trains, merging reproduces the fine-tuned model, Δ and the
curve agree, bad settings are refused, the CLI runs end to end on a tiny NanoGPT, Figures 11 and 12 draw."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from test_language_eval import OPTIONS, lm_checkpoint
from test_text import DOCUMENTS, SHARD_OPTIONS, ByteTokenizer
from toponets.analysis.language import lm_loss, token_windows, windows_loss
from toponets.analysis.lora import LoraSettings, merged, run_lora, target_modules
from toponets.cli import lora as lora_cli
from toponets.data.text import TokenShards, write_token_shards
from toponets.figures import fig11, fig12
from toponets.models import build
from toponets.tables import lora_delta_table

LENGTH = 16
SETTINGS = {"rank": 2, "lr": 1e-2, "steps": 7, "batch_size": 4, "length": LENGTH, "eval_every": 3}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """Byte-token shards of about 13k train and 3k val tokens."""
    out = tmp_path_factory.mktemp("text") / "tokens"
    write_token_shards(DOCUMENTS, ByteTokenizer(), out, **SHARD_OPTIONS)
    return out


@pytest.fixture(scope="module")
def val_windows(tokens):
    return token_windows(TokenShards(tokens, "val"), 6, LENGTH + 1)


def tiny_nanogpt():
    torch.manual_seed(0)
    return build("nanogpt", **OPTIONS["nanogpt"])


@pytest.fixture(scope="module")
def tuned(tokens, val_windows):
    """A tiny NanoGPT, a copy of its weights before fine-tuning, and the LoRA model and result after it."""
    model = tiny_nanogpt()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    wrapped, result = run_lora(model, TokenShards(tokens, "train"), val_windows, LoraSettings(**SETTINGS), "cpu")
    return before, wrapped, result


def base_name(peft_name: str) -> str:
    """The base model's name of a parameter of the peft-wrapped model."""
    return peft_name.removeprefix("base_model.model.").replace(".base_layer.", ".")


def test_only_the_adapter_trains_and_base_weights_stay_bitwise_equal(tuned):
    before, wrapped, result = tuned
    params = dict(wrapped.named_parameters())
    trainable = {name for name, p in params.items() if p.requires_grad}
    assert trainable == {
        "base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight",
        "base_model.model.transformer.h.0.attn.c_attn.lora_B.default.weight",
    }
    assert result.trainable_parameters == 2 * (16 + 48)  # rank 2: A is 2 x 16, B is 48 x 2
    base = {base_name(name): p for name, p in params.items() if name not in trainable}
    assert base.keys() == before.keys()
    for name, p in base.items():
        assert torch.equal(p, before[name]), name
    assert params["base_model.model.transformer.h.0.attn.c_attn.lora_B.default.weight"].abs().max() > 0  # B starts at 0


def test_merging_reproduces_the_fine_tuned_outputs(tuned, val_windows):
    _, wrapped, _ = tuned
    x = val_windows[:, :-1]
    wrapped.eval()
    with torch.no_grad():
        tuned_logits = wrapped(x)
        original = tiny_nanogpt().eval()  # the same seed: the weights of `before`
        original_logits = original(x)
        model = merged(wrapped)
        merged_logits = model(x)
    assert type(model).__name__ == "NanoGPT" and not any("lora" in name for name, _ in model.named_parameters())
    assert (tuned_logits - original_logits).abs().max() > 1e-3  # fine-tuning changed the outputs
    torch.testing.assert_close(merged_logits, tuned_logits, atol=1e-5, rtol=0)


def test_delta_is_before_minus_after_on_the_curve(tuned, val_windows):
    _, _, result = tuned
    assert [p.step for p in result.curve] == [0, 3, 6, 7]
    assert result.val_loss_before == pytest.approx(windows_loss(tiny_nanogpt(), val_windows, 4, "cpu"), rel=1e-6)
    assert result.delta == result.curve[0].val_loss - result.curve[-1].val_loss
    assert result.delta > 0  # lr 1e-2 on byte text lowers the loss of an untrained model


def test_same_seed_same_curve(tokens, val_windows):
    train = TokenShards(tokens, "train")
    curves = [run_lora(tiny_nanogpt(), train, val_windows, LoraSettings(**{**SETTINGS, "steps": 2}), "cpu")[1].curve
              for _ in range(2)]
    assert curves[0] == curves[1]


def test_delta_table_of_hand_made_curves():
    curves = pd.DataFrame({
        "model": ["m"] * 5, "tau": [0.0, 0.0, 0.0, 1.0, 1.0], "dataset": ["code"] * 5, "rank": [2] * 5,
        "step": [10, 0, 5, 0, 10], "val_loss": [3.0, 5.0, 4.0, 6.0, 2.5],
    })
    table = lora_delta_table(curves)
    assert list(table.columns) == ["model", "tau", "dataset", "rank", "val_loss_before", "val_loss_after", "delta"]
    np.testing.assert_allclose(table.delta, [2.0, 3.5])
    with pytest.raises(ValueError, match="lacks columns \\['step'\\]"):
        lora_delta_table(curves.drop(columns="step"))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rank": 0}, "rank must be an integer >= 1"),
        ({"dropout": 1.0}, "dropout must be in \\[0, 1\\)"),
        ({"alpha": -1.0}, "alpha must be > 0"),
        ({"targets": ()}, "targets must be a non-empty list"),
    ],
)
def test_bad_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        LoraSettings(**{**SETTINGS, **change})


def test_alpha_defaults_to_twice_the_rank():
    assert LoraSettings(**{**SETTINGS, "rank": 4}).alpha == 8.0


def test_targets_must_select_linear_layers():
    model = tiny_nanogpt()
    assert target_modules(model, ("attn.c_attn", "c_proj")) == [
        "transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj",
    ]
    with pytest.raises(ValueError, match="'q_proj' matches no module.*Linear layers are attn.c_attn, attn.c_proj"):
        target_modules(model, ("q_proj",))
    with pytest.raises(ValueError, match="selects transformer.h.0.attn, a CausalSelfAttention, not a Linear"):
        target_modules(model, ("attn",))


def test_validation_windows_must_fit_the_length(tokens):
    windows = token_windows(TokenShards(tokens, "val"), 4, LENGTH)
    with pytest.raises(ValueError, match="length \\+ 1 = 17"):
        run_lora(tiny_nanogpt(), TokenShards(tokens, "train"), windows, LoraSettings(**SETTINGS), "cpu")


def cli_args(tmp_path, tokens, *extra, **settings):
    settings = {"length": LENGTH, "n_samples": 6, "lr": 0.01, "steps": 4, "eval_every": 2, "batch_size": 4, **settings}
    return [
        "--checkpoint", str(tmp_path / "lm.safetensors"), "--text", str(tokens),
        "--settings", json.dumps({"lora": settings}), "--device", "cpu", "--out", str(tmp_path / "out" / "lora.json"),
        "--curve", str(tmp_path / "out" / "curve.csv"), *extra,
    ]


def test_cli_end_to_end(tmp_path, tokens):
    model, _ = lm_checkpoint(tmp_path / "lm.safetensors")
    lora_cli.main(cli_args(tmp_path, tokens, "--adapter-dir", str(tmp_path / "out" / "adapters"), ranks=[2, 4]))
    report = json.loads((tmp_path / "out" / "lora.json").read_text())
    metrics, per_rank = report["metrics"], report["per_rank"]
    assert list(per_rank) == ["2", "4"]
    for rank in ("2", "4"):
        assert metrics[f"delta_r{rank}"] == pytest.approx(metrics["val_loss_before"] - per_rank[rank]["val_loss_after"])
    assert metrics["delta"] == pytest.approx((metrics["delta_r2"] + metrics["delta_r4"]) / 2)
    assert metrics["val_loss_before"] == pytest.approx(
        lm_loss(model, TokenShards(tokens, "val"), 6, LENGTH, 4, "cpu").val_loss, rel=1e-6)  # lm_loss's windows
    assert per_rank["2"]["settings"] == {**SETTINGS, "steps": 4, "eval_every": 2, "alpha": 4.0, "dropout": 0.0,
                                         "targets": ["attn.c_attn"], "seed": 0, "lr": 0.01}
    assert per_rank["4"]["settings"]["alpha"] == 8.0  # 2 x rank by default
    assert (report["dataset"], report["n_samples"], report["split"]) == ("tokens", 6, "val")
    assert report["analysis"] == "lora-tokens" and report["run"] == {"model": "tiny", "tau": 1.0, "seed": 0}  # #15 item 4
    curve = pd.read_csv(tmp_path / "out" / "curve.csv")
    assert list(curve.columns) == ["model", "tau", "seed", "dataset", "rank", "step", "val_loss"]
    assert curve["rank"].tolist() == [2, 2, 2, 4, 4, 4] and curve.step.tolist() == [0, 2, 4] * 2
    assert set(curve.dataset) == {"tokens"}
    first = curve[curve["rank"] == 2].val_loss
    assert first.iloc[[0, -1]].tolist() == pytest.approx([metrics["val_loss_before"], per_rank["2"]["val_loss_after"]])
    assert curve[curve["rank"] == 4].val_loss.iloc[0] == first.iloc[0]  # each rank starts from the checkpoint
    adapter = load_file(tmp_path / "out" / "adapters" / "rank2.safetensors")
    assert {k: tuple(v.shape) for k, v in adapter.items()} == {
        "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": (2, 16),
        "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight": (48, 2),
    }


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"targets": ["mlp.gelu"]}, "selects transformer.h.0.mlp.gelu, a GELU, not a Linear layer"),
        ({"dropout": 1.5}, "dropout must be in \\[0, 1\\)"),
        ({"rank": [2]}, "evaluation.lora: unknown key\\(s\\) \\['rank'\\]"),
    ],
)
def test_cli_refuses_bad_settings(tmp_path, tokens, capsys, extra, message):
    lm_checkpoint(tmp_path / "lm.safetensors")
    with pytest.raises(SystemExit) as exit_info:
        lora_cli.main(cli_args(tmp_path, tokens, **{"ranks": [2], **extra}))
    assert re.search(message, str(exit_info.value.code) + capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def lora_tables(models=("nanogpt",), ranks=(2, 8)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made curves and their deltas: 2 data sets x `ranks` x 2 taus per model, 3 evaluations each."""
    rows = [
        {"model": model, "tau": tau, "seed": 0, "dataset": dataset, "rank": rank, "step": step,
         "val_loss": 5.0 - step * (0.01 + 0.001 * tau + 0.002 * rank)}
        for model in models for tau in (0.0, 50.0) for dataset in ("shakespeare", "code") for rank in ranks
        for step in (0, 10, 20)
    ]
    curves = pd.DataFrame(rows)
    return curves, lora_delta_table(curves)


def test_figures_draw_from_hand_made_tables(tmp_path):
    curves, deltas = lora_tables()
    assert len(fig11.draw(curves).axes) == 4  # rows: data sets; columns: ranks
    assert len(fig12.draw(deltas).axes) == 2  # a panel per data set
    fig11.plot(curves, [tmp_path / "f11.png", tmp_path / "f11.pdf"])
    fig12.plot(deltas, [tmp_path / "f12.png"])
    assert all((tmp_path / name).stat().st_size > 0 for name in ("f11.png", "f11.pdf", "f12.png"))


def test_figures_split_panels_by_model_and_refuse_missing_columns():
    curves, deltas = lora_tables(models=("nanogpt", "nanogpt_124m"), ranks=(4,))
    titles = {ax.get_title() for ax in fig11.draw(curves).axes}
    assert any("nanogpt_124m · rank 4" in title for title in titles)
    assert len(fig12.draw(deltas).axes) == 4  # a row of panels per model
    with pytest.raises(ValueError, match="lacks columns \\['delta'\\]"):
        fig12.draw(deltas.drop(columns="delta"))
    with pytest.raises(ValueError, match="lacks columns \\['rank'\\]"):
        fig11.draw(curves.drop(columns="rank"))
