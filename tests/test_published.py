"""The authors' released checkpoints in place of training: import, the experiment table, and the workflow.

Checkpoints are written here in the authors' formats (METHODS §1.7): a bare ResNet state dict saved from a
DistributedDataParallel model, and nanoGPT's {"model", "model_args", "iter_num"} from a compiled model.
"""

import json

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, copy_workflow, planned_jobs, snakemake
from toponets.checkpoints import load_checkpoint
from toponets.cli import import_checkpoint
from toponets.experiments import data_sources, missing_paths, runs, spec_for
from toponets.models import build, topographic_layers

SMOKE = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
RESNET = next(e for e in SMOKE["experiments"] if e["name"] == "resnet18")
NANOGPT = next(e for e in SMOKE["experiments"] if e["name"] == "nanogpt")


def write_authors_resnet(path, options, seed=0):
    """A ResNet-18 state dict as the authors released it: `module.`-prefixed keys with BlurPool's `.conv`."""
    torch.manual_seed(seed)
    model = build("resnet18", **options)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    return model


def write_authors_nanogpt(path, options, seed=0):
    """A nanoGPT checkpoint as the authors released it: compiled-model keys plus `model_args`."""
    torch.manual_seed(seed)
    model = build("nanogpt", **options)
    state = {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": state, "model_args": model.model_args(), "iter_num": 19073}, path)
    return model


def published_config(checkpoints, taus=(0, 5)):
    """The smoke preset with ResNet-18 at `taus`, taking the tau 5 run from `checkpoints`."""
    config = json.loads(json.dumps(SMOKE))
    resnet = {**RESNET, "taus": list(taus), "checkpoints": [{"tau": 5, "source": {"path": str(checkpoints)}}]}
    return {**config, "published_checkpoints": True, "seeds": [0, 1], "experiments": [resnet]}


def test_import_writes_a_checkpoint_every_evaluation_can_read(tmp_path):
    original = write_authors_resnet(tmp_path / "all_topo_tau_5.0.pt", RESNET["options"])
    spec = spec_for(RESNET, 5, 0)
    import_checkpoint.main(["--weights", str(tmp_path / "all_topo_tau_5.0.pt"), "--spec", json.dumps(spec),
                            "--out", str(tmp_path / "model.safetensors")])
    model, meta = load_checkpoint(tmp_path / "model.safetensors")
    assert meta["topo"] == {"layers": topographic_layers(original, "resnet18"), "factor": 3.0, "tau": 5.0}
    assert meta["config"]["imported_from"].endswith("all_topo_tau_5.0.pt")
    x = torch.randn(2, 3, 32, 32)
    original.eval(), model.eval()
    assert torch.equal(original(x), model(x))


def test_import_takes_nanogpt_architecture_from_model_args(tmp_path):
    options = {**NANOGPT["options"], "n_embd": 16}  # the file, not the config, decides the width
    original = write_authors_nanogpt(tmp_path / "tau_1.0.pt", options)
    spec = spec_for(NANOGPT, 1, 0)
    import_checkpoint.main(["--weights", str(tmp_path / "tau_1.0.pt"), "--spec", json.dumps(spec),
                            "--out", str(tmp_path / "model.safetensors")])
    model, meta = load_checkpoint(tmp_path / "model.safetensors")
    assert meta["model"]["options"]["n_embd"] == 16
    tokens = torch.randint(0, 100, (1, 8))
    assert torch.equal(original.eval()(tokens), model.eval()(tokens))


def test_import_of_a_file_that_does_not_fit_stops_with_the_reason(tmp_path):
    write_authors_resnet(tmp_path / "wrong.pt", {**RESNET["options"], "num_classes": 7})
    with pytest.raises(SystemExit, match="import_checkpoint: .* does not fit a 'resnet18' model"):
        import_checkpoint.main(["--weights", str(tmp_path / "wrong.pt"), "--spec", json.dumps(spec_for(RESNET, 5, 0)),
                                "--out", str(tmp_path / "model.safetensors")])
    assert not (tmp_path / "model.safetensors").exists()


def test_published_runs_replace_training_only_when_switched_on(tmp_path):
    config = published_config(tmp_path / "all_topo_tau_5.0.pt")
    grid = [(r.tau, r.seed, bool(r.published)) for r in runs(config)]
    assert grid == [(0.0, 0, False), (0.0, 1, False), (5.0, 0, True)]  # one released file: one run, first seed
    assert data_sources(config)["checkpoint-resnet18-tau5"] == [{"path": str(tmp_path / "all_topo_tau_5.0.pt")}]
    off = {**config, "published_checkpoints": False}
    assert not any(r.published for r in runs(off)) and "checkpoint-resnet18-tau5" not in data_sources(off)


def test_a_missing_published_file_says_how_to_get_it(tmp_path):
    problems = missing_paths(published_config(tmp_path / "absent.pt"), tmp_path)
    assert "download the authors' file" in problems[str(tmp_path / "absent.pt")]


def test_workflow_evaluates_published_checkpoints_without_training_them(tmp_path, mirror):
    root = copy_workflow(tmp_path / "workflow")
    write_authors_resnet(tmp_path / "all_topo_tau_5.0.pt", RESNET["options"])
    write_authors_nanogpt(tmp_path / "tau_0.0.pt", NANOGPT["options"], seed=1)
    write_authors_nanogpt(tmp_path / "tau_1.0.pt", NANOGPT["options"], seed=2)
    config = published_config(tmp_path / "all_topo_tau_5.0.pt")
    config["seeds"] = [0]
    config["experiments"][0]["evaluate"] = ["accuracy"]
    nanogpt = {**NANOGPT, "evaluate": ["lm_loss"], "checkpoints": [
        {"tau": 0, "source": {"path": str(tmp_path / "tau_0.0.pt")}},
        {"tau": 1, "source": {"path": str(tmp_path / "tau_1.0.pt")}}]}
    config["experiments"].append(nanogpt)
    (root / "config" / "published.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/tables/vision_metrics.csv", "results/tables/language_metrics.csv"]

    off = snakemake(root, "--configfile", "config/published.yaml", "--config", "published_checkpoints=False",
                    "-n", "--cores", "2", *targets)
    assert planned_jobs(off.stdout)["train"] == 4 and "import_checkpoint" not in planned_jobs(off.stdout)
    snakemake(root, "--configfile", "config/published.yaml", "--cores", "2", *targets)

    results = root / "results"
    assert sorted(p.parts[-3] for p in (results / "published").rglob("model.safetensors")) == ["tau0", "tau1", "tau5"]
    assert [p.parts[-4:-1] for p in (results / "train").rglob("model.safetensors")] == [("resnet18", "tau0", "seed0")]
    vision = pd.read_csv(results / "tables" / "vision_metrics.csv")
    assert sorted(vision.tau) == [0.0, 5.0] and set(vision.metric) == {"top1"}
    language = pd.read_csv(results / "tables" / "language_metrics.csv").query("metric == 'val_loss'")
    assert sorted(language.tau) == [0.0, 1.0] and language.value.between(0, 20).all()
