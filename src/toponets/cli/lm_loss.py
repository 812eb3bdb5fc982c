"""Loss and perplexity of a language-model checkpoint on fixed token windows.

    python -m toponets.cli.lm_loss --checkpoint C.safetensors --val-text TOKENS_DIR \
        [--settings '{"lm_loss": {"length": 1024, "n_samples": N, "batch_size": 8}}'] [--device auto] --out loss.json
    python -m toponets.cli.lm_loss --checkpoint C.safetensors --text HELD_OUT_DIR ...

Settings: the config's evaluation.lm_loss (toponets.settings.LmLoss). Each
of n_samples fixed windows of the val split of TOKENS_DIR (--val-text: the
model's own corpus), or of the train split of a corpus no model trained on
(--text: the common held-out corpus of section 3.2 and A.9), gives `length` next-token predictions. Writes ``{"metrics":
{"val_loss": mean cross-entropy in nats, "perplexity": exp(val_loss)},
"n_samples": N, "length": L, "split": "val" or "train", "checkpoint": ...}``.
"""

from __future__ import annotations

from ..analysis.language import lm_loss
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    args = eval_args.parse(eval_args.parser(__doc__, "lm_loss", stimuli=("val-text", "text")), argv)
    eval_args.use_stimuli(args, "lm_loss")
    ident = eval_args.identity(args.checkpoint, "lm_loss")
    model, _, device = eval_args.checkpoint(args, need_layers=False)
    result = lm_loss(model, eval_args.shards(args), args.n, args.length, args.batch_size, device)
    eval_args.write_json(
        args.out,
        {
            "metrics": {"val_loss": result.val_loss, "perplexity": result.perplexity},
            **eval_args.stimulus_report(args, result.n_windows),
            "checkpoint": str(args.checkpoint),
        },
        ident,
    )


if __name__ == "__main__":
    main()
