"""TDANN (Margalit et al. 2024), the paper's comparison model (§3.1 Figure 2A, §3.4 Table 1, A.3): its
checkpoint and unit-position files, in the authors' formats, imported into ours with identical outputs."""

import numpy as np
import pytest
import torch

from toponets.checkpoints import import_authors_checkpoint, load_checkpoint
from toponets.experiments import spec_for
from toponets.models import build, topographic_layers
from toponets.models.tdann import BLOCKS, block_dims
from toponets.tdann_files import random_positions, read_positions, write_positions, write_trunk

SIZE = 32


def tdann_files(tmp_path, seed=0):
    """A random-weight TDANN checkpoint and its positions, written in the authors' layouts."""
    torch.manual_seed(seed)
    model = build("tdann", image_size=SIZE)
    for m in model.modules():  # non-trivial batch-norm statistics, so that a missed buffer shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    write_trunk(tmp_path / "model_final_checkpoint_phase0.torch", model)
    write_positions(tmp_path / "positions", random_positions(SIZE, seed), SIZE)
    return model, tmp_path / "model_final_checkpoint_phase0.torch", tmp_path / "positions"


def test_block_dims_match_the_network():
    """Each block's (C, H, W), from which the positions' unit counts follow, is what the network outputs."""
    model = build("tdann", image_size=64).eval()
    seen = {}
    hooks = [getattr(model.base_model, b.split(".")[0])[int(b[-1])].register_forward_hook(
        lambda m, a, out, b=b: seen.__setitem__(b, tuple(out.shape[1:]))) for b in BLOCKS]
    model(torch.zeros(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    assert seen == block_dims(64)
    assert block_dims(224)["layer1.0"] == (64, 56, 56) and block_dims(224)["layer4.1"] == (512, 7, 7)


def test_import_gives_identical_outputs_and_positions(tmp_path):
    source, weights, positions = tdann_files(tmp_path)
    spec = spec_for({"name": "tdann", "family": "tdann", "options": {"image_size": SIZE}}, 0, 0)
    out = tmp_path / "model.safetensors"
    import_authors_checkpoint(weights, out, spec, positions=positions)
    model, meta = load_checkpoint(out)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(source.eval()(x), model.eval()(x))
    assert meta["topo"]["layers"] == [f"base_model.{b}" for b in BLOCKS]
    given = read_positions(positions, SIZE)
    for block in BLOCKS:
        assert np.array_equal(model.positioned_layers[f"base_model.{block}"].numpy(), given[block])
    assert topographic_layers(model, "tdann") == meta["topo"]["layers"]


def test_refusals(tmp_path):
    _, weights, positions = tdann_files(tmp_path)
    spec = spec_for({"name": "tdann", "family": "tdann", "options": {"image_size": SIZE}}, 0, 0)
    with pytest.raises(ValueError, match="positions"):
        import_authors_checkpoint(weights, tmp_path / "m.safetensors", spec)
    with pytest.raises(ValueError, match="do not fit"):  # positions of another input size
        read_positions(positions, 64)
    (positions / "layer1.0.npz").rename(positions / "layer1.0.pkl")
    with pytest.raises(FileNotFoundError, match="pickled"):
        read_positions(positions, SIZE)
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a TDANN"):
        import_authors_checkpoint(tmp_path / "other.pt", tmp_path / "m.safetensors", spec, positions=positions)


def test_linear_readout_learns_separable_features():
    """§3.1: TDANN is self-supervised, so its top-1 is a linear readout's; the probe separates separable features."""
    from toponets.analysis.linear_readout import fit_readout, pooled_features

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=g) * 3
    y = torch.arange(300) % 3
    x = centres[y] + torch.randn(300, 16, generator=g)
    readout = fit_readout(x[:240], y[:240], classes=3, epochs=30, batch_size=64)
    assert readout.top1(x[240:], y[240:]) > 0.95
    assert readout.top1(x[240:], torch.zeros(60, dtype=torch.long)) < 0.5
    model = build("tdann", image_size=SIZE)
    feats, labels = pooled_features(model, [(torch.randn(2, 3, SIZE, SIZE), torch.tensor([0, 1]))])
    assert feats.shape == (2, 512) and labels.tolist() == [0, 1]


def test_linear_readout_cli_reads_its_settings_and_the_checkpoints_input_size(tmp_path):
    """The accuracy job of a TDANN run: res null = the checkpoint's own input size (its builder's image_size)."""
    import json

    from conftest import tiny_image_folder
    from toponets.cli import linear_readout

    _, weights, positions = tdann_files(tmp_path)
    spec = spec_for({"name": "tdann", "family": "tdann", "options": {"image_size": SIZE}}, 0, 0)
    import_authors_checkpoint(weights, tmp_path / "m.safetensors", spec, positions=positions)
    tiny_image_folder(tmp_path / "train", classes=2, per_class=3)
    tiny_image_folder(tmp_path / "val", classes=2, per_class=2)
    out = tmp_path / "acc.json"
    args = ["--checkpoint", str(tmp_path / "m.safetensors"), "--train-images", str(tmp_path / "train"),
            "--images", str(tmp_path / "val"), "--epochs", "2", "--device", "cpu", "--out", str(out)]
    linear_readout.main([*args, "--settings", json.dumps({"accuracy": {"res": None, "batch_size": 4}})])
    report = json.loads(out.read_text())
    assert report["res"] == SIZE and report["n_images"] == 4 and report["run"]["model"] == "tdann"
    with pytest.raises(SystemExit):  # a section it does not read
        linear_readout.main([*args, "--settings", json.dumps({"smoothness": {}})])
