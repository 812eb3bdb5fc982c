"""Tokenize a stream of documents in order, in this process or across worker processes.

Documents go to the tokenizer in batches (at most BATCH_DOCUMENTS documents
or about BATCH_CHARS characters, so one huge document is a batch of its own
and can run beside others), each coming back as one token array plus the
documents' ends, cheap to send between processes. With `workers` > 1 the
batches run in a process pool, each worker holding its own copy of the
tokenizer, at most IN_FLIGHT_PER_WORKER batches per worker submitted ahead
so a stream of any length passes in bounded memory. Results come back in
submission order, so the tokens never depend on the worker count.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

DTYPE = np.dtype("<u2")  # GPT-2's 50257 ids fit in uint16, little-endian on disk
BATCH_DOCUMENTS = 1024
BATCH_CHARS = 1 << 18
IN_FLIGHT_PER_WORKER = 2


def token_arrays(documents: Iterable[str], tokenizer, workers: int = 1) -> Iterator[np.ndarray]:
    """Each document's token ids followed by the tokenizer's eos, as a DTYPE array, in document order."""
    batches = _batches(documents)
    if workers == 1:
        encoded = (_encode(tokenizer, batch) for batch in batches)
    else:
        encoded = _pooled(batches, tokenizer, workers)
    return (doc for tokens, ends in encoded for doc in np.split(tokens, ends[:-1]))  # close() stops a pool too


def _batches(documents: Iterable[str]) -> Iterator[list[str]]:
    """Group documents into batches of at most BATCH_DOCUMENTS, closing a batch once it reaches BATCH_CHARS."""
    batch, chars = [], 0
    for document in documents:
        batch.append(document)
        chars += len(document)
        if len(batch) == BATCH_DOCUMENTS or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _encode(tokenizer, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenize one batch (the fast tokenizer's batched call), eos after each document: (tokens, document ends)."""
    eos = tokenizer.eos_token_id
    ids = tokenizer(batch)["input_ids"]
    tokens = np.fromiter(itertools.chain.from_iterable([*doc, eos] for doc in ids), dtype=DTYPE)
    return tokens, np.cumsum([len(doc) + 1 for doc in ids])


def _pooled(batches: Iterator[list[str]], tokenizer, workers: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode batches in a pool of `workers` processes, yielding results in order with bounded look-ahead."""
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(tokenizer,)) as pool:
        pending = deque()
        for batch in batches:
            pending.append(pool.submit(_encode_in_worker, batch))
            if len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


_worker_tokenizer = None  # set once per worker process by _init_worker


def _init_worker(tokenizer) -> None:
    """Keep the worker's tokenizer (the pool is the parallelism, so its own threads stay off); exit with the parent."""
    global _worker_tokenizer
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _worker_tokenizer = tokenizer
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """Exit as soon as the parent process ends: a killed preparation must not leave idle workers behind.

    Without this, workers of a parent killed by SIGTERM or SIGKILL wait on
    the task queue forever, because they hold its pipe open themselves.
    """
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _encode_in_worker(batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return _encode(_worker_tokenizer, batch)
