"""profiles/slurm end to end on a real one-node SLURM cluster with accounting (`bash .ci/slurm_cluster.sh`, as root).

One Snakemake run through the profile, its placeholders filled in (partitions `cpu` and `gpu`, account
`toponets`), on a subset of the smoke preset: data (fetch, prepare_images), training, one evaluation
(smoothness), a table and a figure, plus two identical longer trainings, one of which is cancelled with
`scancel` as soon as it has saved its state. The tests then read back from SLURM (`sacct`) what each job
asked for and where it ran. Without a cluster they skip and say why.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from conftest import copy_workflow, mirror_path

pytestmark = pytest.mark.slurm

ACCOUNT = os.environ.get("TOPONETS_SLURM_ACCOUNT", "toponets")
STATE = Path(os.environ.get("TOPONETS_SLURM_STATE", "/var/lib/toponets-slurm"))
FIGURE = "results/figures/fig7_correlation_vs_distance.png"
TABLE = "results/tables/smoothness_curves.csv"
RESUMED, STRAIGHT = "resnet18_resume", "resnet18_straight"  # the same run under two names
LONG_RUN = "results/train/{}/tau5/seed0/model.safetensors"
EPOCHS = 12  # 3 steps each; a state every 4 steps: the cancel comes with most of the run still to go


def _answers(*cmd) -> str | None:
    """The output of a SLURM command, or None when it fails."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def cluster_problem() -> str | None:
    """Why the SLURM tests cannot run here, or None when a cluster with accounting answers."""
    start = "start one with `bash .ci/slurm_cluster.sh` (as root)"
    if (STATE / "reason").exists():
        return f".ci/slurm_cluster.sh could not start the cluster: {(STATE / 'reason').read_text().strip()}"
    if not shutil.which("sbatch"):
        return f"SLURM is not installed; {start}"
    if "UP" not in (_answers("scontrol", "ping") or ""):
        return f"no SLURM controller answers `scontrol ping`; {start}"
    if _answers("sacct", "-n", "-X", "-S", "now") is None:
        return f"`sacct` does not answer (no accounting); {start}"
    if ACCOUNT not in (_answers("sacctmgr", "-n", "-P", "show", "account", "format=account") or "").split():
        return f"SLURM account {ACCOUNT} does not exist; {start}"
    return None


@pytest.fixture(scope="module")
def cluster():
    problem = cluster_problem()
    if problem:
        pytest.skip(problem)


def filled_in_profile(root: Path) -> Path:
    """profiles/slurm as a user fills it in for this cluster, with quicker status checks."""
    text = (root / "profiles" / "slurm" / "config.yaml").read_text()
    for placeholder, value in (("CHANGE_ME_cpu", "cpu"), ("CHANGE_ME_gpu", "gpu"), ("CHANGE_ME_account", ACCOUNT)):
        assert placeholder in text
        text = text.replace(placeholder, value)
    profile = root / "profiles" / "slurm_test"
    profile.mkdir()
    (profile / "config.yaml").write_text(text + "slurm-init-seconds-before-status-checks: 2  # the test's jobs are short\n")
    return profile


def subset_config(root: Path) -> Path:
    """The smoke preset's ResNet-18 at tau 5, and the same run twice under other names, longer, with a lower lr
    and a state saved every 4 steps (3 steps an epoch)."""
    config = yaml.safe_load((root / "config" / "smoke.yaml").read_text())
    resnet18 = next(e for e in config["experiments"] if e["name"] == "resnet18")
    long = {**resnet18["recipe"], "epochs": EPOCHS, "lr": 0.05, "checkpoint_every": 4, "log_every": 1}
    config["experiments"] = [{**resnet18, "taus": [5]}] + [
        {**resnet18, "name": name, "taus": [5], "evaluate": ["accuracy"], "recipe": long} for name in (RESUMED, STRAIGHT)
    ]
    config["resources"]["train"]["threads"] = 2  # the node's CPUs: --cpus-per-task=2
    config["evaluation"]["lora"]["experiments"] = []  # its NanoGPT is not in this subset
    path = root / "config" / "slurm_test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def squeue_job(comment: str) -> str | None:
    """The id of the queued or running job whose comment is `comment` (the plugin's rule_<rule>_wildcards_...)."""
    for line in (_answers("squeue", "-h", "-o", "%i|%k") or "").splitlines():
        job, _, job_comment = line.partition("|")
        if job_comment == comment:
            return job
    return None


@pytest.fixture(scope="module")
def slurm_run(cluster, mirror, tmp_path_factory):
    """Run the subset through the profile; cancel the RESUMED training once its first state is saved."""
    root = copy_workflow(tmp_path_factory.mktemp("slurm") / "workflow")
    profile, config = filled_in_profile(root), subset_config(root)
    state = root / LONG_RUN.format(RESUMED).replace("model.safetensors", "resume/state.pt")
    # Targets come before --configfile, which takes every word after it as a config file.
    cmd = [sys.executable, "-m", "snakemake", FIGURE, LONG_RUN.format(RESUMED), LONG_RUN.format(STRAIGHT),
           "--directory", str(root), "--profile", str(profile), "--configfile", str(config)]
    env = {**os.environ, "TOPONETS_MIRROR": str(mirror_path())}
    started = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    log = root / "snakemake.log"
    cancelled = None
    with log.open("w") as out:
        job = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 480  # about 2 minutes when all is well
            while job.poll() is None and time.monotonic() < deadline:
                if cancelled is None and state.exists():
                    cancelled = squeue_job(f"rule_train_wildcards_{RESUMED}_5_0")
                    if cancelled:
                        subprocess.run(["scancel", cancelled], check=True)
                time.sleep(0.2)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGINT)  # Ctrl-C: Snakemake cancels its SLURM jobs on the way out
                try:
                    job.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(job.pid, signal.SIGKILL)
                    job.wait()
    output = log.read_text()
    assert job.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-6000:]}"
    run_id = re.search(r"SLURM run ID: (\S+)", output)[1]
    fields = ["JobID", "Comment", "Partition", "ReqMem", "Timelimit", "ReqCPUS", "Account", "State"]
    sacct = _answers("sacct", "-X", "-P", "-n", "--name", run_id, "-S", started, "-o", ",".join(fields))
    jobs = [dict(zip(fields, line.split("|"))) for line in sacct.splitlines()]
    return {"root": root, "output": output, "jobs": jobs, "cancelled": cancelled,
            "config": yaml.safe_load(config.read_text()), "profile": yaml.safe_load((profile / "config.yaml").read_text())}


def rule_of(job: dict) -> str:
    return re.match(r"rule_(.+?)(_wildcards_|$)", job["Comment"])[1]


def test_the_subset_runs_as_slurm_jobs(slurm_run):
    root = slurm_run["root"]
    assert (root / FIGURE).stat().st_size > 1000 and (root / TABLE).exists()
    completed = sorted(rule_of(j) for j in slurm_run["jobs"] if j["State"] == "COMPLETED")
    assert completed == ["fetch", "prepare_images", "smoothness", "train", "train", "train"]
    assert all(j["Account"] == ACCOUNT for j in slurm_run["jobs"])


def test_training_and_evaluation_use_the_gpu_partition_and_tables_and_figures_run_locally(slurm_run):
    partitions = {rule_of(j): j["Partition"] for j in slurm_run["jobs"]}
    assert partitions == {"fetch": "cpu", "prepare_images": "cpu", "train": "gpu", "smoothness": "gpu"}
    output = slurm_run["output"]
    assert "localrule table_smoothness_curves:" in output and "localrule fig7:" in output


def test_a_cancelled_training_job_is_resubmitted_and_resumes_to_the_same_weights(slurm_run):
    from safetensors.torch import load_file

    cancelled = slurm_run["cancelled"]
    assert cancelled, "the training finished before its first state could be cancelled"
    attempts = [(j["JobID"], j["State"]) for j in slurm_run["jobs"] if j["Comment"] == f"rule_train_wildcards_{RESUMED}_5_0"]
    assert attempts[0][0] == cancelled and attempts[0][1].startswith("CANCELLED")
    assert [state for _, state in attempts[1:]] == ["COMPLETED"]
    root = slurm_run["root"]
    log = (root / f"results/logs/train/{RESUMED}/tau5/seed0.log").read_text()
    assert re.search(r"resuming from \S+state.pt after step \d+", log)
    steps = [json.loads(line)["step"] for line in (root / LONG_RUN.format(RESUMED)).with_name("metrics.jsonl").open()]
    assert steps == list(range(1, EPOCHS * 3 + 1))
    resumed, straight = (load_file(root / LONG_RUN.format(name)) for name in (RESUMED, STRAIGHT))
    assert resumed.keys() == straight.keys()
    assert [k for k in resumed if not (resumed[k] == straight[k]).all()] == []


def test_each_job_asked_slurm_for_its_rules_resources(slurm_run):
    resources, profile = slurm_run["config"]["resources"], slurm_run["profile"]
    group = {"fetch": "light", "prepare_images": "light", "train": "train", "smoothness": "evaluate"}
    threads = {"train": min(resources["train"]["threads"], os.cpu_count())}  # Snakemake caps threads at --cores
    for job in slurm_run["jobs"]:
        rule = rule_of(job)
        declared = resources[group[rule]]
        partition = profile["set-resources"].get(rule, {}).get("slurm_partition",
                                                                 profile["default-resources"]["slurm_partition"])
        hours, minutes, seconds = map(int, job["Timelimit"].split(":"))
        asked = {"mem_mb": int(job["ReqMem"].rstrip("M")), "runtime": hours * 60 + minutes + seconds / 60,
                 "cpus_per_task": int(job["ReqCPUS"]), "partition": job["Partition"]}
        assert asked == {"mem_mb": declared["mem_mb"], "runtime": declared["runtime"],
                         "cpus_per_task": threads.get(rule, 1), "partition": partition}, rule
