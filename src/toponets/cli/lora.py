"""LoRA fine-tuning of a language checkpoint and its validation-loss curve (METHODS §10, Figures 11-12).

    python -m toponets.cli.lora --checkpoint C.safetensors --text TOKENS_DIR [--dataset NAME] \
        [--settings '{"lora": {"ranks": [2, 4, 8], "alpha": null, "dropout": 0, "targets": ["attn.c_attn"],
                      "lr": 0.001, "steps": 100, "batch_size": 8, "length": 64, "eval_every": 25,
                      "n_samples": 64}}'] [--seed 0] [--device auto] \
        --out lora.json --curve curve.csv [--adapter-dir DIR]

Settings: the config's evaluation.lora (toponets.settings.Lora; the keys
that choose the runs and corpora are the workflow's). Wraps the checkpoint's
model with a LoRA adapter of each rank R of ranks on the Linear layers named
by targets (module names or dotted suffixes; default NanoGPT's attn.c_attn),
base weights frozen, and trains the adapter alone with AdamW at a constant
learning rate lr for `steps` steps of batch_size random windows of `length`
tokens from the train split of TOKENS_DIR (a prepare_text output); alpha
null = 2 x rank. The validation loss is measured at step 0, every
eval_every steps and after the last step, on n_samples fixed windows of its
val split (the windows and loss of lm_loss).

Each rank starts from the checkpoint afresh (one process: the imports are
paid once). Writes ``{"metrics": {"val_loss_before", "delta", "delta_r<R>"
...}, "per_rank": {R: {"val_loss_after", "delta", "trainable_parameters",
"settings"}}, "dataset", "n_samples", "length", "split", "checkpoint"}`` with
delta = before - after (positive: fine-tuning helped; "delta" is the mean over
ranks), and the curves as CSV with columns dataset, rank, step, val_loss (the
run's labels, so that `toponets.cli.tables curves` tables keep them).
--adapter-dir also saves each rank's adapter weights (peft's state dict, a few
kB) as rank<R>.safetensors.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from safetensors.torch import save_file

from ..analysis.language import token_windows
from ..analysis.lora import LoraSettings, run_lora
from ..data.text import TokenShards
from ..io import atomic_path
from . import eval_args


def parser() -> argparse.ArgumentParser:
    p = eval_args.parser(__doc__, "lora", stimuli=("text",))
    p.add_argument("--dataset", help="label of the fine-tuning data in the curve CSV (default: the --text folder name)")
    p.add_argument("--seed", type=int, default=0, help="seed of the adapter's initialisation and training batches")
    p.add_argument("--curve", required=True, help="CSV file of the validation-loss curve to write")
    p.add_argument("--adapter-dir", help="also save each rank's adapter weights as DIR/rank<R>.safetensors")
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = eval_args.use_stimuli(eval_args.parse(p, argv), "lora")
    lora = args.settings["lora"]
    try:
        runs = [
            LoraSettings(
                rank=rank, alpha=lora.alpha, dropout=lora.dropout, targets=tuple(lora.targets), lr=lora.lr,
                steps=lora.steps, batch_size=lora.batch_size, length=lora.length, eval_every=lora.eval_every,
                seed=args.seed,
            )
            for rank in dict.fromkeys(lora.ranks)
        ]
    except ValueError as err:
        p.error(str(err))
    dataset = args.dataset or Path(args.text).name
    ident = eval_args.identity(args.checkpoint, f"lora-{dataset}")
    val_windows = token_windows(TokenShards(args.text, "val"), args.n, args.length + 1)
    per_rank, curves = {}, []
    for settings in runs:
        model, _, device = eval_args.checkpoint(args, need_layers=False)  # each rank adapts the checkpoint afresh
        try:
            wrapped, result = run_lora(model, TokenShards(args.text, "train"), val_windows, settings, device)
        except ValueError as err:  # targets that select no Linear layer of this model
            raise SystemExit(f"{args.checkpoint}: {err}") from err
        per_rank[settings.rank] = {
            "val_loss_after": result.val_loss_after,
            "delta": result.delta,
            "trainable_parameters": result.trainable_parameters,
            "settings": asdict(settings),
        }
        curve = pd.DataFrame([asdict(point) for point in result.curve])
        curves.append(curve.assign(dataset=dataset, rank=settings.rank)[["dataset", "rank", *curve]])
        if args.adapter_dir:
            from peft import get_peft_model_state_dict  # already imported by run_lora

            with atomic_path(Path(args.adapter_dir) / f"rank{settings.rank}.safetensors") as tmp:
                save_file({k: v.contiguous() for k, v in get_peft_model_state_dict(wrapped).items()}, str(tmp))
    deltas = [run["delta"] for run in per_rank.values()]
    eval_args.write_json(
        args.out,
        {
            "metrics": {
                "val_loss_before": result.val_loss_before,  # the same windows and checkpoint for every rank
                "delta": sum(deltas) / len(deltas),
                **{f"delta_r{rank}": run["delta"] for rank, run in per_rank.items()},
            },
            "per_rank": per_rank,
            "dataset": dataset,
            "n_samples": len(val_windows),
            "length": args.length,
            "split": "val",
            "checkpoint": str(args.checkpoint),
        },
        ident,
    )
    eval_args.write_csv(args.curve, pd.concat(curves, ignore_index=True), ident)


if __name__ == "__main__":
    main()
