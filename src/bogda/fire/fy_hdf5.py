"""FY-3D MERSI-II and FY-4A/4B AGRI fire products in HDF5/netCDF-4 (fire.md §2.4, §9).

What fire.md documents about these products is their naming, resolution and family: NSMC file names such as
``FY4A-_AGRI--_N_DISK_1047E_L2-_FHS-_MULT_NOM_{start}_{end}_2000M_V0001.NC`` (FY-4 fire/hot spot, 2 km, geostationary
at the longitude in the name) and ``FY3D_MERSI_…_L2_…_1000M_….HDF`` (FY-3D MERSI-II L2, 1 km), read through
"adapters with configurable column profiles". No sample file exists and the internal layout is an open question
(§9), so :class:`HDF5Profile` names, per field, the dataset names the reader looks for (matched case-insensitively
anywhere in the file, group path ignored; the first name found wins), and the reader accepts the two layouts such
products use:

* **point list** — 1-D datasets of equal length, one element per fire pixel: latitude, longitude and optionally
  intensity/FRP, confidence, pixel area and fire-region number (火区号);
* **fire mask grid** — a 2-D class dataset (fire/hot-spot mask) with either 2-D latitude/longitude datasets of the
  same shape (polar granules) or, for an FY-4 full disk or region without them, the CGMS geostationary navigation of
  the fixed grid (COFF/CFAC/LOFF/LFAC by resolution, sub-satellite longitude from the name, line/pixel offsets of a
  region from the file's attributes).

Which mask values mean "fire" comes from the dataset's CF ``flag_values``/``flag_meanings`` attributes (meanings
containing "fire") or from the profile; with neither, the file is refused rather than guessed. Fill values
(``_FillValue``/``FillValue`` attribute) become nulls and are reported as rejected rows, as are pixels off the Earth
disk. Every file error names the file and the dataset at fault.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bogda.fire.config import FireConfig
from bogda.fire.records import FileContext, FireFormatError, ReadResult, RejectedRow, normalise_rows

FY_HDF5_NAME = re.compile(r"^(FY\d[A-D])[-_]", re.IGNORECASE)
_FY4_NAME = re.compile(
    r"^(FY4[AB])-_AGRI--_N_(DISK|REGC|REGX)_(\d{4})E_L2-_(\w{3})-_\w+?_(\d{14})_(\d{14})_(\d+)M_", re.IGNORECASE
)
_FY3_TIME = re.compile(r"_(\d{8})_(\d{4})_")

# CGMS fixed-grid constants of FY-4 AGRI by resolution [m]: (COFF = LOFF, CFAC = LFAC); the full disk is centred
# on COFF/LOFF (LRIT/HRIT Global Specification §4.4.4; the values of the AGRI L1 navigation)
AGRI_GRID: dict[int, tuple[float, float]] = {
    500: (10991.5, 81865099.0),
    1000: (5495.5, 40932549.0),
    2000: (2747.5, 20466274.0),
    4000: (1373.5, 10233137.0),
}
EARTH_EQ_KM = 6378.137
EARTH_POL_KM = 6356.7523
GEO_ORBIT_KM = 42164.0  # distance satellite – Earth centre


@dataclass(frozen=True)
class HDF5Profile:
    """Dataset names of an FY fire product, per field (case-insensitive, group path ignored; first found wins).

    Every tuple is a default to extend per product version (fire.md §5: not a format fact).
    """

    lat: tuple[str, ...] = ("latitude", "lat", "fp_latitude", "fire_latitude", "纬度")
    lon: tuple[str, ...] = ("longitude", "lon", "fp_longitude", "fire_longitude", "经度")
    intensity: tuple[str, ...] = ("frp", "fire_radiative_power", "fp_power", "fire_intensity", "intensity", "火点强度")
    confidence: tuple[str, ...] = ("confidence", "fp_confidence", "fire_confidence", "reliability", "火点可信度")
    pixel_area: tuple[str, ...] = ("pixel_area", "fp_area", "area", "像元面积")
    hot_group: tuple[str, ...] = ("fire_region", "fire_region_no", "fp_region", "region_id", "火区号")
    mask: tuple[str, ...] = ("fire_mask", "firemask", "fhs", "fpa", "fire_flag", "fire_point_mask")
    fire_values: tuple[int, ...] | None = None  # mask values meaning fire when the file has no flag attributes
    fill_attrs: tuple[str, ...] = ("_FillValue", "FillValue", "fill_value")
    unit_attrs: tuple[str, ...] = ("units", "unit", "Units")
    line_offset_attrs: tuple[str, ...] = ("Begin Line Number", "begin_line_number", "line_offset")
    pixel_offset_attrs: tuple[str, ...] = ("Begin Pixel Number", "begin_pixel_number", "pixel_offset")
    grid: dict[int, tuple[float, float]] = field(default_factory=lambda: dict(AGRI_GRID))


def _index(h5: Any) -> dict[str, Any]:
    """Every dataset of the file by lower-cased base name (the first one in visiting order wins)."""
    import h5py

    out: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            out.setdefault(name.rsplit("/", 1)[-1].lower(), obj)

    h5.visititems(visit)
    return out


def _find(datasets: dict[str, Any], names: Sequence[str]) -> Any | None:
    for n in names:
        ds = datasets.get(n.lower())
        if ds is not None:
            return ds
    return None


def _attr(obj: Any, names: Sequence[str]) -> Any | None:
    for n in names:
        if n in obj.attrs:
            v = obj.attrs[n]
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            if isinstance(v, np.ndarray) and v.size == 1:
                v = v.reshape(-1)[0]
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return None


def _values(ds: Any, name: str, profile: HDF5Profile, source: str) -> np.ndarray:
    """The dataset as float64 with fill values as NaN; scale_factor/add_offset applied when present."""
    try:
        raw = ds[()]
    except Exception as exc:  # h5py raises OSError/KeyError/TypeError variants for damaged datasets
        raise FireFormatError(f"{source}: dataset {ds.name} ({name}) cannot be read: {exc}") from exc
    if raw.dtype.kind not in "iuf":
        raise FireFormatError(f"{source}: dataset {ds.name} ({name}) is not numeric (dtype {raw.dtype})")
    arr = np.asarray(raw, dtype=np.float64)
    fill = _attr(ds, profile.fill_attrs)
    if fill is not None:
        arr = np.where(arr == float(fill), np.nan, arr)
    scale, offset = _attr(ds, ("scale_factor",)), _attr(ds, ("add_offset",))
    if scale is not None or offset is not None:
        arr = arr * float(scale if scale is not None else 1.0) + float(offset if offset is not None else 0.0)
    return arr


def _means_fire(meaning: str) -> bool:
    """A CF flag meaning naming a fire class (``fire``, ``fire_point``, ``possible_fire``), not its absence
    (``no_fire``, ``non_fire``, ``not_fire``)."""
    w = meaning.lower()
    return "fire" in w and not re.match(r"^(no|non|not)[_\-]?fire", w)


def _fire_values(ds: Any, profile: HDF5Profile, source: str) -> np.ndarray:
    flags, meanings = _attr(ds, ("flag_values",)), _attr(ds, ("flag_meanings",))
    if flags is not None and meanings is not None:
        values = np.atleast_1d(np.asarray(ds.attrs["flag_values"]))
        words = str(meanings).split()
        if len(words) != len(values):
            raise FireFormatError(
                f"{source}: dataset {ds.name}: {len(values)} flag_values but {len(words)} flag_meanings"
            )
        fire = [v for v, w in zip(values.tolist(), words, strict=True) if _means_fire(w)]
        if fire:
            return np.asarray(fire, dtype=np.float64)
    if profile.fire_values:
        return np.asarray(profile.fire_values, dtype=np.float64)
    raise FireFormatError(
        f"{source}: dataset {ds.name} has no flag_values/flag_meanings naming a fire class and the profile sets no "
        "fire_values: which mask values mean fire is unknown (set HDF5Profile.fire_values)"
    )


def agri_navigation(
    line: np.ndarray, column: np.ndarray, *, resolution_m: int, sub_lon: float, grid: dict[int, tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude [°] of FY-4 AGRI fixed-grid pixels (CGMS normalized geostationary projection).

    Parameters
    ----------
    line, column : arrays
        0-based full-disk line and column numbers (a region adds its begin line/pixel).
    resolution_m : int
        Nominal resolution at the sub-satellite point (500, 1000, 2000, 4000 m).
    sub_lon : float
        Sub-satellite longitude [°E] (104.7 for FY-4A, 105.0/133.0 for FY-4B, from the file name).

    Returns
    -------
    lat, lon : arrays, NaN off the Earth disk
    """
    if resolution_m not in grid:
        raise ValueError(f"no fixed-grid constants for {resolution_m} m; known: {sorted(grid)}")
    off, fac = grid[resolution_m]
    x = np.radians((np.asarray(column, dtype=np.float64) - off) * 65536.0 / fac)
    y = np.radians((np.asarray(line, dtype=np.float64) - off) * 65536.0 / fac)
    k = (EARTH_EQ_KM / EARTH_POL_KM) ** 2
    cx, cy, sx, sy = np.cos(x), np.cos(y), np.sin(x), np.sin(y)
    a = cy**2 + k * sy**2
    b = GEO_ORBIT_KM * cx * cy
    disc = b**2 - a * (GEO_ORBIT_KM**2 - EARTH_EQ_KM**2)
    with np.errstate(invalid="ignore"):
        sn = (b - np.sqrt(disc)) / a  # NaN off the disk (negative discriminant)
    s1 = GEO_ORBIT_KM - sn * cx * cy
    s2 = sn * sx * cy
    s3 = -sn * sy
    lon = np.degrees(np.arctan2(s2, s1)) + sub_lon
    lat = np.degrees(np.arctan(k * s3 / np.hypot(s1, s2)))
    lon = (lon + 180.0) % 360.0 - 180.0
    return lat, lon


def _file_time(name: str, h5: Any) -> datetime | None:
    m = _FY4_NAME.match(name)
    if m:
        return datetime.strptime(m.group(5), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    d = _attr(h5, ("Observing Beginning Date", "observing_beginning_date"))
    t = _attr(h5, ("Observing Beginning Time", "observing_beginning_time"))
    if d is not None and t is not None:
        text = f"{d} {str(t)[:8]}"
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError as exc:
            raise FireFormatError(f"{name}: unreadable observing time attributes {text!r}") from exc
    m3 = _FY3_TIME.search(name)
    if m3:
        return datetime.strptime(m3.group(1) + m3.group(2), "%Y%m%d%H%M").replace(tzinfo=UTC)
    return None


def read_fy_hdf5(
    path: str | Path, *, profile: HDF5Profile | None = None, config: FireConfig | None = None
) -> ReadResult:
    """Read an FY-3D MERSI-II or FY-4A/4B AGRI fire product (HDF5 / netCDF-4) into the detection frame.

    Raises
    ------
    FireFormatError
        Not an HDF5 file; neither a point list nor a fire mask found (lists the datasets present and the names
        looked for); datasets of different lengths or shapes; an unreadable or non-numeric dataset; mask values
        meaning fire unknown; no observation time in the name or attributes; a disk grid of unknown resolution.
    """
    import h5py

    p = Path(path)
    name = p.name
    prof = profile or (config.hdf5_profile if config is not None else None) or HDF5Profile()
    try:
        h5 = h5py.File(p, "r")
    except OSError as exc:
        raise FireFormatError(f"{name}: not a readable HDF5/netCDF-4 file ({exc})") from exc
    with h5:
        datasets = _index(h5)
        m4 = _FY4_NAME.match(name)
        sat_m = FY_HDF5_NAME.match(name)
        sat = (m4.group(1) if m4 else sat_m.group(1) if sat_m else _attr(h5, ("Satellite Name", "satellite"))) or None
        sat = str(sat).upper() if sat else None
        sensor = None if sat is None else ("AGRI" if sat.startswith("FY4") else "MERSI")
        t0 = _file_time(name, h5)
        if t0 is None:
            raise FireFormatError(
                f"{name}: no observation time: neither an NSMC file name with start time nor the "
                "'Observing Beginning Date'/'Observing Beginning Time' attributes"
            )
        lat_ds, lon_ds = _find(datasets, prof.lat), _find(datasets, prof.lon)
        mask_ds = _find(datasets, prof.mask)
        columns: dict[str, np.ndarray] = {}
        rejected: list[RejectedRow] = []
        if mask_ds is not None and mask_ds.ndim == 2:
            lat, lon, line_no, extra = _from_mask(h5, datasets, mask_ds, lat_ds, lon_ds, m4, prof, name)
            columns.update(extra)
            product = "fy_hdf5_mask"
        elif lat_ds is not None and lon_ds is not None:
            lat = _values(lat_ds, "latitude", prof, name)
            lon = _values(lon_ds, "longitude", prof, name)
            if lat.ndim != 1 or lon.ndim != 1 or lat.shape != lon.shape:
                raise FireFormatError(
                    f"{name}: point list needs 1-D latitude and longitude of one length; "
                    f"{lat_ds.name} has shape {lat.shape}, {lon_ds.name} has shape {lon.shape}"
                )
            line_no = np.arange(1, lat.size + 1)
            for key, names in (
                ("intensity", prof.intensity),
                ("confidence", prof.confidence),
                ("pixel_area", prof.pixel_area),
                ("hot_group", prof.hot_group),
            ):
                ds = _find(datasets, names)
                if ds is None:
                    continue
                vals = _values(ds, key, prof, name)
                if vals.shape != lat.shape:
                    raise FireFormatError(
                        f"{name}: dataset {ds.name} ({key}) has shape {vals.shape}, latitude {lat_ds.name} "
                        f"has {lat.shape}"
                    )
                columns[key] = vals
                if key == "intensity":
                    unit = _attr(ds, prof.unit_attrs)
                    columns["_unit_mw"] = np.array([str(unit or "").strip().lower() == "mw"])
            product = "fy_hdf5_points"
        else:
            raise FireFormatError(
                f"{name}: neither a fire point list (1-D {prof.lat[0]}/{prof.lon[0]}, names tried: "
                f"{', '.join(prof.lat)} / {', '.join(prof.lon)}) nor a 2-D fire mask ({', '.join(prof.mask)}) "
                f"found; datasets present: {', '.join(sorted(d.name for d in datasets.values())) or 'none'}"
            )
    return _to_result(name, product, sat, sensor, t0, lat, lon, line_no, columns, rejected, config)


def _from_mask(
    h5: Any,
    datasets: dict[str, Any],
    mask_ds: Any,
    lat_ds: Any | None,
    lon_ds: Any | None,
    m4: re.Match[str] | None,
    prof: HDF5Profile,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    mask = _values(mask_ds, "fire mask", prof, name)
    fire = np.isin(mask, _fire_values(mask_ds, prof, name))
    rows, cols = np.nonzero(fire)
    if lat_ds is not None and lon_ds is not None and lat_ds.ndim == 2:
        lat2, lon2 = _values(lat_ds, "latitude", prof, name), _values(lon_ds, "longitude", prof, name)
        for ds, arr in ((lat_ds, lat2), (lon_ds, lon2)):
            if arr.shape != mask.shape:
                raise FireFormatError(
                    f"{name}: dataset {ds.name} has shape {arr.shape}, fire mask {mask_ds.name} has {mask.shape}"
                )
        lat, lon = lat2[rows, cols], lon2[rows, cols]
    elif m4 is not None:
        res = int(m4.group(7))
        if res not in prof.grid:
            raise FireFormatError(f"{name}: no fixed-grid constants for {res} m (known: {sorted(prof.grid)})")
        line0 = _attr(mask_ds, prof.line_offset_attrs)
        line0 = _attr(h5, prof.line_offset_attrs) if line0 is None else line0
        pix0 = _attr(mask_ds, prof.pixel_offset_attrs)
        pix0 = _attr(h5, prof.pixel_offset_attrs) if pix0 is None else pix0
        if m4.group(2).upper() == "DISK":
            size = round(2 * prof.grid[res][0] + 1)
            if mask.shape != (size, size) and (line0 is None or pix0 is None):
                raise FireFormatError(
                    f"{name}: full-disk mask {mask_ds.name} has shape {mask.shape}, expected {(size, size)} at "
                    f"{res} m (or begin line/pixel attributes for a subset)"
                )
        elif line0 is None or pix0 is None:
            raise FireFormatError(
                f"{name}: regional mask {mask_ds.name} without begin line/pixel attributes "
                f"({prof.line_offset_attrs[0]!r}, {prof.pixel_offset_attrs[0]!r}): cannot navigate"
            )
        lat, lon = agri_navigation(
            rows + float(line0 or 0),
            cols + float(pix0 or 0),
            resolution_m=res,
            sub_lon=int(m4.group(3)) / 10.0,
            grid=prof.grid,
        )
    else:
        raise FireFormatError(
            f"{name}: fire mask {mask_ds.name} has no 2-D latitude/longitude datasets and the name is not an NSMC "
            "FY-4 AGRI name (…_N_DISK|REGC_1047E_L2-_FHS-_…_2000M_…) whose fixed grid could be navigated"
        )
    extra: dict[str, np.ndarray] = {"mask_value": mask[rows, cols]}
    for key, names in (("intensity", prof.intensity), ("confidence", prof.confidence)):
        ds = _find(datasets, names)
        if ds is not None and ds.shape == mask.shape:
            extra[key] = _values(ds, key, prof, name)[rows, cols]
    # record number = 1 + row-major position in the mask, so a rejected pixel can be found again
    return lat, lon, rows * mask.shape[1] + cols + 1, extra


def _fmt(v: float) -> str | None:
    return None if not np.isfinite(v) else repr(float(v))


def _to_result(
    name: str,
    product: str,
    sat: str | None,
    sensor: str | None,
    t0: datetime,
    lat: np.ndarray,
    lon: np.ndarray,
    line_no: np.ndarray,
    columns: dict[str, np.ndarray],
    rejected: list[RejectedRow],
    config: FireConfig | None,
) -> ReadResult:
    frp_mw = bool(columns.pop("_unit_mw", np.array([False]))[0])
    mask_value = columns.pop("mask_value", None)
    headers = ["latitude", "longitude"]
    series = [lat, lon]
    for key, header in (
        ("intensity", "frp(MW)" if frp_mw else "火点强度"),
        ("confidence", "火点可信度"),
        ("pixel_area", "像元面积"),
        ("hot_group", "火区号"),
    ):
        if key in columns:
            headers.append(header)
            series.append(columns[key])
    if mask_value is not None:
        headers.append("fire_mask_value")
        series.append(mask_value)
    rows = []
    for i in range(lat.size):
        cells = []
        for h, s in zip(headers, series, strict=True):
            v = s[i]
            if h in ("火点可信度", "火区号", "fire_mask_value") and np.isfinite(v) and float(v).is_integer():
                cells.append(str(int(v)))
            else:
                cells.append(_fmt(v))
        rows.append(cells)
    located = np.isfinite(lat) & np.isfinite(lon)
    for i in np.flatnonzero(~located):
        rejected.append(
            RejectedRow(name, int(line_no[i]), "lat/lon", "fill value or pixel off the Earth disk", str(rows[i]))
        )
    keep = np.flatnonzero(located).tolist()
    ctx = FileContext(
        source_file=name,
        product=product,
        satellite=sat,
        sensor=sensor,
        acq_time_utc=t0,
        frp_unit="MW" if frp_mw else "unknown",
        frp_is_mw=frp_mw,
        daynight_from_sun=True,
        default_processing="NRT",
    )
    res = normalise_rows(headers, [rows[i] for i in keep], [int(line_no[i]) for i in keep], ctx, config)
    res.rejected[:0] = rejected  # n_rows = ok + bad covers every fire pixel of the file
    return res
