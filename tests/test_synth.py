"""Synthetic dataset generator (pystamps_batch.synth): layout, truth, determinism, signs.

Everything is read back with plain numpy / text parsing, following
shared/reference/dataset-layout.md and spec A.2-A.6, and compared with the truth
and (where available) with the golden datasets' formats.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pystamps_batch.synth import TRUTH_KEYS, generate

PATH_FILES = {"calamp.in", "calamp.out", "selpsc.in", "pscphase.in", "psclonlat.in", "pscdem.in"}
SMALL = dict(width=200, length=180, n_cand=1500, n_ifg=8)


def _golden_input(name: str) -> Path:
    root = Path(os.environ.get("PYSTAMPS_GOLDEN", Path(__file__).resolve().parents[1].parent / "shared" / "golden"))
    d = root / name / "input"
    if not d.is_dir():
        pytest.skip(f"golden dataset {name} not available at {d}")
    return d


# ------------------------------------------------------------------------------------------
# plain-numpy readers (independent of the generator's code)
# ------------------------------------------------------------------------------------------
def _read_patch(root: Path, name: str, n_ifg: int) -> dict:
    d = root / name
    ij = np.loadtxt(d / "pscands.1.ij", dtype=np.int64, ndmin=2)
    n = ij.shape[0]
    out = {
        "ij": ij,
        "over": [int(x) for x in (d / "patch.in").read_text().split()],
        "noover": [int(x) for x in (d / "patch_noover.in").read_text().split()],
        "ph": np.fromfile(d / "pscands.1.ph", "<c8").reshape(n_ifg, n).T,
        "ll": np.fromfile(d / "pscands.1.ll", "<f4").reshape(n, 2),
        "hgt": np.fromfile(d / "pscands.1.hgt", "<f4"),
        "ijint": np.fromfile(d / "pscands.1.ij.int", ">i4").reshape(n, 2),
        "da": np.loadtxt(d / "pscands.1.da", ndmin=1),
        "ij0": (d / "pscands.1.ij0").read_bytes(),
    }
    r0, r1, a0, a1 = out["over"]
    out["mean_amp"] = np.fromfile(d / "mean_amp.flt", "<f4").reshape(a1 - a0 + 1, r1 - r0 + 1)
    return out


def _truth_rows(truth, az, rg) -> np.ndarray:
    """Row of the truth for each (az, rg) (truth rows are distinct pixels, az-major)."""
    width = int(truth["rg"].max()) + 1_000_000
    key = truth["az"] * width + truth["rg"]
    assert np.all(np.diff(key) > 0), "truth rows must be az-major and distinct"
    want = az * width + rg
    rows = np.searchsorted(key, want)
    assert np.all(key[np.minimum(rows, key.size - 1)] == want)
    return rows


def _expected_windows(width, length, nrg, naz, org, oaz):
    """Spec A.5, written independently: range index outer."""
    wp, lp = width // nrg, length // naz
    wins = []
    for ir in range(1, nrg + 1):
        for ia in range(1, naz + 1):
            core = [wp * (ir - 1) + 1, wp * ir, lp * (ia - 1) + 1, lp * ia]
            over = [max(1, core[0] - org), min(width, core[1] + org), max(1, core[2] - oaz), min(length, core[3] + oaz)]
            wins.append((over, core))
    return wins


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_ds(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "default"
    summary = generate(out)
    return out, summary


@pytest.fixture(scope="module")
def multi_ds(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "multi"
    summary = generate(out, width=260, length=230, rg_patches=3, az_patches=2, rg_overlap=20, az_overlap=25,
                       n_cand=2500, n_ifg=7, seed=11)
    return out, summary


# ------------------------------------------------------------------------------------------
# layout round trip
# ------------------------------------------------------------------------------------------
def test_default_scene_size(default_ds):
    out, s = default_ds
    assert s["width"] * 15 >= 7000 and s["length"] * 15 >= 7000
    assert 5000 <= s["n_cand"] <= 8000 and 15 <= s["n_ifg"] <= 20
    assert s["n_true_ps"] == s["n_cand"] // 2
    assert s["seconds"] < 30


def test_root_files_roundtrip(default_ds):
    out, s = default_ds
    truth = np.load(out / "truth.npz")
    root = os.path.abspath(out)
    W, L = int((out / "width.txt").read_text()), int((out / "len.txt").read_text())
    assert (W, L) == (s["width"], s["length"])
    assert (out / "processor.txt").read_text() == "doris\n"
    dates = [str(d) for d in truth["dates"]]
    m, sl = int(truth["master_index"]), truth["slave_index"]
    assert truth["master_index"].shape == ()
    assert dates == sorted(dates) and m == len(dates) // 2
    assert list(sl) == [k for k in range(len(dates)) if k != m]
    slaves = [dates[k] for k in sl]
    assert (out / "day.1.in").read_text().split() == slaves
    assert (out / "master_day.1.in").read_text() == dates[m] + "\n"
    np.testing.assert_allclose(np.loadtxt(out / "bperp.1.in"), truth["bperp_centre"][sl], atol=5e-5)
    assert truth["bperp_centre"][m] == 0 and truth["bpar_centre"][m] == 0
    t_days = np.array([np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in dates]).astype("datetime64[D]").astype(float)
    np.testing.assert_allclose(truth["t_years"], (t_days - t_days[m]) / 365.25, atol=1e-12)
    assert float((out / "heading.1.in").read_text()) == -12.5
    assert float((out / "lambda.1.in").read_text()) == 0.05546576
    assert (out / "slc_osfactor.1.in").read_text().strip() == "1"
    # calamp.in / calamp.out / selpsc.in: master first, then slaves in date order, absolute paths
    slcs = [f"{root}/{dates[m]}_crop.slc"] + [f"{root}/{d}/slave_res.slc" for d in slaves]
    assert (out / "calamp.in").read_text().splitlines() == slcs
    cal_lines = (out / "calamp.out").read_text().splitlines()
    assert [ln.split()[0] for ln in cal_lines] == slcs
    cal = np.array([float(ln.split()[1]) for ln in cal_lines])
    np.testing.assert_array_equal(cal, truth["calconst"][[m] + list(sl)])
    assert (out / "selpsc.in").read_text().splitlines() == ["0.4", str(W)] + cal_lines
    assert (out / "pscphase.in").read_text().splitlines() == [str(W)] + [f"{root}/{d}/cint.minrefdem.raw" for d in slaves]
    assert (out / "psclonlat.in").read_text().splitlines() == [str(W), f"{root}/lon.raw", f"{root}/lat.raw"]
    assert (out / "pscdem.in").read_text().splitlines() == [str(W), f"{root}/dem_radar_i.raw"]
    assert (out / "patch.list").read_text() == "PATCH_1\n"
    # 50 x 50 x 2 grids: rows = azimuth, cols = linspace(0, width, 50), (h0, h1000) pairs
    la = np.loadtxt(out / "look_angle.1.in").reshape(50, 50, 2)
    assert np.all(la[..., 1] > la[..., 0]) and np.all(np.diff(la[0, :, 0]) > 0)
    for k in sl:
        g = np.loadtxt(out / f"bperp_{dates[k]}.1.in").reshape(50, 50, 2)
        centre = np.interp((W - 1) / 2, np.linspace(0, W, 50), g[0, :, 0])
        assert abs(centre - truth["bperp_centre"][k]) < 0.01
    pm = __import__("scipy.io", fromlist=["loadmat"]).loadmat(out / "parms.mat")
    assert pm["small_baseline_flag"][0] == "n" and pm["insar_processor"][0] == "doris"
    assert len(pm["Created"][0]) == 11


def test_patch_files_match_truth(default_ds):
    out, s = default_ds
    truth = np.load(out / "truth.npz")
    M = s["n_ifg"]
    p = _read_patch(out, "PATCH_1", M)
    ij = p["ij"]
    n = ij.shape[0]
    assert n == s["n_cand"] == truth["az"].size
    assert np.array_equal(ij[:, 0], np.arange(1, n + 1))
    assert np.all(np.diff(ij[:, 1] * s["width"] + ij[:, 2]) > 0)        # az-major, distinct
    rows = _truth_rows(truth, ij[:, 1], ij[:, 2])
    assert np.array_equal(rows, np.arange(n))
    assert np.array_equal(p["ijint"], ij[:, [2, 1]])
    assert p["ij0"] == b""
    # value = master * conj(slave): phase = truth ph_wrapped (float32), positive amplitude
    dphi = np.angle(p["ph"] * np.exp(-1j * truth["ph_wrapped"].astype(np.float64)))
    assert np.abs(dphi).max() < 2e-6
    assert np.all(np.abs(p["ph"]) > 0)
    np.testing.assert_allclose(p["da"], truth["D_A"], rtol=6e-6)
    assert np.all(p["da"] < 0.4)
    np.testing.assert_array_equal(p["ll"][:, 0], truth["lon"].astype(np.float32))
    np.testing.assert_array_equal(p["ll"][:, 1], truth["lat"].astype(np.float32))
    np.testing.assert_array_equal(p["hgt"], truth["hgt"].astype(np.float32))
    # mean_amp: every pixel of the patch, candidates brighter than the clutter on average
    ma = p["mean_amp"]
    assert ma.shape == (s["length"], s["width"]) and np.all(ma > 0)
    assert ma[ij[:, 1], ij[:, 2]].mean() > 2 * np.median(ma)


def test_binary_sizes(multi_ds):
    out, s = multi_ds
    M = s["n_ifg"]
    for w in s["patches"]:
        d = out / w["name"]
        n = len((d / "pscands.1.ij").read_text().splitlines())
        assert n == w["n_cand"]
        r0, r1, a0, a1 = w["over"]
        assert (d / "pscands.1.ph").stat().st_size == n * M * 8
        assert (d / "pscands.1.ll").stat().st_size == n * 8
        assert (d / "pscands.1.ij.int").stat().st_size == n * 8
        assert (d / "pscands.1.hgt").stat().st_size == n * 4
        assert len((d / "pscands.1.da").read_text().splitlines()) == n
        assert (d / "mean_amp.flt").stat().st_size == (r1 - r0 + 1) * (a1 - a0 + 1) * 4


def test_multipatch_windows_and_membership(multi_ds):
    out, s = multi_ds
    truth = np.load(out / "truth.npz")
    M = s["n_ifg"]
    wins = _expected_windows(260, 230, 3, 2, 20, 25)
    names = [f"PATCH_{i}" for i in range(1, 7)]
    assert (out / "patch.list").read_text().split() == sorted(names)
    seen = np.zeros(truth["az"].size, dtype=int)
    ph_by_row: dict[int, np.ndarray] = {}
    for name, (over, core) in zip(names, wins):
        p = _read_patch(out, name, M)
        assert p["over"] == over and p["noover"] == core
        r0, r1, a0, a1 = over
        inside = np.flatnonzero((truth["rg"] >= r0 - 1) & (truth["rg"] <= r1 - 1)
                                & (truth["az"] >= a0 - 1) & (truth["az"] <= a1 - 1))
        ij = p["ij"]
        assert np.array_equal(ij[:, 0], np.arange(1, ij.shape[0] + 1))
        assert np.array_equal(ij[:, 1], truth["az"][inside]) and np.array_equal(ij[:, 2], truth["rg"][inside])
        assert s["patch_counts"][name] == inside.size
        seen[inside] += 1
        dphi = np.angle(p["ph"] * np.exp(-1j * truth["ph_wrapped"][inside].astype(np.float64)))
        assert np.abs(dphi).max() < 2e-6
        np.testing.assert_array_equal(p["hgt"], truth["hgt"][inside].astype(np.float32))
        for j, row in enumerate(inside):          # overlap candidates: identical bytes in every patch
            if row in ph_by_row:
                assert np.array_equal(ph_by_row[row], p["ph"][j])
            else:
                ph_by_row[row] = p["ph"][j]
    assert seen.min() >= 1                        # every truth candidate is in some patch
    assert (seen >= 2).sum() > 0.05 * seen.size   # overlaps hold candidates of two (or four) patches
    # mean_amp agrees on the overlap between PATCH_1 and PATCH_2 (same pixels)
    m1, m2 = _read_patch(out, "PATCH_1", M)["mean_amp"], _read_patch(out, "PATCH_2", M)["mean_amp"]
    o1, o2 = wins[0][0], wins[1][0]
    lines = range(max(o1[2], o2[2]), min(o1[3], o2[3]) + 1)
    np.testing.assert_array_equal(m1[[ln - o1[2] for ln in lines]], m2[[ln - o2[2] for ln in lines]])


def test_lead_reader_accepts(multi_ds):
    from pystamps_batch.dataset.layout import open_dataset

    out, s = multi_ds
    ds = open_dataset(out, strict=True)
    assert [p.n_cand for p in ds.patches] == [s["patch_counts"][p.name] for p in ds.patches]
    assert ds.n_ifg == s["n_ifg"]


# ------------------------------------------------------------------------------------------
# truth: model consistency and signs
# ------------------------------------------------------------------------------------------
def test_truth_phase_model(default_ds):
    out, s = default_ds
    t = np.load(out / "truth.npz")
    lam = float((out / "lambda.1.in").read_text())
    m, sl = int(t["master_index"]), t["slave_index"]
    d = t["disp_los_mm"].astype(np.float64)
    for k in ("disp_los_mm", "bperp_pix"):
        assert np.all(t[k][:, m] == 0)
    ps = t["is_ps"]
    model = (-4 * np.pi / lam * d[:, sl] / 1000.0
             + (t["atm_rad"][:, [m]] - t["atm_rad"][:, sl]) + (t["orbit_rad"][:, [m]] - t["orbit_rad"][:, sl])
             + t["K_rad_per_m"][:, None] * t["bperp_pix"][:, sl]
             + (t["noise_img_rad"][:, [m]] - t["noise_img_rad"][:, sl]))
    r = np.angle(np.exp(1j * (model - t["ph_wrapped"])))
    assert np.abs(r[ps]).max() < 1e-4                    # float32 storage of the components
    assert 1.5 < np.abs(r[~ps]).mean() < 1.65            # decorrelated: uniform phase (mean |.| = pi/2)
    assert np.all(t["noise_img_rad"][~ps] == 0) and np.all(np.isnan(t["noise_std_rad"][~ps]))
    np.testing.assert_allclose(t["noise_std_rad"][ps], np.clip(2 * t["D_A"][ps], 0.3, 0.7))
    K = -4 * np.pi * t["dem_err_m"] / (lam * t["slant_range_m"] * np.sin(t["incidence_rad"]))
    np.testing.assert_allclose(t["K_rad_per_m"], K, rtol=1e-12)
    A = np.c_[np.ones(sl.size), t["t_years"][sl]]
    slope = np.linalg.lstsq(A, d[:, sl].T, rcond=None)[0][1]
    np.testing.assert_allclose(t["v_mean_mm_yr"], slope, atol=1e-4)
    assert t["v_lin_mm_yr"].min() < -20                   # subsidence bowl (negative = away)
    assert np.all(np.abs(t["atm_rad"].std(axis=0) - 1.0) < 0.35)
    assert np.all(t["D_A"][ps] < 0.35) and np.all(t["D_A"][~ps] >= 0.35) and np.all(t["D_A"] < 0.4)


def test_sign_pure_uplift(tmp_path):
    out = tmp_path / "uplift"
    s = generate(out, width=120, length=120, n_cand=400, n_ifg=6, ps_fraction=1.0, ps_noise=(0.0, 0.0),
                 bowl_rate_mm_yr=3.0, bowl_sigma_frac=2.0, bg_gradient_mm_yr_km=0.0, seasonal_mm=0.0,
                 dem_err_std_m=0.0, atm_std_rad=0.0, orbit_ramp_rad_per_10km=0.0, seed=4, rg_overlap=0, az_overlap=0)
    t = np.load(out / "truth.npz")
    M = s["n_ifg"]
    p = _read_patch(out, "PATCH_1", M)
    lam = float((out / "lambda.1.in").read_text())
    assert np.all(t["v_mean_mm_yr"] > 0)                # uplift: towards the satellite
    phase = np.angle(p["ph"])                             # small: no wrapping for this scene
    days = np.array([np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in (out / "day.1.in").read_text().split()])
    mday = (out / "master_day.1.in").read_text().strip()
    dt = (days - np.datetime64(f"{mday[:4]}-{mday[4:6]}-{mday[6:]}")).astype(float)
    later = dt > 0
    # the model: ifg = (4 pi / lambda)(r_s - r_m), range shortens -> negative phase after the master
    assert np.all(phase[:, later] < 0) and np.all(phase[:, ~later] > 0)
    np.testing.assert_allclose(phase, -4 * np.pi / lam * t["disp_los_mm"][:, t["slave_index"]] / 1000.0, atol=1e-5)
    # StaMPS ps_plot: v = -slope(phase vs day) * lambda / (4 pi) * 1000 * 365.25
    A = np.c_[np.ones(M), dt]
    slope = np.linalg.lstsq(A, phase.T, rcond=None)[0][1]
    v = -slope * lam / (4 * np.pi) * 1000 * 365.25
    np.testing.assert_allclose(v, t["v_mean_mm_yr"], atol=1e-3)


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------
def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic(tmp_path):
    kw = dict(SMALL, rg_patches=2, az_patches=2, rg_overlap=15, az_overlap=10, seed=7)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, **kw)
    generate(b, **kw)
    generate(c, **{**kw, "seed": 8})
    fa, fb, fc = _all_files(a), _all_files(b), _all_files(c)
    assert fa.keys() == fb.keys()
    for name in fa:
        if name in PATH_FILES:
            assert fa[name].replace(str(a).encode(), b"ROOT") == fb[name].replace(str(b).encode(), b"ROOT"), name
        else:
            assert fa[name] == fb[name], name
    for name in ("truth.npz", "PATCH_1/pscands.1.ij", "PATCH_1/pscands.1.ph", "day.1.in", "bperp.1.in"):
        assert fa[name] != fc[name], name


def test_matches_golden_formats(default_ds):
    """Same files, text formats, truth keys/dtypes/ranks and parms.mat bytes as the golden."""
    g = _golden_input("small-1patch")
    out, _ = default_ds

    def names(d):
        return {("bperp_D.1.in" if p.name.startswith("bperp_") else str(p.relative_to(d)))
                for p in d.rglob("*") if p.is_file()}

    assert names(out) == names(g)
    tg, to = np.load(g / "truth.npz"), np.load(out / "truth.npz")
    assert tg.files == to.files == TRUTH_KEYS
    for k in tg.files:
        assert tg[k].dtype == to[k].dtype and tg[k].ndim == to[k].ndim, k
        if k not in ("dates", "t_years", "bperp_centre", "bpar_centre", "calconst", "slave_index",
                     "orbit_grad_rad_per_10km") and tg[k].ndim == 2:
            assert tg[k].shape[1] == to[k].shape[1], k
    # same 500 x 500 geometry -> the same look-angle grid, byte for byte
    assert (out / "look_angle.1.in").read_bytes() == (g / "look_angle.1.in").read_bytes()
    for f in ("heading.1.in", "lambda.1.in", "slc_osfactor.1.in", "processor.txt", "width.txt", "len.txt"):
        assert (out / f).read_bytes() == (g / f).read_bytes(), f
    pg, po = (g / "parms.mat").read_bytes(), (out / "parms.mat").read_bytes()
    assert len(pg) == len(po) and pg[116:192] == po[116:192] and pg[203:] == po[203:]
    for f in ("pscands.1.ij", "pscands.1.da"):
        lg = (g / "PATCH_1" / f).read_text().splitlines()[:50]
        lo = (out / "PATCH_1" / f).read_text().splitlines()[:50]
        assert [len(x.split()) for x in lg] == [len(x.split()) for x in lo]
        assert all(len(x.split()[-1]) <= 8 for x in lo)


def test_golden_grids_reproduced():
    """bperp_*.1.in of a golden dataset from its truth baselines, byte for byte."""
    from pystamps_batch.synth.geometry import Geometry

    g = _golden_input("multi-2x2")
    t = np.load(g / "truth.npz")
    geom = Geometry(800, 800)
    k = int(t["slave_index"][3])
    grid = geom.bperp_grid(t["bperp_centre"][k], t["bpar_centre"][k]).ravel()
    assert "".join(f"{v:.4f}\n" for v in grid) == (g / f"bperp_{t['dates'][k]}.1.in").read_text()
    e, n = geom.east_north(t["az"], t["rg"])
    lon, lat = geom.lonlat(e, n)
    np.testing.assert_allclose(lon, t["lon"], atol=1e-12)
    np.testing.assert_allclose(lat, t["lat"], atol=1e-12)
    r = geom.slant_range(t["rg"])
    np.testing.assert_allclose(r, t["slant_range_m"], rtol=1e-13)
    np.testing.assert_allclose(geom.look_angle(r, t["hgt"]), t["look_angle_rad"], atol=1e-12)


# ------------------------------------------------------------------------------------------
# raw rasters: calamp / selpsc_patch / psclonlat / pscdem / pscphase reproduce the dataset
# ------------------------------------------------------------------------------------------
def test_raw_rasters_reproduce_mt_prep(tmp_path):
    out = tmp_path / "raw"
    W, L = 150, 140
    s = generate(out, width=W, length=L, rg_patches=2, az_patches=2, rg_overlap=12, az_overlap=9,
                 n_cand=1200, n_ifg=5, seed=21, write_raw=True)
    cal_lines = [ln.split() for ln in (out / "calamp.out").read_text().splitlines()]
    slcs = [np.fromfile(path, "<c8").reshape(L, W) for path, _ in cal_lines]
    cal = np.array([float(c) for _, c in cal_lines])
    mean_abs = np.array([np.abs(x)[np.abs(x) > 0.001].mean() for x in slcs])       # calamp
    np.testing.assert_allclose(mean_abs, cal, rtol=2e-6)
    a = np.stack([np.abs(x).astype(np.float64) / c for x, c in zip(slcs, cal)], axis=-1)
    assert a.min() > 5e-5
    N = a.shape[-1]
    D = np.sqrt(N * (a * a).sum(-1) / a.sum(-1) ** 2 - 1)                          # selpsc D_A
    cand = D < 0.4
    slaves = (out / "day.1.in").read_text().split()
    cints = [np.fromfile(out / d / "cint.minrefdem.raw", "<c8").reshape(L, W) for d in slaves]
    lon = np.fromfile(out / "lon.raw", "<f4").reshape(L, W)
    lat = np.fromfile(out / "lat.raw", "<f4").reshape(L, W)
    dem = np.fromfile(out / "dem_radar_i.raw", "<f4").reshape(L, W)
    assert cand.sum() == s["n_cand"]
    for w in s["patches"]:
        p = _read_patch(out, w["name"], len(slaves))
        r0, r1, a0, a1 = p["over"]
        win = np.zeros((L, W), dtype=bool)
        win[a0 - 1:a1, r0 - 1:r1] = True
        az, rg = np.nonzero(cand & win)                                              # az-major
        assert np.array_equal(p["ij"][:, 1], az) and np.array_equal(p["ij"][:, 2], rg)
        ph = np.stack([c[az, rg] for c in cints], axis=1)                             # pscphase
        assert np.array_equal(p["ph"].view(np.uint64), ph.view(np.uint64))
        assert np.array_equal(p["ll"][:, 0], lon[az, rg]) and np.array_equal(p["ll"][:, 1], lat[az, rg])
        assert np.array_equal(p["hgt"], dem[az, rg])
        np.testing.assert_allclose(p["da"], D[az, rg], rtol=1e-5)
        np.testing.assert_allclose(p["mean_amp"], a.sum(-1)[a0 - 1:a1, r0 - 1:r1], rtol=1e-5)
        # value = master * conj(slave), to float32 precision
        mc = slcs[0][az, rg][:, None] * np.conj(np.stack([x[az, rg] for x in slcs[1:]], axis=1))
        np.testing.assert_allclose(p["ph"], mc, rtol=1e-5)


# ------------------------------------------------------------------------------------------
# argument checks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, words", [
    (dict(rg_patches=40), "do not fit"),
    (dict(width=100, length=100, n_cand=20000), "larger than"),
    (dict(n_ifg=1), "n_ifg"),
    (dict(ps_fraction=1.5), "ps_fraction"),
    (dict(da_thresh=0.3), "da_thresh"),
    (dict(seed=-1), "seed"),
    (dict(width=2.5), "width"),
    (dict(bogus=1), "unknown"),
    (dict(width=20000, length=20000, write_raw=True), "write_raw"),
])
def test_invalid_arguments(tmp_path, kw, words):
    with pytest.raises(ValueError) as e:
        generate(tmp_path / "x", **kw)
    msg = str(e.value)
    assert words in msg and "\n" not in msg
    assert not (tmp_path / "x").exists()


def test_refuses_non_empty_folder(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        generate(out, **SMALL)
    generate(out, overwrite=True, **SMALL)
    assert (out / "keep.txt").exists() and (out / "truth.npz").exists()
