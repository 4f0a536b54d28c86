"""``uw_grid_wrapped``: resample the wrapped PS phase to a grid and Goldstein-filter it (spec C.6.3).

Shapes: n PS, M_U interferograms to unwrap, an n_i x n_j grid of ``pix_size`` m
cells whose non-empty cells (in the first ifg) are the ``n_nodes`` nodes, listed
in MATLAB column-major order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate

from ...errors import StageError
from ...matlab import gausswin, mround
from .f32 import cabs, cmul_real

#: Offset (m) added before the ceil in the cell index (1e-3 in step 6, 1e-6 in step 2).
GRID_EPS = 1e-3


@dataclass
class UwGrid:
    """The gridded, filtered interferograms (the content of ``uw_grid.mat``).

    ``ph``: (n_nodes, M_U) complex64 filtered node phasors (magnitude = cell-sum magnitude);
    ``ph_in``: (n, M_U) complex64 input phasors; ``nzix``: (n_i, n_j) bool node mask;
    ``grid_ij``: (n, 2) float32 1-based (row, column) cell of each PS;
    ``node_ij``/``node_xy``: the node cells and their centre coordinates (m) as saved;
    ``grid_x_min``/``grid_y_min``: float32 origin (m); ``pix_size``: cell size (m).
    """

    ph: np.ndarray
    ph_in: np.ndarray
    nzix: np.ndarray
    grid_ij: np.ndarray
    node_ij: np.ndarray
    node_xy: np.ndarray
    grid_x_min: np.float32
    grid_y_min: np.float32
    pix_size: float

    @property
    def n_i(self) -> int:
        return int(self.nzix.shape[0])

    @property
    def n_j(self) -> int:
        return int(self.nzix.shape[1])

    @property
    def n_nodes(self) -> int:
        return int(self.ph.shape[0])

    @property
    def node_cells(self) -> np.ndarray:
        """0-based column-major linear indices of the nodes, (n_nodes,) int64."""
        return np.flatnonzero(self.nzix.ravel(order="F"))

    def to_mat(self) -> dict[str, np.ndarray]:
        """Variables of ``uw_grid.mat`` with StaMPS' names, shapes and dtypes."""
        empty = np.zeros((0, 0))
        return {
            "ph": self.ph.astype(np.complex64),
            "ph_in": self.ph_in.astype(np.complex64),
            "ph_lowpass": empty,
            "ph_uw_predef": empty,
            "ph_in_predef": empty,
            "xy": self.node_xy,
            "ij": self.node_ij,
            "nzix": self.nzix.astype(np.uint8),
            "grid_x_min": np.array([[self.grid_x_min]], dtype=np.float32),
            "grid_y_min": np.array([[self.grid_y_min]], dtype=np.float32),
            "n_i": np.array([[self.n_i]], dtype=np.float32),
            "n_j": np.array([[self.n_j]], dtype=np.float32),
            "n_ifg": np.array([[self.ph.shape[1]]], dtype=np.float64),
            "n_ps": np.array([[self.n_nodes]], dtype=np.float64),
            "grid_ij": self.grid_ij.astype(np.float32),
            "pix_size": np.array([[self.pix_size]], dtype=np.float64),
        }


def grid_indices(xy: np.ndarray, pix_size: float) -> tuple[np.ndarray, np.float32, np.float32]:
    """1-based (row, column) cell of every PS, computed in float32 as StaMPS does (J.5, J.27).

    ``xy``: (n, 2) float32 local (x, y) in m. Row = ceil((y - min y + 1e-3)/g), column likewise
    from x; the largest index of each axis is merged into the one before it.
    Returns (grid_ij (n, 2) float32, grid_x_min, grid_y_min).
    """
    xy = np.asarray(xy, dtype=np.float32)
    x_min = xy[:, 0].min()
    y_min = xy[:, 1].min()
    g = np.float32(pix_size)
    eps = np.float32(GRID_EPS)
    gi = np.ceil(((xy[:, 1] - y_min) + eps) / g)
    gj = np.ceil(((xy[:, 0] - x_min) + eps) / g)
    for a in (gi, gj):
        top = a.max()
        a[a == top] = top - 1
    return np.stack([gi, gj], axis=1).astype(np.float32), x_min, y_min


def accumulate_cells(ph: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Complex64 sum of each cell's phasors in PS order (sequential float32 as StaMPS).

    ``ph``: (n, M) complex64; ``cell``: (n,) 0-based linear cell index. Returns (n_cells, M).
    """
    out = np.zeros((n_cells, ph.shape[1]), dtype=np.complex64)
    np.add.at(out, cell, ph.astype(np.complex64, copy=False))
    return out


def _taper(n_win: int) -> np.ndarray:
    """Goldstein window taper: quadrant x_a + x_b (x = 1..n_win/2) mirrored, float64 (n_win, n_win)."""
    x = np.arange(1, n_win // 2 + 1, dtype=np.float64)
    q = x[:, None] + x[None, :]
    top = np.hstack([q, q[:, ::-1]])
    return np.vstack([top, top[::-1, :]])


def _window_starts(n: int, n_win: int, n_inc: int) -> list[tuple[int, int]]:
    """(start, shift) of each window along one axis: 0-based start and the taper shift of edge windows."""
    out = []
    for w in range(int(np.ceil(n / n_inc)) - 1):
        i1 = w * n_inc
        shift = 0
        if i1 + n_win > n:
            shift = i1 + n_win - n
            i1 = n - n_win
        out.append((i1, shift))
    return out


def wrap_filt(grid: np.ndarray, n_win: int = 32, alpha: float = 0.8, n_pad: int | None = None) -> np.ndarray:
    """Goldstein adaptive filter of complex grids, StaMPS ``wrap_filt`` (spec C.6.3).

    ``grid``: (n_i, n_j, M) complex (M independent grids, filtered together). Windows of
    n_win cells with 50 % overlap, zero-padded by n_pad (default round(n_win/4)); the |FFT|
    is smoothed with the 7x7 gausswin kernel on the fft-shifted spectrum, divided by its
    median and raised to alpha. Tapered windows are summed; the output keeps the input
    magnitude and takes the phase of the sum. Filtered in float64; the output, abs(input) times
    the unit phasor rounded to single, is complex64.
    """
    grid32 = np.nan_to_num(np.asarray(grid, dtype=np.complex64))
    grid = grid32.astype(np.complex128)
    n_i, n_j, m = grid.shape
    if n_pad is None:
        n_pad = int(mround(n_win * 0.25))
    n_inc = n_win // 2
    n_fft = n_win + n_pad
    taper = _taper(n_win)
    b7 = np.outer(gausswin(7), gausswin(7))[:, :, None]
    acc = np.zeros_like(grid)
    block = np.zeros((n_fft, n_fft, m), dtype=np.complex128)
    for i1, si in _window_starts(n_i, n_win, n_inc):
        wf = taper if si == 0 else np.vstack([np.zeros((si, n_win)), taper[: n_win - si]])
        for j1, sj in _window_starts(n_j, n_win, n_inc):
            wf2 = wf if sj == 0 else np.hstack([np.zeros((n_win, sj)), wf[:, : n_win - sj]])
            block[:n_win, :n_win] = grid[i1:i1 + n_win, j1:j1 + n_win]
            spec = np.fft.fft2(block, axes=(0, 1))
            h = np.fft.fftshift(np.abs(spec), axes=(0, 1))
            h = correlate(h, b7, mode="constant", cval=0.0)
            h = np.fft.ifftshift(h, axes=(0, 1))
            med = np.median(h.reshape(-1, m), axis=0)
            h = h / np.where(med != 0, med, 1.0)
            h = h ** alpha
            filt = np.fft.ifft2(spec * h, axes=(0, 1))[:n_win, :n_win]
            acc[i1:i1 + n_win, j1:j1 + n_win] += filt * wf2[:, :, None]
    return cmul_real(np.exp(1j * np.angle(acc)).astype(np.complex64), cabs(grid32))


def min_scene_message(n_i: int, n_j: int, n_win: int, pix_size: float) -> str:
    """One-line StageError text for a grid smaller than the Goldstein window."""
    need = n_win * pix_size
    return (f"unwrapping grid is {n_i} x {n_j} cells of {pix_size:g} m, smaller than the Goldstein window "
            f"unwrap_gold_n_win={n_win}: the PS must span more than about {need:g} m "
            f"({n_win} x unwrap_grid_size) in both rotated axes; reduce unwrap_grid_size for a smaller scene")


def uw_grid_wrapped(ph: np.ndarray, xy: np.ndarray, pix_size: float, prefilt_win: int,
                    goldfilt: bool, gold_alpha: float) -> UwGrid:
    """Grid the wrapped phasors and filter them (spec C.6.3).

    ``ph``: (n, M_U) complex64 unit phasors; ``xy``: (n, 2) float32 (x, y) in m.
    Raises StageError if any phasor is exactly 0 or the grid is smaller than ``prefilt_win``.
    """
    ph = np.asarray(ph, dtype=np.complex64)
    n, m = ph.shape
    if m == 0:
        raise StageError("no interferograms to unwrap (all dropped or only the master)")
    zero = ph == 0
    if zero.any():
        p, k = np.argwhere(zero)[0]
        raise StageError(f"wrapped phase is exactly zero for {int(zero.sum())} values "
                         f"(first: PS {p + 1}, interferogram column {k + 1}); cannot unwrap")
    grid_ij, x_min, y_min = grid_indices(xy, pix_size)
    n_i, n_j = int(grid_ij[:, 0].max()), int(grid_ij[:, 1].max())
    if min(n_i, n_j) < prefilt_win:
        raise StageError(min_scene_message(n_i, n_j, prefilt_win, pix_size))
    gi = grid_ij[:, 0].astype(np.int64) - 1
    gj = grid_ij[:, 1].astype(np.int64) - 1
    cell_f = gj * n_i + gi                                   # column-major linear cell index
    sums = accumulate_cells(ph, cell_f, n_i * n_j)            # (n_cells, M) column-major cells
    nz_f = np.flatnonzero(sums[:, 0] != 0)                    # nodes: non-zero in the FIRST ifg
    nzix = np.zeros(n_i * n_j, dtype=bool)
    nzix[nz_f] = True
    nzix = nzix.reshape((n_j, n_i)).T
    if goldfilt:
        cube = sums.reshape((n_j, n_i, m)).transpose(1, 0, 2)  # (n_i, n_j, M)
        filt = wrap_filt(cube, prefilt_win, gold_alpha)
        node_ph = filt.transpose(1, 0, 2).reshape(n_i * n_j, m)[nz_f]
    else:
        node_ph = sums[nz_f]
    last_f = np.flatnonzero(sums[:, -1] != 0)                 # saved xy/ij: last ifg's non-zero cells
    if last_f.size != nz_f.size:
        last_f = nz_f
    nz_i = (last_f % n_i + 1).astype(np.float64)
    nz_j = (last_f // n_i + 1).astype(np.float64)
    node_xy = np.stack([np.arange(1, last_f.size + 1, dtype=np.float64),
                        (nz_j - 0.5) * pix_size, (nz_i - 0.5) * pix_size], axis=1)
    return UwGrid(ph=node_ph.astype(np.complex64), ph_in=ph, nzix=nzix, grid_ij=grid_ij,
                  node_ij=np.stack([nz_i, nz_j], axis=1), node_xy=node_xy,
                  grid_x_min=x_min, grid_y_min=y_min, pix_size=float(pix_size))
