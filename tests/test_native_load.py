"""Stage 1 (ps_load_initial / ps_load_initial_gamma) in Rust, ``_native.stage1_load``
(pystamps_io::dataset reads the files, pystamps_core::stages::load does the arithmetic),
against the Python stage on synthetic DORIS and snap datasets, the golden inputs, and bad
inputs (one-line errors naming the file)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from datasets import MULTI, SINGLE, synth_dataset
from golden import golden_dir
from pystamps_batch.dataset.layout import open_dataset
from pystamps_batch.errors import InputError
from pystamps_batch.stages import load, load_gamma

_native = pytest.importorskip("pystamps_batch._native")
if not hasattr(_native, "stage1_load"):
    pytest.skip("extension built without stage1_load", allow_module_level=True)

#: DORIS ``la`` against StaMPS: the look-angle grid is interpolated on a triangulation of the
#: regular 50 x 50 grid whose cells are cocircular, so the diagonal MATLAB's griddata picks
#: in each cell is decided by round-off; pystamps (Python and Rust alike) splits every cell
#: along one fixed diagonal (``GridInterpolator``). Both are linear interpolants of the same
#: grid: measured max rel diff vs StaMPS 5.5e-16 (1-2 ulp on about half of the candidates);
#: the bound is ~10x that. Python and Rust are compared exactly.
LA_RTOL = 4e-15


def fixed_diagonal_interp(width: float, length: float, rg: np.ndarray, az: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """NumPy statement of the Rust grid interpolation (``GridInterp``): each cell of the 50 x 50
    grid on linspace(0, length) x linspace(0, width) is split along its (i, j)-(i+1, j+1)
    diagonal; linear on the triangle holding the point; NaN outside. Rust must equal it bit
    for bit (a drop-in for the Python stage's qhull-based ``GridInterpolator``)."""
    gx, gy = np.linspace(0, width, 50), np.linspace(0, length, 50)
    rg, az = np.asarray(rg, dtype=np.float64), np.asarray(az, dtype=np.float64)
    out = np.full(rg.shape, np.nan)
    inside = (rg >= 0) & (rg <= width) & (az >= 0) & (az <= length)
    x, y = rg[inside], az[inside]
    j = np.clip(np.searchsorted(gx, x, side="right") - 1, 0, 48)
    i = np.clip(np.searchsorted(gy, y, side="right") - 1, 0, 48)
    u = (x - gx[j]) / (gx[j + 1] - gx[j])
    v = (y - gy[i]) / (gy[i + 1] - gy[i])
    g = np.asarray(grid, dtype=np.float64)
    g00, g11, g01, g10 = g[i, j], g[i + 1, j + 1], g[i, j + 1], g[i + 1, j]
    upper = u >= v
    out[inside] = np.where(upper, g00 + u * (g01 - g00) + v * (g11 - g01), g00 + v * (g10 - g00) + u * (g11 - g10))
    return out


def _python_stage1(root: Path, patch: str) -> dict:
    ds = open_dataset(root, strict=True)
    p = ds.patch(patch)
    return (load_gamma if ds.is_gamma_like else load).run(ds, p, None)


def _assert_same(root: Path, patch: str) -> None:
    py = _python_stage1(root, patch)
    rs = _native.stage1_load(str(root), patch)
    assert set(rs) == set(py)
    for art, variables in py.items():
        assert set(rs[art]) == set(variables), (art, set(rs[art]) ^ set(variables))
        for k, v in variables.items():
            v, r = np.asarray(v), rs[art][k]
            assert r.shape == v.shape and r.dtype == v.dtype, (art, k, r.shape, v.shape, r.dtype, v.dtype)
            np.testing.assert_array_equal(r, v, err_msg=f"{patch} {art}.{k}")


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for p in dest.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nl") / "multi", **MULTI)


def test_synthetic_doris_multi_patch(multi):
    ds = open_dataset(multi)
    assert len(ds.patches) == 4 and (multi / "look_angle.1.in").is_file()
    for p in ds.patches:
        _assert_same(multi, p.name)


def test_synthetic_doris_without_grids(tmp_path_factory, tmp_path):
    """Without look_angle.1.in / bperp_*.1.in / calamp.out / .da / .hgt: defaults, all exact."""
    root = synth_dataset(tmp_path_factory, tmp_path / "s", **SINGLE)
    for f in list(root.glob("bperp_*.1.in")) + [root / "look_angle.1.in", root / "calamp.out",
                                                   root / "PATCH_1" / "pscands.1.da", root / "PATCH_1" / "pscands.1.hgt"]:
        f.unlink()
    _assert_same(root, "PATCH_1")


def test_synthetic_snap(tmp_path):
    from pystamps_batch.synth import generate

    generate(tmp_path / "s", flavour="snap", width=300, length=260, n_cand=2500, n_ifg=9, seed=11)
    _assert_same(tmp_path / "s", "PATCH_1")


def test_golden_doris(tmp_path):
    root = _copy(golden_dir("small-1patch") / "input", tmp_path / "ds")
    _assert_same(root, "PATCH_1")


@pytest.mark.parametrize("name", ["small-1patch", "snap-1patch"])
def test_golden_equals_stamps(tmp_path, name):
    """Against StaMPS' own stage-1 files: every variable equal (types and shapes too), except the
    DORIS look angle (griddata triangulation, see LA_RTOL)."""
    from pystamps_batch.io.matfile import load_mat

    g = golden_dir(name)
    root = _copy(g / "input", tmp_path / "ds")
    rs = _native.stage1_load(str(root), "PATCH_1")
    for art, variables in rs.items():
        gold = load_mat(g / "stamps" / "PATCH_1" / f"{art}.mat")
        assert set(variables) == set(gold), (art, set(variables) ^ set(gold))
        for k, v in variables.items():
            gv = gold[k]
            assert v.shape == gv.shape and v.dtype == gv.dtype, (art, k, v.shape, gv.shape, v.dtype, gv.dtype)
            if art == "la1" and name == "small-1patch":
                np.testing.assert_allclose(v, gv, rtol=LA_RTOL, atol=0)
            else:
                np.testing.assert_array_equal(v, gv, err_msg=f"{art}.{k}")


def test_golden_snap_relocated(tmp_path):
    root = _copy(golden_dir("snap-1patch") / "input", tmp_path / "ds")
    _, notes = _native.stage1_load(str(root), "PATCH_1", with_notes=True)
    reloc = [m for m in notes if "resolved relative to the dataset root" in m]
    assert len(reloc) == 1 and "/data/stamps/snap-1patch" in reloc[0] and str(root) in reloc[0]
    _assert_same(root, "PATCH_1")


def test_golden_snap_nan_rows_dropped(tmp_path):
    root = _copy(golden_dir("snap-1patch") / "input", tmp_path / "ds")
    n = 8000
    ll = np.fromfile(root / "PATCH_1" / "pscands.1.ll", ">f4").reshape(n, 2)
    ll[17, 0] = np.nan
    ll.tofile(root / "PATCH_1" / "pscands.1.ll")
    ph = np.fromfile(root / "PATCH_1" / "pscands.1.ph", ">c8").reshape(-1, n)
    ph[3, 999] = complex(np.nan, 0)
    ph.tofile(root / "PATCH_1" / "pscands.1.ph")
    _assert_same(root, "PATCH_1")


# ------------------------------------------------------------------------------------------
# bad inputs: the same one-line error as the Python stage, naming the file
# ------------------------------------------------------------------------------------------
def test_truncated_phase_file(tmp_path_factory, tmp_path):
    root = synth_dataset(tmp_path_factory, tmp_path / "s", **SINGLE)
    f = root / "PATCH_1" / "pscands.1.ph"
    f.write_bytes(f.read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"pscands\.1\.ph: \d+ bytes, expected \d+"):
        _native.stage1_load(str(root), "PATCH_1")
    ds = open_dataset(root)
    with pytest.raises(InputError) as pe:
        load.run(ds, ds.patches[0], None)
    with pytest.raises(ValueError) as re_:
        _native.stage1_load(str(root), "PATCH_1")
    assert str(re_.value) == str(pe.value)


def test_nan_phase(tmp_path_factory, tmp_path):
    root = synth_dataset(tmp_path_factory, tmp_path / "s", **SINGLE)
    f = root / "PATCH_1" / "pscands.1.ph"
    ph = np.fromfile(f, "<c8")
    ph[[5, 40]] = complex(np.nan, 1.0)
    ph.tofile(f)
    ds = open_dataset(root)
    with pytest.raises(InputError) as pe:
        load.run(ds, ds.patches[0], None)
    with pytest.raises(ValueError, match="pscands.1.ph: 2 NaN/Inf phase values") as re_:
        _native.stage1_load(str(root), "PATCH_1")
    assert str(re_.value) == str(pe.value)


@pytest.mark.parametrize("case", ["ij_text", "no_calamp_date", "missing_base"])
def test_bad_root_files(tmp_path_factory, tmp_path, case):
    if case == "missing_base":
        root = _copy(golden_dir("snap-1patch") / "input", tmp_path / "ds")
        base = next((root / "diff0").glob("*.base"))
        base.unlink()
        ds = open_dataset(root)
        with pytest.raises(InputError) as pe:
            load_gamma.run(ds, ds.patches[0], None)
        with pytest.raises(ValueError, match=r"pscphase\.in: baseline file .*\.base does not exist, nor does") as re_:
            _native.stage1_load(str(root), "PATCH_1")
        assert str(re_.value) == str(pe.value)
        return
    root = synth_dataset(tmp_path_factory, tmp_path / "s", **SINGLE)
    if case == "ij_text":
        f = root / "PATCH_1" / "pscands.1.ij"
        lines = f.read_text().splitlines()
        lines[2] = "3 x 7"
        f.write_text("\n".join(lines) + "\n")
        want = "pscands.1.ij: line 3: 'x' is not a number"
    else:
        f = root / "calamp.out"
        lines = f.read_text().splitlines()
        day1 = (root / "day.1.in").read_text().split()[0]
        f.write_text("\n".join(ln for ln in lines if f"/{day1}" not in ln) + "\n")     # drop a slave's line
        want = "calamp.out: no calibration constant for"
    ds = open_dataset(root)
    with pytest.raises(InputError) as pe:
        load.run(ds, ds.patches[0], None)
    with pytest.raises(ValueError) as re_:
        _native.stage1_load(str(root), "PATCH_1")
    assert want in str(re_.value) and str(re_.value) == str(pe.value)


def test_unknown_patch(multi):
    with pytest.raises(ValueError, match="no patch named PATCH_9"):
        _native.stage1_load(str(multi), "PATCH_9")


def test_grid_interpolation_is_the_fixed_diagonal_rule(multi):
    """``la`` of the DORIS flavour equals the NumPy statement of the Rust interpolation bit for bit."""
    from pystamps_batch.dataset import mtprep

    ds = open_dataset(multi)
    g0, g1 = mtprep.read_grid_file(multi / "look_angle.1.in")
    for p in ds.patches:
        rs = _native.stage1_load(str(multi), p.name)
        ij, hgt = rs["ps1"]["ij"], rs["hgt1"]["hgt"].ravel()
        l0 = fixed_diagonal_interp(ds.width, ds.length, ij[:, 2], ij[:, 1], g0)
        l1 = fixed_diagonal_interp(ds.width, ds.length, ij[:, 2], ij[:, 1], g1)
        np.testing.assert_array_equal(rs["la1"]["la"].ravel(), np.radians(l0 + (l1 - l0) * hgt / 1000.0))
