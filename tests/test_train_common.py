"""Shared training pieces: device choice, RNG round trip, state files, NaN guard, metrics log."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from toponets.device import select_device

from toponets.train.common import (
    LossGuard,
    MetricsLog,
    logged_run,
    NonFiniteLossError,
    as_floats,
    load_state,
    restore,
    set_aside_path,
    read_metrics,
    rng_state,
    save_state,
    seed_everything,
    set_rng_state,
    sync_step,
)


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_rng_state_round_trip():
    seed_everything(3)
    state = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def _setup():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, torch.amp.GradScaler("cpu", enabled=False)


def test_state_round_trip_is_weights_only(tmp_path):
    model, optimizer, scaler = _setup()
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    path = tmp_path / "state.pt"
    save_state(path, model=model, optimizer=optimizer, scaler=scaler, step=7, config={"a": 1})
    torch.load(path, weights_only=True)  # no pickled code
    expected = rng_state()["torch"]
    torch.rand(10)

    fresh, fresh_opt, fresh_scaler = _setup()
    step = load_state(path, model=fresh, optimizer=fresh_opt, scaler=fresh_scaler, config={"a": 1})
    assert step == 7
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    momentum = optimizer.state[model[0].weight]["momentum_buffer"]
    assert torch.equal(fresh_opt.state_dict()["state"][0]["momentum_buffer"], momentum)
    assert torch.equal(torch.get_rng_state(), expected)
    with pytest.raises(RuntimeError, match="different config"):
        load_state(path, model=fresh, optimizer=fresh_opt, scaler=fresh_scaler, config={"a": 2})


def test_unreadable_state_says_what_to_do(tmp_path):
    path = tmp_path / "state.pt"
    path.write_bytes(b"not a state")
    model, optimizer, scaler = _setup()
    with pytest.raises(RuntimeError, match="delete it"):
        load_state(path, model=model, optimizer=optimizer, scaler=scaler, config={})


def test_loss_guard():
    guard = LossGuard(keep=2)
    for step, loss in enumerate([3.0, 2.5, 2.0], start=1):
        guard.check(step, loss, ce=loss)
    with pytest.raises(NonFiniteLossError, match=r"nan at step 4 \(ce=nan, topo=0.5\).*step 2: 2.5, step 3: 2"):
        guard.check(4, float("nan"), ce=float("nan"), topo=0.5)


def test_loss_guard_names_the_first_non_finite_step_between_checks():
    guard = LossGuard()
    guard.watch(1, torch.tensor(3.0))
    guard.check(1, 3.0)
    for step, loss in enumerate([float("inf"), float("nan"), 2.0], start=2):
        guard.watch(step, torch.tensor(loss))  # kept on the loss's device: no host sync
    with pytest.raises(NonFiniteLossError, match=r"non-finite at step 2 \(at step 4, the next check: loss 2.0, ce=2"):
        guard.check(4, 2.0, ce=2.0)


def test_as_floats_and_sync_steps():
    assert as_floats({"a": torch.tensor(0.5), "b": torch.tensor(2, dtype=torch.int64), "c": 1.5}) == {
        "a": 0.5, "b": 2.0, "c": 1.5}
    recipe = {"log_every": 4, "checkpoint_every": 6}
    assert [s for s in range(1, 14) if sync_step(s, 13, recipe)] == [4, 6, 8, 12, 13]


def test_metrics_log_resume_drops_later_steps(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        for step in range(1, 7):
            log.write({"step": step})
    with path.open("a") as f:
        f.write('{"step": 7, "lo')  # torn by a kill
    with MetricsLog(path, resume_step=4) as log:
        for step in range(5, 9):
            log.write({"step": step})
    assert [r["step"] for r in read_metrics(path)] == list(range(1, 9))
    with MetricsLog(path):  # a fresh start empties the log
        pass
    assert read_metrics(path) == []


def test_metrics_log_records_its_run(tmp_path):
    """#15 item 4, "Run identity travels with the data": each record of a workflow run's log names the run
    (the training table reads it there); the caller's record is left as it was."""
    spec = {"name": "nano", "family": "nanogpt", "tau": 5, "seed": 1}
    run = logged_run(spec)
    assert run == {"model": "nano", "tau": 5.0, "seed": 1} and logged_run({"family": "nanogpt", "tau": 1.0}) is None
    record = {"step": 1, "loss": 2.0}
    with MetricsLog(tmp_path / "m.jsonl", run=run) as log:
        log.write(record)
    assert record == {"step": 1, "loss": 2.0}
    assert read_metrics(tmp_path / "m.jsonl") == [{"step": 1, "loss": 2.0, "run": run}]


def test_restore_resumes_a_state_of_the_same_config(tmp_path, capsys):
    model, optimizer, scaler = _setup()
    path = tmp_path / "state.pt"
    spec = {"tau": 1.0, "recipe": {"lr": 0.1, "log_every": 1}}
    save_state(path, model=model, optimizer=optimizer, scaler=scaler, step=4, config={"tau": 1.0, "recipe": {"lr": 0.1}})
    fresh, fresh_opt, fresh_scaler = _setup()
    # log_every is a runtime key: it may differ on resume
    _, step = restore(path, spec, ["log_every"], model=fresh, optimizer=fresh_opt, scaler=fresh_scaler)
    assert step == 4 and path.exists()
    assert f"resuming from {path} after step 4" in capsys.readouterr().err


def test_restore_moves_a_state_of_another_config_aside_and_starts_afresh(tmp_path, capsys):
    """After a NaN loss the user lowers the learning rate: the rerun starts afresh by itself, keeping the old
    state under a name made from its config, and never mixes the two runs."""
    model, optimizer, scaler = _setup()
    path = tmp_path / "state.pt"
    old = {"tau": 1.0, "recipe": {"lr": 0.1}}
    save_state(path, model=model, optimizer=optimizer, scaler=scaler, step=4, config=old)
    written = path.read_bytes()
    fresh, fresh_opt, fresh_scaler = _setup()
    before = [p.clone() for p in fresh.parameters()]

    # another process of a multi-GPU job leaves the file to the main one
    _, step = restore(path, {"tau": 1.0, "recipe": {"lr": 0.01}}, [], main=False, model=fresh, optimizer=fresh_opt,
                      scaler=fresh_scaler)
    assert step is None and path.exists()

    _, step = restore(path, {"tau": 1.0, "recipe": {"lr": 0.01}}, [], model=fresh, optimizer=fresh_opt,
                      scaler=fresh_scaler)
    assert step is None and not path.exists()
    kept = set_aside_path(path, json.dumps(old, sort_keys=True))
    assert kept.parent == tmp_path and kept.name.startswith("state.config-") and kept.read_bytes() == written
    assert all(torch.equal(a, b) for a, b in zip(before, fresh.parameters()))  # nothing of the old run loaded
    err = capsys.readouterr().err
    assert f"written with another config; moved it aside to {kept}" in err and "started this run afresh" in err
