"""Write one ImageFolder split to an ffcv .beton file (ffcv-imagenet's writer settings).

    python -m toponets.cli.write_beton --folder DIR/train --out train.beton [--max-resolution 500]
        [--compress-probability 0.5] [--jpeg-quality 90] [--workers 16]
"""

from __future__ import annotations

import argparse

from toponets.data.ffcv_data import write_beton


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", required=True, help="one split in ImageFolder layout")
    parser.add_argument("--out", required=True, help="the .beton file to write")
    parser.add_argument("--max-resolution", type=int, default=500, help="longer side at most this many pixels")
    parser.add_argument("--compress-probability", type=float, default=0.5, help="fraction stored as JPEG")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)
    write_beton(
        args.folder, args.out, max_resolution=args.max_resolution, compress_probability=args.compress_probability,
        jpeg_quality=args.jpeg_quality, num_workers=args.workers,
    )


if __name__ == "__main__":
    main()
