"""BLiMP accuracy of a causal language model (METHODS §8).

A minimal pair is correct iff the summed token log-probability of its good
sentence is greater than that of its bad one; ties count as wrong (lm-eval's
arg-max would count them right; with real models they do not occur between
different sentences, and `ParadigmScore.ties` makes any visible).

Scoring follows lm-eval's empty-context path (tasks/blimp/_template_yaml:
``doc_to_text: ""``, choices ``[sentence_good, sentence_bad]``): each choice
is the default target delimiter " " plus the sentence, encoded on its own and
scored after the end-of-text token 50256. Sentences are scored in batches,
sorted by length within a paradigm and right-padded; only per-batch logits
are held.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from torch import nn

from ..data.tokenizer import GPT2_EOS
from ..next_token import logits_of
from .language import context_length

# lm-eval's TaskConfig.target_delimiter, put before each choice of a multiple-choice task.
TARGET_DELIMITER = " "
# Right-padding id: any id inside the vocabulary works, padded positions are masked out.
PAD_ID = 0

PARADIGMS = (
    "adjunct_island",
    "anaphor_gender_agreement",
    "anaphor_number_agreement",
    "animate_subject_passive",
    "animate_subject_trans",
    "causative",
    "complex_NP_island",
    "coordinate_structure_constraint_complex_left_branch",
    "coordinate_structure_constraint_object_extraction",
    "determiner_noun_agreement_1",
    "determiner_noun_agreement_2",
    "determiner_noun_agreement_irregular_1",
    "determiner_noun_agreement_irregular_2",
    "determiner_noun_agreement_with_adj_2",
    "determiner_noun_agreement_with_adj_irregular_1",
    "determiner_noun_agreement_with_adj_irregular_2",
    "determiner_noun_agreement_with_adjective_1",
    "distractor_agreement_relational_noun",
    "distractor_agreement_relative_clause",
    "drop_argument",
    "ellipsis_n_bar_1",
    "ellipsis_n_bar_2",
    "existential_there_object_raising",
    "existential_there_quantifiers_1",
    "existential_there_quantifiers_2",
    "existential_there_subject_raising",
    "expletive_it_object_raising",
    "inchoative",
    "intransitive",
    "irregular_past_participle_adjectives",
    "irregular_past_participle_verbs",
    "irregular_plural_subject_verb_agreement_1",
    "irregular_plural_subject_verb_agreement_2",
    "left_branch_island_echo_question",
    "left_branch_island_simple_question",
    "matrix_question_npi_licensor_present",
    "npi_present_1",
    "npi_present_2",
    "only_npi_licensor_present",
    "only_npi_scope",
    "passive_1",
    "passive_2",
    "principle_A_c_command",
    "principle_A_case_1",
    "principle_A_case_2",
    "principle_A_domain_1",
    "principle_A_domain_2",
    "principle_A_domain_3",
    "principle_A_reconstruction",
    "regular_plural_subject_verb_agreement_1",
    "regular_plural_subject_verb_agreement_2",
    "sentential_negation_npi_licensor_present",
    "sentential_negation_npi_scope",
    "sentential_subject_island",
    "superlative_quantifiers_1",
    "superlative_quantifiers_2",
    "tough_vs_raising_1",
    "tough_vs_raising_2",
    "transitive",
    "wh_island",
    "wh_questions_object_gap",
    "wh_questions_subject_gap",
    "wh_questions_subject_gap_long_distance",
    "wh_vs_that_no_gap",
    "wh_vs_that_no_gap_long_distance",
    "wh_vs_that_with_gap",
    "wh_vs_that_with_gap_long_distance",
)


class BlimpError(ValueError):
    """The BLiMP zip is not what this module expects."""


@dataclass(frozen=True)
class Paradigm:
    """The minimal pairs (good, bad) of one BLiMP paradigm, with its field and phenomenon."""

    name: str
    field: str
    linguistics_term: str
    pairs: list[tuple[str, str]]


@dataclass(frozen=True)
class ParadigmScore:
    """How many of a paradigm's pairs the model got right."""

    paradigm: str
    field: str
    linguistics_term: str
    pairs: int
    correct: int
    ties: int  # pairs with equal log-probabilities, counted wrong

    @property
    def accuracy(self) -> float:
        return self.correct / self.pairs


@dataclass(frozen=True)
class BlimpResult:
    """Per-paradigm counts and their totals."""

    paradigms: list[ParadigmScore]

    @property
    def n_pairs(self) -> int:
        return sum(p.pairs for p in self.paradigms)

    @property
    def correct(self) -> int:
        return sum(p.correct for p in self.paradigms)

    @property
    def ties(self) -> int:
        return sum(p.ties for p in self.paradigms)

    @property
    def accuracy(self) -> float:
        """Mean over all pairs; the mean over paradigms when each has as many pairs, as in BLiMP."""
        return self.correct / self.n_pairs


def read_blimp(
    zip_path: str | Path, paradigms: Iterable[str] | None = None, max_pairs: int | None = None
) -> list[Paradigm]:
    """The paradigms of BLiMP.zip (all 67, or those named, in `PARADIGMS` order), each with its first
    `max_pairs` pairs (all when None), read straight from the zip; macOS junk members are ignored."""
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1 or None, got {max_pairs}")
    wanted = _wanted(paradigms)
    with zipfile.ZipFile(zip_path) as archive:
        members = _paradigm_members(archive)
        missing = [name for name in PARADIGMS if name not in members]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise BlimpError(
                f"{zip_path} lacks {len(missing)} of the {len(PARADIGMS)} BLiMP paradigms ({shown}); "
                "use BLiMP.zip from alexwarstadt/blimp (the data mirror's blimp/BLiMP.zip)"
            )
        return [_read_paradigm(archive, members[name], name, max_pairs) for name in wanted]


def _wanted(paradigms: Iterable[str] | None) -> list[str]:
    if paradigms is None:
        return list(PARADIGMS)
    names = set(paradigms)
    unknown = sorted(names.difference(PARADIGMS))
    if unknown:
        raise ValueError(
            f"unknown BLiMP paradigms {unknown}; use the names in toponets.analysis.blimp.PARADIGMS"
        )
    return [name for name in PARADIGMS if name in names]


def _paradigm_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Paradigm name -> zip member of its .jsonl, skipping __MACOSX/ and dot files."""
    members = {}
    for member in archive.namelist():
        path = PurePosixPath(member)
        if path.suffix == ".jsonl" and "__MACOSX" not in path.parts and not path.name.startswith("."):
            members[path.stem] = member
    return members


def _read_paradigm(archive: zipfile.ZipFile, member: str, name: str, max_pairs: int | None) -> Paradigm:
    pairs, first = [], None
    with io.TextIOWrapper(archive.open(member), encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                pairs.append((record["sentence_good"], record["sentence_bad"]))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise BlimpError(f"{member} line {number} is not a BLiMP pair ({err!r}); is the zip corrupt?") from err
            first = first or record
            if len(pairs) == max_pairs:
                break
    if not pairs:
        raise BlimpError(f"{member} holds no pairs; is the zip corrupt?")
    return Paradigm(name, first.get("field", ""), first.get("linguistics_term", ""), pairs)


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode without gradients for the block; the training flag is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def _batch_logprobs(model: nn.Module, batch: Sequence[Sequence[int]], device: torch.device) -> np.ndarray:
    """Summed log-probabilities of tokens 1.. of each sequence, right-padded into one forward pass.

    A causal model's outputs at real positions never see the padding to their
    right, and the mask drops the padded targets, so padding changes no score.
    """
    lengths = torch.tensor([len(seq) for seq in batch])
    width = int(lengths.max())
    if width < 2:
        return np.zeros(len(batch))
    limit = context_length(model)
    if limit is not None and width - 1 > limit:
        raise ValueError(
            f"a sentence of {width - 1} tokens does not fit the model's context of {limit} tokens"
        )
    tokens = torch.full((len(batch), width), PAD_ID, dtype=torch.long)
    for row, seq in enumerate(batch):
        tokens[row, : len(seq)] = torch.as_tensor(seq)
    tokens = tokens.to(device)
    logits = logits_of(model, tokens[:, :-1]).float()
    targets = tokens[:, 1:].unsqueeze(-1)
    token_logprobs = logits.gather(-1, targets).squeeze(-1) - logits.logsumexp(-1)
    real = torch.arange(width - 1, device=device) < (lengths.to(device) - 1).unsqueeze(1)
    return token_logprobs.masked_fill(~real, 0.0).double().sum(1).cpu().numpy()


def sequence_logprobs(
    model: nn.Module, sequences: Sequence[Sequence[int]], device: str | torch.device = "cpu", batch_size: int = 64
) -> np.ndarray:
    """For each token sequence, the sum over i >= 1 of log P(seq[i] | seq[:i]) (float64, input order).

    Sequences are sorted by length and scored `batch_size` at a time, so
    padding stays short and only one batch's logits exist at once. `model`
    is moved to `device` and run in eval mode; its training flag is restored.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    scores = np.zeros(len(sequences))
    with _evaluating(model.to(device)):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            scores[rows] = _batch_logprobs(model, [sequences[i] for i in rows], device)
    return scores


def sentence_logprobs(
    model: nn.Module,
    tokenizer: Callable,
    sentences: Sequence[str],
    device: str | torch.device = "cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """For each sentence, the summed log-probability of all its tokens after the end-of-text token 50256.

    `tokenizer(list_of_texts)["input_ids"]` must give the GPT-2 ids of each
    text without special tokens (`toponets.data.tokenizer.gpt2_tokenizer` does).
    """
    if not sentences:
        return np.zeros(0)
    ids = tokenizer(list(sentences))["input_ids"]
    return sequence_logprobs(model, [[GPT2_EOS, *seq] for seq in ids], device, batch_size)


def score_paradigm(
    model: nn.Module,
    tokenizer: Callable,
    paradigm: Paradigm,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    delimiter: str = TARGET_DELIMITER,
) -> ParadigmScore:
    """Correct and tied pairs of one paradigm; its distinct sentences are scored once each, sorted by length.

    Scoring each text once makes a pair whose two sentences are the same (BLiMP
    has 7) an exact tie, whatever batch the text would have landed in.
    """
    texts = list(dict.fromkeys(delimiter + sentence for pair in paradigm.pairs for sentence in pair))
    score_of = dict(zip(texts, sentence_logprobs(model, tokenizer, texts, device, batch_size)))
    good = np.array([score_of[delimiter + g] for g, _ in paradigm.pairs])
    bad = np.array([score_of[delimiter + b] for _, b in paradigm.pairs])
    n = len(paradigm.pairs)
    return ParadigmScore(
        paradigm.name, paradigm.field, paradigm.linguistics_term,
        pairs=n, correct=int((good > bad).sum()), ties=int((good == bad).sum()),
    )


def blimp_accuracy(
    model: nn.Module,
    tokenizer: Callable,
    paradigms: Iterable[Paradigm],
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    delimiter: str = TARGET_DELIMITER,
) -> BlimpResult:
    """Per-paradigm counts and the overall accuracy of `model` on `paradigms` (e.g. from `read_blimp`)."""
    scores = [score_paradigm(model, tokenizer, p, device, batch_size, delimiter) for p in paradigms]
    if not scores:
        raise ValueError("no BLiMP paradigms to score")
    return BlimpResult(scores)
