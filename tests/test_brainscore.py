"""Brain-Score adapter (METHODS §7): the Konkle RDM file, the region-layer commitment, and the local benchmarks.

The .mat parsing and the commitment run in the main environment. The benchmarks need brainscore-vision,
which lives in .venv-brainscore (`bash setup.sh --brainscore`); those tests run it in a subprocess and are
skipped without it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat
from scipy.stats import spearmanr

from conftest import REPO, tiny_checkpoint
from toponets import brainscore_model as bs
from toponets.checkpoints import save_checkpoint
from toponets.cli import brainscore as cli
from toponets.models import build

BRAINSCORE_PYTHON = REPO / ".venv-brainscore" / "bin" / "python"
needs_brainscore = pytest.mark.skipif(
    not BRAINSCORE_PYTHON.exists(), reason=f"no brainscore environment at {BRAINSCORE_PYTHON.parent.parent}; "
    "create it with 'bash setup.sh --brainscore'")


@pytest.fixture(scope="module")
def konkle_fmri(mirror):
    return mirror / "neural" / "occipitoTemp_Multivariate11-Apr-2018.mat"


@pytest.fixture(scope="module")
def konkle_stimuli(mirror, tmp_path_factory):
    root = tmp_path_factory.mktemp("konkle")
    with tarfile.open(mirror / "stimuli" / "konkle-animacy-size.tar") as tar:
        tar.extractall(root, filter="data")
    return root


def upper(rdm: np.ndarray) -> np.ndarray:
    return rdm[np.triu_indices(len(rdm), k=1)]


# ---------------------------------------------------------------- the fMRI RDMs (main environment)


def test_konkle_rdms_are_square_symmetric_with_zero_diagonal(konkle_fmri):
    rdms = bs.konkle_rdms(konkle_fmri)
    assert rdms.shape == (8, 24, 24)
    assert np.array_equal(rdms, rdms.transpose(0, 2, 1))
    assert np.all(np.diagonal(rdms, axis1=1, axis2=2) == 0)
    assert 0 < upper(rdms[0]).min() and upper(rdms[0]).max() < 2  # correlation distances
    # pdist order: the first condensed entries are (0, 1), (0, 2), ...; the last is (22, 23)
    from scipy.io import loadmat

    patterns = loadmat(konkle_fmri)["patterns"]
    assert rdms[3, 0, 1] == pytest.approx(patterns[3, 0, 0]) and rdms[3, 0, 2] == pytest.approx(patterns[3, 1, 0])
    assert rdms[3, 22, 23] == pytest.approx(patterns[3, -1, 0])
    texforms = bs.konkle_rdms(konkle_fmri, "texforms")
    assert texforms[5, 23, 22] == pytest.approx(patterns[5, -1, 1])


def test_konkle_rdms_reject_other_files(tmp_path):
    savemat(tmp_path / "other.mat", {"patterns": np.zeros((8, 10, 2))})
    with pytest.raises(ValueError, match="expected 'patterns' of shape"):
        bs.konkle_rdms(tmp_path / "other.mat")
    savemat(tmp_path / "none.mat", {"betas": np.zeros(3)})
    with pytest.raises(ValueError, match="no 'patterns'"):
        bs.konkle_rdms(tmp_path / "none.mat")
    with pytest.raises(ValueError, match="unknown image type"):
        bs.konkle_rdms(tmp_path / "other.mat", "silhouettes")


def test_konkle_conditions_follow_the_source_order(konkle_stimuli):
    conditions = bs.konkle_conditions(konkle_stimuli)
    names = list(conditions)
    assert len(names) == 24 and all(len(paths) == 5 for paths in conditions.values())
    assert names[0] == "BigAnimals/Class1-Lowest" and names[5] == "BigAnimals/Class6-Highest"
    assert names[6] == "BigObjects/Class1-Lowest" and names[12] == "SmallAnimals/Class1-Lowest"
    assert names[23] == "SmallObjects/Class6-Highest"


def test_konkle_conditions_reject_a_folder_without_the_24_classes(tmp_path):
    for condition in ("BigAnimals", "SmallAnimals", "BigObjects", "SmallObjects"):
        (tmp_path / condition / "Class1-Lowest").mkdir(parents=True)
        Image.new("L", (4, 4)).save(tmp_path / condition / "Class1-Lowest" / "a.png")
    with pytest.raises(ValueError, match="found 4 <condition>/<class> folders"):
        bs.konkle_conditions(tmp_path)


# ---------------------------------------------------------------- the region-layer commitment


def test_default_commitments_name_real_layers():
    resnet = build("resnet18", width_multiplier=0.25)
    assert bs.region_layers("resnet18", resnet) == {"V1": "layer1", "V2": "layer2", "V4": "layer3", "IT": "layer4"}
    vit = build("vit_b_32")
    assert bs.region_layers("vit_b_32", vit) == {
        "V1": "encoder.layers.encoder_layer_2", "V2": "encoder.layers.encoder_layer_4",
        "V4": "encoder.layers.encoder_layer_6", "IT": "encoder.layers.encoder_layer_10"}
    shallow = build("vit_b_32", image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=8)
    assert list(bs.region_layers("vit_b_32", shallow).values()) == [
        f"encoder.layers.encoder_layer_{b}" for b in (0, 0, 1, 1)]


def test_commitment_overrides_are_checked():
    resnet = build("resnet18", width_multiplier=0.25)
    assert bs.region_layers("resnet18", resnet, {"IT": "layer4.1"})["IT"] == "layer4.1"
    with pytest.raises(ValueError, match="lacks"):
        bs.region_layers("resnet18", resnet, {"IT": "layer5"})
    with pytest.raises(ValueError, match="unknown region"):
        bs.region_layers("resnet18", resnet, {"MT": "layer4"})
    with pytest.raises(ValueError, match="no Brain-Score commitment"):
        bs.region_layers("gpt_neo", resnet)


def test_region_means_average_per_region():
    scores = {"a": bs.BenchmarkScore("V1", 0.2, 0.2, None), "b": bs.BenchmarkScore("V1", 0.6, 0.5, 0.9),
              "c": bs.BenchmarkScore("IT", 0.3, 0.3, 1.0)}
    assert bs.region_means(scores) == pytest.approx({"V1": 0.4, "IT": 0.3})
    assert list(bs.region_means(scores)) == ["V1", "IT"]


def test_paper_benchmarks_match_the_methods_list():
    assert [len(bs.PAPER_BENCHMARKS[r]) for r in bs.REGIONS] == [17, 2, 2, 2]
    assert all(b.startswith("tong.Coggan2024_fMRI.") for b in
               (bs.PAPER_BENCHMARKS[r][0] for r in ("V1", "V2")))


@needs_brainscore
def test_paper_benchmarks_are_registered_in_the_installed_brainscore():
    plugins = REPO.glob(".venv-brainscore/lib/python3*/site-packages/brainscore_vision/benchmarks/*/__init__.py")
    registered = {m for path in plugins for m in re.findall(r"benchmark_registry\[['\"]([^'\"]+)['\"]\]",
                                                            path.read_text())}
    assert [b for ids in bs.PAPER_BENCHMARKS.values() for b in ids if b not in registered] == []


# ---------------------------------------------------------------- the CLI's arguments (main environment)


def test_cli_benchmark_lists():
    assert cli.benchmark_regions("local") == {bs.ALLEN_BENCHMARK: "V1", bs.KONKLE_BENCHMARK: "IT"}
    assert len(cli.benchmark_regions("paper")) == 23
    assert cli.benchmark_regions(f"{bs.KONKLE_BENCHMARK}, MajajHong2015public.V4-pls") == {
        bs.KONKLE_BENCHMARK: "IT", "MajajHong2015public.V4-pls": "V4"}
    both = cli.benchmark_regions("paper,local")
    assert len(both) == 25 and both[bs.ALLEN_BENCHMARK] == "V1" and both["tong.Coggan2024_fMRI.V2-rdm"] == "V2"
    with pytest.raises(SystemExit, match="unknown benchmark"):
        cli.benchmark_regions("MajajHong2015public.V4-pls,Nope-pls")


def settings(**values) -> str:
    """--settings of Brain-Score."""
    return json.dumps({"brainscore": values})


def test_cli_rejects_missing_data_and_unfit_checkpoints(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.parse(["--checkpoint", "c.safetensors", "--settings", settings(benchmarks="local"), "--allen", "A",
                   "--out", "o.json"])
    assert "needs --konkle-fmri" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse(["--checkpoint", "c.safetensors", "--settings", settings(region_layers=[1]), "--out", "o.json"])
    assert "region -> layer name" in capsys.readouterr().err
    options = {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2, "hidden_dim": 8, "mlp_dim": 8}
    save_checkpoint(tmp_path / "vit.safetensors", build("vit_b_32", **options), "vit_b_32", options,
                    topographic_layers=[], factor=3.0, tau=0.0, step=0)
    with pytest.raises(SystemExit, match="takes 32x32 images only"):
        cli.main(["--checkpoint", str(tmp_path / "vit.safetensors"), "--settings",
                  settings(benchmarks="paper", image_size=64), "--out", str(tmp_path / "o.json")])
    save_checkpoint(tmp_path / "lm.safetensors", build("nanogpt", n_layer=1, n_head=1, n_embd=8, block_size=8,
                                                       vocab_size=16), "nanogpt",
                    {"n_layer": 1, "n_head": 1, "n_embd": 8, "block_size": 8, "vocab_size": 16},
                    topographic_layers=[], factor=3.0, tau=0.0, step=0)
    with pytest.raises(SystemExit, match="Brain-Score needs one of"):
        cli.main(["--checkpoint", str(tmp_path / "lm.safetensors"), "--settings", settings(benchmarks="paper"),
                  "--out", str(tmp_path / "o.json")])


# ---------------------------------------------------------------- the benchmarks (brainscore environment)


def run_brainscore(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run([str(BRAINSCORE_PYTHON), *args], capture_output=True, text=True, env=env, cwd=REPO)


def nili_upper_bound(rdms: np.ndarray) -> float:
    mean = upper(rdms.mean(axis=0))
    return float(np.mean([spearmanr(upper(rdm), mean)[0] for rdm in rdms]))


@needs_brainscore
def test_cli_scores_a_checkpoint_on_the_local_benchmarks(mirror, konkle_fmri, konkle_stimuli, tmp_path):
    tiny_checkpoint(tmp_path / "tiny.safetensors")
    out = tmp_path / "scores.json"
    result = run_brainscore(
        "-m", "toponets.cli.brainscore", "--checkpoint", str(tmp_path / "tiny.safetensors"),
        "--allen", str(mirror / "neural" / "allen"), "--konkle-fmri", str(konkle_fmri),
        "--konkle-stimuli", str(konkle_stimuli),
        "--settings", settings(benchmarks="local", image_size=32, pls_splits=2, region_layers={"V1": "layer2"}),
        "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["region_layers"] == {"V1": "layer2", "V2": "layer2", "V4": "layer3", "IT": "layer4"}
    allen, konkle = report["benchmarks"][bs.ALLEN_BENCHMARK], report["benchmarks"][bs.KONKLE_BENCHMARK]
    assert allen["region"] == "V1" and allen["ceiling"] is None and allen["score"] == allen["raw"]
    assert -1 <= allen["raw"] <= 1
    assert konkle["region"] == "IT" and -1 <= konkle["raw"] <= 1
    assert konkle["ceiling"] == pytest.approx(nili_upper_bound(bs.konkle_rdms(konkle_fmri)))
    assert konkle["score"] == pytest.approx(konkle["raw"] / konkle["ceiling"])
    assert report["regions"] == {"V1": allen["score"], "IT": konkle["score"]}
    assert report["metrics"]["IT"] == konkle["score"]


# A brainscore-side script: candidates whose responses are known, scored by the benchmark functions.
# The "copy" candidate answers each Allen image with the recorded responses to that image (found by its
# pixels); the "pixel" candidate answers each Konkle image with its 8x8 thumbnail.
KNOWN_CANDIDATES = """
import json, sys
import numpy as np
from PIL import Image
from toponets import brainscore_model as bs
from toponets.data.neural import load_allen

allen_dir, mat, stimuli_dir, cache = sys.argv[1:5]
data = load_allen(allen_dir)
images = np.concatenate([data.train_images, data.test_images]).reshape(118, -1)
responses = np.concatenate([data.train_responses, data.test_responses])

def pixels(path, side=None):
    with Image.open(path) as image:
        image = image.convert("L")
        return np.asarray(image.resize((side, side)) if side else image, dtype=np.float64).ravel()

class Known:
    def __init__(self, respond):
        self.respond = respond
    def start_recording(self, region, time_bins):
        self.region = region
    def look_at(self, stimulus_set, number_of_trials=1):
        ids = list(stimulus_set["stimulus_id"])
        values = np.stack([self.respond(stimulus_set.get_stimulus(i)) for i in ids])
        extra = {c: list(stimulus_set[c]) for c in stimulus_set.columns if c != "stimulus_id"}
        return bs._neuroid_assembly(values, ids, self.region, **(extra or {"order": range(len(ids))}))

def copy(path):
    match = np.flatnonzero((images == pixels(path)).all(axis=1))[0]
    return responses[match]

rdms = bs.konkle_rdms(mat)
conditions = bs.konkle_conditions(stimuli_dir)
thumbs = np.stack([np.mean([pixels(p, 8) for p in paths], axis=0) for paths in conditions.values()])
model = 1 - np.corrcoef(thumbs)
triu = np.triu_indices(24, k=1)
from scipy.stats import spearmanr
expected = float(np.mean([spearmanr(model[triu], rdm[triu])[0] for rdm in rdms]))
print(json.dumps({
    "copy": bs.pls_benchmark(Known(copy), data, cache, splits=3).raw,
    "pixel": bs.rdm_benchmark(Known(lambda p: pixels(p, 8)), rdms, conditions).raw,
    "pixel_expected": expected,
}))
"""


@needs_brainscore
def test_benchmarks_score_known_candidates(mirror, konkle_fmri, konkle_stimuli, tmp_path):
    result = run_brainscore("-c", KNOWN_CANDIDATES, str(mirror / "neural" / "allen"), str(konkle_fmri),
                            str(konkle_stimuli), str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["copy"] > 0.5  # PLS from the responses themselves; an untrained network scores about 0
    assert scores["pixel"] == pytest.approx(scores["pixel_expected"])


def test_cli_without_brainscore_vision_names_the_fix(monkeypatch):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match="bash setup.sh --brainscore"):
        cli.require_brainscore()
