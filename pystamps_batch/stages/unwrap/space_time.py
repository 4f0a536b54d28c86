"""``uw_sb_unwrap_space_time`` for a single master, method '3D_FULL' (spec C.6.5, K.7, J.16, J.17).

For every arc (edge) e and interferogram k: the arc phase s = ph_hi * conj(ph_lo),
an arc look-angle error K_e (daisy-chain periodogram with a unique-peak test),
a Gaussian-in-time smoothing of s around the master, its temporal unwrapping U
anchored near the master, the noise nu = angle(s e^{-iU}) and the arc unwrapped
phase estimate D = U + nu + K_e B_k.

Precision follows StaMPS (J.27): arc phasors, K_e, coherences, smoothed phasors,
U, nu and D are float32; only the line fits and trial phases are double.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import StageError
from . import f32
from .f32 import angle, cabs, cmul, cmul_real, csum, expi, rsum, unit

F32 = np.float32
C64 = np.complex64
PI32 = F32(np.pi)
TWO_PI32 = F32(2 * np.pi)

#: Peak-uniqueness margin and minimum arc coherence for K_e (C.6.5(a)).
PEAK_MARGIN = F32(0.1)
MIN_ARC_COH = F32(0.31)
#: Arcs whose noise std exceeds this (rad) get no statistics (nu := NaN).
MAX_NOISE_STD = F32(1.2)
#: Complex values per block of the trial search (arcs x n_sub x n_trials), bounds its memory (~64 MB).
_TRIAL_BLOCK = 8_000_000


@dataclass
class SpaceTime:
    """Result of the space-time step (content of ``uw_space_time.mat``).

    ``dph_space_uw`` (D) and ``dph_noise`` (nu): (n_edge, M_U) float32 (NaN rows = no statistics);
    ``G``: (M_U, n_image) float64 design matrix (-1 master, +1 slave, unused images removed);
    ``K``: (n_edge,) float32 arc look-angle errors (rad/m), ``coh``: (n_edge,) float32.
    """

    dph_space_uw: np.ndarray
    dph_noise: np.ndarray
    G: np.ndarray
    K: np.ndarray
    coh: np.ndarray

    def to_mat(self) -> dict[str, object]:
        """Variables of ``uw_space_time.mat`` with StaMPS' names and types."""
        from scipy.sparse import csc_matrix

        empty = np.zeros((0, 0))
        return {
            "dph_space_uw": self.dph_space_uw.astype(F32),
            "dph_noise": self.dph_noise.astype(F32),
            "G": self.G.astype(np.float64),
            "spread": csc_matrix(self.dph_noise.shape, dtype=np.float64),
            "ifreq_ij": empty,
            "jfreq_ij": empty,
            "shaky_ix": empty,
            "predef_ix": empty,
        }


# ----------------------------------------------------------------------------- MATLAB/Octave semantics

def mod_octave(x: np.ndarray, y) -> np.ndarray:
    """Octave ``mod(x, y)`` for a positive non-integer scalar y, in x's precision.

    x - floor(x/y)*y, but 0 where x/y is within machine epsilon of a non-zero integer
    (Octave's guard against results equal to y).
    """
    x = np.asarray(x)
    y = x.dtype.type(y)
    q = x / y
    nq = np.round(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        near = (nq != 0) & (np.abs((q - nq) / nq) < np.finfo(x.dtype).eps)
    r = x - y * np.floor(q)
    return np.where(near, x.dtype.type(0), r).astype(x.dtype)


#: Sample standard deviation in float32 (Octave's ``std(x, 0, dim)``).
std32 = f32.std


# ----------------------------------------------------------------------------- set-up

def design(ifgday_ix: np.ndarray, n_image: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """StaMPS G for ifgs [first, second] (1-based image indices), unused images removed.

    Returns (G (M_U, n_used) float64, remapped ifgday_ix (M_U, 2) int 1-based, used (n_image,) bool).
    """
    ifgday_ix = np.asarray(ifgday_ix, dtype=np.int64)
    m_u = ifgday_ix.shape[0]
    G = np.zeros((m_u, n_image))
    rows = np.arange(m_u)
    G[rows, ifgday_ix[:, 0] - 1] = -1
    G[rows, ifgday_ix[:, 1] - 1] = 1
    used = np.abs(G).sum(axis=0) != 0
    remap = np.cumsum(used)                      # 1-based new index of each used image
    return G[:, used], remap[ifgday_ix - 1], used


def arc_phasors(node_ph: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """s = ph[hi] * conj(ph[lo]) normalised, (n_edge, M_U) complex64."""
    node_ph = np.asarray(node_ph, dtype=C64)
    return unit(cmul(node_ph[edges[:, 1]], np.conj(node_ph[edges[:, 0]])))


# ----------------------------------------------------------------------------- (a) arc look-angle error

def _chain_inputs(s: np.ndarray, G: np.ndarray, ifgday_ix: np.ndarray, day: np.ndarray,
                  bperp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc phasors and baselines the K_e search runs on (C.6.5(a)): (s' (n_edge, n_sub) c64, b' float64)."""
    n_image = G.shape[1]
    adjacent = np.abs(np.diff(ifgday_ix, axis=1)).ravel() == 1
    if adjacent.sum() >= n_image - 1:                      # consecutive-index chain (M_U <= 2 in PS)
        ix = np.flatnonzero(adjacent)
        return s[:, ix], bperp[ix].astype(np.float64)
    per_image = np.abs(G).sum(axis=0)
    hub = int(np.argmax(per_image))                        # first image with most ifgs (the master)
    if per_image[hub] < n_image - 2:
        raise StageError("arc look-angle estimation: no image common to all but two interferograms "
                         "(small-baseline networks are not supported)")
    ix = np.flatnonzero(G[:, hub] != 0)
    sub = s[:, ix].copy()
    flip = G[ix, hub] > 0                                  # hub is the slave: conjugate
    sub[:, flip] = np.conj(sub[:, flip])
    ref = rsum(cabs(sub), axis=1) / F32(sub.shape[1])      # zero-phase hub entry: mean(abs)
    sub = np.concatenate([sub, ref.astype(C64)[:, None]], axis=1)
    slave = ifgday_ix[ix].sum(axis=1) - (hub + 1)          # 1-based other image of each ifg
    day_sub = np.concatenate([day[slave - 1], [day[hub]]])
    order = np.argsort(day_sub, kind="stable")
    sub = sub[:, order]
    chain = unit(cmul(sub[:, 1:], np.conj(sub[:, :-1])))
    b = np.concatenate([bperp[ix].astype(np.float64), [0.0]])[order]
    return chain, np.diff(b)


def _peak_mask(coh: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Main lobe of each row around ``peak`` (C.6.5(a)): from after the last fall before it
    to the first rise after it. coh (n, T) float32 -> bool (n, T)."""
    n, t = coh.shape
    d = np.diff(coh, axis=1)                               # (n, T-1), d[q] = coh[q+1]-coh[q]
    q = np.arange(t - 1)[None, :]
    p = peak[:, None]
    fall = (d < 0) & (q < p)
    start = np.where(fall.any(axis=1), (t - 2 - np.argmax(fall[:, ::-1], axis=1)) + 1, 0)
    rise = (d > 0) & (q >= p)
    end = np.where(rise.any(axis=1), np.argmax(rise, axis=1), t - 1)
    cols = np.arange(t)[None, :]
    return (cols >= start[:, None]) & (cols <= end[:, None])


def arc_look_angle(chain: np.ndarray, b: np.ndarray, n_trial_wraps: float) -> tuple[np.ndarray, np.ndarray]:
    """Unique-peak periodogram estimate of K_e per arc (C.6.5(a)).

    ``chain``: (n_edge, n_sub) complex64 unit phasors; ``b``: (n_sub,) baselines (m);
    ``n_trial_wraps``: already rescaled to range(b). Returns (K (n_edge,) float32 rad/m,
    coh (n_edge,) float32; both 0 where the peak is not unique).
    """
    n_edge, n_sub = chain.shape
    K = np.zeros(n_edge, dtype=F32)
    coh = np.zeros(n_edge, dtype=F32)
    rng = float(b.max() - b.min())
    if n_edge == 0 or rng == 0:
        return K, coh
    n_t = int(np.ceil(8 * n_trial_wraps))
    trial = np.arange(-n_t, n_t + 1, dtype=np.float64)
    trial_phase = b / rng * np.pi / 4
    tpm = np.exp(-1j * np.outer(trial_phase, trial)).astype(C64)      # (n_sub, T)
    b32 = b.astype(F32)
    chunk = max(1, _TRIAL_BLOCK // (n_sub * trial.size))
    for a0 in range(0, n_edge, chunk):
        z = chain[a0:a0 + chunk]                                        # (c, n_sub)
        phaser = cmul(z[:, :, None], tpm[None, :, :])
        denom = rsum(cabs(z), axis=1)
        ct = (cabs(csum(phaser, axis=1)) / denom[:, None]).astype(F32)
        peak = np.argmax(ct, axis=1)
        cmax = ct[np.arange(ct.shape[0]), peak]
        rest = np.where(_peak_mask(ct, peak), F32(0), ct).max(axis=1)
        ok = np.flatnonzero((cmax - rest) > PEAK_MARGIN)
        if ok.size == 0:
            continue
        zo = z[ok]
        K0 = np.pi / 4 / rng * trial[peak[ok]]                          # double
        res = cmul(zo, expi(-np.outer(K0, b)))
        off = csum(res, axis=1)
        ang = angle(cmul(res, np.conj(off)[:, None]))
        w = cabs(zo)
        x = (w * b32[None, :]).astype(np.float64)
        y = (w * ang).astype(np.float64)
        mopt = (x * y).sum(axis=1) / (x * x).sum(axis=1)
        k = (K0 + mopt).astype(F32)
        r = cmul(zo, expi(-(k[:, None] * b32[None, :])))
        c = (cabs(csum(r, axis=1)) / rsum(cabs(r), axis=1)).astype(F32)
        K[a0 + ok] = k
        coh[a0 + ok] = c
    K[coh < MIN_ARC_COH] = 0
    return K, coh


# ----------------------------------------------------------------------------- (b) 3D_FULL smoothing

def _wls_intercept(td: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Intercept of the weighted LS line y ~ m0 + m1*td for many right-hand sides (MATLAB lscov).

    td, w: (n,) float64; y: (n, n_rhs) float64. Returns (n_rhs,) float64.
    """
    sw = np.sqrt(w)
    A = np.column_stack([np.ones_like(td), td]) * sw[:, None]
    return np.linalg.pinv(A)[0] @ (y * sw[:, None])         # SVD solution, as lstsq/gelsd


def smooth_image(s: np.ndarray, G: np.ndarray, ifgday_ix: np.ndarray, day: np.ndarray,
                 image: int, time_win: float) -> tuple[np.ndarray, np.ndarray]:
    """3D_FULL temporal smoothing and unwrapping of the ifgs that share ``image`` (0-based).

    Returns (columns (n_sub,) int of the ifgs, U (n_edge, n_sub) float32) with U already
    anchored near the image and written in StaMPS' order (date-sorted values into the
    input-order positions, J.17).
    """
    ix = np.flatnonzero(G[:, image] != 0)
    sign = -np.sign(G[ix, image]).astype(F32)                       # +1 where image is the first
    sub = s[:, ix].copy()
    sub[:, sign < 0] = np.conj(sub[:, sign < 0])
    slave = ifgday_ix[ix].sum(axis=1) - (image + 1)                 # 1-based other image
    day_sub = day[slave - 1].astype(np.float64)
    order = np.argsort(day_sub, kind="stable")
    day_sub = day_sub[order]
    sub = sub[:, order]
    ang = angle(sub)
    n_edge, n_sub = sub.shape
    sm = np.zeros((n_edge, n_sub), dtype=C64)
    for j in range(n_sub):
        td = day_sub[j] - day_sub
        w = np.exp(-(td ** 2) / 2 / time_win ** 2)
        w = w / w.sum()
        mean = csum(cmul_real(sub, w.astype(F32)[None, :]), axis=1)
        adj = mod_octave(ang - angle(mean)[:, None] + PI32, TWO_PI32) - PI32
        m0 = _wls_intercept(td, adj.T.astype(np.float64), w)
        sm[:, j] = cmul(mean, expi(m0))
    steps = np.concatenate([angle(sm[:, :1]), angle(cmul(sm[:, 1:], np.conj(sm[:, :-1])))], axis=1)
    U = np.add.accumulate(steps, axis=1, dtype=F32)
    after = np.flatnonzero(slave - (image + 1) > 0)                 # input order, as StaMPS
    if after.size == 0:
        close = [n_sub - 1]
    else:
        c = int(after[0])
        close = [c - 1, c] if c > 0 else [c]
    ref = rsum(U[:, close], axis=1) / F32(len(close))
    U = (U - (ref - angle(expi(ref)))[:, None]).astype(F32)
    return ix, (U * sign[None, :]).astype(F32)


def smooth_3d_full(s: np.ndarray, G: np.ndarray, ifgday_ix: np.ndarray, day: np.ndarray,
                   time_win: float) -> np.ndarray:
    """Smoothed, unwrapped arc phase U (n_edge, M_U) float32 (NaN where no image qualifies)."""
    n_edge, m_u = s.shape
    n_image = G.shape[1]
    U = np.full((n_edge, m_u), np.nan, dtype=F32)
    for image in range(n_image):
        if np.count_nonzero(G[:, image]) < n_image - 2:
            continue
        cols, Ui = smooth_image(s, G, ifgday_ix, day, image, time_win)
        keep = np.ones(cols.size, dtype=bool)
        done = ~np.isnan(U[0, cols]) if n_edge else np.zeros(cols.size, dtype=bool)
        if done.any():  # a later image replaces an estimate only where its noise is lower
            dc = cols[done]
            old = std32(angle(cmul(s[:, dc], expi(-U[:, dc]))), axis=0)
            new = std32(angle(cmul(s[:, dc], expi(-Ui[:, done]))), axis=0)
            keep[np.flatnonzero(done)[old < new]] = False
        U[:, cols[keep]] = Ui[:, keep]
    return U


# ----------------------------------------------------------------------------- driver

def uw_space_time(node_ph: np.ndarray, edges: np.ndarray, day: np.ndarray, ifgday_ix: np.ndarray,
                  bperp: np.ndarray, n_trial_wraps: float, time_win: float,
                  la_flag: bool = True) -> SpaceTime:
    """Single-master '3D_FULL' space-time step (spec C.6.5).

    ``node_ph``: (n_nodes, M_U) complex64 filtered node phasors; ``edges``: (n_edge, 2)
    0-based (lo, hi); ``day``: (N,) days relative to the master; ``ifgday_ix``: (M_U, 2)
    1-based [master, slave] image indices; ``bperp``: (M_U,) mean baselines (m).
    """
    day = np.asarray(day, dtype=np.float64).ravel()
    bperp = np.asarray(bperp, dtype=np.float64).ravel()
    G, ifgday_r, used = design(ifgday_ix, day.size)
    day_r = day[used]
    s = arc_phasors(node_ph, edges)
    n_edge = s.shape[0]
    if la_flag:
        chain, b = _chain_inputs(s, G, ifgday_r, day_r, bperp)
        b_rng = float(bperp.max() - bperp.min())
        ntw = n_trial_wraps * (float(b.max() - b.min()) / b_rng) if b_rng > 0 else 0.0
        K, coh = arc_look_angle(chain, b, ntw)
        s = cmul(s, expi(-(K[:, None] * bperp.astype(F32)[None, :])))
    else:
        K, coh = np.zeros(n_edge, dtype=F32), np.zeros(n_edge, dtype=F32)
    U = smooth_3d_full(s, G, ifgday_r, day_r, time_win)
    noise = angle(cmul(s, expi(-U)))
    noise[std32(noise, axis=1) > MAX_NOISE_STD] = np.nan
    D = (U + noise).astype(F32)
    if la_flag:
        D = (D + K[:, None] * bperp.astype(F32)[None, :]).astype(F32)
    return SpaceTime(dph_space_uw=D, dph_noise=noise, G=G, K=K, coh=coh)
