"""The language training loop on tiny NanoGPT and GPT-Neo models: learning,
TopoLoss, optimizer groups, the lr schedule, exact resume, the NaN guard and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from toponets.checkpoints import load_checkpoint, read_meta
from toponets.cli.train_language import main as cli_main
from toponets.models import build
from toponets.topoloss import TopoLoss
from toponets.train import language
from toponets.train.common import NonFiniteLossError, read_metrics
from toponets.train.language import lr_at, param_groups, resolve_spec, total_steps, train_language

OPTIONS = {
    "nanogpt": {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16, "vocab_size": 64},
    "gpt_neo": {
        "vocab_size": 64,
        "max_position_embeddings": 16,
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "window_size": 8,
    },
}


class Tokens:
    """A stand-in for `TokenShards` over an in-memory token array."""

    def __init__(self, tokens: np.ndarray):
        self.tokens = torch.from_numpy(tokens.astype(np.int64))

    def __len__(self) -> int:
        return len(self.tokens)

    def batch(self, batch_size: int, block_size: int, generator: torch.Generator):
        starts = torch.randint(len(self.tokens) - block_size, (batch_size,), generator=generator)
        windows = self.tokens[starts[:, None] + torch.arange(block_size + 1)]
        return windows[:, :-1], windows[:, 1:]


def repetitive_data() -> dict[str, Tokens]:
    """A 20-token cycle repeated: each token determines the next."""
    cycle = np.random.default_rng(0).permutation(64)[:20]
    return {"train": Tokens(np.tile(cycle, 100)), "val": Tokens(np.tile(cycle, 10))}


def tiny_spec(family: str = "nanogpt", tau: float = 1.0, **recipe) -> dict:
    base = {
        "max_steps": 12,
        "batch_size": 4,
        "block_size": 16,
        "grad_accum": 2,
        "lr": 3e-3,
        "warmup_steps": 2,
        "eval_every": 6,
        "eval_batches": 2,
        "checkpoint_every": 3,
        "log_every": 1,
    }
    return {"family": family, "options": OPTIONS[family], "tau": tau, "seed": 0, "recipe": {**base, **recipe}}


def run(tmp_path, spec, name="run", **kwargs):
    paths = {k: tmp_path / f"{name}.{k}" for k in ("safetensors", "jsonl", "pt")}
    last = train_language(
        spec, None, paths["safetensors"], paths["jsonl"], paths["pt"], "cpu", data=repetitive_data(), **kwargs
    )
    return last, paths


@pytest.mark.parametrize("family", ["nanogpt", "gpt_neo"])
def test_loss_falls_and_outputs_are_written(tmp_path, family):
    last, paths = run(tmp_path, tiny_spec(family, max_steps=30, eval_every=10))
    records = read_metrics(paths["jsonl"])
    assert [r["step"] for r in records] == list(range(1, 31))
    assert {"step", "tokens", "loss", "ce", "topo", "grad_norm", "lr", "tok_s"} <= records[0].keys()
    assert records[0]["ce"] == pytest.approx(math.log(64), abs=0.3)
    assert np.mean([r["ce"] for r in records[-3:]]) < records[0]["ce"] - 1.5
    assert [r["step"] for r in records if "val_loss" in r] == [10, 20, 30]
    assert last["val_loss"] < math.log(64) - 1.5 and last["tokens"] == 30 * 4 * 16 * 2
    assert not paths["pt"].exists()
    _, meta = load_checkpoint(paths["safetensors"])
    assert meta["step"] == 30 and meta["topo"]["layers"] == [f"transformer.h.{i}.mlp.c_fc" for i in range(2)]
    assert meta["config"]["recipe"]["betas"] == [0.9, 0.95]  # the resolved spec, defaults included


def test_tau_lowers_topo_and_tau_zero_still_logs_it(tmp_path):
    _, plain = run(tmp_path, tiny_spec(tau=0.0), name="plain")
    _, topo = run(tmp_path, tiny_spec(tau=10.0), name="topo")
    plain, topo = read_metrics(plain["jsonl"]), read_metrics(topo["jsonl"])
    assert all(0 < r["topo"] < 2 and r["loss"] == r["ce"] for r in plain)
    assert plain[0]["topo"] == topo[0]["topo"]  # same initial weights
    assert topo[-1]["topo"] < 0.5 * plain[-1]["topo"]


@pytest.mark.parametrize("family", ["nanogpt", "gpt_neo"])
def test_resume_equals_uninterrupted(tmp_path, family):
    spec = tiny_spec(family, max_steps=8)  # state saved at steps 3 and 6, validation at 6 and 8
    run(tmp_path, spec, name="whole")

    def kill_at_5(record):
        if record["step"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, spec, name="parts", on_step=kill_at_5)
    assert (tmp_path / "parts.pt").exists()
    assert [r["step"] for r in read_metrics(tmp_path / "parts.jsonl")] == [1, 2, 3, 4, 5]
    rerun = {**spec, "recipe": {**spec["recipe"], "checkpoint_every": 5}}  # runtime keys may change
    run(tmp_path, rerun, name="parts")  # resumes at step 3

    whole, parts = load_file(tmp_path / "whole.safetensors"), load_file(tmp_path / "parts.safetensors")
    assert whole.keys() == parts.keys()
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    logged = [read_metrics(tmp_path / f"{name}.jsonl") for name in ("whole", "parts")]
    drop_time = [[{k: v for k, v in r.items() if k != "tok_s"} for r in log] for log in logged]
    assert [r["step"] for r in drop_time[1]] == list(range(1, 9))
    assert drop_time[0] == drop_time[1]


def test_state_from_another_config_is_set_aside(tmp_path):
    """A rerun with another config starts afresh and keeps the old state aside (never mixes the two runs)."""
    def kill_at_3(record):
        if record["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, tiny_spec(), on_step=kill_at_3)
    run(tmp_path, tiny_spec(lr=1e-3))
    assert len(list(tmp_path.glob("*.config-*"))) == 1


def test_nan_guard_names_the_step(tmp_path, monkeypatch):
    class Poisoned(TopoLoss):
        calls = 0

        def __call__(self):
            Poisoned.calls += 1
            value = super().__call__()
            return value * float("nan") if Poisoned.calls == 3 else value

    monkeypatch.setattr(language, "TopoLoss", Poisoned)
    with pytest.raises(NonFiniteLossError, match=r"at step 3 .*step 2: \d"):
        run(tmp_path, tiny_spec())


def test_lr_schedule_warms_up_then_decays_by_cosine():
    recipe = resolve_spec({"family": "nanogpt", "tau": 0})["recipe"]  # 10B tokens, 715 warm-up steps
    assert total_steps(recipe) == 19073
    assert lr_at(0, recipe) == pytest.approx(6e-4 / 715)
    assert lr_at(714, recipe) == pytest.approx(6e-4)
    assert lr_at(715, recipe) == pytest.approx(6e-4)
    assert lr_at((715 + 19073) // 2, recipe) == pytest.approx(3.3e-4)  # halfway: (peak + min) / 2
    assert lr_at(19073, recipe) == pytest.approx(6e-5)
    short = {**recipe, "max_steps": 10, "warmup_steps": 0}
    assert [lr_at(s, short) for s in (0, 5, 10)] == pytest.approx([6e-4, 3.3e-4, 6e-5])


@pytest.mark.parametrize("family", ["nanogpt", "gpt_neo"])
def test_weight_decay_only_on_matrices(family):
    model = build(family, **OPTIONS[family])
    no_decay, decay = param_groups(model, 0.1)
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    assert no_decay["params"] and all(p.dim() == 1 for p in no_decay["params"])
    assert all(p.dim() >= 2 for p in decay["params"])
    ids = [id(p) for group in (no_decay, decay) for p in group["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))  # tied weights once


def test_spec_errors():
    with pytest.raises(ValueError, match="did you mean 'warmup_steps'"):
        resolve_spec({"family": "nanogpt", "tau": 0, "recipe": {"warmup_step": 10}})
    with pytest.raises(ValueError, match=r"trains \[.gpt_neo., .nanogpt.\], not family"):
        resolve_spec({"family": "resnet18", "tau": 0})
    with pytest.raises(ValueError, match="no training steps"):
        resolve_spec({"family": "nanogpt", "tau": 0, "recipe": {"train_tokens": 1000}})


def test_cli_with_spec_file(tmp_path, monkeypatch):
    monkeypatch.setattr(language, "open_data", lambda data_dir, with_val: repetitive_data())
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(tiny_spec(max_steps=2)))
    out = tmp_path / "ckpt.safetensors"
    args = ["--spec", str(spec_file), "--data", str(tmp_path), "--out", str(out), "--device", "cpu"]
    cli_main([*args, "--metrics", str(tmp_path / "m.jsonl"), "--state", str(tmp_path / "s.pt")])
    assert read_meta(out)["step"] == 2
