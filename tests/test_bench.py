"""Smoke tests of ``pystamps bench`` at the tiny size (kernels, generated chain, report)."""
import json

import pytest

from pystamps_batch import bench
from pystamps_batch.kernels.registry import NATIVE_IMPL, PYTHON_IMPL, native_available

pytestmark = pytest.mark.skipif(not native_available()[0], reason="native extension not built")


def test_kernel_cases_cover_every_kernel_with_both_backends():
    names = [c[0] for c in bench.kernel_cases("tiny")]
    assert sorted(names) == sorted(set(PYTHON_IMPL) & set(NATIVE_IMPL))


def test_stamps_times_parse(tmp_path):
    p = tmp_path / "octave_stage_times.tsv"
    p.write_text("stage\tseconds\texit\tdate\n1\t5.1\t0\tx\n2\t224.9\t0\ty\n")
    assert bench.stamps_times(p) == {"1": 5.1, "2": 224.9}


def test_bench_kernels_only_text(capsys):
    assert bench.main(["--size", "tiny", "--no-chain", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "stage2_topofit_row_invariant" in out and "speed-up" in out
    assert "complex MAC/s" in out
    for name in PYTHON_IMPL:
        assert name in out


def test_bench_tiny_chain_json(capsys, tmp_path):
    rc = bench.main(["--size", "tiny", "--no-golden", "--repeat", "1", "--json", "--workdir", str(tmp_path)])
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0, rep.get("chain")
    assert {r["kernel"] for r in rep["kernels"]} == set(PYTHON_IMPL)
    for r in rep["kernels"]:
        assert r["python_s"] > 0 and r["native_s"] > 0 and r["speedup"] == pytest.approx(r["python_s"] / r["native_s"])
    runs = rep["chain"]["runs"]
    assert set(runs) == {"python", "native"}
    for be, r in runs.items():
        assert r["returncode"] == 0 and not r["failed"]
        assert set(r["stages_s"]) == {str(s) for s in range(1, 9)}
        assert r["peak_rss_bytes"] > 10 * 2**20
        # the chain really ran the selected backend's kernels
        used = {b for ks in r["kernels"].values() for b in ks.values()}
        assert used == {be}, (be, r["kernels"])
    assert rep["chain"]["stage2_speedup"] > 0
    assert not list(tmp_path.glob("run-*"))          # the run copies are removed
