"""Top-1 of a vision checkpoint without a classifier (TDANN), by a linear readout of its features.

    python -m toponets.cli.linear_readout --checkpoint C.safetensors --train-images TRAIN_DIR --images VAL_DIR \
        [--settings '{"accuracy": {"res": 224, "batch_size": 256}}'] [--epochs 20] [--lr 0.001] [--device auto] \
        --out out.json

Settings: the config's evaluation.accuracy (toponets.settings.Accuracy), of
which res (null = the checkpoint's own input size, else 224) and batch_size.
Features of the train images (centre crops at res) train a linear layer
(analysis/linear_readout.py); its top-1 on the val images is written as
``{"metrics": {"top1": x}, "readout": "linear", ...}``, where the accuracy
evaluation of a classifier writes its own top-1.
"""

from __future__ import annotations

import argparse

from ..analysis.linear_readout import fit_readout, pooled_features
from ..checkpoints import load_checkpoint
from ..data.images import eval_transform, image_folder, loader
from ..device import select_device
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--train-images", required=True, help="ImageFolder the readout is trained on")
    p.add_argument("--images", required=True, help="ImageFolder of the validation images (same classes)")
    eval_args.add_settings(p, "linear_readout")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    args = eval_args.read_settings(p, p.parse_args(argv))
    settings = args.settings["accuracy"]
    ident = eval_args.identity(args.checkpoint, "accuracy")
    device = select_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    args.res = settings.res or meta["model"]["options"].get("image_size", 224)
    args.batch_size = settings.batch_size
    sets = {split: image_folder(path, transform=eval_transform(args.res)) for split, path in
            (("train", args.train_images), ("val", args.images))}
    if sets["train"].classes != sets["val"].classes:
        raise SystemExit(f"{args.train_images} and {args.images} have different classes; give one dataset's splits")
    data = {split: pooled_features(model, loader(ds, args.batch_size, shuffle=False, num_workers=args.workers), device)
            for split, ds in sets.items()}
    readout = fit_readout(*data["train"], classes=len(sets["train"].classes), epochs=args.epochs, lr=args.lr)
    eval_args.write_json(args.out, {
        "metrics": {"top1": readout.top1(*data["val"])}, "readout": "linear", "n_train": len(data["train"][1]),
        "n_images": len(data["val"][1]), "res": args.res, "epochs": args.epochs, "lr": args.lr,
        "checkpoint": str(args.checkpoint),
    }, ident)


if __name__ == "__main__":
    main()
