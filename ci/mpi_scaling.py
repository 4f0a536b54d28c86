#!/usr/bin/env python3
"""Expected MPI efficiency at scale, simulated from measured per-patch times.

    python ci/mpi_scaling.py RUN.json [--patches 1000] [--ranks 1 2 64 256 1024] [--ifgs 60]

RUN.json is the `pystamps run --json` report of a single-process run. Its patch units give
the per-patch times of stages 1-5a (the distribution we resample), its merged units the
times of 5b-8 for that dataset's PS count. The simulation replays the driver's policy:
a dynamic queue, largest patch first, every rank (rank 0 included) computing, one message
round trip per patch; then the merged stages on rank 0, of which the merge (5b), SCLA (7)
and the spatial filter (8) scale with the total PS count and stay on one rank, while stage
6's per-interferogram snaphu solves are spread over min(ranks, interferograms) ranks.
"""
from __future__ import annotations

import argparse
import heapq
import json
import random


def makespan(durations: list[float], ranks: int, overhead: float) -> float:
    """Dynamic queue, largest first: each free rank takes the next patch."""
    free = [0.0] * ranks
    heapq.heapify(free)
    for d in sorted(durations, reverse=True):
        t = heapq.heappop(free)
        heapq.heappush(free, t + d + overhead)
    return max(free)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--patches", type=int, default=1000)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 16, 64, 256, 1024])
    ap.add_argument("--overhead", type=float, default=0.01, help="seconds per patch hand-out (message round trip)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    units = json.load(open(a.report))
    per_patch: dict[str, float] = {}
    merged: dict[str, float] = {}
    for u in units:
        if u["scope"] == "patch":
            per_patch[u["target"]] = per_patch.get(u["target"], 0.0) + u["duration_sec"]
        elif u["scope"] == "merged":
            merged[u["details"]["label"]] = u["duration_sec"]
    measured = list(per_patch.values())
    rng = random.Random(a.seed)
    durs = [rng.choice(measured) * rng.uniform(0.7, 1.3) for _ in range(a.patches)]
    scale = a.patches / max(1, len(measured))           # merged work grows with the PS count
    serial_merged = scale * sum(v for k, v in merged.items() if k != "6")
    stage6 = scale * merged.get("6", 0.0)
    total_patch = sum(durs)
    print(f"measured: {len(measured)} patches, mean {sum(measured) / len(measured):.2f} s per patch (stages 1-5a); "
          f"merged 5b/6/7/8 = {', '.join(f'{k}: {v:.2f} s' for k, v in sorted(merged.items()))}")
    print(f"simulated: {a.patches} patches (resampled +-30 %), patch work {total_patch:.0f} s, merged work "
          f"scaled x{scale:.0f}: serial part {serial_merged:.0f} s, stage 6 {stage6:.0f} s")
    print(f"{'ranks':>6} {'patch phase s':>14} {'patch eff.':>10} {'merged s':>9} {'total s':>9} {'speed-up':>9} "
          f"{'overall eff.':>12}  bottleneck")
    t1 = total_patch + serial_merged + stage6
    for r in a.ranks:
        ph = makespan(durs, r, a.overhead if r > 1 else 0.0)
        eff = total_patch / (r * ph)
        mg = serial_merged + stage6 / min(r, 60)
        tot = ph + mg
        bott = "rank 0 merged stages" if mg > ph else "patch phase"
        print(f"{r:>6} {ph:>14.1f} {eff:>10.3f} {mg:>9.1f} {tot:>9.1f} {t1 / tot:>9.1f} {t1 / tot / r:>12.3f}  {bott}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
