"""Command line of the bulk-load benchmarks (generate.py, code_table.py)."""

from __future__ import annotations

import argparse
import sys

import orjson


def load_bench_args(doc: str) -> argparse.Namespace:
    """``--count``, ``--chunk-size`` and ``--json``, described by the script's docstring."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    return parser.parse_args()


def printed_json(args: argparse.Namespace, figures: object) -> bool:
    """With ``--json``: print the figures as one JSON line and say so."""
    if args.json:
        sys.stdout.write(orjson.dumps(figures).decode() + "\n")
    return bool(args.json)
