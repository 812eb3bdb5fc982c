"""ImageFolder dataset preparation from the Tiny-ImageNet archives (mirror tar, official zip) and an ImageNet directory."""

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import mirror_file
from toponets.cli.prepare_images import main
from toponets.data import prepare_images
from toponets.data.prepare_images import from_imagenet_dir, from_tiny_imagenet
from toponets.data.sources import DataSourceError

CAPS = dict(classes=3, train_per_class=4, val_per_class=2)


def tiny_imagenet_tar() -> Path:
    tar = mirror_file("imagenet/tiny-imagenet-200.tar")
    return tar


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """3 classes x (4 train + 2 val) real images from the mirror tar, with its summary."""
    out = tmp_path_factory.mktemp("prepared") / "tiny"
    return out, from_tiny_imagenet(tiny_imagenet_tar(), out, **CAPS)


def files(root: Path) -> dict[str, list[str]]:
    return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(root.iterdir())}


def test_tiny_imagenet_caps(small):
    out, summary = small
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "train", "val"]
    train, val = files(out / "train"), files(out / "val")
    assert list(train) == list(val) == summary["classes"] == ["n01443537", "n01629819", "n01641577"]
    # the first images of each class in plain sorted order (deterministic)
    assert train["n01443537"] == [f"n01443537_{k}.JPEG" for k in ("0", "1", "10", "100")]
    assert all(len(v) == 4 for v in train.values()) and all(len(v) == 2 for v in val.values())
    assert summary["counts"] == {"train": 12, "val": 6}
    assert json.loads((out / "dataset.json").read_text()) == summary
    assert [p.name for p in out.parent.iterdir()] == ["tiny"]  # no temporary directory left
    with pytest.raises(DataSourceError, match="already exists"):
        from_tiny_imagenet(tiny_imagenet_tar(), out, **CAPS)


def test_asking_more_images_than_the_source_holds_is_an_error(tmp_path):
    """The mirror's Tiny-ImageNet keeps 100 training and 50 validation images per class: asking more must
    fail, naming the setting and the count, instead of quietly preparing fewer."""
    for caps, setting in ((dict(classes=2, train_per_class=101), "train_per_class 101"),
                          (dict(classes=2, val_per_class=51), "val_per_class 51"),
                          (dict(classes=201), "classes 201")):
        with pytest.raises(ValueError, match=setting):
            from_tiny_imagenet(tiny_imagenet_tar(), tmp_path / "out", **caps)
        assert not (tmp_path / "out").exists()


def test_loads_as_image_folder(small):
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from toponets.data.images import eval_transform, image_folder

    assert prepare_images.IMG_EXTENSIONS == IMG_EXTENSIONS
    out, summary = small
    dataset = image_folder(out / "train", transform=eval_transform(32))
    assert dataset.classes == summary["classes"] and len(dataset) == 12
    image, label = dataset[11]
    assert tuple(image.shape) == (3, 32, 32) and label == 2


WNIDS = ["n00000003", "n00000001", "n00000002"]  # wnids.txt is not sorted


def official_zip(path: Path, *, unlabelled: str | None = None) -> Path:
    """A tiny-imagenet-200.zip in the official layout: 3 classes, 3 train and 2 val images each, 8x8 JPEGs."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "JPEG")
    jpeg, top = buffer.getvalue(), "tiny-imagenet-200"
    annotations = []
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/wnids.txt", "\n".join(WNIDS) + "\n")
        zf.writestr(f"{top}/words.txt", "".join(f"{w}\tthing\n" for w in WNIDS))
        for c, wnid in enumerate(WNIDS):
            zf.writestr(f"{top}/train/{wnid}/{wnid}_boxes.txt", "")
            for k in (0, 1, 10):
                zf.writestr(f"{top}/train/{wnid}/images/{wnid}_{k}.JPEG", jpeg)
            for k in (c, c + 3):  # val images interleave the classes
                zf.writestr(f"{top}/val/images/val_{k}.JPEG", jpeg)
                annotations.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t7\t7\n")
        if unlabelled:
            zf.writestr(f"{top}/val/images/{unlabelled}", jpeg)
        zf.writestr(f"{top}/val/val_annotations.txt", "".join(annotations))
        zf.writestr(f"{top}/test/images/test_0.JPEG", jpeg)
    return path


def test_official_zip(tmp_path, capsys):
    archive = official_zip(tmp_path / "tiny-imagenet-200.zip")
    out = tmp_path / "prepared"
    summary = from_tiny_imagenet(archive, out, classes=2, train_per_class=2, val_per_class=1)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "train", "val"]
    assert files(out / "train") == {
        "n00000001": ["n00000001_0.JPEG", "n00000001_1.JPEG"],
        "n00000002": ["n00000002_0.JPEG", "n00000002_1.JPEG"],
    }
    # each val image sits in the class val_annotations.txt gives it; the first one by name is kept
    assert files(out / "val") == {"n00000001": ["val_1.JPEG"], "n00000002": ["val_2.JPEG"]}
    assert summary["classes"] == ["n00000001", "n00000002"] and summary["counts"] == {"train": 4, "val": 2}
    assert summary["source"] == {"kind": "tiny-imagenet-200", "path": str(archive)}
    assert json.loads((out / "dataset.json").read_text()) == summary
    assert Image.open(out / "val" / "n00000002" / "val_2.JPEG").size == (8, 8)
    # uncapped, through the CLI
    main(["--tiny-imagenet", str(archive), "--out", str(tmp_path / "all")])
    assert "3 classes, 9 train / 6 val images" in capsys.readouterr().out
    assert files(tmp_path / "all" / "val")["n00000003"] == ["val_0.JPEG", "val_3.JPEG"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all", "prepared", "tiny-imagenet-200.zip"]


def test_official_zip_unlabelled_val_image(tmp_path):
    archive = official_zip(tmp_path / "tiny-imagenet-200.zip", unlabelled="val_99.JPEG")
    with pytest.raises(DataSourceError, match="val/images/val_99.JPEG has no class in .*val_annotations.txt"):
        from_tiny_imagenet(archive, tmp_path / "out", classes=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-imagenet-200.zip"]  # no output, no temporary


def test_unknown_archive_layout(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("images/a.JPEG", b"")
    with pytest.raises(DataSourceError, match="lacks class folders .*official tiny-imagenet-200.zip"):
        from_tiny_imagenet(archive, tmp_path / "out")
    (tmp_path / "broken.tar").write_bytes(b"not an archive")
    with pytest.raises(DataSourceError, match="not a readable tar or zip archive"):
        from_tiny_imagenet(tmp_path / "broken.tar", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_imagenet_dir_links(small, tmp_path):
    source, _ = small  # already in the ILSVRC ImageFolder layout
    summary = from_imagenet_dir(source, tmp_path / "imagenet", classes=2, val_per_class=1)
    assert summary["classes"] == ["n01443537", "n01629819"] and summary["counts"] == {"train": 8, "val": 2}
    linked = tmp_path / "imagenet" / "val" / "n01629819" / "val_1054.JPEG"
    assert linked.is_symlink() and linked.resolve() == (source / "val" / "n01629819" / "val_1054.JPEG").resolve()


def make_layout(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    return root


@pytest.mark.parametrize(
    "names, error",
    [
        (["train/n00000001/a.JPEG"], "no val/ directory"),
        (["train/n00000001/a.JPEG", "val/b.JPEG"], r"holds images directly .* sort them into val/<wnid>/"),
        (["train/n00000001/a.JPEG", "val/n00000002/b.JPEG"], r"different classes .*only in train: \['n00000001'\]"),
        (["train/cats/a.JPEG", "val/cats/b.JPEG"], "not WordNet ids: .'cats'"),
        (["train/n00000001/a.txt", "val/n00000001/b.JPEG"], r"without images: \['train/n00000001'\]"),
    ],
)
def test_imagenet_layout_errors(tmp_path, names, error):
    root = make_layout(tmp_path / "imagenet", names)
    with pytest.raises(DataSourceError, match=error):
        from_imagenet_dir(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failure_leaves_no_output(tmp_path, monkeypatch):
    root = make_layout(tmp_path / "imagenet", [f"{s}/n00000001/{k}.JPEG" for s in ("train", "val") for k in range(3)])
    calls, real_symlink = [], os.symlink

    def failing_symlink(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError("disk full")
        real_symlink(src, dst)

    monkeypatch.setattr(prepare_images.os, "symlink", failing_symlink)
    with pytest.raises(OSError, match="disk full"):
        from_imagenet_dir(root, tmp_path / "out" / "dataset")
    assert list((tmp_path / "out").iterdir()) == []


def test_cli(tmp_path, capsys):
    main(["--tiny-imagenet", str(tiny_imagenet_tar()), "--out", str(tmp_path / "d"), "--classes", "2",
          "--train-per-class", "1", "--val-per-class", "1"])  # fmt: skip
    assert "2 classes, 2 train / 2 val images" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="prepare_images: .* already exists"):
        main(["--tiny-imagenet", str(tiny_imagenet_tar()), "--out", str(tmp_path / "d")])
    with pytest.raises(SystemExit, match="classes must be at least 1"):
        main(["--imagenet-dir", str(tmp_path / "d"), "--out", str(tmp_path / "e"), "--classes", "0"])
