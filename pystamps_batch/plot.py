"""``pystamps plot``: a mean-velocity map and a displacement time-series plot.

Both come from :func:`pystamps_batch.export.assemble` (the same numbers the export
writes): the map is a scatter of the PS in lon/lat coloured by the velocity of the
chosen kind (``v-do`` by default) with a diverging colour map whose limits are
symmetric, ``±max(|P1|, |P99|)`` of the velocities; the time-series plot shows one
PS's LOS displacement (mm) against date with the fitted line (slope = its velocity,
intercept = the weighted least-squares one over the images the velocity uses).

matplotlib is imported lazily and only through its object-oriented API with the Agg
canvas (no pyplot, no global backend change); without it the command fails with one
line.  Figures are written atomically (temporary file + rename).
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

from .errors import ConfigError, InputError
from .export import (DAYS_PER_YEAR, TimeSeriesProduct, assemble, check_output_path,
                     corrections_for_kind)

#: a --lonlat point farther than this from every PS is refused (m)
MAX_LONLAT_DISTANCE_M = 1000.0
CMAP = "RdYlBu"   # negative (away from the satellite) red, positive (towards) blue
SIGN = "positive towards the satellite"


def _matplotlib():
    """``(Figure, FigureCanvasAgg)``; ConfigError (exit 2) when matplotlib is missing."""
    try:
        import matplotlib.dates  # noqa: F401  (registers the date converters)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("pystamps plot needs matplotlib, which is not installed "
                          "(pip install 'pystamps-batch[plot]' or pip install matplotlib)") from None
    return Figure, FigureCanvasAgg


def _save(fig, canvas_cls, out: Path) -> None:
    from .io.netcdf import atomic_output

    with atomic_output(out) as tmp:
        canvas_cls(fig).print_figure(str(tmp), format=_image_format(out), dpi=150)


def _image_format(out: Path) -> str:
    return out.suffix.lstrip(".").lower() or "png"


def check_image_path(out: str | os.PathLike, option: str = "--out") -> Path:
    """A writable output path whose suffix names an image format matplotlib writes."""
    p = check_output_path(out, option)
    _, canvas = _matplotlib()
    fmts = canvas.get_supported_filetypes()
    if _image_format(p) not in fmts:
        raise InputError(f"{p}: {option} suffix .{_image_format(p)} is not an image format "
                         f"(use one of {', '.join('.' + f for f in sorted(fmts))})")
    return p


def color_limits(v: np.ndarray) -> tuple[float, float]:
    """Symmetric limits ``(-L, L)``, ``L = max(|P1|, |P99|)`` of the finite values (1 if none)."""
    f = np.asarray(v, dtype=np.float64)
    f = f[np.isfinite(f)]
    if f.size == 0:
        return -1.0, 1.0
    p1, p99 = np.percentile(f, [1, 99])
    lim = max(abs(p1), abs(p99))
    if not lim > 0:
        lim = max(float(np.abs(f).max()), 1e-6)
    return -lim, lim


def _span(ts: TimeSeriesProduct) -> str:
    d = ts.dates
    return f"{d[0]} to {d[-1]} (master {d[ts.master]})"


def _aspect(lat: np.ndarray) -> float:
    c = math.cos(math.radians(float(np.nanmean(lat)) if lat.size else 0.0))
    return 1.0 / max(c, 0.01)


def velocity_map(ts: TimeSeriesProduct, out: Path, *, mark: int | None = None) -> Path:
    """Scatter of the PS coloured by velocity (mm/yr) with a colour bar; ``mark`` = row to circle."""
    Figure, Canvas = _matplotlib()
    lon, lat = ts.lonlat[:, 0], ts.lonlat[:, 1]
    v = ts.velocity
    ok = np.isfinite(v) & np.isfinite(lon) & np.isfinite(lat)
    vmin, vmax = color_limits(v)
    fig = Figure(figsize=(8.0, 7.0))
    ax = fig.add_subplot(1, 1, 1)
    size = float(np.clip(20000.0 / max(int(ok.sum()), 1), 0.5, 12.0))
    sc = ax.scatter(lon[ok], lat[ok], c=v[ok], s=size, cmap=CMAP, vmin=vmin, vmax=vmax,
                    linewidths=0, rasterized=True)
    if mark is not None:
        ax.plot(lon[mark], lat[mark], marker="o", markersize=12, markerfacecolor="none",
                markeredgecolor="k", markeredgewidth=1.5)
        ax.annotate(f"PS {int(ts.point_id[mark])}", (lon[mark], lat[mark]), xytext=(8, 8),
                    textcoords="offset points", fontsize=9)
    cb = fig.colorbar(sc, ax=ax, shrink=0.85, extend="both")
    cb.set_label(f"mean LOS velocity (mm/yr), {SIGN}")
    ax.set_aspect(_aspect(lat[ok]))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.ticklabel_format(useOffset=False)
    ax.set_title(f"Mean LOS velocity '{ts.kind}', {_span(ts)}\n{int(ok.sum())} PS, "
                 f"colour limits ±{vmax:.2f} mm/yr (1st/99th percentile)", fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    _save(fig, Canvas, out)
    return out


def _dates64(day: np.ndarray) -> np.ndarray:
    """MATLAB datenums -> numpy datetime64[D]."""
    from .export import DATENUM_1970

    return (np.rint(day - DATENUM_1970).astype("int64")).astype("datetime64[D]")


def time_series_plot(ts: TimeSeriesProduct, p: int, out: Path, *, note: str = "") -> Path:
    """Displacement (mm) of row ``p`` against date, with the fitted velocity line."""
    Figure, Canvas = _matplotlib()
    t = _dates64(ts.day)
    d = ts.displacement[p].astype(np.float64)
    used, m = ts.used, ts.master
    fig = Figure(figsize=(9.0, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.plot(t[used], d[used], "o", color="tab:blue", label="displacement (used in the fit)")
    other = ~used
    other[m] = False
    if other.any():
        ax.plot(t[other], d[other], "o", markerfacecolor="none", color="0.5", label="dropped image")
    ax.plot(t[m], d[m], "s", color="k", label="master")
    vel = float(ts.velocity[p])
    if np.isfinite(vel) and used.any():
        a = ts.intercept(p)
        tt = np.array([ts.day.min(), ts.day.max()])
        line = a + vel * (tt - ts.day[m]) / DAYS_PER_YEAR
        ax.plot(_dates64(tt), line, "-", color="tab:red",
                label=f"fit: {vel:.2f} ± {float(ts.velocity_std[p]):.2f} mm/yr")
    ax.set_ylabel(f"LOS displacement (mm), {SIGN}")
    ax.set_xlabel("date")
    lon, lat = ts.lonlat[p]
    ax.set_title(f"PS {int(ts.point_id[p])} at {lon:.5f}, {lat:.5f}{note}; '{ts.kind}', coherence "
                 f"{float(ts.coherence[p]):.2f}", fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=8, loc="best")
    fig.autofmt_xdate()
    _save(fig, Canvas, out)
    return out


# ----------------------------------------------------------------------------------
# point selection

def parse_lonlat(text: str) -> tuple[float, float]:
    """``'LON,LAT'`` -> floats; InputError otherwise."""
    parts = str(text).replace(" ", "").split(",")
    try:
        lon, lat = (float(x) for x in parts)
    except ValueError:
        raise InputError(f"--lonlat {text!r}: expected LON,LAT in degrees, e.g. --lonlat=15.01,40.02") from None
    if not (-180 <= lon <= 360 and -90 <= lat <= 90) or not (math.isfinite(lon) and math.isfinite(lat)):
        raise InputError(f"--lonlat {text!r}: longitude or latitude out of range")
    return lon, lat


def find_point(ts: TimeSeriesProduct, point: int | None = None,
               lonlat: tuple[float, float] | None = None) -> tuple[int, float | None]:
    """Row of a PS by 1-based id, or the PS nearest to ``lonlat`` ``(row, distance_m)``."""
    if point is not None:
        hit = np.flatnonzero(ts.point_id == int(point))
        if hit.size == 0:
            raise InputError(f"--point {point}: no such PS (ids are 1..{ts.n}, the rows of ps2.mat)")
        return int(hit[0]), None
    from .geo import llh2local

    q = np.asarray(lonlat, dtype=np.float64).reshape(1, 2)
    ok = np.flatnonzero(np.isfinite(ts.lonlat).all(axis=1))
    if ok.size == 0:
        raise InputError("--lonlat: the dataset has no PS with valid coordinates")
    xy = llh2local(ts.lonlat[ok], q[0])          # metres about the query point
    dist = np.hypot(xy[:, 0], xy[:, 1])
    k = int(np.argmin(dist))
    if dist[k] > MAX_LONLAT_DISTANCE_M:
        raise InputError(f"--lonlat {q[0, 0]:g},{q[0, 1]:g}: no PS within {MAX_LONLAT_DISTANCE_M:g} m "
                         f"(the nearest, PS {int(ts.point_id[ok[k]])}, is {dist[k]:.0f} m away)")
    return int(ok[k]), float(dist[k])


def default_ts_path(out: Path) -> Path:
    """``v.png`` -> ``v_ts.png``."""
    return out.with_name(f"{out.stem}_ts{out.suffix or '.png'}")


# ----------------------------------------------------------------------------------
# command line

HELP = "plot the mean velocity map and a PS displacement time series (matplotlib)"
DESCRIPTION = (
    "Velocity map: the PS in lon/lat coloured by the mean LOS velocity (mm/yr, positive towards the "
    "satellite) of the chosen kind, symmetric colour limits from the 1st/99th percentiles. With --point "
    "or --lonlat also a time-series plot of that PS: displacement (mm) against date with the fitted line. "
    "Needs matplotlib (pip install 'pystamps-batch[plot]').")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pystamps plot``."""
    parser.add_argument("--dataset", required=True, metavar="DIR",
                        help="dataset root processed through stage 8 (stage 7 is enough unless --kind contains s)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="velocity map image (format from the suffix: .png, .pdf, .svg)")
    parser.add_argument("--kind", default="v-do", metavar="KIND",
                        help="velocity kind as StaMPS' ps_plot: v, v-d, v-o, v-do, v-dso, ... "
                             "(d = DEM error, o = orbit ramp, s = spatially-correlated nuisance; default v-do)")
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--point", type=int, metavar="ID", help="PS id (1-based row of ps2.mat, the id column of the export)")
    g.add_argument("--lonlat", metavar="LON,LAT",
                   help=f"the PS nearest to this point (within {MAX_LONLAT_DISTANCE_M:g} m); "
                        "write --lonlat=LON,LAT when LON is negative")
    parser.add_argument("--ts-out", metavar="FILE",
                        help="time-series plot of the chosen PS (default: the --out name with _ts added)")


def run(args: argparse.Namespace) -> int:
    """``pystamps plot``: returns 0; InputError/ConfigError (exit 2) for bad input or options."""
    _matplotlib()                                  # fail early, before any work
    corrections = corrections_for_kind(args.kind)
    want_ts = args.point is not None or args.lonlat is not None
    if args.ts_out and not want_ts:
        raise InputError("--ts-out needs a PS: give --point ID or --lonlat LON,LAT")
    lonlat = parse_lonlat(args.lonlat) if args.lonlat is not None else None
    out = check_image_path(args.out)
    ts_out = check_image_path(args.ts_out or default_ts_path(out), "--ts-out") if want_ts else None
    if ts_out is not None and os.path.abspath(ts_out) == os.path.abspath(out):
        raise InputError(f"{out}: --ts-out and --out are the same file")
    ts = assemble(Path(args.dataset), corrections, config=getattr(args, "config", None))
    row = dist = None
    if want_ts:
        row, dist = find_point(ts, args.point, lonlat)
    velocity_map(ts, out, mark=row)
    print(f"wrote {out}: velocity map '{ts.kind}', {ts.n} PS, {_span(ts)}")
    if ts_out is not None:
        note = f" ({dist:.0f} m from {lonlat[0]:g},{lonlat[1]:g})" if dist is not None else ""
        time_series_plot(ts, row, ts_out, note=note)
        print(f"wrote {ts_out}: time series of PS {int(ts.point_id[row])}{note}, "
              f"velocity {float(ts.velocity[row]):.2f} mm/yr")
    return 0
