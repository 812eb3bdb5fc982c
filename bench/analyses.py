"""Analysis cost at the paper's sizes: our streaming analyses next to a naive reference, in one run.

- smoothness: `layer_smoothness` (covariance streamed in batches of 512, then
  the binned correlation-vs-distance profile) over N stimuli x 3,072 c_fc units
  on their 48 x 64 sheet, vs `np.corrcoef` of the full (N, 3,072) matrix and
  `pdist` + `np.histogram` binning. Paper: N = 100,000 (BookCorpus windows).
- dimensionality: `layer_effective_dim` (participation ratio of the streamed
  covariance) of 20,000 stimuli x 512 channels (ResNet-18's last layer), vs
  sklearn `PCA().fit(X).explained_variance_` of the full matrix.
- blimp: `sequence_logprobs` (length-sorted, padded batches of 64) on a
  random-weight NanoGPT, vs scoring one sentence per forward pass; both timed
  on a subset of sentences and extrapolated linearly to BLiMP's 134,000.
- pruning, downsampling: `pruned_copy` (90%) and `downsample_model` (factor 5)
  of the model's c_fc layers; no naive reference.

The responses are synthetic (seeded Gaussian bumps on the sheet plus noise),
standing in for the hooks' per-batch output, which costs the same forward
passes either way; making them is timed on neither side. Peak memory is the
resident memory a side adds while it runs (Linux VmHWM; CUDA's allocator peak
too on a GPU), the naive side holding its full matrix of responses. Our
analyses run on `--device`, the naive smoothness and dimensionality on the CPU.

    python bench/analyses.py [--size tiny|paper] [--only ...] [--device auto|cpu|cuda] [--threads N]

`--size tiny` runs in under a minute (most of it imports); `--size paper` takes a few minutes on 2 CPU
cores, the naive side holding 3.7 GB there.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from scipy.spatial.distance import pdist
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from toponets.analysis.blimp import sequence_logprobs
from toponets.analysis.dimensionality import layer_effective_dim
from toponets.analysis.downsampling import downsample_model
from toponets.analysis.pruning import pruned_copy
from toponets.analysis.smoothness import distance_bins, layer_smoothness
from toponets.device import select_device
from toponets.models import build, topographic_layers
from toponets.sheet import sheet_for

FC_UNITS = 3072  # GPT-2 small's c_fc width: a 48 x 64 sheet
CHANNELS = 512  # ResNet-18's last layer
BATCH = 512  # stimuli per batch, as in the paper preset's analyses
BINS = 20
BLIMP_SENTENCES = 134_000  # 67,000 minimal pairs
BLIMP_BATCH = 64
GPT2_VOCAB = 50257
PRUNE_FRACTION = 0.9
DOWNSAMPLE_FACTOR = 5.0


@dataclass(frozen=True)
class Size:
    """Stimulus counts and the NanoGPT (options of `build`) of one preset."""

    samples: int  # smoothness stimuli
    images: int  # dimensionality stimuli
    gpt: dict
    sentences: int  # BLiMP sentences scored in batches
    naive_sentences: int  # of those, scored one at a time

    def describe_gpt(self) -> str:
        return "GPT-2 small (124M)" if not self.gpt else "NanoGPT " + ", ".join(f"{k} {v}" for k, v in self.gpt.items())


SIZES = {
    "tiny": Size(2_000, 2_000, {"n_layer": 2, "n_head": 2, "n_embd": 128}, 128, 16),
    "paper": Size(100_000, 20_000, {}, 2_048, 128),
}


@dataclass(frozen=True)
class Responses:
    """A seeded stream of synthetic (samples, units) responses, correlated over nearby units of their sheet:
    `sources` Gaussian bumps (sd `width` sheet units) at random positions, random weights per stimulus, plus noise."""

    samples: int
    units: int
    sources: int = 64
    width: float = 4.0
    offset: float = 3.0  # a common mean, as real responses have
    noise: float = 0.5
    seed: int = 0

    def basis(self, device: torch.device) -> torch.Tensor:
        """(sources, units) bumps over the sheet."""
        sheet = sheet_for(self.units)
        g = torch.Generator().manual_seed(self.seed)
        centres = torch.rand(self.sources, 2, generator=g, dtype=torch.float64)
        centres *= torch.tensor([sheet.height, sheet.width], dtype=torch.float64)
        positions = torch.from_numpy(sheet.positions()).double()
        return torch.exp(-torch.cdist(centres, positions) ** 2 / (2 * self.width**2)).float().to(device)

    def batches(self, device: torch.device) -> Iterator[torch.Tensor]:
        """(≤ BATCH, units) float32 batches on `device`; the same numbers at every call."""
        basis = self.basis(device)
        g = torch.Generator(device).manual_seed(self.seed)
        for start in range(0, self.samples, BATCH):
            rows = min(BATCH, self.samples - start)
            latent = torch.randn(rows, self.sources, generator=g, device=device)
            noise = torch.randn(rows, self.units, generator=g, device=device)
            yield self.offset + latent @ basis + self.noise * noise

    def matrix(self, device: torch.device) -> np.ndarray:
        """All responses as one (samples, units) float32 array, as a naive analysis stores them."""
        x = np.empty((self.samples, self.units), dtype=np.float32)
        start = 0
        for batch in self.batches(device):
            x[start : start + len(batch)] = batch.cpu().numpy()
            start += len(batch)
        return x

    def describe(self) -> str:
        sheet = sheet_for(self.units)
        return f"{self.samples:,} x {self.units:,} ({sheet.height} x {sheet.width} sheet)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable, device: torch.device) -> tuple:
    """`fn()` and the seconds it took, the device's queued work included."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


class Producing:
    """Iterate `items`, adding the seconds spent producing them to `.seconds` (to take out of a consumer's time)."""

    def __init__(self, items: Iterable, device: torch.device):
        self.items, self.device, self.seconds = items, device, 0.0

    def __iter__(self):
        items = iter(self.items)
        while True:
            sync(self.device)
            start = time.perf_counter()
            item = next(items, None)
            sync(self.device)
            self.seconds += time.perf_counter() - start
            if item is None:
                return
            yield item


def _status_kib(field_name: str) -> int:
    return int(re.search(rf"{field_name}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


@dataclass
class Memory:
    """Peak memory a block added: resident host bytes, and CUDA allocator bytes on a GPU."""

    host: int = 0
    gpu: int | None = None

    def __str__(self) -> str:
        return human(self.host) + ("" if self.gpu is None else f" + {human(self.gpu)} GPU")


class PeakMemory:
    """Context manager measuring `Memory` over its block: freed memory goes back to the kernel on entry
    (glibc `malloc_trim`), so the block's allocations show in the resident size; then VmHWM is reset."""

    def __init__(self, device: torch.device):
        self.device, self.memory = device, Memory()

    def __enter__(self) -> Memory:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current resident size
        self.start = _status_kib("VmRSS")
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.gpu_start = torch.cuda.memory_allocated(self.device)
        return self.memory

    def __exit__(self, *exc) -> None:
        self.memory.host = 1024 * (_status_kib("VmHWM") - self.start)
        if self.device.type == "cuda":
            self.memory.gpu = torch.cuda.max_memory_allocated(self.device) - self.gpu_start


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000


@dataclass
class Result:
    """One table row, and a note printed under the table."""

    analysis: str
    size: str
    ours_s: float
    ours_memory: Memory
    naive_s: float | None = None
    naive_memory: Memory | None = None
    difference: float | None = None
    note: str | None = None

    def row(self) -> str:
        naive = self.naive_s is not None
        cells = [
            self.analysis, self.size, f"{self.ours_s:.2f}",
            f"{self.naive_s:.2f}" if naive else "-",
            f"{self.naive_s / self.ours_s:.2f}x" if naive else "-",
            f"{self.ours_memory} vs {self.naive_memory}" if naive else str(self.ours_memory),
            f"{self.difference:.1e}" if self.difference is not None else "-",
        ]
        return "| " + " | ".join(cells) + " |"


def streamed(analysis: Callable, responses: Responses, device: torch.device):
    """`analysis(stream of batches)`, its seconds without those making the batches, and its `Memory`."""
    stream = Producing(responses.batches(device), device)
    with PeakMemory(device) as memory:
        value, seconds = timed(lambda: analysis(stream), device)
    return value, seconds - stream.seconds, memory, stream.seconds


def on_full_matrix(analysis: Callable, responses: Responses, device: torch.device):
    """`analysis(all responses in one matrix)`, its seconds without making the matrix, and its `Memory` with it."""
    with PeakMemory(device) as memory:
        x = responses.matrix(device)
        value, seconds = timed(lambda: analysis(x), device)
    return value, seconds, memory


def naive_profile(x: np.ndarray, bins: int) -> np.ndarray:
    """Mean Pearson r per distance bin: `np.corrcoef` of the full matrix, `pdist` distances, `np.histogram` bins."""
    corr = np.corrcoef(x, rowvar=False)
    sheet = sheet_for(x.shape[1])
    distances = pdist(np.indices((sheet.height, sheet.width)).reshape(2, -1).T.astype(np.float64))
    r = corr[np.triu_indices(x.shape[1], k=1)]
    edges = np.linspace(0.0, distances.max(), bins + 1)
    sums, _ = np.histogram(distances, edges, weights=r)
    counts, _ = np.histogram(distances, edges)
    return sums / counts


def bench_smoothness(size: Size, device: torch.device) -> Result:
    responses = Responses(size.samples, FC_UNITS)
    distance_bins.cache_clear()  # build the sheet's bins inside the timing, as the naive side does
    # the naive side has plain equal-width bins and no shuffled-position floor: so has ours here
    ours, ours_s, ours_mem, making = streamed(lambda s: layer_smoothness(s, BINS, min_pairs=1, shuffles=0), responses, device)
    naive, naive_s, naive_mem = on_full_matrix(lambda x: naive_profile(x, BINS), responses, device)
    state = FC_UNITS**2 * 8
    full = size.samples * FC_UNITS
    note = (
        f"smoothness: making the responses took {making:.1f} s (in neither column); score {ours.score:.4f}. "
        f"Streaming holds the {FC_UNITS:,}² float64 cross-products ({human(state)}) and one batch of {BATCH}; "
        f"the naive side the full matrix ({human(4 * full)} float32) and np.corrcoef's float64 copy "
        f"({human(8 * full)})."
    )
    return Result("smoothness", responses.describe(), ours_s, ours_mem, naive_s, naive_mem,
                  float(np.nanmax(np.abs(ours.r - naive))), note)


def pca_participation_ratio(x: np.ndarray) -> float:
    """(Σλ)² / Σλ² of sklearn's PCA eigenvalues of the full matrix."""
    eigenvalues = PCA().fit(x).explained_variance_.astype(np.float64)
    return float(eigenvalues.sum() ** 2 / (eigenvalues**2).sum())


def bench_dimensionality(size: Size, device: torch.device) -> Result:
    responses = Responses(size.images, CHANNELS)
    ours, ours_s, ours_mem, _ = streamed(layer_effective_dim, responses, device)
    naive, naive_s, naive_mem = on_full_matrix(pca_participation_ratio, responses, device)
    note = f"dimensionality: ED {ours:.4f} (ours) vs {naive:.4f} (PCA of the float32 matrix)."
    return Result("dimensionality", responses.describe(), ours_s, ours_mem, naive_s, naive_mem, abs(ours - naive),
                  note)


def random_sentences(n: int, seed: int = 0) -> list[list[int]]:
    """Random GPT-2 token ids after end-of-text, 4 + Poisson(6.4) tokens long: BLiMP's lengths (mean 10.4, EOS
    included, for " " + sentence), capped at its longest (29)."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(4 + rng.poisson(6.4, n), 29)
    return [[GPT2_VOCAB - 1, *rng.integers(GPT2_VOCAB - 1, size=k - 1).tolist()] for k in lengths]


def one_at_a_time(model: torch.nn.Module, sentences: list[list[int]], device: torch.device) -> np.ndarray:
    """The naive scoring: one forward pass per sentence, summed log-softmax of its tokens 1.."""
    scores = []
    with torch.inference_mode():
        for sentence in sentences:
            tokens = torch.tensor(sentence, device=device)
            logprobs = F.log_softmax(model(tokens[None, :-1])[0].float(), dim=-1)
            scores.append(logprobs.gather(1, tokens[1:, None]).sum().item())
    return np.array(scores)


def language_model(size: Size, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return build("nanogpt", **size.gpt).to(device).eval()


def bench_blimp(size: Size, device: torch.device) -> Result:
    model = language_model(size, device)
    sentences = random_sentences(size.sentences)
    naive_sentences = sentences[: size.naive_sentences]
    sequence_logprobs(model, sentences[:BLIMP_BATCH], device, BLIMP_BATCH)  # warm-up
    one_at_a_time(model, naive_sentences[:4], device)
    with PeakMemory(device) as ours_mem:
        ours, ours_s = timed(lambda: sequence_logprobs(model, sentences, device, BLIMP_BATCH), device)
    with PeakMemory(device) as naive_mem:
        naive, naive_s = timed(lambda: one_at_a_time(model, naive_sentences, device), device)
    ours_rate, naive_rate = len(sentences) / ours_s, len(naive_sentences) / naive_s
    note = (
        f"blimp: {size.describe_gpt()}, random weights, random tokens in BLiMP's lengths; "
        f"{ours_rate:.1f} sentences/s in batches of {BLIMP_BATCH} "
        f"({len(sentences):,} timed), {naive_rate:.1f} one at a time ({len(naive_sentences):,} timed); both "
        f"extrapolated linearly to {BLIMP_SENTENCES:,} sentences. Max difference over the naive subset."
    )
    return Result("blimp", f"{BLIMP_SENTENCES:,} sentences", BLIMP_SENTENCES / ours_rate, ours_mem,
                  BLIMP_SENTENCES / naive_rate, naive_mem, float(np.abs(ours[: len(naive)] - naive).max()), note)


def bench_model_copy(name: str, setting: str, make: Callable, size: Size, device: torch.device) -> Result:
    """Time of `make(model, c_fc layers)`: a pruned or downsampled copy of the model."""
    model = language_model(size, device)
    layers = topographic_layers(model, "nanogpt")
    weights = sum(model.get_submodule(n).weight.numel() for n in layers)
    with PeakMemory(device) as memory:
        _, seconds = timed(lambda: make(model, layers), device)
    return Result(name, f"{size.describe_gpt()}: {len(layers)} c_fc, {weights:,} weights, {setting}", seconds, memory)


def bench_pruning(size: Size, device: torch.device) -> Result:
    return bench_model_copy("pruning", f"{PRUNE_FRACTION:.0%}",
                            lambda model, layers: pruned_copy(model, layers, PRUNE_FRACTION), size, device)


def bench_downsampling(size: Size, device: torch.device) -> Result:
    return bench_model_copy("downsampling", f"factor {DOWNSAMPLE_FACTOR:g}",
                            lambda model, layers: downsample_model(model, layers, DOWNSAMPLE_FACTOR), size, device)


BENCHES = {
    "smoothness": bench_smoothness,
    "dimensionality": bench_dimensionality,
    "blimp": bench_blimp,
    "pruning": bench_pruning,
    "downsampling": bench_downsampling,
}


def header(device: torch.device) -> str:
    """The command line, library versions and device, for pasting the output as it is."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    versions = f"torch {torch.__version__}, numpy {np.__version__}, scikit-learn {sklearn.__version__}"
    return f"$ {shlex.join(['python', *sys.argv])}\n{versions}, {where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), default=list(BENCHES), help="default: all")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and BLAS threads (default: their choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    size = SIZES[args.size]

    print(header(device))
    print(f"\nsize {args.size}; seconds of the analysis alone; peak memory: what each side adds while it runs\n")
    print("| analysis | size | ours s | naive s | speed-up | peak memory, ours vs naive | max difference |")
    print("|---|---|---:|---:|---:|---|---:|")
    notes = []
    with threadpool_limits(args.threads):
        for name in args.only:
            result = BENCHES[name](size, device)
            print(result.row(), flush=True)
            notes += [result.note] if result.note else []
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
