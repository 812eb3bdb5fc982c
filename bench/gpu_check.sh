#!/usr/bin/env bash
# The GPU check of the training loops: one command, under 8 minutes on one GPU.
#
#   bench/gpu_check.sh          # the paper's models, at their recipes' per-GPU batch, on the GPU
#   bench/gpu_check.sh tiny     # tiny models on the CPU, in seconds (tests/test_gpu_check.py)
#
# Part 1 prints, per family, images or tokens per second at tau 0 and tau > 0, the step-time
# ratio of back-to-back pairs, the peak GPU memory and the reference recipe's published speed
# (bench/train_throughput.py), with the loops' default compile setting (the language models
# compiled on CUDA). Part 2, on a GPU only, times the vision models compiled: if they are faster
# than in part 1, vision's `compile: auto` should turn on. Each part has a time limit (300 s and
# 150 s) that keeps the whole under 8 minutes; a table cut short says so and keeps its rows.
set -uo pipefail
size=${1:-paper}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
steps=10 warmup=3
if [ "$size" = tiny ]; then steps=2 warmup=1; fi

date -u +"%Y-%m-%d %H:%M UTC"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU visible"

run() {  # run LIMIT_S ARGS...: one table, stopped after LIMIT_S seconds
    local limit=$1
    shift
    timeout "$limit" python bench/train_throughput.py --size "$size" --steps "$steps" --warmup "$warmup" "$@"
    local status=$?
    if [ "$status" = 124 ]; then echo "(stopped at the ${limit} s limit: the rows above are complete)"; fi
    echo
    return $(( status == 124 ? 0 : status ))
}

echo "## Part 1: the loops' defaults"
run 300 || exit
if python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "## Part 2: vision compiled"
    run 150 --families resnet18 resnet50 vit_b_32 --compile true || exit
else
    echo "## Part 2 (vision compiled) runs on a GPU only"
fi
