"""GPT-Neo from a locally built `GPTNeoConfig` (no download); defaults are GPT-Neo-125M (METHODS §11.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import GPTNeoForCausalLM

GPT2_EOS = 50256


def build_gpt_neo(
    vocab_size: int = 50257,
    max_position_embeddings: int = 2048,
    hidden_size: int = 768,
    num_layers: int = 12,
    num_heads: int = 12,
    intermediate_size: int | None = None,
    window_size: int = 256,
    dropout: float = 0.0,
) -> GPTNeoForCausalLM:
    """GPT-Neo with alternating global/local attention; 125,198,592 parameters at the defaults."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM  # imported here: it takes seconds, vision jobs skip it

    pattern = [[["global", "local"], num_layers // 2]] + ([[["global"], 1]] if num_layers % 2 else [])
    eos = min(GPT2_EOS, vocab_size - 1)
    config = GPTNeoConfig(
        vocab_size=vocab_size,
        max_position_embeddings=max_position_embeddings,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        attention_types=pattern,
        intermediate_size=intermediate_size or 4 * hidden_size,
        window_size=window_size,
        activation_function="gelu_new",
        embed_dropout=dropout,
        attention_dropout=dropout,
        resid_dropout=dropout,
        bos_token_id=eos,
        eos_token_id=eos,
        tie_word_embeddings=True,
    )
    return GPTNeoForCausalLM(config)
