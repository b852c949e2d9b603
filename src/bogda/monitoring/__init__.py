"""Air and water station monitoring (monitoring.md), pure core.

* :mod:`bogda.monitoring.ingest` — ``read_*`` parsers of every input layout into one long frame (UTC interval
  starts, HJ 212-2017 parameter codes, µg/m³ and CO mg/m³), with rejected rows and their reasons.
* :mod:`bogda.monitoring.qa` — QA flags (never deletion), completeness (有效率) with gap reasons, silences and
  offline detection against an explicit ``now``.

No database and no clock here: services pass frames in and store what comes out.
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
