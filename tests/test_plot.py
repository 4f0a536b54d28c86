"""``pystamps plot``: velocity map and time-series PNGs of a processed dataset."""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pytest

from pystamps_batch import plot
from pystamps_batch.errors import ConfigError, InputError
from pystamps_batch.export import assemble
from test_export import processed_dataset

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_plot(*argv) -> int:
    p = argparse.ArgumentParser(prog="pystamps plot")
    plot.add_arguments(p)
    return plot.run(p.parse_args([str(a) for a in argv]))


def assert_png(path, min_bytes=10_000):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > min_bytes, (path, len(data))
    # IHDR: width and height in pixels (big endian) right after the signature and chunk header
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert w > 300 and h > 300


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return processed_dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def ts(ds):
    return assemble(ds, ("d", "o"))


def test_velocity_map_png(ds, tmp_path, capsys):
    out = tmp_path / "v.png"
    assert run_plot("--dataset", ds, "--out", out) == 0
    assert_png(out)
    assert [p.name for p in tmp_path.iterdir()] == ["v.png"]       # no time series without a point
    assert "v-do" in capsys.readouterr().out


def test_time_series_for_nearest_lonlat(ds, ts, tmp_path, capsys):
    k = int(np.argmax(ts.coherence))
    lon, lat = ts.lonlat[k] + np.array([2e-6, -2e-6])                # ~0.3 m away from PS k
    row, dist = plot.find_point(ts, lonlat=(lon, lat))
    assert row == k and dist < 1.0
    out, ts_out = tmp_path / "map.png", tmp_path / "series.png"
    assert run_plot("--dataset", ds, "--out", out, f"--lonlat={lon:.8f},{lat:.8f}", "--ts-out", ts_out) == 0
    assert_png(out)
    assert_png(ts_out)
    assert f"PS {k + 1}" in capsys.readouterr().out


def test_time_series_by_id_default_name(ds, ts, tmp_path):
    out = tmp_path / "vel.png"
    assert run_plot("--dataset", ds, "--out", out, "--point", ts.n, "--kind", "v-dso") == 0
    assert_png(out)
    assert_png(tmp_path / "vel_ts.png")


def test_fitted_line_intercept(ts):
    """The plotted line: slope = velocity, intercept = weighted LS given that slope."""
    p = int(np.argmax(ts.coherence))
    a = ts.intercept(p)
    U = np.flatnonzero(ts.used)
    t = (ts.day[U] - ts.day[ts.master]) / 365.25
    w = 1 / ts.sigma[U] ** 2
    A = np.column_stack([np.ones(U.size), t]) * np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(A, ts.displacement[p, U] * np.sqrt(w), rcond=None)[0]
    assert coef[1] == pytest.approx(float(ts.velocity[p]), abs=1e-3)
    assert a == pytest.approx(coef[0], abs=1e-3)


def test_color_limits_symmetric_percentiles():
    v = np.concatenate([np.linspace(-3, 10, 1000), [np.nan, -500.0]])
    lo, hi = plot.color_limits(v)
    p1, p99 = np.nanpercentile(v, [1, 99])
    assert lo == -hi and hi == pytest.approx(max(abs(p1), abs(p99)))
    assert plot.color_limits(np.array([np.nan])) == (-1.0, 1.0)
    assert plot.color_limits(np.zeros(5))[1] > 0


def test_errors(ds, ts, tmp_path):
    out = tmp_path / "v.png"
    for bad in (0, ts.n + 1):
        with pytest.raises(InputError, match="no such PS"):
            run_plot("--dataset", ds, "--out", out, "--point", bad)
    far = ts.lonlat[:, 0].max() + 0.5, ts.lonlat[:, 1].mean()
    with pytest.raises(InputError, match="no PS within"):
        run_plot("--dataset", ds, "--out", out, f"--lonlat={far[0]},{far[1]}")
    with pytest.raises(InputError, match="LON,LAT"):
        run_plot("--dataset", ds, "--out", out, "--lonlat", "15.0")
    with pytest.raises(InputError, match="--kind"):
        run_plot("--dataset", ds, "--out", out, "--kind", "w-do")
    with pytest.raises(InputError, match="--ts-out needs"):
        run_plot("--dataset", ds, "--out", out, "--ts-out", tmp_path / "t.png")
    with pytest.raises(InputError, match="not an image format"):
        run_plot("--dataset", ds, "--out", tmp_path / "v.xyz")
    with pytest.raises(InputError, match="does not exist"):
        run_plot("--dataset", ds, "--out", tmp_path / "no" / "v.png")
    assert list(tmp_path.iterdir()) == []


def test_not_processed_dataset(ds, tmp_path):
    import shutil

    part = tmp_path / "part"
    part.mkdir()
    for f in ds.glob("*.mat"):
        if f.stem != "phuw2":
            shutil.copy2(f, part / f.name)
    with pytest.raises(InputError, match=r"phuw2\.mat.*stage 6"):
        run_plot("--dataset", part, "--out", tmp_path / "v.png")


def test_missing_matplotlib_is_one_line(ds, tmp_path, monkeypatch):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError) as ei:
        run_plot("--dataset", ds, "--out", tmp_path / "v.png")
    assert "matplotlib" in str(ei.value) and "\n" not in str(ei.value)
    assert ei.value.exit_code == 2
    assert not (tmp_path / "v.png").exists()
