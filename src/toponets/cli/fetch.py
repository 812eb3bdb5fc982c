"""Fetch one dataset file from its source (user path, mirror or URL), verified.

    python -m toponets.cli.fetch --source '{"mirror_path": ..., "sha256": ...}' --dest-dir DIR [--mirror DIR]
"""

from __future__ import annotations

import argparse
import json
import sys

from toponets.data.sources import DataSourceError, fetch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="the source as JSON (config data.<name>.source)")
    parser.add_argument("--dest-dir", required=True, help="where downloads are kept")
    parser.add_argument("--mirror", default=None, help="mirror directory (default: $TOPONETS_MIRROR)")
    args = parser.parse_args(argv)
    try:
        path = fetch(json.loads(args.source), args.dest_dir, mirror=args.mirror)
    except DataSourceError as err:
        sys.exit(f"fetch: {err}")
    print(path)


if __name__ == "__main__":
    main()
