"""The Snakemake workflow end to end: the smoke preset, reruns after an edit, lint, SLURM dry run, bad configs.

The workflow is copied into a temporary directory so that runs and simulated
edits never touch this checkout's results or sources.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow, dry_run_jobs, mirror_path, planned_jobs, snakemake

@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory, mirror):
    """A copy of the workflow in a directory whose path has a space, as a user's checkout may."""
    return copy_workflow(tmp_path_factory.mktemp("workflow") / "my checkout")


HAS_BRAINSCORE = (REPO / ".venv-brainscore" / "bin" / "python").exists()


@pytest.fixture(scope="module")
def smoke_run(workflow_copy):
    if HAS_BRAINSCORE:
        os.symlink(REPO / ".venv-brainscore", workflow_copy / ".venv-brainscore")
    else:  # without brainscore-vision's environment (bash setup.sh --brainscore) the preset skips Brain-Score
        path = workflow_copy / "config" / "smoke.yaml"
        config = yaml.safe_load(path.read_text())
        config["evaluation"]["brainscore"]["benchmarks"] = None
        path.write_text(yaml.safe_dump(config))
    spaced_mirror = workflow_copy.parent / "data mirror"  # every rule quotes its paths (the Brain-Score venv's too)
    spaced_mirror.symlink_to(mirror_path())
    snakemake(workflow_copy, "--configfile", "config/smoke.yaml", "--cores", "2", mirror=spaced_mirror)
    return workflow_copy


def test_smoke_preset_produces_tables_and_figure(smoke_run):
    assert " " in str(smoke_run)  # the checkout, its Brain-Score venv and the mirror (smoke_run) have spaces
    results = smoke_run / "results"
    metrics = pd.read_csv(results / "tables" / "vision_metrics.csv")
    assert set(metrics.metric) == {"top1", "smoothness", "smoothness_floor", "effective_dim"}  # TDANN's top1: a readout's
    pruning = pd.read_csv(results / "tables" / "pruning_curves.csv")
    assert sorted(pruning.fraction.unique()) == [0, 0.8] and (pruning.query("fraction == 0").change == 0).all()
    taus = metrics.groupby("model").tau.unique().map(sorted).to_dict()
    assert taus == {"resnet18": [0.0, 5.0], "resnet50": [0.0, 5.0], "vit_b_32": [0.0, 10.0], "tdann": [0.0]}
    assert metrics.value.notna().all()
    for name in ("fig2a_topography_vs_accuracy", "fig3_dimensionality", "fig4a_pruning", "fig7_correlation_vs_distance"):
        for fmt in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{fmt}").stat().st_size > 1000
    curves = pd.read_csv(results / "tables" / "smoothness_curves.csv")
    assert {"model", "tau", "seed", "layer", "distance", "r", "pairs"} <= set(curves.columns)
    meta = json.loads((results / "train" / "resnet18" / "tau5" / "seed0" / "model.json").read_text())
    assert meta["topo"]["tau"] == 5.0 and len(meta["topo"]["layers"]) == 19
    assert (results / "benchmarks" / "train" / "resnet18" / "tau5" / "seed0.tsv").exists()
    assert not (results / "train" / "resnet18" / "tau5" / "seed0" / "resume").exists()


def test_smoke_preset_trains_every_family(smoke_run):
    from toponets.checkpoints import load_checkpoint

    training = pd.read_csv(smoke_run / "results" / "tables" / "training.csv")
    final = training.pivot_table(index=["model", "tau"], columns="metric", values="value")
    assert sorted(final.index) == [
        ("gpt_neo", 0.0), ("gpt_neo", 5.0), ("nanogpt", 0.0), ("nanogpt", 1.0), ("resnet18", 0.0), ("resnet18", 5.0),
        ("resnet50", 0.0), ("resnet50", 5.0), ("vit_b_32", 0.0), ("vit_b_32", 10.0),
    ]
    language = final.loc[["gpt_neo", "nanogpt"]]
    assert (language.tokens == 4 * 4 * 32).all() and language.val_loss.between(5, 12).all()
    assert final.loc["vit_b_32"].val_acc.notna().all()
    for model, layer in [("gpt_neo", "transformer.h.1.mlp.c_fc"), ("nanogpt", "transformer.h.1.mlp.c_fc"),
                         ("vit_b_32", "encoder.layers.encoder_layer_1.mlp.3")]:
        _, meta = load_checkpoint(smoke_run / "results" / "train" / model / "tau0" / "seed0" / "model.safetensors")
        assert meta["topo"]["layers"][-1] == layer
    language = pd.read_csv(smoke_run / "results" / "tables" / "language_metrics.csv")
    assert set(language.metric) == {"val_loss", "perplexity", "blimp", "smoothness", "smoothness_floor", "effective_dim"}
    assert len(language) == 4 * 6 and language.value.notna().all()
    assert language.query("metric == 'blimp'").value.between(0, 1).all()
    downsampling = pd.read_csv(smoke_run / "results" / "tables" / "downsampling_curves.csv")
    assert set(downsampling.metric) == {"val_loss", "blimp"} and sorted(downsampling.factor.unique()) == [1, 5]
    assert (downsampling.query("factor == 1").change == 0).all() and (downsampling.parameters_kept <= 1).all()
    for name in ("fig2b_topography_vs_blimp", "fig4b_downsampling_gpt_neo", "fig9_dimensionality_vs_perplexity",
                 "fig10_downsampling_nanogpt", "fig6_tokens_vs_blimp"):
        assert (smoke_run / "results" / "figures" / f"{name}.png").stat().st_size > 1000
    text = json.loads((smoke_run / "results" / "data" / "text" / "web" / "meta.json").read_text())
    assert text["documents"]["train"] + text["documents"]["val"] == 30 and text["tokens"]["val"] > 0


def test_smoke_preset_runs_the_brain_and_lora_analyses(smoke_run):
    tables, figures = smoke_run / "results" / "tables", smoke_run / "results" / "figures"
    ssim = pd.read_csv(tables / "selectivity_ssim.csv")
    assert set(ssim.weights) == {"trained", "untrained"} and set(ssim.tau[ssim.weights == "trained"]) == {0.0, 5.0}
    assert {"face_body", "face_place", "size_animacy"} <= set(ssim.pair)
    maps = pd.read_csv(tables / "selectivity_maps.csv")
    assert {"faces", "bodies", "places", "animacy", "size"} <= set(maps.contrast) and maps.t.notna().all()
    voxels = pd.read_csv(tables / "unit_voxel.csv")
    assert set(voxels.metric) >= {"r_raw", "ceiling", "r_normalised"} and set(voxels.model) == {"resnet18", "tdann"}
    windows = pd.read_csv(tables / "integration_window_curves.csv")
    assert sorted(windows.delta.unique()) == list(range(21)) and set(windows.model) == {"gpt_neo", "nanogpt"}
    assert (windows.query("delta == 0").theta == 1).all()
    deltas = pd.read_csv(tables / "lora_deltas.csv")
    assert set(deltas.dataset) == {"shakespeare", "python_code"} and set(deltas["rank"]) == {2}
    assert deltas.delta.to_numpy() == pytest.approx((deltas.val_loss_before - deltas.val_loss_after).to_numpy())
    if HAS_BRAINSCORE:
        regions = pd.read_csv(tables / "brainscore_regions.csv")
        assert list(regions.columns) == ["model", "tau", "V1", "IT"] and len(regions) == 3  # resnet18 x 2, TDANN
        assert regions[["V1", "IT"]].abs().le(1).all().all()
    for name in ("fig5a_selectivity_maps", "fig5b_integration_windows", "fig8_integration_windows_all_layers",
                 "fig11_lora_curves", "fig12_lora_deltas"):
        assert (figures / f"{name}.png").stat().st_size > 1000


def test_smoke_preset_evaluates_tdann_from_files_in_its_authors_formats(smoke_run):
    """TDANN, the paper's comparison model (§3.1 Figure 2A, §3.4 Table 1 and unit-to-voxel): random-weight files in
    its formats, imported, evaluated by the same rules, and the comparison's TDANN rows answered by this run."""
    results = smoke_run / "results"
    meta = json.loads((results / "published" / "tdann" / "tau0" / "seed0" / "model.json").read_text())
    assert meta["model"]["family"] == "tdann" and meta["config"]["positions_from"].endswith("size32/positions")
    assert meta["topo"]["layers"] == [f"base_model.layer{s}.{b}" for s in range(1, 5) for b in (0, 1)]
    assert not (results / "train" / "tdann").exists()  # never trained
    curves = pd.read_csv(results / "tables" / "smoothness_curves.csv").query("model == 'tdann'")
    assert set(curves.layer) == set(meta["topo"]["layers"])
    comparison = pd.read_csv(results / "tables" / "paper_vs_run.csv").set_index("quantity")
    for quantity in ("2A ImageNet top-1 (tdann)", "2A smoothness (tdann)", "effective dimensionality (tdann)", "r / noise ceiling (tdann)",
                     *(["TDANN (tdann)"] if HAS_BRAINSCORE else [])):
        assert comparison.this_run[quantity].startswith(("tdann tau 0: ", "V1 / IT: ")), quantity
    assert "linear readout" in comparison.note["2A ImageNet top-1 (tdann)"]
    readout = json.loads((results / "eval" / "accuracy" / "tdann" / "tau0" / "seed0.json").read_text())
    assert readout["readout"] == "linear" and 0 <= readout["metrics"]["top1"] <= 1


def test_a_killed_training_job_resumes(tmp_path, mirror):
    """Kill Snakemake while a language model trains; the rerun continues from the saved state."""
    workflow_copy = copy_workflow(tmp_path / "workflow")
    config = yaml.safe_load((workflow_copy / "config" / "smoke.yaml").read_text())
    nanogpt = next(e for e in config["experiments"] if e["name"] == "nanogpt")
    nanogpt.update(taus=[0], recipe={**nanogpt["recipe"], "max_steps": 400, "checkpoint_every": 5})
    long_run = tmp_path / "long.yaml"
    long_run.write_text(yaml.safe_dump(config))
    target = "results/train/nanogpt/tau0/seed0/model.safetensors"
    state = workflow_copy / "results/train/nanogpt/tau0/seed0/resume/state.pt"
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(workflow_copy), "--configfile", str(long_run),
           "--cores", "2", target]
    env = {**os.environ, "TOPONETS_MIRROR": str(mirror_path())}
    job = subprocess.Popen(cmd, cwd=workflow_copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not state.exists() and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.5)
        assert state.exists(), "no training state was saved"
    finally:
        os.killpg(job.pid, signal.SIGINT)  # Ctrl-C: to Snakemake and the training job
        job.wait(timeout=120)
    assert not (workflow_copy / target).exists() and state.exists()
    snakemake(workflow_copy, "--configfile", str(long_run), "--cores", "2", target)
    log = (workflow_copy / "results/logs/train/nanogpt/tau0/seed0.log").read_text()
    assert re.search(r"resuming from \S+state.pt after step \d+", log)
    steps = [json.loads(line)["step"] for line in (workflow_copy / target).with_name("metrics.jsonl").open()]
    assert steps == list(range(1, 401))


def test_report_shows_every_paper_item_beside_the_papers_numbers(smoke_run):
    snakemake(smoke_run, "--configfile", "config/smoke.yaml", "--report", "results/report.html")
    html = (smoke_run / "results" / "report.html").read_text()
    categories = [f"Figure {n:02d}" for n in range(1, 13)] + ["Tables 1-2", "Unit-to-voxel", "Paper vs this run"]
    assert [c for c in categories if c not in html] == []
    assert [p.name for p in (smoke_run / "results" / "figures").glob("*.png") if p.name not in html] == []
    assert "TDANN 0.6932" in html  # Table 1's caption carries the paper's numbers
    comparison = pd.read_csv(smoke_run / "results" / "tables" / "paper_vs_run.csv")
    assert comparison["item"].nunique() == 15 and comparison.this_run.notna().all()
    assert len(list((smoke_run / "results" / "report" / "paper_vs_run").glob("*.csv"))) == 15


def test_nothing_reruns_when_nothing_changed(smoke_run):
    out = snakemake(smoke_run, "--configfile", "config/smoke.yaml", "-n").stdout
    assert "Nothing to be done" in out


@pytest.fixture(scope="module")
def smoke_jobs(smoke_run):
    """Every job of the smoke preset with its inputs (a forced dry run)."""
    return dry_run_jobs(snakemake(smoke_run, "--configfile", "config/smoke.yaml", "-n", "--forceall", "-p").stdout)


def edited_dry_run(smoke_run, module, *args):
    """A dry run's output after appending a comment to library `module`, whose content is then put back."""
    edited = smoke_run / "src" / "toponets" / module
    original = edited.read_text()
    edited.write_text(original + "\n# an edit\n")
    try:
        return snakemake(smoke_run, "--configfile", "config/smoke.yaml", "-n", *args).stdout
    finally:
        edited.write_text(original)  # the same content, with a newer date: Snakemake compares checksums


@pytest.mark.parametrize("module", ["analysis/smoothness.py", "analysis/covariance.py", "figures/fig7.py",
                                    "train/language.py"])
def test_editing_a_module_reruns_the_jobs_that_import_it_and_their_dependents_only(smoke_run, smoke_jobs, module):
    path = str(smoke_run / "src" / "toponets" / module)
    planned = dry_run_jobs(edited_dry_run(smoke_run, module))
    importing = {(j["rule"], j["wildcards"]) for j in smoke_jobs if path in j["input"].split(", ")}
    updated = {(j["rule"], j["wildcards"]) for j in planned if path in j["reason"]}  # else: upstream reruns too
    assert updated and updated <= importing <= {(j["rule"], j["wildcards"]) for j in planned}
    assert all(j["reason"].startswith("Input files updated by another job") for j in planned
               if (j["rule"], j["wildcards"]) not in importing)
    assert "Nothing to be done" in snakemake(smoke_run, "--configfile", "config/smoke.yaml", "-n").stdout


def test_touching_every_library_file_reruns_nothing(smoke_run):
    for path in (smoke_run / "src").rglob("*.py"):
        os.utime(path)  # a checkout that changes no content (git stash && git stash pop)
    assert "Nothing to be done" in snakemake(smoke_run, "--configfile", "config/smoke.yaml", "-n").stdout


def test_touching_the_checkpoints_keeps_them_after_an_edit_to_training_code(smoke_run):
    """README's way; the last test of the smoke run, whose state it changes (the edit stays)."""
    edited = smoke_run / "src" / "toponets" / "train" / "common.py"
    edited.write_text(edited.read_text() + "\n# an edit\n")
    smoke = ("--configfile", "config/smoke.yaml")
    assert planned_jobs(snakemake(smoke_run, *smoke, "-n").stdout)["train"] > 0
    checkpoints = sorted(str(p.relative_to(smoke_run)) for p in (smoke_run / "results" / "train").rglob("model.safetensors"))
    snakemake(smoke_run, *smoke, "--touch", *checkpoints)
    out = snakemake(smoke_run, *smoke, "-n").stdout
    assert "Nothing to be done" in out or "train" not in planned_jobs(out)


def test_lint_is_clean(workflow_copy):
    result = snakemake(workflow_copy, "--configfile", "config/smoke.yaml", "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_slurm_profile_plans_the_paper_preset(tmp_path, mirror):
    fresh = copy_workflow(tmp_path / "workflow")  # nothing fetched yet: the plan does not depend on other tests
    out = snakemake(fresh, "--profile", "profiles/slurm", "--configfile", "config/paper.yaml", "-n")
    jobs = planned_jobs(out.stdout)
    # resnet18 taus, the TDANN-placement model, resnet50, ViT, GPT-Neo, NanoGPT, and NanoGPT's 3 token budgets
    assert jobs["train"] == 7 + 1 + 3 + 2 + 5 + 4 + 3 * 4
    # Wikipedia, FineWeb-Edu, BookCorpus, OpenWebText, Shakespeare and tiny-codes; the two tokenizer files, BLiMP,
    # the three stimulus sets, the Brown corpus and Shakespeare (NSD is read in place)
    assert jobs["prepare_text"] == 6 and jobs["fetch"] == 8
    assert jobs["lora"] == 3 * 2 and jobs["selectivity"] == 13 + 4  # every vision run, and 4 experiments untrained
    # TDANN (issue "TDANN through the same rules"): imported from its released files, evaluated where the paper
    # compares it (Table 1, Figures 2A and 3A, unit-to-voxel), never trained
    tdann = {job["rule"] for job in dry_run_jobs(out.stdout) if "model=tdann" in job["wildcards"]}
    assert tdann == {"import_checkpoint", "accuracy", "smoothness", "dimensionality", "unit_voxel", "brainscore"}
    blocks = {}  # rule -> the (resources, command) of its planned jobs
    for block in re.split(r"\n(?=\[[^\]]+\]\nrule )", out.stdout):
        rule = re.search(r"^rule (\w+):", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            blocks.setdefault(rule[1], []).append((resources[1], block))
    gpu_rules = ("train", "blimp", "selectivity", "integration_windows", "lora")
    assert all("slurm_partition=CHANGE_ME_gpu" in r for rule in gpu_rules for r, _ in blocks[rule])
    assert all("slurm_partition=CHANGE_ME_cpu" in r for rule in ("prepare_text", "fig2a") for r, _ in blocks[rule])
    multi = [b for r, b in blocks["train"] if r.endswith("gpu=8")]
    assert len(multi) == 3 + 2 + 5 + 4 + 3 * 4  # ResNet-50, ViT and the language models ask for 8 GPUs
    assert all("torchrun --standalone --nproc-per-node=8 -m toponets.cli.train_" in b for b in multi)


def test_small_preset_plans_its_full_grid(fresh_copy):
    """The small preset (issue: "the small preset"): ResNet-18 at the paper's width over taus 0-50, GPT-Neo and
    NanoGPT, the baseline and the largest tau of each trained with two seeds; every run evaluated."""
    out = snakemake(fresh_copy, "--configfile", "config/small.yaml", "-n", "-p").stdout
    trained = {tuple(job["wildcards"].split(", ")) for job in dry_run_jobs(out) if job["rule"] == "train"}
    expected = {(model, tau, seed) for model, taus in (("resnet18", (0, 1, 5, 10, 50)), ("gpt_neo", (0, 5, 50)),
                                                       ("nanogpt", (0, 1, 50)))
                for tau in taus for seed in ((0, 1) if tau in (0, 50) else (0,))}
    assert trained == {(f"model={m}", f"tau={t}", f"seed={s}") for m, t, s in expected}
    jobs = planned_jobs(out)
    assert jobs["accuracy"] == 7 and jobs["pruning"] == 7 + 5 and jobs["downsampling"] == 10
    assert jobs["selectivity"] == 7 + 2  # and the untrained ResNet-18 of each seed
    assert jobs["lora"] == 5 * 2  # NanoGPT tau 0 (2 seeds), 1, 50 (2 seeds) on two corpora


def test_bad_config_stops_before_any_job(tmp_path, mirror):
    workflow_copy = copy_workflow(tmp_path / "workflow")
    config = yaml.safe_load((workflow_copy / "config" / "smoke.yaml").read_text())
    config["experiments"][0]["taus"] = [0, -5]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(workflow_copy, "--configfile", str(bad), "-n", check=False)
    assert result.returncode != 0
    assert "On instance['experiments'][0]['taus'][1]:\n    -5" in result.stdout + result.stderr

    config = yaml.safe_load((workflow_copy / "config" / "smoke.yaml").read_text())
    config["data"]["images"]["source"] = {"path": "no/such/tiny-imagenet.tar"}
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(workflow_copy, "--configfile", str(bad), "--cores", "1", check=False)
    assert result.returncode != 0
    assert "data source path no/such/tiny-imagenet.tar (images) does not exist" in result.stdout + result.stderr
    assert not (workflow_copy / "results").exists() and not (workflow_copy / "resources").exists()


def dry_run(workflow_copy, *args, mirror=None):
    """A dry run of the smoke preset: (return code, all output)."""
    result = snakemake(workflow_copy, "--configfile", "config/smoke.yaml", "-n", *args, check=False, mirror=mirror)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory, mirror):
    """A workflow copy that is never run, for dry runs and config probes."""
    return copy_workflow(tmp_path_factory.mktemp("fresh"))


def test_command_line_config_values_are_yaml(fresh_copy):
    code, out = dry_run(fresh_copy, "--config", "seeds=[0,1]", "published_checkpoints=false")
    assert code == 0, out
    assert planned_jobs(out)["train"] == 2 * 10  # 10 runs of the smoke grid, each with two seeds
    code, out = dry_run(fresh_copy, "--config", "mirror=null")
    assert code == 0, out


@pytest.mark.parametrize("change, message", [
    ({"options": {"width_multiplier": 0.25, "num_clases": 4}},
     "experiments[resnet18] (resnet18): bad options for model 'resnet18': build_resnet() got an unexpected keyword "
     "argument 'num_clases'"),
    ({"factor": 9.0}, "experiments[resnet18] (resnet18): TopoLoss factor (9, 9) is larger than the"),
])
def test_model_mistakes_stop_the_dry_run(tmp_path, fresh_copy, change, message):
    """Errors that once surfaced only inside a training job (after Snakemake removed its old outputs)."""
    config = yaml.safe_load((fresh_copy / "config" / "smoke.yaml").read_text())
    config["experiments"][0].update(change)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(fresh_copy, "--configfile", str(bad), "-n", check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr


def test_yaml_syntax_error_in_the_default_preset_names_file_and_line(tmp_path, mirror):
    workflow_copy = copy_workflow(tmp_path / "workflow")
    path = workflow_copy / "config.yaml"
    path.write_text(path.read_text().replace("seeds: [0]", "seeds: [0", 1))
    result = snakemake(workflow_copy, "-n", check=False)
    assert result.returncode != 0
    assert re.search(r"Invalid config: config.yaml, line \d+, column \d+: while parsing a flow sequence",
                     result.stdout + result.stderr)


def test_a_missing_mirror_directory_in_the_environment_is_named(tmp_path, fresh_copy):
    code, out = dry_run(fresh_copy, mirror=tmp_path / "no mirror")
    assert code != 0 and f"$TOPONETS_MIRROR: directory {tmp_path / 'no mirror'} does not exist" in out


def test_an_analysis_no_run_evaluates_plans_no_table(tmp_path, fresh_copy):
    config = yaml.safe_load((fresh_copy / "config" / "smoke.yaml").read_text())
    for exp in config["experiments"]:
        exp["evaluate"] = ["accuracy", "lm_loss", "blimp", "smoothness", "dimensionality"]
    path = tmp_path / "few.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(fresh_copy, "--configfile", str(path), "-n")
    jobs = planned_jobs(result.stdout)
    brain = {"table_selectivity_maps", "table_selectivity_ssim", "fig5a", "table_unit_voxel", "table_brainscore",
             "table_integration_windows", "fig5b", "table_lora_curves", "fig11", "table_pruning_curves", "fig4a",
             "table_downsampling_curves"}
    assert brain & set(jobs) == set() and jobs["table_vision_metrics"] == 1
