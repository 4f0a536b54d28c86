"""Stage 6 (ps_unwrap, single-master 3D_FULL): unit tests and parity with the Octave golden outputs."""
from __future__ import annotations

import functools
import stat

import numpy as np
import pytest

from pystamps_batch.errors import StageError
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.params import Params
from pystamps_batch.stages import unwrap
from pystamps_batch.stages.unwrap.arcs import UwInterp, arc_network, nearest_node
from pystamps_batch.stages.unwrap.costs import cost_arrays, cost_file_bytes, cost_model
from pystamps_batch.stages.unwrap.f32 import cabs, cmul
from pystamps_batch.stages.unwrap.from_grid import uw_unwrap_from_grid
from pystamps_batch.stages.unwrap.snaphu import SNAPHU_ENV, SnaphuProblem, locate_snaphu, solve_ifg

from golden import golden_dir, golden_params

TWO_PI = 2 * np.pi


# ----------------------------------------------------------------------------- helpers

def brute_nearest(nzix: np.ndarray) -> np.ndarray:
    """Reference labelling: argmin of squared distance, first (smallest) node index on ties."""
    n_i, n_j = nzix.shape
    f = np.flatnonzero(nzix.ravel(order="F"))
    nr, nc = f % n_i, f // n_i
    rr, cc = np.meshgrid(np.arange(n_i), np.arange(n_j), indexing="ij")
    d2 = (rr[..., None] - nr) ** 2 + (cc[..., None] - nc) ** 2
    return np.argmin(d2, axis=2)


def synthetic_inputs(n_ps=600, n_img=6, master=3, span=1000.0, seed=1, phase=None):
    """A small single-master root dataset (ps2, rc2, pm2, bp2, la2) in MATLAB shapes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, span, n_ps)
    y = np.sort(rng.uniform(0, span, n_ps))
    xy = np.column_stack([np.arange(1, n_ps + 1), x, y]).astype(np.float32)
    day = 737000.0 + 36.0 * np.arange(n_img)
    bperp = np.linspace(-100, 120, n_img)
    bperp[master - 1] = 0.0
    if phase is None:
        phase = rng.uniform(-np.pi, np.pi, (n_ps, n_img))
    phase = np.array(phase, dtype=np.float64)
    phase[:, master - 1] = 0.0
    ph_rc = np.exp(1j * phase).astype(np.complex64)
    bmat = np.tile(np.delete(bperp, master - 1), (n_ps, 1)).astype(np.float32)
    return {
        "ps2": {"xy": xy, "day": day.reshape(-1, 1), "master_day": np.array([[day[master - 1]]]),
                "master_ix": np.array([[float(master)]]), "bperp": bperp.reshape(-1, 1),
                "n_ps": np.array([[float(n_ps)]]), "n_ifg": np.array([[float(n_img)]])},
        "rc2": {"ph_rc": ph_rc},
        "pm2": {"K_ps": np.zeros((n_ps, 1))},
        "bp2": {"bperp_mat": bmat},
        "la2": {"la": np.full((n_ps, 1), 0.35)},
    }


SMALL_PARAMS = Params({"unwrap_grid_size": 50.0, "unwrap_gold_n_win": 8, "lambda": 0.0555})


def load_root(name: str, arts) -> dict:
    from pystamps_batch.io.matfile import load_mat

    d = golden_dir(name) / "stamps"
    return {a: load_mat(d / f"{a}.mat") for a in arts}


@pytest.fixture(scope="module")
def small_run():
    """Stage 6 on the golden small-1patch root inputs, with the golden outputs."""
    inputs = load_root("small-1patch", ("ps2", "rc2", "pm2", "bp2", "la2"))
    out = unwrap.run(inputs, golden_params("small-1patch"), KernelSet.python())
    gold = load_root("small-1patch", unwrap.WRITES)
    return inputs, out, gold


# ----------------------------------------------------------------------------- nearest-node labelling

def test_nearest_node_tie_goes_to_smallest_index():
    nzix = np.zeros((5, 5), dtype=bool)
    nzix[0, 4] = True          # node 1 (column-major: column 4 comes after column 0)
    nzix[4, 0] = True          # node 0
    Z = nearest_node(nzix)
    assert Z[2, 2] == 0        # equidistant (8) from both: smallest index wins
    assert Z[0, 2] == 1 and Z[2, 0] == 0
    np.testing.assert_array_equal(Z, brute_nearest(nzix))


def test_nearest_node_many_way_tie():
    # 12 nodes at squared distance 25 from the centre cell: more ties than KD-tree candidates
    nzix = np.zeros((11, 11), dtype=bool)
    for dr, dc in [(3, 4), (4, 3), (5, 0), (0, 5)]:
        for sr in (1, -1):
            for sc in (1, -1):
                nzix[5 + sr * dr, 5 + sc * dc] = True
    Z = nearest_node(nzix)
    np.testing.assert_array_equal(Z, brute_nearest(nzix))
    assert Z[5, 5] == 0


@pytest.mark.parametrize("seed", range(5))
def test_nearest_node_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    nzix = rng.random((23, 17)) < (0.05 + 0.1 * seed)
    nzix[0, 0] = True
    np.testing.assert_array_equal(nearest_node(nzix), brute_nearest(nzix))


def test_arc_network_signs_and_order():
    Z = np.array([[0, 0, 1],
                  [2, 2, 1]])
    net = arc_network(Z)
    np.testing.assert_array_equal(net.edges, [[0, 1], [0, 2], [1, 2]])
    np.testing.assert_array_equal(net.colix, [[0, 1], [0, -3]])     # (2 -> 1) runs high to low
    np.testing.assert_array_equal(net.rowix, [[2, 2, 0]])
    m = net.to_mat()
    np.testing.assert_array_equal(m["edgs"], [[1, 1, 2], [2, 1, 3], [3, 2, 3]])


# ----------------------------------------------------------------------------- cost arrays

def _toy_costs(noise, D, counts_shape=(4, 5)):
    n_i, n_j = counts_shape
    nzix = np.zeros((n_i, n_j), dtype=bool)
    nzix[0, 0] = nzix[3, 4] = nzix[0, 4] = True
    interp = arc_network(nearest_node(nzix))
    noise = np.broadcast_to(np.asarray(noise, np.float32), (interp.n_edge, noise.shape[-1])).copy()
    D = np.broadcast_to(np.asarray(D, np.float32), noise.shape).copy()
    return interp, cost_model(interp, noise), D, noise


def test_cost_arrays_shape_size_and_layout():
    noise = np.array([0.1, -0.2, 0.3, 0.0], dtype=np.float32)
    interp, model, D, nu = _toy_costs(noise, np.array([0.5, 1.0, 7.0, -7.0]))
    rowcost, colcost = cost_arrays(model, D[:, 2], nu[:, 2])
    n_i, n_j = interp.Z.shape
    assert rowcost.shape == (n_i - 1, 4 * n_j) and colcost.shape == (n_i, 4 * (n_j - 1))
    assert rowcost.dtype == np.int16 and colcost.dtype == np.int16
    data = cost_file_bytes(model, D[:, 2], nu[:, 2])
    assert len(data) == 8 * ((n_i - 1) * n_j + n_i * (n_j - 1))          # invariant I.7
    for c in (rowcost, colcost):
        assert (c[:, 2::4] == 32000).all() and (c[:, 3::4] == -32000).all()
    same = interp.rowix == 0
    assert (rowcost[:, 0::4][same] == 0).all() and (rowcost[:, 1::4][same] == 1).all()
    # D = 7 rad with nu = 0.3: offset = (wrap(7) - 6.7)/2pi cycles = -1 cycle -> -200 (col), +200 (row, negated)
    off = np.float32((np.angle(np.exp(7j)) - 6.7) / TWO_PI * 200)
    pos = interp.colix > 0
    assert pos.any() and (interp.rowix > 0).any() and same.any()
    assert (colcost[:, 0::4][pos] == np.round(off)).all()
    rpos = interp.rowix > 0
    assert (rowcost[:, 0::4][rpos] == -np.round(off)).all()


def test_cost_int16_saturation_and_nostats():
    n = 6
    noise = np.tile(np.array([3.0, -3.0, 3.0, -3.0, 3.0, -3.0], np.float32), (1, 1))
    # D - nu huge -> offsets of +-1e5 cycles saturate
    interp, model, D, nu = _toy_costs(noise, np.full(n, 1e6, np.float32))
    rowcost, colcost = cost_arrays(model, D[:, 0], nu[:, 0])
    real = interp.colix != 0
    assert (real & (interp.colix > 0)).any() and (interp.rowix > 0).any()
    assert (colcost[:, 0::4][real & (interp.colix > 0)] == -32768).all()
    assert (rowcost[:, 0::4][(interp.rowix > 0)] == 32767).all()         # -(-32768) saturates
    # sigsq: (3/2pi)^2*400*count easily reaches 32767? not here; force with a large count
    sig = model.col_sig[real]
    assert (sig >= 1).all() and sig.dtype == np.int16
    from pystamps_batch.stages.unwrap.costs import edge_sigsq
    big = edge_sigsq(np.tile(noise, (3, 1)), np.array([1, 10**6, 0]))
    np.testing.assert_array_equal(big, [round(np.std([3, -3] * 3, ddof=1) ** 2 / TWO_PI ** 2 * 400), 32767, 1])
    # no-statistics edge: sigsq 1, laycost +1, offset 0
    nan_noise = nu.copy()
    nan_noise[0] = np.nan
    m2 = cost_model(interp, nan_noise)
    rc, cc = cost_arrays(m2, D[:, 0], nan_noise[:, 0])
    arcs = np.abs(interp.colix) == 1
    assert arcs.any()
    assert (cc[:, 3::4][arcs] == 1).all() and (cc[:, 1::4][arcs] == 1).all() and (cc[:, 0::4][arcs] == 0).all()


# ----------------------------------------------------------------------------- float32 helpers

def test_f32_helpers_are_ieee_single():
    rng = np.random.default_rng(3)
    a = (rng.normal(size=2000) + 1j * rng.normal(size=2000)).astype(np.complex64)
    b = (rng.normal(size=2000) + 1j * rng.normal(size=2000)).astype(np.complex64)
    ref = np.hypot(a.real.astype(float), a.imag.astype(float)).astype(np.float32)
    np.testing.assert_array_equal(cabs(a), ref)
    p = cmul(a, b)
    np.testing.assert_array_equal(p.real, a.real * b.real - a.imag * b.imag)
    np.testing.assert_array_equal(p.imag, a.real * b.imag + a.imag * b.real)


# ----------------------------------------------------------------------------- snaphu errors

def test_snaphu_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(SNAPHU_ENV, str(tmp_path / "no-such-snaphu"))
    with pytest.raises(StageError, match="snaphu executable not found"):
        locate_snaphu()
    with pytest.raises(StageError, match="snaphu") as ei:
        unwrap.run(synthetic_inputs(), SMALL_PARAMS, KernelSet.python(), scratch_dir=str(tmp_path))
    assert "\n" not in str(ei.value)


def _fake_snaphu(tmp_path, body):
    exe = tmp_path / "fake-snaphu"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_snaphu_failure_names_ifg_and_keeps_scratch(monkeypatch, tmp_path):
    monkeypatch.setenv(SNAPHU_ENV, str(_fake_snaphu(tmp_path, "echo boom >&2; exit 3")))
    scratch = tmp_path / "scratch"
    with pytest.raises(StageError) as ei:
        unwrap.run(synthetic_inputs(), SMALL_PARAMS, KernelSet.python(), scratch_dir=str(scratch))
    msg = str(ei.value)
    assert "interferogram" in msg and "exit status 3" in msg and str(scratch) in msg
    kept = [p for p in scratch.iterdir()]
    assert kept and any((p / "snaphu.log").read_text().strip() == "boom" for p in kept)
    assert all((p / "snaphu.costinfile").is_file() and (p / "snaphu.conf").is_file() for p in kept)


def test_snaphu_bad_output(monkeypatch, tmp_path):
    monkeypatch.setenv(SNAPHU_ENV, str(_fake_snaphu(tmp_path, "printf abc > snaphu.out")))
    with pytest.raises(StageError, match="snaphu.out has 3 bytes"):
        unwrap.run(synthetic_inputs(), SMALL_PARAMS, KernelSet.python(), scratch_dir=str(tmp_path / "s"))


# ----------------------------------------------------------------------------- bad input

def test_grid_smaller_than_goldstein_window():
    with pytest.raises(StageError, match=r"smaller than the Goldstein window.*6400 m"):
        unwrap.run(synthetic_inputs(span=3000.0), Params({"lambda": 0.0555}), KernelSet.python())


def test_zero_phasor_rejected():
    inp = synthetic_inputs()
    inp["rc2"]["ph_rc"][5, 0] = 0
    with pytest.raises(StageError, match="exactly zero"):
        unwrap.run(inp, SMALL_PARAMS, KernelSet.python())


# ----------------------------------------------------------------------------- synthetic end to end

def test_synthetic_ramp_is_unwrapped(tmp_path):
    """A smooth multi-cycle ramp is recovered up to one 2pi multiple per ifg; I.3 and I.4 hold."""
    rng = np.random.default_rng(7)
    n_ps, n_img, master = 900, 6, 3
    inp = synthetic_inputs(n_ps=n_ps, n_img=n_img, master=master, phase=np.zeros((n_ps, n_img)))
    x, y = inp["ps2"]["xy"][:, 1].astype(float), inp["ps2"]["xy"][:, 2].astype(float)
    rates = np.array([-3.0, -1.5, 0.0, 1.0, 2.5, 4.0])                 # cycles across the scene
    truth = TWO_PI * np.outer(x / 1000.0 + 0.5 * y / 1000.0, rates) + rng.normal(0, 0.2, (n_ps, n_img))
    truth[:, master - 1] = 0
    inp["rc2"]["ph_rc"] = np.exp(1j * truth).astype(np.complex64)
    seen = []

    def mapper(fn, ks):
        seen.extend(ks)
        return [fn(k) for k in ks]

    out = unwrap.run(inp, SMALL_PARAMS, KernelSet.python(), scratch_dir=str(tmp_path), ifg_executor=mapper)
    assert seen == list(range(n_img - 1)) and not list(tmp_path.iterdir())     # scratch removed
    ph = out["phuw2"]["ph_uw"]
    assert ph.shape == (n_ps, n_img) and ph.dtype == np.float32
    assert (ph[:, master - 1] == 0).all()                                      # I.4
    w = np.angle(inp["rc2"]["ph_rc"])
    res = np.angle(np.exp(1j * (ph.astype(float) - w)))
    assert np.abs(res).max() < 1e-5                                            # I.3
    d = ph.astype(float) - truth
    off = np.median(d, axis=0)
    assert np.allclose(off / TWO_PI, np.round(off / TWO_PI), atol=1e-3)
    assert np.mean(np.abs(d - off) > 1) < 0.01


# ----------------------------------------------------------------------------- golden parity

def test_golden_small_grid_and_network_exact(small_run):
    _, out, gold = small_run
    for art, names in (("uw_grid", ("nzix", "n_i", "n_j", "n_ps", "grid_ij", "xy", "ij", "grid_x_min")),
                       ("uw_interp", ("Z", "edgs", "n_edge", "rowix", "colix"))):
        for k in names:
            a, b = np.asarray(out[art][k]), gold[art][k]
            assert a.dtype == b.dtype and a.shape == b.shape, (art, k)
            np.testing.assert_array_equal(a, b, err_msg=f"{art}.{k}")
    ph, gph = out["uw_grid"]["ph"], gold["uw_grid"]["ph"]
    assert ph.dtype == np.complex64 and np.abs(ph - gph).max() <= 1e-5 * np.abs(gph).max()
    assert np.mean(ph == gph) > 0.8


def test_golden_small_space_time(small_run):
    _, out, gold = small_run
    for k in ("dph_space_uw", "dph_noise"):
        a, b = out["uw_space_time"][k], gold["uw_space_time"][k]
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert np.nanmax(np.abs(a - b)) < 1e-5
    np.testing.assert_array_equal(out["uw_space_time"]["G"], gold["uw_space_time"]["G"])


def test_golden_small_unwrapped_phase(small_run):
    inputs, out, gold = small_run
    for art in ("uw_phaseuw", "phuw2"):
        a, b = out[art]["ph_uw"].astype(float), gold[art]["ph_uw"].astype(float)
        assert out[art]["ph_uw"].dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        cyc = np.round((a - b) / TWO_PI)
        assert np.mean(cyc != 0) <= 0.005, art                                 # issue target
        assert np.nanmax(np.abs(a - b - TWO_PI * cyc)) < 1e-5
        assert out[art]["msd"].dtype == gold[art]["msd"].dtype
        np.testing.assert_allclose(out[art]["msd"], gold[art]["msd"], atol=0.02)
    m = int(inputs["ps2"]["master_ix"][0, 0]) - 1
    assert (out["phuw2"]["ph_uw"][:, m] == 0).all() and out["phuw2"]["msd"][m, 0] == 0


def test_golden_costs_and_snaphu_reproduce_uw_phaseuw_exactly():
    """Golden grid/network/space-time -> our cost and input files -> snaphu = golden bits."""
    g = load_root("small-1patch", ("uw_grid", "uw_interp", "uw_space_time", "uw_phaseuw"))
    ui, ut, gr = g["uw_interp"], g["uw_space_time"], g["uw_grid"]
    interp = UwInterp(Z=ui["Z"].astype(np.int64) - 1, edges=ui["edgs"][:, 1:3].astype(np.int64) - 1,
                      rowix=ui["rowix"].astype(np.int64), colix=ui["colix"].astype(np.int64))
    nzix = gr["nzix"].astype(bool)
    problem = SnaphuProblem(node_ph=gr["ph"], Z=interp.Z, node_cells=np.flatnonzero(nzix.ravel(order="F")),
                            model=cost_model(interp, ut["dph_noise"]), D=ut["dph_space_uw"],
                            noise=ut["dph_noise"], labels=tuple(map(str, range(gr["ph"].shape[1]))),
                            exe=locate_snaphu())
    ks = [0, 7, 19]
    res = [solve_ifg(k, problem) for k in ks]
    np.testing.assert_array_equal(np.stack([r[0] for r in res], 1), g["uw_phaseuw"]["ph_uw"][:, ks])
    np.testing.assert_array_equal([r[1] for r in res], g["uw_phaseuw"]["msd"][ks, 0])


def test_golden_from_grid():
    g = load_root("small-1patch", ("uw_grid", "uw_phaseuw", "phuw2", "ps2"))
    gr = g["uw_grid"]
    out = uw_unwrap_from_grid(gr["ph_in"], gr["grid_ij"], gr["nzix"].astype(bool), g["uw_phaseuw"]["ph_uw"])
    m = int(g["ps2"]["master_ix"][0, 0]) - 1
    gold = np.delete(g["phuw2"]["ph_uw"], m, axis=1)
    assert np.nanmax(np.abs(out - gold)) < 2e-6 and np.mean(out == gold) > 0.98


def test_workers_and_executor_agree(small_run, monkeypatch):
    inputs, out, _ = small_run
    calls = []

    def serial(fn, ks):
        assert isinstance(fn, functools.partial)
        calls.append(len(ks))
        return [fn(k) for k in ks]

    out2 = unwrap.run(inputs, golden_params("small-1patch"), KernelSet.python(), ifg_executor=serial)
    assert calls == [20]
    np.testing.assert_array_equal(out2["phuw2"]["ph_uw"], out["phuw2"]["ph_uw"])


def test_golden_small_second_pass_with_scla(small_run):
    """With scla_smooth2 present (a re-run after step 7) the subtracted terms are added back: I.3, I.4."""
    inputs, _, _ = small_run
    scla = load_root("small-1patch", ("scla_smooth2",))["scla_smooth2"]
    logs = []
    out = unwrap.run(dict(inputs, scla_smooth2=scla), golden_params("small-1patch"), KernelSet.python(),
                     log=logs.append)
    assert any("subtracting scla_smooth2" in m for m in logs)
    ph = out["phuw2"]["ph_uw"].astype(float)
    m = int(inputs["ps2"]["master_ix"][0, 0]) - 1
    assert (ph[:, m] == 0).all()
    btil = np.insert(inputs["bp2"]["bperp_mat"].astype(float), m, 0, axis=1)
    w = np.angle(inputs["rc2"]["ph_rc"] * np.exp(1j * inputs["pm2"]["K_ps"] * btil))
    res = np.angle(np.exp(1j * (np.delete(ph, m, 1) - np.delete(w, m, 1))))
    assert np.nanmax(np.abs(res)) < 1e-4
    short = dict(inputs, scla_smooth2={k: v[:10] for k, v in scla.items() if k != "ph_ramp"})
    logs.clear()
    unwrap.run(short, golden_params("small-1patch"), KernelSet.python(), log=logs.append)
    assert any("subtraction skipped" in m for m in logs)
