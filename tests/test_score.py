"""score_run / format_score: golden README numbers and a synthetic run with known answers."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pystamps_batch.errors import InputError
from pystamps_batch.io.matfile import save_mat
from pystamps_batch.score import format_score, score_run
from tests.golden import golden_dir

LAM = 0.05546576


# --------------------------------------------------------------------------------- goldens

#: /work/shared/golden/README.md: "StaMPS after weeding: precision / recall" and
#: "v-do RMSE vs truth" (all final PS, v - v_true with its best-fit plane removed).
README = {
    "small-1patch": (0.978, 0.994, 1.262, 3),
    "multi-2x2": (0.974, 0.991, 1.411, 3),
    "dense-1patch": (0.973, 0.997, 1.616, 3),
    "snap-1patch": (0.979, 0.994, 1.31, 2),
}


@pytest.mark.parametrize("name", sorted(README))
def test_golden_scores_reproduce_readme(name):
    g = golden_dir(name)
    d = score_run(g / "stamps", g / "input" / "truth.npz")
    precision, recall, v_do, nd = README[name]
    for step in ("stage4", "merged"):
        assert round(d["selection"][step]["precision"], 3) == precision
        assert round(d["selection"][step]["recall"], 3) == recall
    assert round(d["velocity"]["v-do"]["rmse_plane_mm_yr"], nd) == v_do
    json.dumps(d, allow_nan=False)


def test_small_1patch_golden_score_details():
    g = golden_dir("small-1patch")
    d = score_run(g / "stamps", g / "input" / "truth.npz")
    assert d["wavelength_m"] == LAM and d["wavelength_source"] == "parms.mat"
    assert d["truth_counts"] == {"candidates": 8000, "true_ps": 4000}
    s3, m = d["selection"]["stage3"], d["selection"]["merged"]
    assert (s3["n_selected"], s3["tp"]) == (4896, 3980)
    assert round(s3["precision"], 3) == 0.813 and round(s3["recall"], 3) == 0.995
    assert (m["n_selected"], m["tp"], m["fp"], m["fn"]) == (4066, 3977, 89, 23)
    assert round(m["f1"], 3) == 0.986
    # DEM error of the final PS (pm2.K_ps) on the true PS
    dem = d["dem_error"]["merged"]
    assert dem["n_valid"] == 3977
    assert round(dem["rmse_dz_m"], 3) == 4.065 and round(dem["rmse_K_rad_per_m"], 6) == 0.001692
    assert round(d["dem_error"]["stage2"]["rmse_dz_m"], 3) == 3.838
    # velocities: mean_v.mat is the fit of the last ps_plot call (v-dso), so it equals v-dso
    v = d["velocity"]
    assert round(v["mean_v"]["rmse_mm_yr"], 3) == 4.286 == round(v["v-dso"]["rmse_mm_yr"], 3)
    assert round(v["mean_v"]["rmse_plane_mm_yr"], 3) == 3.435
    assert round(v["v-do"]["rmse_mm_yr"], 3) == 2.858        # offset only: the deramp bias remains
    assert round(v["v-d"]["rmse_plane_mm_yr"], 3) == 1.262
    text = format_score(d)
    assert "v-do" in text and "1.262" in text and "0.978" in text


# --------------------------------------------------------------------------------- synthetic

def _synthetic(tmp_path: Path) -> tuple[Path, Path, dict]:
    """100 candidates (even index = true PS) on a 10 x 10 grid; a run with known answers."""
    rng = np.random.default_rng(3)
    n = 100
    az, rg = np.divmod(np.arange(n), 10)
    az, rg = az * 7, rg * 5 + 1
    is_ps = np.arange(n) % 2 == 0
    east, north = rg * 15.0, az * 15.0
    R = np.full(n, 860e3) + rg
    inc = np.full(n, 0.68)
    K = rng.normal(0, 2e-3, n)
    dz = -K * LAM * R * np.sin(inc) / (4 * np.pi)
    v_true = rng.normal(0, 5, n)
    truth = tmp_path / "truth.npz"
    np.savez(truth, az=az, rg=rg, is_ps=is_ps, K_rad_per_m=K, dem_err_m=dz, slant_range_m=R,
             incidence_rad=inc, v_mean_mm_yr=v_true, east_m=east, north_m=north)
    run = tmp_path / "run"
    p = run / "PATCH_1"
    # candidates in the patch: all 100, in reversed order; ij = [id, az, rg]
    order = np.arange(n)[::-1]
    ij1 = np.column_stack([np.arange(1, n + 1), az[order], rg[order]]).astype(float)
    save_mat(p / "ps1.mat", {"ij": ij1})
    save_mat(p / "pm1.mat", {"K_ps": K[order].reshape(-1, 1)})
    # stage 3: initial selection = candidate rows 0..59, kept = rows 0..49 except rows 1, 3 (false PS)
    ix = np.arange(60)
    keep = (ix < 50) & ~np.isin(ix, [1, 3])
    save_mat(p / "select1.mat", {"ix": (ix + 1.0).reshape(-1, 1), "keep_ix": keep.reshape(-1, 1),
                                 "K_ps2": (K[order][ix] + 1e-3).reshape(-1, 1)})
    # stage 4 / merged: the true PS among candidates 0..79 plus 3 false ones
    final = np.r_[np.flatnonzero(is_ps[:80]), 1, 3, 5]
    ij2 = np.column_stack([np.arange(1, final.size + 1), az[final], rg[final]]).astype(float)
    for folder in (p, run):
        save_mat(folder / "ps2.mat", {"ij": ij2})
        save_mat(folder / "pm2.mat", {"K_ps": K[final].reshape(-1, 1)})
    # velocity: truth + offset + an east ramp (0.5 mm/yr/km); ps_plot v-do = truth + offset
    v_run = v_true[final] + 7.0 + 0.5 * east[final] / 1000
    rate = -v_run / (365.25 / (4 * np.pi) * LAM * 1000)
    save_mat(run / "mean_v.mat", {"m": np.vstack([np.zeros(final.size), rate])})
    save_mat(run / "ps_plot_v-do.mat", {"ph_disp": (v_true[final] - 2.0).reshape(-1, 1).astype(np.float32)})
    save_mat(run / "parms.mat", {"lambda": np.array([[LAM]])})
    facts = {"final": final, "is_ps": is_ps, "ramp": 0.5 * east[final] / 1000, "R": R, "inc": inc}
    return run, truth, facts


def test_synthetic_selection_dem_and_velocity(tmp_path):
    run, truth, f = _synthetic(tmp_path)
    d = score_run(run, truth)
    assert d["notes"] == []
    # stage 3: rows 0..49 of the reversed candidates = candidates 99..50, minus rows 1 and 3
    # (candidates 98 and 96: true PS) -> 48 selected; true PS among 99..50 = 25, minus 2 -> 23
    s3 = d["selection"]["stage3"]
    assert (s3["n_selected"], s3["tp"], s3["fp"], s3["fn"]) == (48, 23, 25, 27)
    assert s3["precision"] == pytest.approx(23 / 48) and s3["recall"] == pytest.approx(23 / 50)
    assert s3["f1"] == pytest.approx(2 * (23 / 48) * (23 / 50) / (23 / 48 + 23 / 50))
    for step in ("stage4", "merged"):
        s = d["selection"][step]
        assert (s["n_selected"], s["tp"], s["fp"], s["fn"]) == (43, 40, 3, 10)
    # DEM: pm1/pm2 K exact; select1 K_ps2 off by 1e-3 rad/m
    for step in ("stage2", "stage4", "merged"):
        assert d["dem_error"][step]["rmse_K_rad_per_m"] == pytest.approx(0, abs=1e-15)
        assert d["dem_error"][step]["rmse_dz_m"] == pytest.approx(0, abs=1e-9)
    assert d["dem_error"]["stage2"]["n_true_ps"] == 50
    s3d = d["dem_error"]["stage3"]
    assert s3d["n_true_ps"] == 23 and s3d["rmse_K_rad_per_m"] == pytest.approx(1e-3)
    kept = np.arange(100)[::-1][np.r_[0, 2, 4:50]]
    kept = kept[f["is_ps"][kept]]
    dz_err = -1e-3 * LAM * f["R"][kept] * np.sin(f["inc"][kept]) / (4 * np.pi)
    assert s3d["rmse_dz_m"] == pytest.approx(np.sqrt(np.mean(dz_err ** 2)))
    assert s3d["bias_dz_m"] == pytest.approx(dz_err.mean())
    # velocity: mean_v = truth + 7 + ramp -> offset removed leaves the ramp, the plane removes it
    mv = d["velocity"]["mean_v"]
    ramp = f["ramp"]
    assert mv["n"] == 43 and mv["offset_mm_yr"] == pytest.approx(7 + ramp.mean())
    assert mv["rmse_mm_yr"] == pytest.approx(ramp.std())
    assert mv["rmse_plane_mm_yr"] == pytest.approx(0, abs=1e-9)
    vdo = d["velocity"]["v-do"]
    assert vdo["offset_mm_yr"] == pytest.approx(-2.0, abs=1e-5)
    assert vdo["rmse_mm_yr"] < 1e-5 and vdo["n_true_ps"] == 40
    text = format_score(d)
    assert "stage3" in text and "mean_v" in text and "v-do" in text
    json.dumps(d, allow_nan=False)


def test_metrics_only_when_inputs_exist(tmp_path):
    run, truth, _ = _synthetic(tmp_path)
    for name in ("PATCH_1/select1.mat", "mean_v.mat", "ps_plot_v-do.mat", "parms.mat"):
        (run / name).unlink()
    d = score_run(run, truth)
    assert set(d["selection"]) == {"stage4", "merged"}
    assert "stage3" not in d["dem_error"] and d["velocity"] == {}
    assert any(n.startswith("stage3: not scored") for n in d["notes"])
    assert "mean_v: no root mean_v.mat" in d["notes"]
    # no wavelength anywhere: K is still scored, dz is not
    assert d["wavelength_m"] is None
    assert "rmse_dz_m" not in d["dem_error"]["merged"] and "rmse_K_rad_per_m" in d["dem_error"]["merged"]
    (run / "lambda.1.in").write_text(f"{LAM}\n")
    assert score_run(run, truth)["wavelength_source"] == "lambda.1.in"


def test_bad_inputs(tmp_path):
    run, truth, _ = _synthetic(tmp_path)
    with pytest.raises(InputError):
        score_run(tmp_path / "nope", truth)
    np.savez(tmp_path / "bad.npz", az=np.zeros(3))
    with pytest.raises(InputError, match="is_ps"):
        score_run(run, tmp_path / "bad.npz")
    assert math.isfinite(score_run(run, truth)["selection"]["merged"]["f1"])
