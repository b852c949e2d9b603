"""Air and water station monitoring (monitoring.md), pure core.

* :mod:`bogda.monitoring.ingest` — ``read_*`` parsers of every input layout into one long frame (UTC interval
  starts, HJ 212-2017 parameter codes, µg/m³ and CO mg/m³), with rejected rows and their reasons.
* :mod:`bogda.monitoring.qa` — QA flags (never deletion), completeness (有效率) with gap reasons, silences and
  offline detection against an explicit ``now``.

* :mod:`bogda.monitoring.aqi_tables` — hourly and daily AQI of stations and areas; ``update_aqi`` (incremental).
* :mod:`bogda.monitoring.alarm_rules` / :mod:`bogda.monitoring.alarms` — same-day alarm rules (pure) and the
  engine that files findings (never tasks).
* :mod:`bogda.monitoring.assessment` — day counts, means, percentiles, composite index, rankings, dust modes.
* :mod:`bogda.monitoring.water` — water samples and GB 3838-2002 classes.
* :mod:`bogda.monitoring.exports` — CSV / Excel / Parquet exports and background export jobs.
* Services over the store: :mod:`~bogda.monitoring.stations` (registration, area membership),
  :mod:`~bogda.monitoring.load` (``load_*``, QA flags, dirty days), :mod:`~bogda.monitoring.status` (the network
  now, completeness).

``ingest`` and ``qa`` and the pure halves of the other modules hold no database and no clock; the services pass
frames in and store what comes out.
"""

from __future__ import annotations

from bogda.monitoring.ingest import (
    FileRefused,
    ReadResult,
    Rejection,
    read_aqistudy,
    read_cnemc,
    read_hj212_values,
    read_pm25in,
    read_prsa,
    read_stations,
)
from bogda.monitoring.qa import QAConfig, apply_qa, completeness, station_completeness, station_status

__all__ = [
    "FileRefused",
    "QAConfig",
    "ReadResult",
    "Rejection",
    "apply_qa",
    "completeness",
    "read_aqistudy",
    "read_cnemc",
    "read_hj212_values",
    "read_pm25in",
    "read_prsa",
    "read_stations",
    "station_completeness",
    "station_status",
]
