"""Synthetic StaMPS datasets with ground truth (the project's self-test data).

:func:`generate` writes a dataset root in the mt_prep DORIS layout described in
``shared/reference/dataset-layout.md`` (root text files, parms.mat, PATCH_n/pscands.1.*,
mean_amp.flt), plus ``truth.npz`` / ``truth.json``; optionally the raw rasters.
With ``flavour="snap"`` it writes the same scene as SNAP's StaMPS export plus
``mt_prep_snap`` leave it (rslc/<master>.rslc.par, diff0/*.base, rsc.txt, big-endian
patch binaries), and with ``write_export`` also the export rasters (rslc/*.rslc,
diff0/*.diff, geo/*.lon/.lat, geo/elevation_dem.rdc) from which ``pystamps prep snap``
rebuilds the patch files byte for byte.

Modules: ``config`` (parameters and checks), ``geometry`` (sphere geometry, Bperp),
``signals`` (random fields, APS, orbit ramps, deformation), ``amplitude`` (calibration,
exact-D_A series, clutter), ``scene`` (dates, candidates, phase model), ``patches``
(mt_prep windows), ``writer`` (layout files, truth.npz), ``raw`` (full rasters),
``streams`` (seeded sub-streams).

Memory stays bounded: spatial fields live on coarse grids, the per-candidate x image
arrays are produced in chunks and streamed to the patch files and to temporary truth
files, and clutter is generated tile by tile.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from .amplitude import Clutter
from .config import SynthConfig, make_config
from .geometry import geometry_from_config
from .patches import patch_windows
from .raw import SNAP_LAYOUT, RawCandidateStore, image_factors, write_raw as write_raw_rasters
from .scene import (chunk_size, expected_mean_amp, make_acquisitions, make_candidates, make_scene_model,
                    sample_positions, simulate_chunk)
from .writer import PatchFiles, TruthWriter, write_json, write_mean_amp, write_root_files, write_root_files_snap

FLAVOURS = ("doris", "snap")

__all__ = ["generate", "SynthConfig", "TRUTH_KEYS"]

#: truth.npz members, in the order the golden datasets hold them.
TRUTH_KEYS = ["az", "rg", "lon", "lat", "east_m", "north_m", "hgt", "is_ps", "D_A", "noise_std_rad",
              "v_lin_mm_yr", "v_mean_mm_yr", "seasonal_amp_mm", "disp_los_mm", "dem_err_m", "K_rad_per_m",
              "look_angle_rad", "incidence_rad", "slant_range_m", "bperp_pix", "atm_rad", "orbit_rad",
              "orbit_grad_rad_per_10km", "noise_img_rad", "ph_wrapped", "dates", "master_index", "slave_index",
              "t_years", "bperp_centre", "bpar_centre", "calconst"]

_CAND_KEYS = ["az", "rg", "lon", "lat", "east_m", "north_m", "hgt", "is_ps", "D_A", "noise_std_rad",
              "v_lin_mm_yr", "v_mean_mm_yr", "seasonal_amp_mm", "dem_err_m", "K_rad_per_m", "look_angle_rad",
              "incidence_rad", "slant_range_m"]


def generate(out_dir, *, width: int = 500, length: int = 500, rg_patches: int = 1, az_patches: int = 1,
             rg_overlap: int = 50, az_overlap: int = 50, n_cand: int = 8000, n_ifg: int = 20,
             ps_fraction: float = 0.5, da_thresh: float = 0.4, seed: int = 1, write_raw: bool = False,
             overwrite: bool = False, flavour: str = "doris", write_export: bool = False, **model) -> dict:
    """Write a synthetic dataset root to ``out_dir`` and return a summary dict.

    ``width`` x ``length`` pixels (range x azimuth, 15 m), ``rg_patches`` x ``az_patches``
    patches with the given overlaps (pixels), ``n_cand`` candidates of which a fraction
    ``ps_fraction`` are true PS, ``n_ifg`` interferograms (n_ifg + 1 images), D_A
    threshold ``da_thresh`` (all candidates lie below it), ``seed`` for every random
    stream, ``write_raw`` for the full-resolution rasters as well.  ``model`` takes the
    other fields of :class:`SynthConfig` (signal amplitudes, geometry, ranges).
    ``out_dir`` must be absent or empty unless ``overwrite`` (then the files of a
    previous dataset are removed first).  Invalid parameters raise ``ValueError`` with a
    one-line message before anything is written.

    ``flavour`` is ``"doris"`` (mt_prep) or ``"snap"`` (SNAP export + mt_prep_snap; the same
    scene truth).  ``write_raw`` writes the DORIS rasters (doris only); ``write_export``
    the SNAP export rasters (snap only), and then ``pscands.1.da`` and ``mean_amp.flt``
    hold the values selpsc computes from those rasters.

    Returns ``{out_dir, width, length, n_cand, n_true_ps, n_ifg, n_images, master, dates,
    patches: [{name, over, noover, n_cand}], patch_counts, write_raw, seconds}``, plus
    ``flavour`` and ``write_export`` for the snap flavour.
    """
    t_start = time.perf_counter()
    flavour = str(flavour).lower()
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour = {flavour!r} must be one of {', '.join(FLAVOURS)}")
    snap = flavour == "snap"
    if write_export and not snap:
        raise ValueError("write_export writes a SNAP export: use it with flavour='snap' (DORIS rasters: write_raw)")
    if write_raw and snap:
        raise ValueError("write_raw writes DORIS rasters: use write_export with flavour='snap'")
    cfg = make_config(width=width, length=length, rg_patches=rg_patches, az_patches=az_patches,
                      rg_overlap=rg_overlap, az_overlap=az_overlap, n_cand=n_cand, n_ifg=n_ifg,
                      ps_fraction=ps_fraction, da_thresh=da_thresh, seed=seed,
                      write_raw=bool(write_raw or write_export), **model)
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    root = os.path.abspath(out)

    geom = geometry_from_config(cfg)
    acq = make_acquisitions(cfg)
    windows = patch_windows(cfg.width, cfg.length, cfg.rg_patches, cfg.az_patches, cfg.rg_overlap, cfg.az_overlap)
    model = make_scene_model(cfg, geom, acq)
    az, rg = sample_positions(cfg)
    cands = make_candidates(model, az, rg)
    if snap:
        write_root_files_snap(out, root, cfg, geom, acq, windows)
    else:
        write_root_files(out, root, cfg, geom, acq, windows)

    N, M = acq.n_images, acq.n_images - 1
    truth = TruthWriter(out, cands.n, N, M)
    store = RawCandidateStore(truth.tmp, N, M, acq.master_index, acq.slave_index) if cfg.write_raw else None
    try:
        patches = PatchFiles(out, windows, cands.az, cands.rg, M, order=">" if snap else "<")
        cand_sum = np.empty(cands.n)            # mean_amp value of each candidate
        cand_amp_sum = np.zeros(N)              # sum over candidates of calibrated amplitude, per image
        step = chunk_size(N)
        for cid, i0 in enumerate(range(0, cands.n, step)):
            ch = simulate_chunk(model, cands, cid, i0, min(i0 + step, cands.n))
            truth.append(ch)
            patches.append(ch, cands)
            if store is not None:
                store.append(ch)
            cand_sum[i0:ch.i1] = ch.amp.sum(axis=1)
            cand_amp_sum += ch.amp.sum(axis=0)
            del ch
        patches.close()
        clutter = Clutter(cfg, N, expected_mean_amp(cfg))
        stats = None
        if store is not None:
            store.close()
            clutter.image_factor = image_factors(clutter, cands, cand_amp_sum)
            if snap:
                from .export import ExportStats

                stats = ExportStats(truth.tmp, cfg, cands, acq.calconst)
                write_raw_rasters(out, model, cands, store, clutter, layout=SNAP_LAYOUT, band_hook=stats.band)
            else:
                write_raw_rasters(out, model, cands, store, clutter)
        if stats is not None:
            stats.finish(out, windows, patches.members)
        else:
            write_mean_amp(out, windows, clutter, cands, cand_sum)
        per_cand = {k: getattr(cands, k) for k in _CAND_KEYS}
        truth.finish(per_cand, _scene_arrays(acq, model), TRUTH_KEYS)
    finally:
        truth.cleanup()

    counts = dict(zip([w.name for w in windows], patches.counts))
    tj = _truth_json(cfg, geom, acq, model, cands, windows, counts)
    extra = {}
    if snap:
        tj["processor"] = "snap"
        tj["write_export"] = bool(write_export)
        extra = {"flavour": "snap", "write_export": bool(write_export)}
    write_json(out / "truth.json", tj)
    return {
        "out_dir": root,
        "width": cfg.width, "length": cfg.length,
        "n_cand": cands.n, "n_true_ps": int(cands.is_ps.sum()),
        "n_ifg": M, "n_images": N,
        "master": acq.master_date, "dates": acq.date_strings,
        "patches": [{"name": w.name, "over": list(w.over), "noover": list(w.noover), "n_cand": counts[w.name]}
                    for w in windows],
        "patch_counts": counts,
        "write_raw": cfg.write_raw,
        **extra,
        "seconds": round(time.perf_counter() - t_start, 3),
    }


def _scene_arrays(acq, model) -> dict:
    return {
        "orbit_grad_rad_per_10km": model.orbit_grad,
        "dates": acq.dates.astype(np.int64),
        "master_index": np.array(acq.master_index, dtype=np.int64),
        "slave_index": acq.slave_index,
        "t_years": acq.t_years,
        "bperp_centre": acq.bperp,
        "bpar_centre": acq.bpar,
        "calconst": acq.calconst,
    }


def _truth_json(cfg, geom, acq, model, cands, windows, counts) -> dict:
    d = model.deformation
    return {
        "generator": "pystamps_batch.synth",
        "seed": cfg.seed,
        "processor": "doris",
        "width": cfg.width,
        "length": cfg.length,
        "rg_spacing_m": cfg.pixel_m,
        "az_spacing_m": cfg.pixel_m,
        "n_images": acq.n_images,
        "n_ifg": acq.n_images - 1,
        "master": acq.master_date,
        "master_index": acq.master_index,
        "dates": acq.date_strings,
        "repeat_days": cfg.repeat_days,
        "bperp_m": acq.bperp.tolist(),
        "wavelength_m": cfg.wavelength_m,
        "heading_deg": cfg.heading_deg,
        "incidence_centre_deg": float(np.rad2deg(geom.incidence(geom.look_centre, 0.0))),
        "look_centre_deg": float(np.rad2deg(geom.look_centre)),
        "slant_range_centre_m": geom.slant_range_centre,
        "altitude_m": cfg.altitude_m,
        "lon0": cfg.lon0,
        "lat0": cfg.lat0,
        "n_cand": cands.n,
        "n_true_ps": int(cands.is_ps.sum()),
        "patches": [{"name": w.name, "over": list(w.over), "noover": list(w.noover)} for w in windows],
        "patch_counts": counts,
        "da_thresh": cfg.da_thresh,
        "ps_da": [cfg.ps_da[0], min(cfg.ps_da[1], cfg.da_thresh)],
        "decor_da": [cfg.decor_da[0], min(cfg.decor_da[1], cfg.da_thresh)],
        "ps_noise": list(cfg.ps_noise),
        "bowl_rate_mm_yr": cfg.bowl_rate_mm_yr,
        "bowl_sigma_m": d.sigma_m,
        "bowl_centre_en_m": [d.east0, d.north0],
        "bg_gradient_mm_yr_km": cfg.bg_gradient_mm_yr_km,
        "seasonal_mm": cfg.seasonal_mm,
        "seasonal_phase_rad": d.phase,
        "dem_err_std_m": cfg.dem_err_std_m,
        "atm_std_rad": cfg.atm_std_rad,
        "atm_corr_km": cfg.atm_corr_km,
        "orbit_ramp_rad_per_10km": cfg.orbit_ramp_rad_per_10km,
        "write_raw": cfg.write_raw,
        "conventions": {
            "ifg": "cint = master * conj(slave); phase = phi_master - phi_slave",
            "velocity": "mm/yr, positive = towards satellite (StaMPS ps_plot 'v': v=-slope*lambda/(4pi)*1000*365.25)",
            "v_mean_mm_yr": "LSQ slope of true LOS displacement over the slave dates (master excluded), "
                            "as ps_plot 'v' fits",
            "disp_los_mm": "true LOS displacement towards satellite relative to master date",
            "atm_rad": "per-image APS a_k; ifg_s gets a_master - a_slave",
            "K_rad_per_m": "DEM-error phase = K * bperp; K = -4 pi dem_err / (lambda R sin(inc))",
            "dem_err_m": "scatterer height minus DEM height",
            "ij": "az (line) and rg (pixel) are 0-based full-image indices as in pscands.1.ij",
            "truth_rows": "one row per distinct candidate, az-major; overlap candidates appear in several patches",
        },
    }


_ROOT_FILES = ("processor.txt", "parms.mat", "width.txt", "len.txt", "day.1.in", "master_day.1.in", "bperp.1.in",
               "look_angle.1.in", "heading.1.in", "lambda.1.in", "slc_osfactor.1.in", "calamp.in", "calamp.out",
               "selpsc.in", "pscphase.in", "psclonlat.in", "pscdem.in", "patch.list", "truth.npz", "truth.json",
               "lon.raw", "lat.raw", "dem_radar_i.raw", "rsc.txt")
#: SNAP export folders (snap flavour) removed by ``overwrite``.
_EXPORT_DIRS = ("rslc", "diff0", "geo")


def _prepare_out_dir(out: Path, overwrite: bool) -> None:
    """Create ``out``; refuse a non-empty one unless ``overwrite`` (then remove a previous dataset)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f"{out}: folder is not empty (pass overwrite=True to replace a dataset there)")
        for p in out.iterdir():
            name = p.name
            if p.is_dir() and (name.startswith("PATCH_") or name == ".synth_tmp" or name in _EXPORT_DIRS
                               or (len(name) == 8 and name.isdigit())):
                shutil.rmtree(p)
            elif p.is_file() and (name in _ROOT_FILES or (name.startswith("bperp_") and name.endswith(".1.in"))
                                  or name.endswith("_crop.slc")):
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
