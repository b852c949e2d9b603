"""Readers of air-station data into bogda's long observation frame (monitoring.md §2).

Every ``read_*`` function parses a file (path, ``bytes``, gzip or not) and returns a :class:`ReadResult`: a long
Polars frame with the columns of :data:`LONG_SCHEMA` plus the list of rejected rows and cells, each naming the file,
line, column and reason. Nothing here touches the database or the clock (``read_*`` parse, ``load_*`` write:
architecture.md §5).

Time convention
---------------
``ts`` is the UTC **start** of the interval the value covers (architecture.md §4). Each profile declares how its
source labels an hour (``hour_label``):

=====================  ============  ==========================================================================
profile                hour_label    conversion (label printed in Beijing time, UTC+8)
=====================  ============  ==========================================================================
CNEMC daily files      ``end``       row (D, H) is the mean over [H-1:00, H:00) → ``ts = D H:00 - 9 h``;
                                     H = 0 is 23:00-24:00 of D-1 (monitoring.md §2.1)
pm25.in-style hourly   ``end``       as CNEMC
PRSA Beijing hourly    ``start``     ``ts = Y-M-D h:00 - 8 h``
aqistudy daily city    day           ``ts`` = 00:00 Beijing of the date = D-1 16:00 UTC, resolution ``day``
HJ 212 (CN 2051/2061)  ``start``     DataTime is the interval start; CN 2011 is a sampling moment (``rt``)
=====================  ============  ==========================================================================

The shift is taken from :func:`bogda.timeutil.interval_start` so that the convention lives in one place.

Parameter codes
---------------
HJ 212-2017 codes for the six pollutants (a34004 PM2.5, a34002 PM10, a21026 SO2, a21004 NO2, a21005 CO,
a05024 O3); the published derived series keep their own names (monitoring.md §2.2), see :data:`CNEMC_TYPES`.
Units: µg/m³, **CO in mg/m³**; AQI is dimensionless (unit ``"1"``).

The readers live in :mod:`bogda.monitoring.formats` (one module per layout); this module re-exports them.
"""

from __future__ import annotations

from bogda.monitoring.formats.cnemc import CNEMC_TYPES, read_cnemc
from bogda.monitoring.formats.common import (
    CONFLICTING_DUPLICATE,
    INDEX,
    LONG_SCHEMA,
    MG,
    NATIONAL_CODE,
    POLLUTANT_UNITS,
    POLLUTANTS,
    STATION_CODE,
    TS_DTYPE,
    UG,
    UNKNOWN_STATION,
    ZONELESS_TIME,
    FileRefused,
    ReadResult,
    Rejection,
    decode_text,
    empty_frame,
)
from bogda.monitoring.formats.hj212_values import HJ212_CN, HJ212_DEFAULT_UNITS, hours_from_minutes, read_hj212_values
from bogda.monitoring.formats.profiles import (
    AQISTUDY_COLUMNS,
    AQISTUDY_PLACES,
    COMPASS_16,
    PM25IN_COLUMNS,
    PRSA_COLUMNS,
    PRSA_STATIONS,
    PRSA_UNITS,
    read_aqistudy,
    read_pm25in,
    read_prsa,
)
from bogda.monitoring.formats.revisions import diff_refetch, poll_windows
from bogda.monitoring.formats.stations import read_stations, station_base_name

__all__ = [
    "AQISTUDY_COLUMNS",
    "AQISTUDY_PLACES",
    "CNEMC_TYPES",
    "COMPASS_16",
    "CONFLICTING_DUPLICATE",
    "HJ212_CN",
    "HJ212_DEFAULT_UNITS",
    "INDEX",
    "LONG_SCHEMA",
    "MG",
    "NATIONAL_CODE",
    "PM25IN_COLUMNS",
    "POLLUTANTS",
    "POLLUTANT_UNITS",
    "PRSA_COLUMNS",
    "PRSA_STATIONS",
    "PRSA_UNITS",
    "STATION_CODE",
    "TS_DTYPE",
    "UG",
    "UNKNOWN_STATION",
    "ZONELESS_TIME",
    "FileRefused",
    "ReadResult",
    "Rejection",
    "decode_text",
    "diff_refetch",
    "empty_frame",
    "hours_from_minutes",
    "poll_windows",
    "read_aqistudy",
    "read_cnemc",
    "read_hj212_values",
    "read_pm25in",
    "read_prsa",
    "read_stations",
    "station_base_name",
]
