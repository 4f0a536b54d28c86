"""Spherical-Earth SAR geometry of the synthetic scene.

Conventions (checked against the golden datasets):

* Range pixel ``rg`` (0-based) lies at ground distance ``(rg - (W-1)/2) * pixel_m``
  from the scene centre along the look direction, on a sphere of radius ``Re``;
  its slant range ``r(rg)`` is fixed (computed at height 0), so the look angle
  and incidence of a scatterer depend on its height ``h``.
* Satellite at radius ``Rs = Re + altitude``; the centre pixel has incidence
  ``incidence_deg`` (39 deg -> look 34.58 deg, slant range 864.7 km).
* Azimuth lines run along the heading (ascending, right-looking: line up ~ north,
  pixel up ~ east).  East/north offsets (m) rotate the pixel grid by the heading.
* lon/lat: lat0 + north / M0, lon0 + east / (N0 cos lat0) with the WGS84 meridian
  (M0) and prime-vertical (N0) radii at lat0.
* Baselines are 2-D: with ``dtheta = look - look_centre``,
  ``Bperp(look) = Bperp_c cos(dtheta) - Bpar_c sin(dtheta)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WGS84_A = 6378137.0
WGS84_E2 = 0.00669437999014

#: Number of grid nodes per side of look_angle.1.in / bperp_*.1.in and the two heights (m).
GRID_N = 50
GRID_HEIGHTS = (0.0, 1000.0)


@dataclass(frozen=True)
class Geometry:
    """Image size, pixel spacing and orbit of the scene (all lengths in metres)."""

    width: int
    length: int
    pixel_m: float = 15.0
    incidence_deg: float = 39.0
    altitude_m: float = 693_000.0
    earth_radius_m: float = 6_371_000.0
    heading_deg: float = -12.5
    lat0: float = 40.0
    lon0: float = 15.0

    # ---- orbit / centre ------------------------------------------------------------
    @property
    def sat_radius(self) -> float:
        """Rs = Re + altitude (m)."""
        return self.earth_radius_m + self.altitude_m

    @property
    def look_centre(self) -> float:
        """Look angle (rad) of the centre pixel at height 0."""
        return float(np.arcsin(self.earth_radius_m * np.sin(np.deg2rad(self.incidence_deg)) / self.sat_radius))

    @property
    def slant_range_centre(self) -> float:
        """Slant range (m) of the centre pixel."""
        return float(self.slant_range(np.array([(self.width - 1) / 2.0]))[0])

    # ---- per pixel ---------------------------------------------------------------------
    def slant_range(self, rg) -> np.ndarray:
        """Slant range (m) of range pixel(s) ``rg`` (0-based, may be fractional), float64."""
        re, rs = self.earth_radius_m, self.sat_radius
        gamma_c = np.deg2rad(self.incidence_deg) - self.look_centre
        gamma = gamma_c + (np.asarray(rg, dtype=np.float64) - (self.width - 1) / 2.0) * self.pixel_m / re
        return np.sqrt(rs * rs + re * re - 2.0 * rs * re * np.cos(gamma))

    def look_angle(self, r, h) -> np.ndarray:
        """Look angle (rad) of a point at slant range ``r`` (m) and height ``h`` (m)."""
        r = np.asarray(r, dtype=np.float64)
        rs, rh = self.sat_radius, self.earth_radius_m + np.asarray(h, dtype=np.float64)
        return np.arccos((rs * rs + r * r - rh * rh) / (2.0 * rs * r))

    def incidence(self, look, h) -> np.ndarray:
        """Incidence angle (rad) at height ``h`` (m) for look angle ``look`` (rad)."""
        return np.arcsin(self.sat_radius * np.sin(look) / (self.earth_radius_m + np.asarray(h, dtype=np.float64)))

    def east_north(self, az, rg) -> tuple[np.ndarray, np.ndarray]:
        """Ground offsets (m) east and north of the scene centre of pixels (az, rg), float64."""
        h = np.deg2rad(self.heading_deg)
        da = (np.asarray(az, dtype=np.float64) - (self.length - 1) / 2.0) * self.pixel_m
        dr = (np.asarray(rg, dtype=np.float64) - (self.width - 1) / 2.0) * self.pixel_m
        east = dr * np.cos(h) + da * np.sin(h)
        north = -dr * np.sin(h) + da * np.cos(h)
        return east, north

    def lonlat(self, east, north) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (deg) of east/north offsets (m), float64."""
        phi = np.deg2rad(self.lat0)
        w = 1.0 - WGS84_E2 * np.sin(phi) ** 2
        n0 = WGS84_A / np.sqrt(w)
        m0 = WGS84_A * (1.0 - WGS84_E2) / w ** 1.5
        lon = self.lon0 + np.rad2deg(np.asarray(east) / (n0 * np.cos(phi)))
        lat = self.lat0 + np.rad2deg(np.asarray(north) / m0)
        return lon, lat

    def bperp(self, look, bperp_c, bpar_c) -> np.ndarray:
        """Per-pixel perpendicular baseline (m): ``look`` (n,) rad, baselines (N,) -> (n, N)."""
        d = np.asarray(look, dtype=np.float64)[:, None] - self.look_centre
        return np.asarray(bperp_c)[None, :] * np.cos(d) - np.asarray(bpar_c)[None, :] * np.sin(d)

    # ---- mt_extract_info grids --------------------------------------------------------
    def grid_ranges(self) -> np.ndarray:
        """Range positions of the 50 grid columns: ``linspace(0, width, 50)`` (ps_load_initial)."""
        return np.linspace(0.0, float(self.width), GRID_N)

    def look_angle_grid(self) -> np.ndarray:
        """(50, 50, 2) look angle in degrees [az row, rg col, height] (azimuth-invariant)."""
        r = self.slant_range(self.grid_ranges())
        cols = np.stack([np.rad2deg(self.look_angle(r, h)) for h in GRID_HEIGHTS], axis=-1)
        return np.broadcast_to(cols, (GRID_N, GRID_N, 2))

    def bperp_grid(self, bperp_c: float, bpar_c: float) -> np.ndarray:
        """(50, 50, 2) Bperp (m) of one slave on the grid at heights 0 and 1000 m."""
        r = self.slant_range(self.grid_ranges())
        cols = np.stack([self.bperp(self.look_angle(r, h), [bperp_c], [bpar_c])[:, 0] for h in GRID_HEIGHTS],
                        axis=-1)
        return np.broadcast_to(cols, (GRID_N, GRID_N, 2))


def geometry_from_config(cfg) -> Geometry:
    """The :class:`Geometry` of a :class:`~pystamps_batch.synth.config.SynthConfig`."""
    return Geometry(cfg.width, cfg.length, cfg.pixel_m, cfg.incidence_deg, cfg.altitude_m,
                    cfg.earth_radius_m, cfg.heading_deg, cfg.lat0, cfg.lon0)
