"""Building the effective StaMPS :class:`Params` of a dataset (parms.mat semantics, spec B.1).

Order, later wins: defaults (B.2) -> ``parms.mat`` (the folder's own, else the root's)
-> ``localparms.mat`` in the folder -> values StaMPS' step 1 would have stored
(``lambda.1.in``, ``heading.1.in``, ``slc_osfactor.1.in``, ``processor.txt``) when
parms.mat does not hold them -> the config's ``stamps:`` overrides.
The dataset's parms.mat is never modified.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .dataset import mtprep
from .dataset.layout import read_flavour
from .errors import InputError
from .io.matfile import MatFileError, load_mat
from .params import DEFAULTS, Params, coerce_value


def _read_parms(path: Path) -> dict[str, Any]:
    try:
        raw = load_mat(path)
    except MatFileError as exc:
        raise InputError(str(exc)) from None
    out = {}
    for k, v in raw.items():
        if k in DEFAULTS:
            try:
                out[k] = coerce_value(k, v)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{path}: parameter {k}: {exc}") from None
    return out


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def load_params(root: Path, folder: Path | None = None, overrides: dict[str, Any] | None = None) -> Params:
    """Effective parameters for work in ``folder`` (a patch folder or the root)."""
    root = Path(root)
    folder = Path(folder) if folder is not None else root
    vals: dict[str, Any] = {}
    for cand in (folder / "parms.mat", root / "parms.mat"):
        if cand.is_file():
            vals.update(_read_parms(cand))
            break
    if (folder / "localparms.mat").is_file():
        vals.update(_read_parms(folder / "localparms.mat"))
    derived = {"lambda": "lambda.1.in", "heading": "heading.1.in", "slc_osf": "slc_osfactor.1.in"}
    for name, fname in derived.items():
        if _missing(vals.get(name)) and (root / fname).is_file():
            vals[name] = mtprep.read_scalar(root / fname)
    if "insar_processor" not in vals:
        vals["insar_processor"] = read_flavour(root)
    if overrides:
        vals.update(overrides)
    return Params(vals)
