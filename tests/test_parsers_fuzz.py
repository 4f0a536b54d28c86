"""Fuzzing the text and binary parsers: any input gives a value or one InputError line, never a crash."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystamps_batch.dataset import mtprep
from pystamps_batch.errors import InputError

TEXT = st.text(alphabet=st.sampled_from(list("0123456789 .-+eE\n\tnaNinfx/,_\x00é")), max_size=400)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(fn, path):
    try:
        fn(path)
    except InputError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(path) in msg


@SETTINGS
@given(TEXT)
def test_text_parsers(tmp_path, text):
    f = tmp_path / "f.in"
    f.write_text(text, encoding="utf-8")
    for fn in (mtprep.read_numbers, mtprep.read_dates, mtprep.read_ij, mtprep.read_calamp,
               mtprep.read_patch_window, lambda p: mtprep.read_scalar(p, integer=True), mtprep.read_grid_file):
        _check(fn, f)


@SETTINGS
@given(st.binary(max_size=300))
def test_binary_parsers_and_undecodable_text(tmp_path, blob):
    f = tmp_path / "f.bin"
    f.write_bytes(blob)
    _check(lambda p: mtprep.read_binary(p, "<f4", 8, "8 floats"), f)
    for fn in (mtprep.read_numbers, mtprep.read_dates, mtprep.read_ij):
        _check(fn, f)


@SETTINGS
@given(st.lists(st.tuples(st.integers(-5, 10**6), st.integers(-5, 10**6), st.integers(-5, 10**6)), max_size=30))
def test_ij_values(tmp_path, rows):
    f = tmp_path / "pscands.1.ij"
    f.write_text("".join(f"{a} {b} {c}\n" for a, b, c in rows))
    try:
        a = mtprep.read_ij(f)
        assert a.shape == (len(rows), 3) and (a[:, 1:] >= 0).all()
    except InputError as exc:
        assert "non-negative" in str(exc)
