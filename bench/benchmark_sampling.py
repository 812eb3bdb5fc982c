"""What Snakemake's `benchmark:` sampling costs when jobs load torch, at two sampling intervals, side by side.

    python bench/benchmark_sampling.py [--jobs 12] [--seconds 8] [--rounds 2]

Runs a throwaway workflow of `--jobs` jobs (each imports torch, then sleeps `--seconds`) on 2 cores,
alternating Snakemake's first-15-s sampling interval between its default 0.5 s and the 2 s that
rules/common.smk sets, and prints the wall time and the CPU time of the whole run (Snakemake and
its jobs). The jobs do the same work in both, so the CPU difference is the sampling's.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SNAKEFILE = """
from snakemake import benchmark
benchmark.BENCHMARK_INTERVAL_SHORT = float(config["interval"])
rule all:
    input: expand("out/{{i}}.txt", i=range({jobs}))
rule job:
    output: "out/{{i}}.txt"
    benchmark: "bench/{{i}}.tsv"
    shell: "{python} -c 'import time, torch; time.sleep({seconds})' && touch {{output}}"
"""


def run(workdir: Path, interval: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds of Snakemake and its jobs) of one run from scratch."""
    for name in ("out", "bench", ".snakemake"):
        subprocess.run(["rm", "-rf", str(workdir / name)], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "all", "--config",
                    f"interval={interval}"], cwd=workdir, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "Snakefile").write_text(textwrap.dedent(SNAKEFILE.format(
            jobs=args.jobs, seconds=args.seconds, python=sys.executable)))
        results: dict[float, list[tuple[float, float]]] = {0.5: [], 2.0: []}
        for _ in range(args.rounds):
            for interval in results:
                results[interval].append(run(workdir, interval))
    print(f"{args.jobs} jobs (import torch, sleep {args.seconds:g} s) on 2 cores, {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs here\n")
    print("| first-15-s sampling interval | wall s (mean) | CPU s (mean) |")
    print("|---|---:|---:|")
    mean = {k: tuple(sum(x) / len(v) for x in zip(*v)) for k, v in results.items()}
    for interval, (wall, cpu) in mean.items():
        print(f"| {interval:g} s | {wall:.1f} | {cpu:.1f} |")
    print(f"\nCPU at 0.5 s / at 2 s: {mean[0.5][1] / mean[2.0][1]:.2f}x; "
          f"sampling cost per job at 0.5 s: {(mean[0.5][1] - mean[2.0][1]) / args.jobs:.2f} CPU s more")


if __name__ == "__main__":
    main()
