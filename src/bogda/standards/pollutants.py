"""Pollutant keys: HJ 212-2017 codes and the common names that map to them.

bogda's canonical pollutant key is the HJ 212-2017 code (architecture.md §4). Functions of
:mod:`bogda.standards` accept a code or any alias below, case-insensitively:

======== ======= ========= ==========================================
code     name    unit      aliases
======== ======= ========= ==========================================
a34004   PM2.5   µg/m³     PM2.5, pm25, pm2_5, PM2.5, 细颗粒物
a34002   PM10    µg/m³     PM10, pm10, 可吸入颗粒物
a21026   SO2     µg/m³     SO2, so2, 二氧化硫
a21004   NO2     µg/m³     NO2, no2, 二氧化氮
a21005   CO      mg/m³     CO, co, 一氧化碳
a05024   O3      µg/m³     O3, o3, 臭氧
======== ======= ========= ==========================================

Units: every concentration is µg/m³ except CO in mg/m³ (HJ 633-2026 Table 3, GB 3095-2026 Table 1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pollutant:
    """One air pollutant of the AQI (HJ 633)."""

    code: str
    name: str
    name_zh: str
    unit: str
    decimals: int
    """Published decimals (HJ 633-2026 4.2.2): 0 for µg/m³ items, 1 for CO [mg/m³]."""


POLLUTANTS: dict[str, Pollutant] = {
    p.code: p
    for p in (
        Pollutant("a21026", "SO2", "二氧化硫", "µg/m³", 0),
        Pollutant("a21004", "NO2", "二氧化氮", "µg/m³", 0),
        Pollutant("a21005", "CO", "一氧化碳", "mg/m³", 1),
        Pollutant("a05024", "O3", "臭氧", "µg/m³", 0),
        Pollutant("a34002", "PM10", "可吸入颗粒物", "µg/m³", 0),
        Pollutant("a34004", "PM2.5", "细颗粒物", "µg/m³", 0),
    )
}
"""The six AQI pollutants by HJ 212-2017 code."""

_ALIASES: dict[str, str] = {}
for _p in POLLUTANTS.values():
    for _a in (_p.code, _p.name, _p.name_zh, _p.name.replace(".", ""), _p.name.replace(".", "_")):
        _ALIASES[_a.lower()] = _p.code


def pollutant_code(name: str) -> str:
    """HJ 212-2017 code of a pollutant given its code or a common name.

    Raises
    ------
    KeyError
        naming the unknown pollutant and the accepted names.

    >>> pollutant_code("PM2.5"), pollutant_code("pm25"), pollutant_code("a21026"), pollutant_code("臭氧")
    ('a34004', 'a34004', 'a21026', 'a05024')
    """
    code = _ALIASES.get(str(name).strip().lower())
    if code is None:
        raise KeyError(
            f"unknown pollutant {name!r}; expected one of {sorted({p.name for p in POLLUTANTS.values()})}"
            " or their HJ 212-2017 codes"
        )
    return code


def pollutant(name: str) -> Pollutant:
    """The :class:`Pollutant` for a code or alias.

    >>> pollutant("co").unit
    'mg/m³'
    """
    return POLLUTANTS[pollutant_code(name)]
