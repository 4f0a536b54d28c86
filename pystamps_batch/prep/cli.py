"""Command-line pieces of ``pystamps prep`` (wired into :mod:`pystamps_batch.cli` by the lead).

Usage::

    pystamps prep snap --export DIR [--out DIR] [--master-date YYYYMMDD] [--da-thresh 0.4]
                       [--rg-patches N --az-patches M --rg-overlap 50 --az-overlap 50] [--force] [--json]

:func:`add_arguments` adds the ``snap`` sub-command (and its options) to the ``prep``
parser; :func:`run` executes the parsed arguments and returns the exit status (0).
Bad exports and arguments raise :class:`~pystamps_batch.errors.InputError` (one line,
exit status 2 through the main CLI); nothing is published then.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``snap`` (mt_prep_snap) under the given ``prep`` parser."""
    sub = parser.add_subparsers(dest="prep_command", metavar="FORMAT", parser_class=type(parser))
    sub.required = True
    s = sub.add_parser("snap", help="prepare a dataset root from an ESA SNAP 'StaMPS export' (mt_prep_snap "
                                    "without csh/C)")
    s.add_argument("--export", required=True, metavar="DIR",
                   help="the SNAP export folder (rslc/, diff0/, geo/; mt_prep_snap's datadir)")
    s.add_argument("--out", default=".", metavar="DIR",
                   help="dataset root to create (default: the current folder, as mt_prep_snap)")
    s.add_argument("--master-date", metavar="YYYYMMDD", help="master date (default: the master of diff0/*.diff)")
    s.add_argument("--da-thresh", default="0.4", metavar="D",
                   help="amplitude dispersion threshold (default 0.4; negative selects D_A >= |D|)")
    s.add_argument("--rg-patches", type=int, default=1, metavar="N", help="patches in range (default 1)")
    s.add_argument("--az-patches", type=int, default=1, metavar="M", help="patches in azimuth (default 1)")
    s.add_argument("--rg-overlap", type=int, default=50, metavar="PX", help="patch overlap in range (default 50)")
    s.add_argument("--az-overlap", type=int, default=50, metavar="PX", help="patch overlap in azimuth (default 50)")
    s.add_argument("--block-mb", type=float, default=64.0, metavar="MB",
                   help="memory for one block of SLC lines (default 64)")
    s.add_argument("--force", action="store_true", help="replace the patches of an existing dataset in --out")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")


def _eprint(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Execute ``pystamps prep <format>``; returns 0 (errors raise InputError)."""
    if getattr(args, "prep_command", None) != "snap":
        raise InputError(f"prep: unknown format {getattr(args, 'prep_command', None)!r} (expected: snap)")
    if args.block_mb <= 0:
        raise InputError(f"--block-mb {args.block_mb}: expected a positive number")
    from .snap import prep_snap

    d = prep_snap(args.export, args.out, master_date=args.master_date, da_thresh=args.da_thresh,
                  rg_patches=args.rg_patches, az_patches=args.az_patches, rg_overlap=args.rg_overlap,
                  az_overlap=args.az_overlap, force=args.force, block_mb=args.block_mb, log=_eprint)
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        print(f"prepared {d['dataset']} from {d['export']}: master {d['master']}, {d['n_slc']} SLCs, "
              f"{d['n_ifg']} interferograms, {d['width']} x {d['length']} px, {d['candidates']} candidates in "
              f"{len(d['patches'])} patch(es) ({d['seconds']:.1f} s)")
        for name, n in d["patches"].items():
            print(f"  {name:<10}{n:>10}")
    return 0
