"""``pystamps export``: CF-1.10 NetCDF and CSV products of a processed dataset."""
from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from datasets import SINGLE, synth_dataset
from golden import golden_dir, golden_params
from pystamps_batch import export, products
from pystamps_batch.errors import InputError
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.parameters_io import load_params

netCDF4 = pytest.importorskip("netCDF4")

_PROCESSED: dict[str, Path] = {}
ARTS = ("ps2", "phuw2", "scla2", "scn2", "ifgstd2")
#: CF/UDUNITS-valid unit strings this product may use
CF_UNITS = {"mm", "mm year-1", "m", "rad", "rad m-1", "degree", "1", "degrees_east", "degrees_north",
            "days since 1970-01-01 00:00:00"}


def processed_dataset(tmp_path_factory) -> Path:
    """The SINGLE synthetic scene run through stages 1-8 once per session (shared with test_plot)."""
    if "ds" not in _PROCESSED:
        from pystamps_batch.cli import main

        base = tmp_path_factory.mktemp("export")
        ds = synth_dataset(tmp_path_factory, base / "ds", **SINGLE)
        cfg = base / "python.yaml"             # the reference backend: independent of the native build
        cfg.write_text("runtime:\n  backend: python\n")
        assert main(["--config", str(cfg), "run", "--dataset", str(ds), "--start-step", "1", "--end-step", "8"]) == 0
        _PROCESSED["ds"] = ds
    return _PROCESSED["ds"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pystamps export")
    export.add_arguments(p)
    return p


def run_export(*argv) -> int:
    return export.run(parser().parse_args([str(a) for a in argv]))


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return processed_dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def inputs(ds):
    return {a: load_mat(ds / f"{a}.mat") for a in ARTS}, load_params(ds)


@pytest.fixture(scope="module")
def nc_file(ds, tmp_path_factory):
    out = tmp_path_factory.mktemp("nc") / "ts.nc"
    assert run_export("--dataset", ds, "--format", "netcdf", "--out", out) == 0
    return out


@pytest.fixture(scope="module")
def nc(nc_file):
    with netCDF4.Dataset(nc_file) as d:
        d.set_auto_mask(False)
        yield d


def gls_slope(d_mm, day, used, master, sigma):
    """Independent weighted LS slope (mm/yr) of each row of ``d_mm`` over the used images."""
    U = np.flatnonzero(used)
    t = (day[U] - day[master]) / 365.25
    w = 1.0 / sigma[U] ** 2
    A = np.column_stack([np.ones(U.size), t]) * np.sqrt(w)[:, None]
    y = d_mm[:, U].astype(np.float64).T * np.sqrt(w)[:, None]
    return np.linalg.lstsq(A, y, rcond=None)[0][1]


# ----------------------------------------------------------------------------------
# NetCDF layout and attributes

def test_netcdf_cf_layout(nc, inputs):
    a, _ = inputs
    n, N = a["phuw2"]["ph_uw"].shape
    assert nc.data_model == "NETCDF4"
    assert nc.Conventions == "CF-1.10" and nc.featureType == "timeSeries"
    assert dict((k, len(v)) for k, v in nc.dimensions.items()) == {"point": n, "time": N}
    for attr in ("title", "source", "history", "master_date", "radar_wavelength_m", "corrections"):
        assert getattr(nc, attr) not in (None, "")
    assert nc.corrections == "d,o" and nc.velocity_kind == "v-do"
    assert "pystamps-batch" in nc.source and "pystamps-batch" in nc.history
    assert nc["point_id"].cf_role == "timeseries_id"
    assert [v for v in nc.variables if getattr(nc[v], "cf_role", None)] == ["point_id"]
    assert nc["lon"].standard_name == "longitude" and nc["lon"].units == "degrees_east"
    assert nc["lat"].standard_name == "latitude" and nc["lat"].units == "degrees_north"
    assert nc["time"].standard_name == "time" and nc["time"].calendar == "standard"
    assert nc["displacement"].dimensions == ("point", "time")
    assert nc["displacement"].shape == (n, N) and nc["displacement"].units == "mm"
    assert nc["velocity"].units == "mm year-1" and nc["velocity_std"].units == "mm year-1"
    assert nc["height"].units == "m" and nc["coherence"].units == "1"
    for name, var in nc.variables.items():
        if name not in ("ps", "crs"):
            assert getattr(var, "long_name", ""), name
        if hasattr(var, "units"):
            assert var.units in CF_UNITS, (name, var.units)
    for name in ("displacement", "velocity", "velocity_std", "coherence"):
        assert "lat" in nc[name].coordinates.split() and "lon" in nc[name].coordinates.split()


def test_netcdf_values_match_inputs(nc, inputs):
    a, params = inputs
    ps2 = a["ps2"]
    np.testing.assert_array_equal(nc["lon"][:], ps2["lonlat"][:, 0])
    np.testing.assert_array_equal(nc["lat"][:], ps2["lonlat"][:, 1])
    np.testing.assert_array_equal(nc["point_id"][:], np.arange(1, ps2["lonlat"].shape[0] + 1))
    # dates: days since 1970-01-01 of ps2.day (MATLAB datenum; 1970-01-01 = 719529)
    np.testing.assert_array_equal(nc["time"][:], ps2["day"].ravel() - 719529)
    assert nc.master_date == "2019-06-29"          # the scene's master (synth seed 3)
    assert nc.radar_wavelength_m == pytest.approx(float(params["lambda"]))
    coh = nc["coherence"][:]
    assert coh.dtype == np.float32 and np.all((coh >= 0) & (coh <= 1))


def test_velocity_equals_products_v_do(nc, inputs):
    a, params = inputs
    v = products.velocity(*(a[k] for k in ARTS), params, kind="v-do")
    got = nc["velocity"][:]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, v)


def test_velocity_equals_stage8_ps_plot(nc, ds):
    ref = load_mat(ds / "ps_plot_v-do.mat")["ph_disp"].ravel()
    np.testing.assert_allclose(nc["velocity"][:], ref, rtol=0, atol=1e-5)


def test_displacement_zero_at_master(nc, inputs):
    a, _ = inputs
    m = int(a["ps2"]["master_ix"].ravel()[0]) - 1
    d = nc["displacement"][:]
    assert np.all(d[:, m] == 0) and not np.signbit(d[:, m]).any()
    assert np.all(np.isfinite(d)) and np.abs(d).max() > 1.0      # a real signal, not zeros


def test_displacement_slope_is_velocity(nc, inputs):
    a, _ = inputs
    ps2 = a["ps2"]
    day = ps2["day"].ravel().astype(np.float64)
    m = int(ps2["master_ix"].ravel()[0]) - 1
    used = nc["used_in_velocity"][:].astype(bool)
    assert not used[m] and used.sum() == day.size - 1             # nothing dropped by default
    sigma = nc["ifg_std"][:].astype(np.float64) * np.pi / 181
    slope = gls_slope(nc["displacement"][:], day, used, m, sigma)
    np.testing.assert_allclose(slope, nc["velocity"][:], rtol=0, atol=1e-3)


def test_displacement_sign_and_scale(nc, inputs):
    """d = -(phi - ref) * lambda / (4 pi) * 1000 with phi the corrected phase referenced per image."""
    from pystamps_batch.stages.reference import reference_phase, setref

    a, params = inputs
    ph = products.velocity_phase(a["ps2"], a["phuw2"], a["scla2"], a["scn2"], "v-do")
    phr = reference_phase(ph, setref(a["ps2"], params)).astype(np.float64)
    want = -phr * float(params["lambda"]) / (4 * np.pi) * 1000
    np.testing.assert_allclose(nc["displacement"][:], want, rtol=1e-6, atol=1e-5)


def test_velocity_std_is_formal_gls_error(nc, inputs):
    a, _ = inputs
    ps2 = a["ps2"]
    day = ps2["day"].ravel().astype(np.float64)
    m = int(ps2["master_ix"].ravel()[0]) - 1
    used = nc["used_in_velocity"][:].astype(bool)
    U = np.flatnonzero(used)
    sig = nc["ifg_std"][:].astype(np.float64)[U] * np.pi / 181
    A = np.column_stack([np.ones(U.size), (day[U] - day[m]) / 365.25]) / sig[:, None]
    y = nc["displacement"][:][:, U].astype(np.float64).T / sig[:, None]
    coef, rss, *_ = np.linalg.lstsq(A, y, rcond=None)
    std = np.sqrt(rss / (U.size - 2) * np.linalg.inv(A.T @ A)[1, 1])
    got = nc["velocity_std"][:]
    assert np.all(got > 0)
    np.testing.assert_allclose(got, std, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------
# CSV

def test_csv_matches_netcdf(ds, nc, tmp_path):
    out = tmp_path / "ts.csv"
    assert run_export("--dataset", ds, "--out", out) == 0        # format from the suffix
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    n, N = nc["displacement"].shape
    dates = [f"d_{str(np.datetime64('1970-01-01') + int(t)).replace('-', '')}_mm" for t in nc["time"][:]]
    assert header == ["id", "lon_deg", "lat_deg", "height_m", "velocity_mm_yr", "velocity_std_mm_yr",
                      "coherence"] + dates
    assert len(body) == n and all(len(r) == 7 + N for r in body)
    t = np.array(body, dtype=np.float64)
    np.testing.assert_array_equal(t[:, 0].astype(int), nc["point_id"][:])
    np.testing.assert_allclose(t[:, 1], nc["lon"][:], rtol=0, atol=1e-9)
    np.testing.assert_allclose(t[:, 2], nc["lat"][:], rtol=0, atol=1e-9)
    for col, name in ((3, "height"), (4, "velocity"), (5, "velocity_std"), (6, "coherence")):
        np.testing.assert_array_equal(t[:, col].astype(np.float32), nc[name][:])
    np.testing.assert_array_equal(t[:, 7:].astype(np.float32), nc["displacement"][:])


# ----------------------------------------------------------------------------------
# corrections

@pytest.mark.parametrize("corr,kind", [("none", "v"), ("d", "v-d"), ("s,o,d", "v-dso"), ("o", "v-o")])
def test_corrections_select_the_velocity_kind(ds, inputs, tmp_path, corr, kind):
    a, params = inputs
    out = tmp_path / "k.nc"
    assert run_export("--dataset", ds, "--out", out, "--corrections", corr) == 0
    with netCDF4.Dataset(out) as d:
        assert d.velocity_kind == kind
        v = d["velocity"][:]
        disp = d["displacement"][:]
        used = d["used_in_velocity"][:].astype(bool)
        sigma = d["ifg_std"][:].astype(np.float64) * np.pi / 181
    np.testing.assert_array_equal(v, products.velocity(*(a[k] for k in ARTS), params, kind=kind))
    m = int(a["ps2"]["master_ix"].ravel()[0]) - 1
    assert np.all(disp[:, m] == 0)                      # also for 'v-d' (C_ps_uw kept in the series)
    slope = gls_slope(disp, a["ps2"]["day"].ravel().astype(np.float64), used, m, sigma)
    np.testing.assert_allclose(slope, v, rtol=0, atol=1e-3)


def test_parse_corrections_and_kinds():
    assert export.parse_corrections("d,o") == ("d", "o") == export.parse_corrections("od")
    assert export.parse_corrections("none") == () == export.parse_corrections("")
    assert export.kind_for(("o", "s", "d")) == "v-dso" and export.kind_for(()) == "v"
    assert export.corrections_for_kind("v-do") == ("d", "o")
    with pytest.raises(InputError, match="unknown term"):
        export.parse_corrections("d,x")
    with pytest.raises(InputError, match="--kind"):
        export.corrections_for_kind("u-do")


# ----------------------------------------------------------------------------------
# errors and atomic writes

def _partial_copy(ds: Path, dest: Path, drop: tuple[str, ...]) -> Path:
    dest.mkdir()
    for f in ds.iterdir():
        if f.is_file() and f.stem not in drop:
            shutil.copy2(f, dest / f.name)
    return dest


@pytest.mark.parametrize("drop,corr,stage", [(("phuw2",), "d,o", "6"), (("scla2",), "d,o", "7"),
                                            (("scn2",), "s", "8"), (("ps2",), "none", "5")])
def test_missing_stage_output_names_file_and_stage(ds, tmp_path, drop, corr, stage):
    src = _partial_copy(ds, tmp_path / "part", drop)
    out = tmp_path / "x.nc"
    with pytest.raises(InputError) as ei:
        run_export("--dataset", src, "--out", out, "--corrections", corr)
    msg = str(ei.value)
    assert f"{drop[0]}.mat" in msg and f"stage {stage}" in msg and "\n" not in msg
    assert not out.exists()


def test_stale_artifact_is_refused(ds, tmp_path):
    from pystamps_batch.io.matfile import save_mat

    src = _partial_copy(ds, tmp_path / "stale", ())
    s = load_mat(src / "scla2.mat")
    s["ph_scla"] = s["ph_scla"][:-3]
    save_mat(src / "scla2.mat", s)
    with pytest.raises(InputError, match="scla2.mat.*rerun stage 7"):
        run_export("--dataset", src, "--out", tmp_path / "x.nc")


def test_bad_options(ds, tmp_path):
    with pytest.raises(InputError, match="--format"):
        run_export("--dataset", ds, "--format", "xlsx", "--out", tmp_path / "x.nc")
    with pytest.raises(InputError, match="suffix"):
        run_export("--dataset", ds, "--out", tmp_path / "x.dat")
    with pytest.raises(InputError, match="--corrections"):
        run_export("--dataset", ds, "--out", tmp_path / "x.nc", "--corrections", "q")
    with pytest.raises(InputError, match="does not exist"):
        run_export("--dataset", ds, "--out", tmp_path / "nodir" / "x.nc")
    with pytest.raises(InputError, match="is a directory"):
        run_export("--dataset", ds, "--format", "csv", "--out", tmp_path)
    with pytest.raises(InputError, match="dataset folder not found"):
        run_export("--dataset", tmp_path / "nope", "--out", tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(ds, tmp_path, monkeypatch):
    out = tmp_path / "a.nc"
    out.write_text("old")
    from pystamps_batch.io.netcdf import NcVar

    good = export.netcdf_layout

    def broken(ts, **kw):           # a variable whose data does not fit its dimension
        dims, variables, attrs = good(ts, **kw)
        return dims, variables + [NcVar("bad", ("point",), np.zeros(3), {}, "f4")], attrs

    monkeypatch.setattr(export, "netcdf_layout", broken)
    with pytest.raises(Exception):
        run_export("--dataset", ds, "--out", out)
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.nc"]
    monkeypatch.undo()
    assert run_export("--dataset", ds, "--out", out) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]
    with netCDF4.Dataset(out) as d:
        assert d.featureType == "timeSeries"


# ----------------------------------------------------------------------------------
# against StaMPS (golden outputs)

@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2"])
@pytest.mark.parametrize("corr,kind", [(("d", "o"), "v-do"), (("d", "s", "o"), "v-dso")])
def test_golden_velocity_and_series(name, corr, kind):
    g = golden_dir(name) / "stamps"
    ts = export.assemble(g, corr, golden_params(name))
    ref = load_mat(g / f"ps_plot_{kind}.mat")["ph_disp"].ravel()
    assert np.abs(ts.velocity.astype(np.float64) - ref).max() < 1e-4          # mm/yr
    assert np.all(ts.displacement[:, ts.master] == 0)
    slope = gls_slope(ts.displacement, ts.day, ts.used, ts.master, ts.sigma)
    assert np.abs(slope - ref).max() < 1e-3
