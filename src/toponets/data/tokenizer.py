"""The GPT-2 BPE tokenizer, loaded offline from a directory and checked at load.

Under transformers 5.x, `GPT2TokenizerFast(vocab_file=..., merges_file=...)`
silently ignores both files and encodes everything to `[]`. Loading with
`from_pretrained(<dir>)` works, and the known-answer check below turns any
such silent failure into an error instead of an empty training corpus.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import GPT2TokenizerFast

from toponets.data.sources import DataSourceError

GPT2_EOS = 50256
CHECK_TEXT = "The quick brown fox jumps over the lazy dog."
CHECK_IDS = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]
FILES = ("vocab.json", "merges.txt")


class TokenizerError(RuntimeError):
    """The tokenizer loaded but does not encode like GPT-2."""


def gpt2_tokenizer(directory: str | os.PathLike) -> GPT2TokenizerFast:
    """Load the GPT-2 tokenizer from `directory` (vocab.json + merges.txt) and verify it encodes correctly."""
    directory = Path(directory)
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise DataSourceError(f"{directory} lacks {', '.join(missing)}; point it at the mirror's tokenizer/gpt2/")
    tokenizer = GPT2TokenizerFast.from_pretrained(str(directory))
    ids = tokenizer.encode(CHECK_TEXT)
    if ids != CHECK_IDS or tokenizer.eos_token_id != GPT2_EOS:
        raise TokenizerError(
            f"tokenizer in {directory} is not GPT-2: {CHECK_TEXT!r} -> {ids} (want {CHECK_IDS}), "
            f"eos {tokenizer.eos_token_id} (want {GPT2_EOS}); an empty result is the transformers 5.x "
            "vocab_file/merges_file trap"
        )
    return tokenizer
