#!/usr/bin/env bash
# Create .venv with the pinned stack (library, Snakemake, test tools).
#   bash setup.sh           # the workflow and the tests
#   bash setup.sh --ffcv    # also ffcv, for ImageNet-scale loading (needs root for apt-get)
set -euo pipefail
cd "$(dirname "$0")"
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "setup.sh: Python 3.11 is required" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[workflow,test]"
if [ "${1:-}" = "--ffcv" ]; then
  # ffcv builds only against Debian's OpenCV and libjpeg-turbo headers (ENVIRONMENT.md).
  apt-get update -qq && apt-get install -y -qq --no-install-recommends libturbojpeg0-dev libopencv-dev >/dev/null
  .venv/bin/python -m pip install -q -e ".[ffcv]"
fi
echo "setup.sh: ready; activate with '. .venv/bin/activate'"
