"""verify_trees / format_report: golden self-comparison and small fake trees."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pystamps_batch.errors import ConfigError, InputError
from pystamps_batch.io.matfile import load_mat, save_mat
from pystamps_batch.verify import JACCARD_FLOOR, SCI_FRACTION, format_report, verify_trees
from tests.golden import golden_dir

N = 1000       # candidates of the fake patch
NPS = 1000     # PS of the fake merged root
M = 6          # interferograms


def _fake_tree(root: Path, seed: int = 0) -> Path:
    """A small dataset tree: one patch (stages 1-3) and a merged root (stages 5-8)."""
    rng = np.random.default_rng(seed)
    p = root / "PATCH_1"
    az = np.repeat(np.arange(N // 20), 20)
    rg = np.tile(np.arange(20) * 3, N // 20)
    ij = np.column_stack([np.arange(1, N + 1), az, rg]).astype(np.float64)
    save_mat(p / "ps1.mat", {
        "ij": ij, "n_ps": np.array([[float(N)]]), "master_ix": np.array([[3.0]]),
        "xy": np.column_stack([np.arange(1, N + 1), rg * 15.0, az * 15.0]).astype(np.float32),
        "lonlat": np.column_stack([15 + rg * 1e-4, 40 + az * 1e-4]),
    })
    save_mat(p / "hgt1.mat", {"hgt": rng.uniform(50, 300, (N, 1))})
    ph = np.exp(1j * rng.uniform(-np.pi, np.pi, (N, M))).astype(np.complex64)
    save_mat(p / "pm1.mat", {
        "ph_patch": ph, "K_ps": rng.normal(0, 0.01, (N, 1)), "C_ps": rng.uniform(-np.pi, np.pi, (N, 1)),
        "coh_ps": rng.uniform(0, 1, (N, 1)), "ph_res": rng.uniform(-np.pi, np.pi, (N, M)).astype(np.float32),
        "Nr": rng.uniform(0, 100, (1, 100)),
    })
    ix = np.sort(rng.choice(N, N // 2, replace=False)) + 1.0
    save_mat(p / "select1.mat", {"ix": ix.reshape(-1, 1), "keep_ix": (rng.uniform(size=(ix.size, 1)) > 0.2),
                                 "small_baseline_flag": "n",
                                 "coh_ps2": rng.uniform(0, 1, (ix.size, 1))})
    # merged root
    ij2 = np.column_stack([np.arange(1, NPS + 1), np.arange(NPS) // 30, (np.arange(NPS) % 30) * 2]).astype(float)
    save_mat(root / "ps2.mat", {"ij": ij2, "n_ps": np.array([[float(NPS)]]),
                                "xy": np.column_stack([ij2[:, 0], ij2[:, 2] * 15, ij2[:, 1] * 15]).astype(np.float32)})
    save_mat(root / "pm2.mat", {"K_ps": rng.normal(0, 0.01, (NPS, 1)), "C_ps": rng.uniform(-np.pi, np.pi, (NPS, 1)),
                                "coh_ps": rng.uniform(0.3, 1, (NPS, 1))})
    save_mat(root / "phuw2.mat", {"ph_uw": rng.normal(0, 5, (NPS, M + 1)).astype(np.float32),
                                  "msd": rng.uniform(0, 1, (M + 1, 1)).astype(np.float32)})
    save_mat(root / "mean_v.mat", {"m": np.vstack([rng.normal(0, 1, NPS), rng.normal(0, 1e-3, NPS)]).astype(np.float32)})
    save_mat(root / "parms.mat", {"Created": "today", "lambda": np.array([[0.0555]])})
    (root / "notes.txt").write_text("non-MAT files are ignored\n")
    return root


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    gold = _fake_tree(tmp_path / "golden")
    run = tmp_path / "run"
    shutil.copytree(gold, run)
    return run, gold


def _edit(path: Path, **changes) -> None:
    d = load_mat(path)
    for k, f in changes.items():
        d[k] = f(d[k]) if callable(f) else f
    save_mat(path, d)


def _var(report: dict, path: str, name: str) -> dict:
    f = next(f for f in report["files"] if f["path"] == path)
    return next(v for v in f["variables"] if v["name"] == name)


# --------------------------------------------------------------------------------- golden

def test_golden_self_comparison_passes_strict():
    stamps = golden_dir("small-1patch") / "stamps"
    rep = verify_trees(stamps, stamps, profile="strict")
    assert rep["ok"], rep["failed"]
    assert rep["checked"] == 41 and rep["failed"] == [] and rep["extra"] == []
    assert [s["path"] for s in rep["skipped"]] == ["parms.mat"]
    paths = {f["path"]: f for f in rep["files"]}
    assert paths["PATCH_1/pm1.mat"]["stage"] == 2 and paths["phuw2.mat"]["stage"] == 6
    assert paths["mean_v.mat"]["stage"] == 8 and paths["ps_plot_v-do.mat"]["role"] == "diagnostic"
    assert _var(rep, "PATCH_1/pm1.mat", "C_ps")["rule"].startswith("wrapped")
    assert _var(rep, "PATCH_1/select1.mat", "ix")["rule"].startswith("exact")
    json.dumps(rep, allow_nan=False)
    assert "PASSED" in format_report(rep)
    # through stage 3: only patch stage 1-3 files
    rep3 = verify_trees(stamps, stamps, through_stage=3)
    assert rep3["ok"] and rep3["checked"] == 8


# --------------------------------------------------------------------------------- fake trees

def test_identical_fake_trees_pass_both_profiles(trees):
    run, gold = trees
    for profile in ("strict", "scientific"):
        rep = verify_trees(run, gold, profile=profile)
        assert rep["ok"], rep["failed"]
        assert rep["checked"] == 8 and rep["extra"] == []
        assert rep["skipped"][0]["path"] == "parms.mat"


def test_perturbed_value_fails_and_is_named(trees):
    run, gold = trees

    def bump(k):
        k = k.copy()
        k[17, 0] += 1e-4          # K ~ 0.01: far beyond float32 rounding
        return k
    _edit(run / "PATCH_1" / "pm1.mat", K_ps=bump)
    rep = verify_trees(run, gold)
    assert not rep["ok"]
    assert rep["failed"] == ["PATCH_1/pm1.mat:K_ps"]
    v = _var(rep, "PATCH_1/pm1.mat", "K_ps")
    assert not v["ok"] and v["max_abs"] == pytest.approx(1e-4, rel=1e-6)
    assert v["outlier_fraction"] == pytest.approx(1 / N)
    assert "1 of 1000 values" in v["message"]
    text = format_report(rep)
    assert "FAILED" in text and "PATCH_1/pm1.mat" in text and "K_ps" in text
    json.dumps(rep, allow_nan=False)


def test_missing_run_file_fails(trees):
    run, gold = trees
    (run / "PATCH_1" / "select1.mat").unlink()
    rep = verify_trees(run, gold)
    assert not rep["ok"] and rep["failed"] == ["PATCH_1/select1.mat"]
    f = next(f for f in rep["files"] if f["path"] == "PATCH_1/select1.mat")
    assert f["message"] == "missing in run"
    assert "missing in run" in format_report(rep)


def test_missing_variable_fails_and_extra_files_listed(trees):
    run, gold = trees
    _edit(run / "pm2.mat")  # rewrite unchanged
    d = load_mat(run / "pm2.mat")
    del d["coh_ps"]
    d["new_var"] = np.ones((2, 2))
    save_mat(run / "pm2.mat", d)
    save_mat(run / "scla2.mat", {"K_ps_uw": np.zeros((NPS, 1))})
    rep = verify_trees(run, gold)
    assert rep["failed"] == ["pm2.mat:coh_ps"]
    f = next(f for f in rep["files"] if f["path"] == "pm2.mat")
    assert f["extra_variables"] == ["new_var"]
    assert rep["extra"] == ["scla2.mat"]


def test_wrapped_values_differing_by_two_pi_pass(trees):
    run, gold = trees
    shift = lambda a: a + np.where(np.arange(a.size).reshape(a.shape) % 2 == 0, 2 * np.pi, -2 * np.pi).astype(a.dtype)
    _edit(run / "PATCH_1" / "pm1.mat", C_ps=shift, ph_res=shift)
    _edit(run / "pm2.mat", C_ps=shift)
    rep = verify_trees(run, gold, profile="strict")
    assert rep["ok"], rep["failed"]
    assert _var(rep, "PATCH_1/pm1.mat", "C_ps")["max_abs"] < 1e-12
    # a non-wrapped variable shifted by 2 pi is a real difference
    _edit(run / "PATCH_1" / "pm1.mat", coh_ps=lambda a: a + 2 * np.pi)
    assert verify_trees(run, gold)["failed"] == ["PATCH_1/pm1.mat:coh_ps"]


def test_float32_rounding_difference_passes_strict(trees):
    run, gold = trees
    up = lambda a: np.nextafter(a, np.inf)                        # one ulp, same dtype
    _edit(run / "PATCH_1" / "pm1.mat", ph_res=up, coh_ps=lambda a: a.astype(np.float32).astype(np.float64),
          K_ps=lambda a: a.astype(np.float32))                   # float64 -> float32 storage
    _edit(run / "phuw2.mat", ph_uw=up)
    rep = verify_trees(run, gold, profile="strict")
    assert rep["ok"], rep["failed"]
    v = _var(rep, "PATCH_1/pm1.mat", "K_ps")
    assert v["dtype_run"] == "float32" and v["dtype_golden"] == "float64"
    assert "precision float32 vs golden float64" in v["message"]
    assert 0 < _var(rep, "phuw2.mat", "ph_uw")["max_abs"] < 1e-5


def test_shape_mismatch_fails(trees):
    run, gold = trees
    _edit(run / "phuw2.mat", ph_uw=lambda a: a[:, :-1])
    rep = verify_trees(run, gold, profile="strict")
    assert rep["failed"] == ["phuw2.mat:ph_uw"]
    assert "shape [1000, 6] != golden [1000, 7]" in _var(rep, "phuw2.mat", "ph_uw")["message"]
    # also in the scientific profile (columns differ, rows cannot be matched away)
    assert "phuw2.mat:ph_uw" in verify_trees(run, gold, profile="scientific")["failed"]


def test_scientific_tolerates_small_outlier_fraction(trees):
    run, gold = trees
    n_bad = int(SCI_FRACTION * NPS) - 1       # 4 of 1000 = 0.4 % <= 0.5 %
    def spoil(a, n=n_bad):
        a = a.copy()
        a[:n, 0] += 1.0
        return a
    _edit(run / "pm2.mat", K_ps=spoil)
    strict = verify_trees(run, gold, profile="strict")
    sci = verify_trees(run, gold, profile="scientific")
    assert strict["failed"] == ["pm2.mat:K_ps"]
    assert sci["ok"], sci["failed"]
    v = _var(sci, "pm2.mat", "K_ps")
    assert v["outlier_fraction"] == pytest.approx(n_bad / NPS) and v["allowed_fraction"] == SCI_FRACTION
    # a larger fraction fails the scientific profile too
    _edit(run / "pm2.mat", K_ps=lambda a: spoil(a, 20))
    assert verify_trees(run, gold, profile="scientific")["failed"] == ["pm2.mat:K_ps"]


def test_scientific_small_value_drift_passes_but_strict_fails(trees):
    run, gold = trees
    _edit(run / "pm2.mat", coh_ps=lambda a: a * (1 + 1e-3), C_ps=lambda a: a + 0.01)
    assert set(verify_trees(run, gold, profile="strict")["failed"]) == {"pm2.mat:coh_ps", "pm2.mat:C_ps"}
    assert verify_trees(run, gold, profile="scientific")["ok"]


def _drop_root_pixels(run: Path, drop: np.ndarray) -> None:
    keep = np.setdiff1d(np.arange(NPS), drop)
    d = load_mat(run / "ps2.mat")
    ij = d["ij"][keep]
    ij[:, 0] = np.arange(1, keep.size + 1)                 # the merge renumbers the ids
    xy = d["xy"][keep]
    xy[:, 0] = ij[:, 0]
    xy[:, 1:] += np.float32(3.0)                           # the merge re-centres xy
    save_mat(run / "ps2.mat", {"ij": ij, "n_ps": np.array([[float(keep.size)]]), "xy": xy})
    for name, var in (("pm2.mat", None), ("phuw2.mat", "ph_uw"), ("mean_v.mat", "m")):
        d = load_mat(run / name)
        for k, v in d.items():
            if name == "mean_v.mat":
                d[k] = v[:, keep]
            elif v.shape[0] == NPS:
                d[k] = v[keep]
        save_mat(run / name, d)


def test_scientific_compares_marginally_different_ps_sets_on_common_pixels(trees):
    run, gold = trees
    _drop_root_pixels(run, np.array([5, 500, 900]))       # Jaccard 0.997
    strict = verify_trees(run, gold, profile="strict")
    assert not strict["ok"] and "ps2.mat:ij" in strict["failed"] and "pm2.mat:K_ps" in strict["failed"]
    sci = verify_trees(run, gold, profile="scientific")
    assert sci["ok"], sci["failed"]
    ps2 = next(f for f in sci["files"] if f["path"] == "ps2.mat")
    (s,) = ps2["sets"]
    assert s["n_common"] == NPS - 3 and s["jaccard"] == pytest.approx((NPS - 3) / NPS) and s["ok"]
    assert "common pixels" in _var(sci, "pm2.mat", "K_ps")["message"]
    assert "common pixels" in _var(sci, "mean_v.mat", "m")["message"]
    # values on the common pixels are really compared
    _edit(run / "pm2.mat", K_ps=lambda a: a + 1.0)
    assert "pm2.mat:K_ps" in verify_trees(run, gold, profile="scientific")["failed"]


def test_scientific_fails_below_jaccard_floor(trees):
    run, gold = trees
    n_drop = int((1 - JACCARD_FLOOR) * NPS) + 5
    _drop_root_pixels(run, np.arange(0, 2 * n_drop, 2))
    sci = verify_trees(run, gold, profile="scientific")
    assert sci["failed"] == ["ps2.mat:set(PS set ij)"]
    assert "Jaccard" in format_report(sci)


def test_exact_index_and_text_and_dtype_rules(trees):
    run, gold = trees
    _edit(run / "PATCH_1" / "select1.mat", ix=lambda a: a + np.where(np.arange(a.size) == 3, 1, 0).reshape(a.shape),
          small_baseline_flag="y")
    rep = verify_trees(run, gold, profile="strict")
    assert set(rep["failed"]) >= {"PATCH_1/select1.mat:ix", "PATCH_1/select1.mat:small_baseline_flag",
                                  "PATCH_1/select1.mat:set(initial selection ix)"}  # strict floor 1.0
    shutil.copy(gold / "PATCH_1" / "select1.mat", run / "PATCH_1" / "select1.mat")
    # integers stored as int32 instead of MATLAB double: strict failure, scientific note
    _edit(run / "PATCH_1" / "select1.mat", ix=lambda a: a.astype(np.int32))
    strict = verify_trees(run, gold, profile="strict")
    assert strict["failed"] == ["PATCH_1/select1.mat:ix"]
    assert "dtype int32 != golden float64" in _var(strict, "PATCH_1/select1.mat", "ix")["message"]
    assert verify_trees(run, gold, profile="scientific")["ok"]
    # complex where the golden is real is never comparable
    _edit(run / "pm2.mat", coh_ps=lambda a: a.astype(np.complex128))
    assert "pm2.mat:coh_ps" in verify_trees(run, gold, profile="scientific")["failed"]


def test_nan_matches_nan_but_not_a_number(trees):
    run, gold = trees
    for tree in (run, gold):
        _edit(tree / "pm2.mat", K_ps=lambda a: np.where(np.arange(a.size).reshape(a.shape) == 7, np.nan, a))
    assert verify_trees(run, gold)["ok"]
    _edit(run / "pm2.mat", K_ps=lambda a: np.nan_to_num(a))
    rep = verify_trees(run, gold)
    assert rep["failed"] == ["pm2.mat:K_ps"] and _var(rep, "pm2.mat", "K_ps")["max_abs"] == "inf"
    json.dumps(rep, allow_nan=False)


def test_through_stage_skips_later_files_and_diagnostics_are_optional(trees):
    run, gold = trees
    save_mat(gold / "ps_plot_v-do.mat", {"ph_disp": np.zeros((NPS, 1), np.float32)})
    for name in ("phuw2.mat", "mean_v.mat"):
        (run / name).unlink()
    rep = verify_trees(run, gold, through_stage=5)
    assert rep["ok"], rep["failed"]
    reasons = {s["path"]: s["reason"] for s in rep["skipped"]}
    assert reasons["phuw2.mat"] == "stage 6 > through_stage 5"
    assert reasons["mean_v.mat"] == "stage 8 > through_stage 5"
    full = verify_trees(run, gold, through_stage=8)
    assert set(full["failed"]) == {"phuw2.mat", "mean_v.mat"}
    assert {s["path"]: s["reason"] for s in full["skipped"]}["ps_plot_v-do.mat"] == "diagnostic file not in the run"


def test_bad_arguments(trees, tmp_path):
    run, gold = trees
    with pytest.raises(ConfigError):
        verify_trees(run, gold, profile="loose")
    with pytest.raises(ConfigError):
        verify_trees(run, gold, through_stage=9)
    with pytest.raises(InputError):
        verify_trees(tmp_path / "nope", gold)
    empty = tmp_path / "empty"
    empty.mkdir()
    rep = verify_trees(run, empty)
    assert not rep["ok"] and rep["checked"] == 0


def test_stage6_intermediates_are_warnings_in_scientific_profile(trees):
    run, gold = trees
    save_mat(gold / "uw_interp.mat", {"n_edge": np.array([[10.0]]), "Z": np.arange(12.0).reshape(3, 4)})
    save_mat(run / "uw_interp.mat", {"n_edge": np.array([[11.0]]), "Z": np.arange(12.0).reshape(3, 4)})
    sci = verify_trees(run, gold, profile="scientific")
    assert sci["ok"] and sci["warnings"] == ["uw_interp.mat:n_edge"]
    assert "WARN" in format_report(sci)
    strict = verify_trees(run, gold, profile="strict")
    assert strict["failed"] == ["uw_interp.mat:n_edge"]


def test_multi_patch_golden_self_comparison_scientific():
    stamps = golden_dir("multi-2x2") / "stamps"
    rep = verify_trees(stamps, stamps, profile="scientific")
    assert rep["ok"] and rep["checked"] == 95 and rep["warnings"] == []
    sets = [s for f in rep["files"] for s in f["sets"]]
    assert len(sets) == 4 * 3 + 1 + 1 and all(s["jaccard"] == 1.0 for s in sets)


def test_single_directory_tree(tmp_path):
    gold = tmp_path / "g"
    save_mat(gold / "ps1.mat", {"ij": np.array([[1.0, 0, 0], [2, 0, 1]])})
    save_mat(gold / "ps2.mat", {"ij": np.array([[2.0, 0, 1]])})
    save_mat(gold / "phuw2.mat", {"ph_uw": np.zeros((1, 3), np.float32)})
    run = tmp_path / "r"
    shutil.copytree(gold, run)
    (run / "phuw2.mat").unlink()
    rep = verify_trees(run, gold, through_stage=4)
    assert rep["ok"] and rep["checked"] == 2
    assert {f["path"]: f["stage"] for f in rep["files"]} == {"ps1.mat": 1, "ps2.mat": 4}
    assert verify_trees(run, gold)["failed"] == ["phuw2.mat"]
