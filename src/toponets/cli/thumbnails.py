"""Small copies of figures, for the README (docs/figures/).

    python -m toponets.cli.thumbnails --width 640 --out-dir docs/figures results/figures/fig2a_*.png ...

Each PNG is scaled to `--width` pixels (never enlarged), keeping its aspect, and written as an optimised
8-bit palette PNG under the same name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from toponets.io import atomic_path


def thumbnail(src: Path, dest: Path, width: int) -> None:
    """Write `src` scaled down to `width` pixels wide (palette PNG) at `dest`."""
    with Image.open(src) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        with atomic_path(dest) as tmp:
            image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(tmp, format="PNG", optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figures", nargs="+", type=Path, help="PNG files")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--width", type=int, default=640, help="width in pixels (default 640)")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.figures if not f.is_file()]
    if missing:
        sys.exit(f"thumbnails: no such figure {missing[0]}; run the workflow first (snakemake --cores all)")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for figure in args.figures:
        thumbnail(figure, args.out_dir / figure.name, args.width)


if __name__ == "__main__":
    main()
