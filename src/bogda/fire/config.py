"""Parameters of the fire pipeline (fire.md §5). Every value that is not a format fact is a configurable default."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

CropWindow = tuple[tuple[int, int], tuple[int, int]]
"""((month, day) first, (month, day) last), both inclusive, Beijing calendar."""

NATIONAL_CROP_WINDOWS: tuple[CropWindow, ...] = (((5, 20), (7, 31)), ((9, 20), (11, 20)))
"""The national straw-burning campaign seasons (fire.md §3.9); set local windows per prefecture."""

NOMINAL_PIXEL_KM: dict[str, float] = {"MODIS": 1.0, "VIIRS": 0.375, "AGRI": 2.0, "MERSI": 1.0}
"""Nominal scan/track size [km] when a file gives none (fire.md §2.1); AHI uses √area."""

GEOSTATIONARY = frozenset({"AHI", "AGRI"})
POLAR = frozenset({"MODIS", "VIIRS", "MERSI"})


@dataclass(frozen=True)
class FireConfig:
    """Defaults of fire.md §5. Distances [km], times as :class:`~datetime.timedelta`."""

    # §2.3 MODIS confidence classes: < low_below → low, ≥ high_from → high
    modis_low_below: float = 30.0
    modis_high_from: float = 80.0
    fy_confidence_map: dict[str, str] = field(default_factory=dict)
    # FY-3D/FY-4 HDF5 dataset names (bogda.fire.fy_hdf5.HDF5Profile); None → its defaults
    hdf5_profile: Any = None
    # §3.3 spurious test (activefires-pp): VIIRS bt/frp > ratio and bt > k
    spurious_ratio: float = 1000.0
    spurious_bt_k: float = 310.0
    # §3.3 registry buffers by sensor
    registry_buffer_km: dict[str, float] = field(
        default_factory=lambda: {"VIIRS": 1.0, "MODIS": 1.5, "MERSI": 1.5, "AHI": 3.0, "AGRI": 3.0}
    )
    use_external_mask: bool = True
    # §3.4 footprint margin and overpass gap
    footprint_margin_km: float = 0.15
    overpass_gap: timedelta = timedelta(minutes=10)
    # §3.5 link floors
    link_floor_viirs_km: float = 1.0
    link_floor_modis_km: float = 1.5
    link_floor_geo_km: float = 4.0
    footprint_recent: timedelta = timedelta(days=5)
    event_sleep: timedelta = timedelta(days=5)
    event_close: timedelta = timedelta(days=20)
    # §3.7 alerts
    attach_km: float = 1.0
    suppress_km: float = 1.0
    suppress_window: timedelta = timedelta(hours=6)
    escalation_factor: float = 2.0
    nearest_source_km: float = 3.0
    false_site_km: float = 1.0
    false_site_window: timedelta = timedelta(days=365)
    false_site_count: int = 2
    # §3.8 statistics
    dedup_window: timedelta = timedelta(minutes=60)
    bulletin_match_km: float = 1.5
    # §3.9 learned persistence
    learned_lookback: timedelta | None = timedelta(days=365)
    rule_a_days: int = 10
    rule_a_months: int = 3
    rule_b_days: int = 3
    candidate_days: int = 2
    split_km: float = 5.0
    split_cell_deg: float = 0.025  # square-cell stand-in for H3 resolution 7 (~5 km² cells) when h3 is absent
    crop_windows: tuple[CropWindow, ...] = NATIONAL_CROP_WINDOWS
    # Recurrence grid mask (issue 8: "same place on N of M days"), a simpler, additional learned mask
    recurrence_cell_deg: float = 0.01
    recurrence_n_days: int = 3
    recurrence_m_days: int = 30

    def buffer_for(self, sensor: str) -> float:
        """Registry buffer [km] for a sensor (MODIS's for unknown sensors)."""
        return self.registry_buffer_km.get(sensor, self.registry_buffer_km.get("MODIS", 1.5))
