"""`python -m analysis analyze FILE... [--depth fast|balanced|full] [--vectors]`: analyse files, print JSON.

Prints a JSON list with one object per file, in order; a file that cannot be
analysed gets {"path", "error"} and the exit status becomes 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("analyze", help="analyse audio files and print their features as JSON")
    analyze.add_argument("files", nargs="+", metavar="FILE")
    analyze.add_argument("--depth", choices=("fast", "balanced", "full"), default="fast",
                         help="fast: 10 patches spread over the track (default); balanced: 12, with "
                              "steadier tempo and key; full: every patch")
    analyze.add_argument("--vectors", action="store_true", help="include the track and segment vectors")
    analyze.add_argument("--top", type=int, default=10, metavar="N", help="tags shown per vocabulary")
    options = parser.parse_args(argv)

    # One file at a time: let inference use every core unless told otherwise.
    os.environ.setdefault("ANALYSIS_THREADS", str(os.cpu_count() or 1))
    from analysis.decode import DecodeError
    from analysis.features import analyze_file

    results, failed = [], False
    for path in options.files:
        try:
            results.append(analyze_file(path, options.depth).to_json(options.top, options.vectors))
        except DecodeError as error:
            results.append({"path": path, "error": f"cannot decode: {error}"})
            failed = True
        except MemoryError:
            results.append({"path": path, "error": "out of memory while analysing this file"})
            failed = True
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
