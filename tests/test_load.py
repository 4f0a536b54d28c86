"""Step 1 (ps_load_initial, DORIS) against StaMPS' own stage-1 outputs: equal within float32 rounding."""
import numpy as np
import pytest

from golden import golden_dir
from pystamps_batch.dataset.layout import open_dataset
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.stages import load


@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2"])
def test_stage1_matches_stamps(name):
    g = golden_dir(name)
    ds = open_dataset(g / "input", strict=True)
    for patch in ds.patches:
        out = load.run(ds, patch, None)
        for art, variables in out.items():
            gold = load_mat(g / "stamps" / patch.name / f"{art}.mat")
            assert set(variables) == set(gold), (art, set(variables) ^ set(gold))
            for k, v in variables.items():
                gv = gold[k]
                assert v.shape == gv.shape and v.dtype == gv.dtype, (patch.name, art, k, v.shape, gv.shape)
                if v.dtype.kind in "fc":
                    scale = np.maximum(np.abs(gv), 1e-30)
                    rel = np.abs(v - gv) / scale
                    tol = 1e-6 if v.dtype in (np.float32, np.complex64) else 1e-12
                    assert rel.max() <= tol, (patch.name, art, k, rel.max())
                else:
                    np.testing.assert_array_equal(v, gv)


def test_stage1_rejects_nan_phase(tmp_path):
    import shutil

    g = golden_dir("small-1patch")
    root = tmp_path / "ds"
    shutil.copytree(g / "input", root)
    for p in root.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    ph = root / "PATCH_1" / "pscands.1.ph"
    a = np.fromfile(ph, "<c8")
    a[12345] = np.nan
    a.tofile(ph)
    ds = open_dataset(root, strict=True)
    from pystamps_batch.errors import InputError

    with pytest.raises(InputError, match="pscands.1.ph: 1 NaN/Inf phase values"):
        load.run(ds, ds.patches[0], None)
