#!/usr/bin/env bash
# Create .venv with the pinned stack (library, Snakemake, test tools).
#   bash setup.sh               # the workflow and the tests
#   bash setup.sh --ffcv        # also ffcv, for ImageNet-scale loading (needs root for apt-get)
#   bash setup.sh --brainscore  # also .venv-brainscore: brainscore-vision 2.4.2 and its own pins (ENVIRONMENT.md)
set -euo pipefail
cd "$(dirname "$0")"
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "setup.sh: Python 3.11 is required" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[workflow,test]"
for option in "$@"; do
  case "$option" in
    --ffcv)
      # ffcv builds only against Debian's OpenCV and libjpeg-turbo headers (ENVIRONMENT.md).
      apt-get update -qq && apt-get install -y -qq --no-install-recommends libturbojpeg0-dev libopencv-dev >/dev/null
      .venv/bin/python -m pip install -q -e ".[ffcv]" ;;
    --brainscore)
      # numpy<2, pandas<3, scikit-learn<1.6, xarray<2022.6: it cannot share .venv; our package without its deps.
      [ -x .venv-brainscore/bin/python ] || python3 -m venv .venv-brainscore
      .venv-brainscore/bin/python -m pip install -q --upgrade pip
      .venv-brainscore/bin/python -m pip install -q -r envs/brainscore-requirements.txt
      .venv-brainscore/bin/python -m pip install -q --no-deps -e . ;;
    *) echo "setup.sh: unknown option $option" >&2; exit 1 ;;
  esac
done
echo "setup.sh: ready; activate with '. .venv/bin/activate'"
