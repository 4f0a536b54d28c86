"""Local coordinates of StaMPS: polyconic projection, heading rotation, y-then-x order.

Shared by step 1 (``ps_load_initial``) and the patch merge (step 5b), spec C.1.3.
"""
from __future__ import annotations

import numpy as np

A_WGS84 = 6378137.0
#: StaMPS' ``llh2local`` eccentricity: numerically WGS84's *second* eccentricity,
#: kept as-is for parity (spec J.3).
E_STAMPS = 0.08209443794970


def _meridian_arc(lat: np.ndarray, a: float, e: float) -> np.ndarray:
    e2, e4, e6 = e**2, e**4, e**6
    return a * ((1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * lat
                - (3 * e2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * np.sin(2 * lat)
                + (15 * e4 / 256 + 45 * e6 / 1024) * np.sin(4 * lat)
                - (35 * e6 / 3072) * np.sin(6 * lat))


def llh2local(lonlat: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Polyconic projection of (lon, lat) degrees about ``origin`` (lon0, lat0) -> metres.

    ``lonlat`` is n x 2; returns n x 2 float64 [x (east), y (north)] in metres
    (StaMPS' llh2local returns km; step 1 multiplies by 1000).
    """
    ll = np.radians(np.asarray(lonlat, dtype=np.float64))
    lon0, lat0 = np.radians(np.asarray(origin, dtype=np.float64).ravel()[:2])
    lon, lat = ll[:, 0], ll[:, 1]
    a, e = A_WGS84, E_STAMPS
    dlon = lon - lon0
    m0 = _meridian_arc(np.array(lat0), a, e)
    x = np.empty_like(lat)
    y = np.empty_like(lat)
    nz = lat != 0
    latn = lat[nz]
    N = a / np.sqrt(1 - e**2 * np.sin(latn) ** 2)
    E = dlon[nz] * np.sin(latn)
    cot = 1.0 / np.tan(latn)
    x[nz] = N * cot * np.sin(E)
    y[nz] = _meridian_arc(latn, a, e) - m0 + N * cot * (1 - np.cos(E))
    x[~nz] = a * dlon[~nz]
    y[~nz] = -m0
    return np.column_stack([x, y])


def bbox_centre(lonlat: np.ndarray) -> np.ndarray:
    """``ll0 = (max + min) / 2`` per column, shape (2,)."""
    return (lonlat.max(axis=0) + lonlat.min(axis=0)) / 2.0


def rotate_to_heading(xy: np.ndarray, heading_deg: float) -> np.ndarray:
    """Rotate local xy (n x 2) by the heading, keeping the rotation only if it
    strictly shrinks both the x and the y extent (spec C.1.3). Returns n x 2."""
    if xy.shape[0] == 0 or not np.isfinite(heading_deg):
        return xy
    theta = (180.0 - heading_deg) * np.pi / 180.0
    if theta > np.pi:
        theta -= 2 * np.pi
    rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    xy2 = (rot @ xy.T).T
    ext = np.ptp(xy, axis=0)
    ext2 = np.ptp(xy2, axis=0)
    if ext2[0] < ext[0] and ext2[1] < ext[1]:
        return xy2.astype(xy.dtype)
    return xy


def sort_and_round(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """StaMPS pixel order and rounding.

    ``xy`` (n x 2) is converted to float32, sorted by y then x (on the unrounded
    single values), and rounded to the millimetre in single precision (halves away
    from zero). Returns (sort_ix (n,) 0-based permutation, xy_rounded (n x 2) float32).
    """
    xs = np.asarray(xy, dtype=np.float32)
    order = np.lexsort((xs[:, 0], xs[:, 1]))
    xs = xs[order]
    scaled = xs * np.float32(1000)
    r = (np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))).astype(np.float32)
    return order, (r / np.float32(1000)).astype(np.float32)


def local_xy(lonlat: np.ndarray, heading_deg: float, origin: np.ndarray | None = None):
    """lon/lat -> (ll0, sort permutation, xy n x 3 float32 [id, x, y] in the sorted order)."""
    ll0 = bbox_centre(lonlat) if origin is None else np.asarray(origin, dtype=np.float64)
    xy = llh2local(lonlat, ll0)
    xy = rotate_to_heading(xy, heading_deg)
    order, xyr = sort_and_round(xy)
    ids = np.arange(1, len(order) + 1, dtype=np.float32)
    return ll0, order, np.column_stack([ids, xyr]).astype(np.float32)
