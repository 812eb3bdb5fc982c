"""Effective dimensionality (METHODS §3): known spectra, streaming vs sklearn PCA, the model pass, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from torch import nn

from conftest import tiny_checkpoint, tiny_image_folder
from toponets.analysis.activations import stream_activations
from toponets.analysis.covariance import CovarianceAccumulator
from toponets.analysis.dimensionality import (
    UnitNormAccumulator,
    effective_dim,
    layer_effective_dim,
    mean_effective_dim,
    model_effective_dim,
)
from toponets.cli import dimensionality as cli
from toponets.data.images import eval_transform, image_folder, loader
from toponets.models import build, residual_blocks, tdann, topographic_layers


def pca_participation_ratio(x: np.ndarray) -> float:
    lam = PCA().fit(x).explained_variance_
    return lam.sum() ** 2 / (lam**2).sum()


def with_covariance(variances, n: int, seed: int = 0) -> np.ndarray:
    """n samples whose sample covariance has exactly the eigenvalues `variances` (in a random basis)."""
    rng = np.random.default_rng(seed)
    d = len(variances)
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    q, _ = np.linalg.qr(z)  # orthonormal, zero-mean columns
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return 5.0 + (q * np.sqrt(np.asarray(variances) * (n - 1))) @ basis.T


def test_known_eigenvalues_give_known_ratio():
    x = with_covariance([4, 1, 1, 0, 0, 0], n=300)
    np.testing.assert_allclose(np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1], [4, 1, 1, 0, 0, 0], atol=1e-10)
    assert layer_effective_dim([x[:100], x[100:]]) == pytest.approx(36 / 18, abs=1e-10)


def test_isotropic_data_fill_every_dimension():
    x = np.random.default_rng(1).normal(size=(20_000, 12))
    assert layer_effective_dim([x[:7000], x[7000:]]) == pytest.approx(12, rel=0.01)


def test_rank_one_data_have_one_dimension():
    rng = np.random.default_rng(2)
    x = 3.0 + rng.normal(size=(200, 1)) * rng.normal(size=(1, 30))
    assert layer_effective_dim([x]) == pytest.approx(1.0, abs=1e-9)


def test_streaming_equals_sklearn_pca_on_the_full_matrix():
    rng = np.random.default_rng(3)
    x = 1e3 + rng.normal(size=(600, 40)) @ rng.normal(size=(40, 40)) * rng.uniform(0.1, 3, size=40)
    acc = CovarianceAccumulator(40)
    for i, (a, b) in enumerate([(0, 1), (1, 9), (9, 400), (400, 600)]):
        acc.update(torch.from_numpy(x[a:b]) if i % 2 else x[a:b])  # tensors and arrays alike
    assert acc.n == 600
    np.testing.assert_allclose(acc.covariance().numpy(), np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    assert effective_dim(acc) == pytest.approx(pca_participation_ratio(x), rel=1e-9)


def test_fewer_stimuli_than_units_match_sklearn():
    x = np.random.default_rng(4).normal(size=(10, 64))
    assert layer_effective_dim([x[:4], x[4:]]) == pytest.approx(pca_participation_ratio(x), rel=1e-9)


def test_constant_responses_are_undefined_and_left_out_of_the_mean():
    assert math.isnan(layer_effective_dim([np.ones((5, 8))]))
    assert mean_effective_dim({"a": 2.0, "b": float("nan"), "c": 4.0}) == 3.0
    assert math.isnan(mean_effective_dim({"a": float("nan")}))


def test_clear_errors():
    with pytest.raises(ValueError, match="at least 2 stimuli"):
        layer_effective_dim([np.zeros((1, 4))])
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        CovarianceAccumulator(4).update(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="stream was empty"):
        layer_effective_dim([])


def test_model_effective_dim_matches_pca_of_max_pooled_responses():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.Flatten(), nn.Linear(16 * 25, 6))
    images = torch.randn(30, 3, 9, 9)
    batches = [(images[i : i + 8], torch.zeros(0)) for i in range(0, 30, 8)]
    layers = ["0", "2", "4"]
    per_layer, n = model_effective_dim(model, layers, batches)
    assert n == 30 and list(per_layer) == layers
    stored = list(stream_activations(model, layers, batches, reduce="max"))
    for name in layers:
        x = torch.cat([b[name] for b in stored]).double().numpy()
        assert per_layer[name] == pytest.approx(pca_participation_ratio(x), rel=1e-6)
    mean_pooled, _ = model_effective_dim(model, ["0"], batches, reduce="mean")
    assert mean_pooled["0"] != pytest.approx(per_layer["0"])


def test_cli_writes_per_layer_and_mean(tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    model = tiny_checkpoint(checkpoint)
    layers = topographic_layers(model, "resnet18")
    tiny_image_folder(tmp_path / "val", classes=2, per_class=5)
    out = tmp_path / "out" / "ed.json"
    args = ["--checkpoint", str(checkpoint), "--images", str(tmp_path / "val")]
    settings = json.dumps({"dimensionality": {"res": 16, "n_images": 9, "batch_size": 4}})
    cli.main([*args, "--settings", settings, "--device", "cpu", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["n_images"] == 9 and report["reduce"] == "max" and list(report["per_layer"]) == layers
    values = list(report["per_layer"].values())
    assert all(1.0 <= v <= 8.0 for v in values)  # 9 stimuli span at most 8 dimensions
    assert report["metrics"]["effective_dim"] == pytest.approx(np.mean(values))
    assert not list(out.parent.glob(".*.part"))


def test_unit_norm_removes_a_per_stimulus_gain():
    """Section 3 variant (not the paper's ED): one-hot responses over k units, equally often, have ED k - 1
    exactly; random per-stimulus gains (contrast) change the paper's ED, and `unit_norm` recovers k - 1."""
    k, rng = 5, np.random.default_rng(0)
    one_hot = np.eye(k)[np.arange(200) % k]
    gains = rng.uniform(1.0, 20.0, size=(200, 1))
    assert layer_effective_dim([one_hot]) == pytest.approx(k - 1)
    with_gain = layer_effective_dim([one_hot * gains])
    assert abs(with_gain - (k - 1)) > 0.1
    normed = effective_dim(UnitNormAccumulator.of([one_hot[:64] * gains[:64], one_hot[64:] * gains[64:]]))
    assert normed == pytest.approx(k - 1)


def test_cli_variants_measure_residual_blocks_and_unit_norm(tmp_path):
    """Section 3: "we followed the procedure outlined in (Margalit et al., 2024)", whose layers are the
    residual blocks' outputs (TDANN's LAYER_ORDER): `layers: blocks` measures those, here as the library
    computes them directly."""
    checkpoint = tmp_path / "model.safetensors"
    model = tiny_checkpoint(checkpoint)
    tiny_image_folder(tmp_path / "val", classes=2, per_class=5)
    out = tmp_path / "ed.json"
    args = ["--checkpoint", str(checkpoint), "--images", str(tmp_path / "val"), "--device", "cpu", "--out", str(out)]
    settings = {"res": 16, "n_images": 9, "batch_size": 4, "layers": "blocks", "unit_norm": True}
    cli.main([*args, "--settings", json.dumps({"dimensionality": settings})])
    report = json.loads(out.read_text())
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
    assert list(report["per_layer"]) == blocks and report["unit_norm"] is True
    images = loader(image_folder(tmp_path / "val", transform=eval_transform(16), max_images=9), 4, shuffle=False)
    expected, _ = model_effective_dim(model, blocks, images, unit_norm=True)
    assert report["per_layer"] == pytest.approx(expected)


def test_residual_blocks_of_resnets_and_tdann():
    assert residual_blocks(build("resnet50", num_classes=10)) == [
        f"layer{i}.{j}" for i, n in zip(range(1, 5), (3, 4, 6, 3)) for j in range(n)
    ]
    assert residual_blocks(build("tdann", image_size=32)) == [f"base_model.{b}" for b in tdann.BLOCKS]
    assert residual_blocks(nn.Sequential(nn.Linear(2, 2))) == []
