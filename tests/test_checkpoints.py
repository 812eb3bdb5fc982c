"""Checkpoint round trip (safetensors + JSON sidecar) and the authors' formats."""

import json

import pytest
import torch

from toponets.checkpoints import (
    checkpoint_run,
    load_authors_checkpoint,
    load_checkpoint,
    read_meta,
    run_identity,
    save_checkpoint,
)
from toponets.experiments import spec_for
from toponets.models import build, topographic_layers

NANO = dict(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=64)
RESNET = dict(width_multiplier=0.25, small_stem=True, num_classes=7)


def _same_outputs(a, b, x):
    a.eval(), b.eval()
    with torch.no_grad():
        out_a, out_b = a(x), b(x)
    out_a = getattr(out_a, "logits", out_a)
    out_b = getattr(out_b, "logits", out_b)
    return torch.equal(out_a, out_b)


@pytest.mark.parametrize(
    "family, options, x",
    [
        ("resnet18", RESNET, torch.randn(2, 3, 32, 32)),
        ("nanogpt", NANO, torch.randint(0, 64, (2, 8))),
        ("gpt_neo", dict(vocab_size=64, hidden_size=32, num_layers=2, num_heads=2, max_position_embeddings=32),
         torch.randint(0, 64, (2, 8))),
    ],
)
def test_round_trip_restores_weights_and_metadata(tmp_path, family, options, x):
    torch.manual_seed(0)
    model = build(family, **options)
    layers = topographic_layers(model, family)
    path = tmp_path / "final.safetensors"
    save_checkpoint(path, model, family, options, topographic_layers=layers, factor=3.0, tau=5.0, step=42,
                    config={"seed": 0})
    loaded, meta = load_checkpoint(path)
    assert _same_outputs(model, loaded, x)
    assert meta["model"] == {"family": family, "options": options}
    assert meta["topo"] == {"layers": layers, "factor": 3.0, "tau": 5.0}
    assert meta["step"] == 42 and meta["config"] == {"seed": 0}
    assert "git_commit" in meta
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.json", "final.safetensors"]  # no temporaries left


def test_tied_embeddings_stay_tied_after_loading(tmp_path):
    model = build("nanogpt", **NANO)
    save_checkpoint(tmp_path / "m.safetensors", model, "nanogpt", NANO, topographic_layers=[], factor=3.0, tau=0.0, step=0)
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded.lm_head.weight is loaded.transformer.wte.weight


def test_missing_files_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "w.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="metadata .*w.json is missing"):
        read_meta(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="must end in .safetensors"):
        save_checkpoint(tmp_path / "w.pt", build("nanogpt", **NANO), "nanogpt", NANO, topographic_layers=[],
                        factor=3.0, tau=0.0, step=0)


def test_authors_resnet_state_dict_loads(tmp_path):
    torch.manual_seed(0)
    model = build("resnet18", num_classes=1000)
    state = model.state_dict()
    assert "layer2.0.conv1.conv.weight" in state  # the released keys carry BlurPool's .conv
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "all_topo_tau_10.0.pt")
    loaded, _ = load_authors_checkpoint(tmp_path / "all_topo_tau_10.0.pt", "resnet18")
    assert _same_outputs(model, loaded, torch.randn(1, 3, 64, 64))


def test_authors_nanogpt_checkpoint_loads_with_its_model_args(tmp_path):
    torch.manual_seed(0)
    model = build("nanogpt", **NANO)
    state = {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": state, "model_args": model.model_args(), "iter_num": 10}, tmp_path / "tau_50.0.pt")
    loaded, _ = load_authors_checkpoint(tmp_path / "tau_50.0.pt", "nanogpt")
    assert loaded.config.n_embd == 32
    assert _same_outputs(model, loaded, torch.randint(0, 64, (1, 8)))


def test_authors_vit_checkpoint_loads(tmp_path):
    opts = dict(image_size=32, patch_size=16, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=3)
    model = build("vit_b_32", **opts)
    torch.save({"model": model.state_dict(), "epoch": 299}, tmp_path / "tau_10.0.pt")
    loaded, _ = load_authors_checkpoint(tmp_path / "tau_10.0.pt", "vit_b_32", **opts)
    assert _same_outputs(model, loaded, torch.randn(1, 3, 32, 32))


def test_authors_checkpoint_that_does_not_fit_is_explained(tmp_path):
    torch.save(build("resnet18", **RESNET).state_dict(), tmp_path / "r.pt")
    with pytest.raises(ValueError, match="does not fit a 'resnet18' model"):
        load_authors_checkpoint(tmp_path / "r.pt", "resnet18")


def test_pickled_code_is_never_executed(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"cannot be read as plain weights \(Unsupported global: GLOBAL print "
                                         r"was not an allowed global by default.\).*never loaded in a way that could run code") as error:
        load_authors_checkpoint(tmp_path / "evil.pt", "resnet18")
    assert "weights_only" not in str(error.value) and "allowlist" not in str(error.value)  # no unsafe advice


def test_sidecar_is_json(tmp_path):
    save_checkpoint(tmp_path / "c.safetensors", build("nanogpt", **NANO), "nanogpt", NANO, topographic_layers=[],
                    factor=(3.0, 3.0), tau=1.0, step=3)
    assert json.loads((tmp_path / "c.json").read_text())["topo"]["factor"] == [3.0, 3.0]


def test_run_identity_comes_from_the_sidecar_spec(tmp_path):
    """#15 item 4, "Run identity travels with the data": a checkpoint's run (model = the experiment's name,
    tau, seed) is read from its sidecar's config, the run spec; an imported checkpoint's spec adds only
    imported_from. A sidecar without a run spec is refused, naming the file."""
    spec = spec_for({"name": "rn18-small", "family": "nanogpt", "options": NANO}, 0.5, 2)
    assert run_identity(spec) == run_identity({**spec, "imported_from": "x.pt"}) == {
        "model": "rn18-small", "tau": 0.5, "seed": 2}
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, build("nanogpt", **NANO), "nanogpt", NANO, topographic_layers=[], factor=3.0, tau=0.5,
                    step=0, config={**spec, "imported_from": "x.pt"})
    assert checkpoint_run(path) == {"model": "rn18-small", "tau": 0.5, "seed": 2}
    save_checkpoint(path, build("nanogpt", **NANO), "nanogpt", NANO, topographic_layers=[], factor=3.0, tau=0.5, step=0)
    with pytest.raises(ValueError, match=r"c.safetensors names no run: the run spec lacks \['name', 'tau', 'seed'\]"):
        checkpoint_run(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint_run(tmp_path / "none.safetensors")
