"""bench/gpu_check.sh runs on the CPU at its tiny size and prints a full table (the paper size needs a GPU)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_on_the_cpu_at_tiny_size():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "tiny"], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| ") and " tiny " in line]
    assert [row[0].strip("| ") for row in rows] == ["resnet18", "resnet50", "vit_b_32", "gpt_neo", "nanogpt"]
    for row in rows:
        assert row[3:5] == ["cpu", "no"]  # compile's auto default: off on the CPU
        assert float(row[9].rstrip("x")) > 0 and row[10] == "n/a"  # step-time ratio; no GPU memory on the CPU
    assert "stopped at" not in out and "Part 2 (vision compiled) runs on a GPU only" in out
