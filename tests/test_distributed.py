"""Data-parallel training on the CPU: 2 gloo processes, started by torch.multiprocessing with the
environment torchrun sets, train like one process with the same global batch: the language loop (CLI
included; exact resume after a kill; a grad_accum that does not split over the processes is refused) and
the vision loop (a ViT with EMA exactly; a ResNet up to its per-rank BatchNorm; a batch_size that does not
split is refused)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from test_train_language import repetitive_data, run, tiny_spec
from test_train_vision import tiny_vit_spec, write_images
from test_train_vision import run as run_vision
from test_train_vision import tiny_spec as tiny_resnet_spec
from torch import nn

from toponets.checkpoints import load_checkpoint
from toponets.cli.train_language import main as cli_main
from toponets.data.images import FolderLoader
from toponets.train import distributed, vision
from toponets.train.common import read_metrics

WORLD = 2
CHILD_ENV = {"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}


def write_shards(directory, data) -> None:
    """`data`'s token arrays as one uint16 shard per split with the meta.json of `TokenShards`."""
    directory.mkdir()
    shards = {}
    for split, tokens in data.items():
        tokens.tokens.numpy().astype("<u2").tofile(directory / f"{split}_000.bin")
        shards[split] = [{"file": f"{split}_000.bin", "tokens": len(tokens)}]
    (directory / "meta.json").write_text(json.dumps({"shards": shards}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_same_training(one, two, rel: float) -> float:
    """Assert two metrics logs agree on every logged number but the speed, within `rel`; return the
    largest relative difference of the losses."""
    assert [r["step"] for r in one] == [r["step"] for r in two]
    worst = 0.0
    for a, b in zip(one, two, strict=True):
        assert a.keys() == b.keys()
        for key in a.keys() - {"tok_s", "img_s"}:
            assert b[key] == pytest.approx(a[key], rel=rel), (a["step"], key)
        worst = max(worst, abs(b["loss"] - a["loss"]) / abs(a["loss"]))
    return worst


def test_single_process_context_changes_nothing(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = distributed.init("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.device) == (0, 1, True, torch.device("cpu"))
    model = nn.Linear(2, 2)
    assert distributed.wrap(model, ctx) is model
    assert distributed.total(torch.tensor(2.5), ctx) == distributed.total(2.5, ctx) == 2.5
    value = torch.tensor(1.5, requires_grad=True)
    assert distributed.device_means({"v": value}, ctx)["v"] is not value  # detached, still a tensor
    with distributed.no_sync(model), distributed.main_only(ctx, contextlib.nullcontext, "made") as made:
        assert made == "made"
    with distributed.main_only(distributed.Context(rank=1, world_size=2), contextlib.nullcontext, "made") as made:
        assert made is None
    distributed.close(ctx)


def test_shards_take_every_item_once_in_order():
    ranks = [distributed.Context(rank=r, world_size=3) for r in range(3)]
    assert [list(distributed.shard(7, ctx)) for ctx in ranks] == [[0, 3, 6], [1, 4], [2, 5]]
    assert list(distributed.even_shard(6, ranks[1], "recipe grad_accum")) == [1, 4]
    with pytest.raises(ValueError, match="recipe grad_accum 4 does not split evenly over the 3 processes"):
        distributed.even_shard(4, ranks[0], "recipe grad_accum")


def test_folder_loader_shards_each_global_batch_and_the_validation_set(tmp_path):
    """Rank r takes slice r of each global batch (the rest of the epoch dropped) and skips by its own
    batches; in evaluation every WORLD-th image. 32 images, 3 copies each (repeated augmentation)."""
    root = write_images(tmp_path)
    loaders = [FolderLoader(root, 5, train=True, res=8, seed=1, repeats=3, rank=r, world_size=WORLD) for r in (0, 1)]
    for loader in loaders:
        loader.set_epoch(2)
    order, shards = loaders[0].order(), [loader.shard() for loader in loaders]
    assert len(loaders[0]) == 3 and all(len(shard) == 15 for shard in shards)
    for step in range(3):
        batches = [shard[5 * step : 5 * step + 5] for shard in shards]
        assert batches[0] + batches[1] == order[10 * step : 10 * step + 10]
    evaluation = [FolderLoader(root, 5, train=False, res=8, rank=r, world_size=WORLD) for r in (0, 1)]
    assert [len(loader) for loader in evaluation] == [4, 4]
    assert sorted(evaluation[0].shard() + evaluation[1].shard()) == evaluation[0].order()
    loaders[1].skip(2)
    assert [labels.tolist() for _, labels in loaders[1]] == [[int(index >= 16) for index, _ in shards[1][10:]]]
    with pytest.raises(ValueError, match="rank 2 is not one of the 2 processes"):
        FolderLoader(root, 5, train=True, res=8, rank=2, world_size=WORLD)


def test_ffcv_loaders_get_the_rank_share_and_shard_themselves(monkeypatch):
    """ffcv cannot run here on several processes: check what the loop passes it."""
    from toponets.data import ffcv_data

    made = {}
    for name in ("FfcvTrainLoader", "FfcvValLoader"):
        monkeypatch.setattr(ffcv_data, name, lambda path, _name=name, **kwargs: made.setdefault(_name, kwargs))
    recipe = {**vision.resolve_spec({"family": "resnet50", "tau": 0})["recipe"], "backend": "ffcv"}
    ctx = distributed.Context(rank=1, world_size=8)
    vision.make_loaders(recipe, "train.beton", "val.beton", 0, torch.device("cpu"), 1000, ctx)
    assert made["FfcvTrainLoader"]["batch_size"] == 512 and made["FfcvValLoader"]["batch_size"] == 512
    assert made["FfcvTrainLoader"]["distributed"] and made["FfcvValLoader"]["distributed"]


def vision_specs() -> dict[str, dict]:
    """The vision runs of `_worker`: a ViT with EMA, repeated augmentation and AutoAugment (each sample
    seeded alone) but no mixing; the same with MixUp and CutMix; a ResNet-18 at lr 0, whose step on WORLD
    ranks is the mean of WORLD one-process half-batch steps (BatchNorm normalises each rank's share);
    a batch that does not split."""
    vit = tiny_vit_spec(mixup_alpha=0.0, cutmix_alpha=0.0, val_every=1)
    resnet = {**tiny_resnet_spec(lr=0.0, checkpoint_every=0), "factor": 2.0}
    resnet["options"]["width_multiplier"] = 0.125
    uneven = tiny_resnet_spec(epochs=1, batch_size=7)
    return {"vit": vit, "mixed": tiny_vit_spec(), "resnet": resnet, "uneven": uneven}


# The runs of `_worker`, each a separate process group of WORLD ranks.
SPECS = {
    "cli": tiny_spec(max_steps=6, eval_every=3, grad_accum=WORLD),  # 1 micro-batch a rank
    "whole": tiny_spec(max_steps=8, grad_accum=2 * WORLD),  # 2 a rank: no_sync on the first; states at 3 and 6
    "neo": tiny_spec("gpt_neo", max_steps=3, eval_every=0, grad_accum=WORLD),
    "uneven": tiny_spec(grad_accum=3),
}
VISION = vision_specs()


def cli_args(spec: dict, shards, out_dir, name: str) -> list[str]:
    """Arguments of `toponets.cli.train_language` writing `name`.* under `out_dir`."""
    args = ["--spec", json.dumps(spec), "--data", str(shards), "--device", "cpu"]
    for flag, ext in (("--out", "safetensors"), ("--metrics", "jsonl"), ("--state", "pt")):
        args += [flag, str(out_dir / f"{name}.{ext}")]
    return args


def _worker(rank: int, ports: list[int], tmp_path) -> None:
    """Rank `rank` of WORLD, with the environment torchrun gives: the CLI run, an uninterrupted run,
    the same killed after step 5 and resumed, a GPT-Neo run and a grad_accum the ranks cannot share;
    then the vision runs of `VISION`."""
    os.environ.update(CHILD_ENV, WORLD_SIZE=str(WORLD), RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)

    def new_group() -> None:
        os.environ["MASTER_PORT"] = str(ports.pop())

    def kill_at_5(record):
        if record["step"] == 5:
            raise KeyboardInterrupt

    new_group()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        cli_main(cli_args(SPECS["cli"], tmp_path / "shards", tmp_path, "cli"))
    (tmp_path / f"cli.rank{rank}.out").write_text(printed.getvalue())
    new_group()
    run(tmp_path, SPECS["whole"], name="whole")
    new_group()
    with contextlib.suppress(KeyboardInterrupt):
        run(tmp_path, SPECS["whole"], name="parts", on_step=kill_at_5)
    new_group()
    run(tmp_path, SPECS["whole"], name="parts")  # resumes at step 3 on both ranks
    new_group()
    run(tmp_path, SPECS["neo"], name="neo")
    new_group()
    try:
        run(tmp_path, SPECS["uneven"], name="uneven")
    except ValueError as err:
        (tmp_path / f"uneven.rank{rank}.err").write_text(str(err))
    for name in ("vit", "mixed", "resnet"):
        new_group()
        run_vision(tmp_path, tmp_path / "images", VISION[name], name=name, val=name != "mixed")
        torch.save(torch.get_rng_state(), tmp_path / f"{name}.rank{rank}.rng")
    new_group()
    try:
        run_vision(tmp_path, tmp_path / "images", VISION["uneven"], name="vision_uneven")
    except ValueError as err:
        (tmp_path / f"vision_uneven.rank{rank}.err").write_text(str(err))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """The folder of `_worker`'s outputs: one launch for all runs, as starting the processes dominates the time."""
    tmp = tmp_path_factory.mktemp("ranks")
    write_shards(tmp / "shards", repetitive_data())
    write_images(tmp / "images")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")  # read by the children as torch starts
        mp.spawn(_worker, args=([free_port() for _ in range(10)], tmp), nprocs=WORLD)
    return tmp


@contextlib.contextmanager
def one_thread():
    """torch on one thread, as in the children: on a busy machine much faster for these tiny models."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_cli_on_two_ranks_matches_one_process(two_ranks, tmp_path):
    """2 ranks x 1 micro-batch give the losses, validation and weights of 1 process x 2; rank 0 alone prints."""
    cli_main(cli_args(SPECS["cli"], two_ranks / "shards", tmp_path, "one"))
    one, two = read_metrics(tmp_path / "one.jsonl"), read_metrics(two_ranks / "cli.jsonl")
    worst = assert_same_training(one, two, rel=1e-4)
    print(f"largest relative loss difference, 1 vs {WORLD} processes: {worst:.2e}")
    assert [r["step"] for r in two if "val_loss" in r] == [3, 6]
    first, second = load_file(tmp_path / "one.safetensors"), load_file(two_ranks / "cli.safetensors")
    assert all(torch.allclose(first[k], second[k], rtol=1e-4, atol=1e-6) for k in first)
    assert not (two_ranks / "cli.pt").exists()
    printed = [(two_ranks / f"cli.rank{r}.out").read_text() for r in range(WORLD)]
    assert json.loads(printed[0])["step"] == 6 and printed[1:] == [""] * (WORLD - 1)


@pytest.mark.parametrize("name", ["whole", "neo"])
def test_accumulation_and_gpt_neo_on_two_ranks_match_one_process(two_ranks, tmp_path, name):
    run(tmp_path, SPECS[name], name="one")
    worst = assert_same_training(read_metrics(tmp_path / "one.jsonl"), read_metrics(two_ranks / f"{name}.jsonl"), 1e-4)
    print(f"largest relative loss difference, 1 vs {WORLD} processes, {name}: {worst:.2e}")


def test_resume_on_two_ranks_equals_uninterrupted(two_ranks):
    assert not (two_ranks / "parts.pt").exists()
    whole, parts = load_file(two_ranks / "whole.safetensors"), load_file(two_ranks / "parts.safetensors")
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    logged = [read_metrics(two_ranks / f"{name}.jsonl") for name in ("whole", "parts")]
    assert [r["step"] for r in logged[1]] == list(range(1, 9))
    assert_same_training(*logged, rel=0)


def test_grad_accum_must_split_over_the_ranks(two_ranks):
    errors = [(two_ranks / f"uneven.rank{r}.err").read_text() for r in range(WORLD)]
    assert all("pick recipe grad_accum as a multiple of the GPU count" in e for e in errors)
    assert not (two_ranks / "uneven.jsonl").exists()


def without_key_bias(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ViT weights without the attention's key bias (the middle third of in_proj_bias): its gradient is 0
    but for rounding noise, which AdamW normalises into steps that differ between 1 and 2 processes."""
    return {k: v.view(3, -1)[[0, 2]] if k.endswith("in_proj_bias") else v for k, v in weights.items()}


def test_vit_on_two_ranks_matches_one_process(two_ranks, tmp_path):
    """Losses, accuracies, validation of the model and its EMA, and both checkpoints, as with one process."""
    with one_thread():
        run_vision(tmp_path, two_ranks / "images", VISION["vit"], name="one")
    one, two = read_metrics(tmp_path / "one.jsonl"), read_metrics(two_ranks / "vit.jsonl")
    worst = assert_same_training(one, two, rel=1e-4)
    print(f"largest relative loss difference, 1 vs {WORLD} processes, vit: {worst:.2e}")
    assert [(r["val_acc"], r["val_acc_ema"]) for r in one if "val_acc" in r] == [
        (r["val_acc"], r["val_acc_ema"]) for r in two if "val_acc" in r
    ]
    for name in ("{}.safetensors", "{}.ema.safetensors"):
        first, second = (without_key_bias(load_file(folder / name.format(run)))
                         for folder, run in ((tmp_path, "one"), (two_ranks, "vit")))
        assert all(torch.allclose(first[k], second[k], rtol=1e-4, atol=1e-6) for k in first)
    assert not (two_ranks / "vit.pt").exists()


def test_resnet_on_two_ranks_normalises_each_rank_share_alone(two_ranks, tmp_path):
    """At lr 0, step s on WORLD ranks logs the means of one process's steps of batch_size / WORLD that load
    the same images; validation equals one process's evaluation of the checkpoint rank 0 wrote."""
    spec = VISION["resnet"]
    half = {**spec, "recipe": {**spec["recipe"], "batch_size": spec["recipe"]["batch_size"] // WORLD}}
    with one_thread():
        run_vision(tmp_path, two_ranks / "images", half, name="half", val=False)
    halves, two = read_metrics(tmp_path / "half.jsonl"), read_metrics(two_ranks / "resnet.jsonl")
    assert len(halves) == WORLD * len(two)
    for step, record in enumerate(two):
        pair = halves[WORLD * step : WORLD * (step + 1)]
        for key in ("loss", "ce", "topo", "acc"):
            assert record[key] == pytest.approx(sum(r[key] for r in pair) / WORLD, rel=1e-5), (step, key)
    model, _ = load_checkpoint(two_ranks / "resnet.safetensors")
    val = FolderLoader(two_ranks / "images", 16, train=False, res=32)
    with one_thread():
        alone = vision.evaluate(model, val, torch.device("cpu"), amp=False, flip=True)
    assert two[-1]["val_acc"] == alone["val_acc"]
    assert two[-1]["val_loss"] == pytest.approx(alone["val_loss"], rel=1e-5)


def test_vision_batch_size_must_split_over_the_ranks(two_ranks):
    errors = [(two_ranks / f"vision_uneven.rank{r}.err").read_text() for r in range(WORLD)]
    assert all("recipe batch_size 7 does not split evenly over the 2 processes" in e for e in errors)
    assert not (two_ranks / "vision_uneven.jsonl").exists()


def test_mixing_draws_alike_on_every_rank(two_ranks):
    """MixUp/CutMix use the global RNG: the ranks, seeded alike, draw alike and end in one state; the run
    writes the model and its EMA."""
    states = [torch.load(two_ranks / f"mixed.rank{r}.rng") for r in range(WORLD)]
    assert all(torch.equal(states[0], state) for state in states[1:])
    assert not torch.equal(states[0], torch.load(two_ranks / "vit.rank0.rng"))  # the mixed run drew more
    assert [r["step"] for r in read_metrics(two_ranks / "mixed.jsonl")] == list(range(1, 9))
    assert (two_ranks / "mixed.safetensors").exists() and (two_ranks / "mixed.ema.safetensors").exists()
