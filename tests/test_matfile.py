"""MAT-file writing is atomic and round-trips v5 and v7.3."""
import os

import numpy as np
import pytest
import scipy.io as sio

from pystamps_batch.io import matfile
from pystamps_batch.io.matfile import MatFileError, load_mat, save_mat


def test_v5_roundtrip_keeps_matlab_shapes(tmp_path):
    p = save_mat(tmp_path / "a.mat", {"x": np.arange(3.0), "m": np.ones((2, 3), np.float32),
                                      "c": np.array([[1 + 2j]], np.complex64), "flag": np.array([True, False]),
                                      "s": "n"})
    d = load_mat(p)
    assert d["x"].shape == (3, 1) and d["m"].dtype == np.float32 and d["c"].dtype == np.complex64
    assert d["flag"].dtype == np.uint8 and d["s"].tolist() == ["n"]
    assert sio.loadmat(p)["m"].shape == (2, 3)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_v73_is_used_for_big_variables(tmp_path, monkeypatch):
    monkeypatch.setattr(matfile, "V73_LIMIT", 100)
    a = (np.arange(60, dtype=np.float32).reshape(20, 3) + 1j).astype(np.complex64)
    p = save_mat(tmp_path / "big.mat", {"ph": a, "n": np.array([[4.0]])})
    assert open(p, "rb").read(10) == b"MATLAB 7.3"
    d = load_mat(p)
    np.testing.assert_array_equal(d["ph"], a)
    assert d["n"].shape == (1, 1)


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    p = save_mat(tmp_path / "x.mat", {"v": np.arange(4.0)})
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sio, "savemat", boom)
    with pytest.raises(OSError):
        save_mat(p, {"v": np.arange(5.0)})
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["x.mat"]


def test_unreadable_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(MatFileError) as e:
        load_mat(bad)
    assert "bad.mat" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(MatFileError, match="file not found"):
        load_mat(tmp_path / "none.mat")
    save_mat(tmp_path / "ok.mat", {"a": np.ones(2)})
    with pytest.raises(MatFileError, match="missing variable"):
        load_mat(tmp_path / "ok.mat", ["b"])


def test_duplicate_variables_resolve_to_the_last_copy(tmp_path):
    """Octave's appended saves repeat variables; MATLAB's load keeps the last one."""
    p = tmp_path / "dup.mat"
    save_mat(p, {"K": np.array([[1.0]])})
    first = p.read_bytes()
    save_mat(tmp_path / "two.mat", {"K": np.array([[2.0]])})
    second = (tmp_path / "two.mat").read_bytes()
    p.write_bytes(first + second[128:])          # append the second variable record
    assert load_mat(p)["K"][0, 0] == 2.0
    assert load_mat(p, ["K"])["K"][0, 0] == 2.0


def test_sparse_matrices_are_saved_as_matlab_sparse(tmp_path):
    import scipy.sparse

    m = scipy.sparse.csc_matrix(np.array([[0.0, 1.5], [0.0, 0.0], [2.0, 0.0]]))
    p = save_mat(tmp_path / "s.mat", {"spread": m})
    back = load_mat(p)["spread"]
    assert scipy.sparse.issparse(back)
    np.testing.assert_array_equal(back.toarray(), m.toarray())
