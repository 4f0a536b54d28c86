"""Building the effective StaMPS :class:`Params` of a dataset (parms.mat semantics, spec B.1).

Order, later wins: defaults (B.2) -> ``parms.mat`` (the folder's own, else the root's)
-> ``localparms.mat`` in the folder -> values StaMPS' step 1 would have stored when
parms.mat does not hold them -> the config's ``stamps:`` overrides.

Step-1 values: DORIS flavour ``lambda.1.in``, ``heading.1.in``, ``slc_osfactor.1.in``;
snap/gamma flavour the master ``.rslc.par`` named in ``rsc.txt`` (``lambda =
299792458 / radar_frequency``, ``heading``, ``platform`` = first word of ``sensor:``), as
ps_load_initial_gamma sets them; ``insar_processor`` from ``processor.txt``.
The dataset's parms.mat is never modified.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .dataset import mtprep
from .dataset import snap as snapfmt
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


def _gamma_step1_values(root: Path, vals: dict[str, Any]) -> None:
    """lambda / heading / platform from the master .rslc.par (snap, gamma) where missing."""
    if not (_missing(vals.get("lambda")) or _missing(vals.get("heading")) or "platform" not in vals):
        return
    if not (root / "rsc.txt").is_file():
        return                      # validate() reports the missing file; stages needing lambda fail clearly
    par = snapfmt.read_rslc_par(snapfmt.PathResolver(root).resolve(snapfmt.read_rsc(root), root / "rsc.txt",
                                                                   "master parameter file"))
    if _missing(vals.get("lambda")):
        vals["lambda"] = par.wavelength
    if _missing(vals.get("heading")):
        vals["heading"] = par.heading
    vals.setdefault("platform", par.platform)


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
    flavour = read_flavour(root)
    if flavour in ("snap", "gamma"):
        _gamma_step1_values(root, vals)
    else:
        derived = {"lambda": "lambda.1.in", "heading": "heading.1.in", "slc_osf": "slc_osfactor.1.in"}
        for name, fname in derived.items():
            if _missing(vals.get(name)) and (root / fname).is_file():
                vals[name] = mtprep.read_scalar(root / fname)
    if "insar_processor" not in vals:
        vals["insar_processor"] = flavour
    if overrides:
        vals.update(overrides)
    return Params(vals)
