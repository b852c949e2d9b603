"""HJ 212 code tables as data: system codes, command codes, return codes, suffixes, flags, factor codes,
the HJ/T 212-2005 <-> HJ 212-2017 factor mapping, vendor aliases and default units.

Sources: HJ 212-2017 Tables 4-9 and Appendix B (B.1 air, B.2 water), HJ/T 212-2005 Tables 5-7 and
Appendix B, spec hj212.md §5. Entries marked 2025 come from third-party code, not the 2025 text (spec §10).
Units are **not** carried by the protocol: :func:`unit_for` resolves them from a mapping the caller passes
in (the registry's per-device units), then bogda's defaults (spec §3.7, §5.4).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------------------
# System codes ST [HJ 212-2017 Table 5]
ST_2017: dict[str, tuple[str, str]] = {
    "21": ("地表水质量监测", "surface water quality"),
    "22": ("空气质量监测", "ambient air quality"),
    "23": ("声环境质量监测", "acoustic environment"),
    "24": ("地下水质量监测", "groundwater quality"),
    "25": ("土壤质量监测", "soil quality"),
    "26": ("海水质量监测", "sea water quality"),
    "27": ("挥发性有机物监测", "volatile organic compounds"),
    "31": ("大气环境污染源", "air pollution source (CEMS)"),
    "32": ("地表水体环境污染源", "water pollution source"),
    "33": ("地下水体环境污染源", "groundwater pollution source"),
    "34": ("海洋环境污染源", "marine pollution source"),
    "35": ("土壤环境污染源", "soil pollution source"),
    "36": ("声环境污染源", "noise source"),
    "37": ("振动环境污染源", "vibration source"),
    "38": ("放射性环境污染源", "radioactive source"),
    "39": ("工地扬尘污染源", "construction dust source"),
    "41": ("电磁环境污染源", "electromagnetic source"),
    "51": ("烟气排放过程监控", "flue-gas process monitoring"),
    "52": ("污水排放过程监控", "waste-water process monitoring"),
    "91": ("系统交互", "system interaction"),
}
ST_SEEN_OUTSIDE: dict[str, tuple[str, str]] = {
    "80": ("用电监控（非标准）", "electricity monitoring (non-standard)"),
    "101": ("非标准系统编码", "non-standard system code"),
}

# --------------------------------------------------------------------------------------------------------
# Command codes CN [HJ 212-2017 Table 9; HJ/T 212-2005 Table 7]
CN_2017: dict[str, tuple[str, str]] = {
    "1000": ("设置超时时间及重发次数", "set timeout and retries"),
    "1011": ("提取现场机时间", "get logger time"),
    "1012": ("设置现场机时间", "set logger time"),
    "1013": ("现场机时间校准请求", "time calibration request"),
    "1061": ("提取实时数据间隔", "get real-time data interval"),
    "1062": ("设置实时数据间隔", "set real-time data interval"),
    "1063": ("提取分钟数据间隔", "get minute data interval"),
    "1064": ("设置分钟数据间隔", "set minute data interval"),
    "1072": ("设置现场机访问密码", "set logger password"),
    "2011": ("实时数据", "real-time data"),
    "2012": ("停止察看实时数据", "stop real-time data"),
    "2021": ("设备运行状态", "equipment running state"),
    "2022": ("停止察看设备运行状态", "stop equipment state"),
    "2031": ("日历史数据", "daily data"),
    "2041": ("设备运行时间日历史数据", "daily equipment running time"),
    "2051": ("分钟数据", "minute data"),
    "2061": ("小时数据", "hourly data"),
    "2081": ("数采仪开机时间", "data-logger restart time"),
    "3011": ("零点校准量程校准", "zero and span calibration"),
    "3012": ("即时采样", "immediate sampling"),
    "3013": ("启动清洗/反吹", "start cleaning / blow-back"),
    "3014": ("比对采样", "comparison sampling"),
    "3015": ("超标留样", "sample retention on exceedance"),
    "3016": ("设置采样时间周期", "set sampling period"),
    "3017": ("提取采样时间周期", "get sampling period"),
    "3018": ("提取出样时间", "get sample output time"),
    "3019": ("提取设备唯一标识", "get equipment id"),
    "3020": ("现场机信息", "site information"),
    "3021": ("设置现场机参数", "set site parameters"),
    "9011": ("请求应答", "request answer"),
    "9012": ("执行结果", "execution result"),
    "9013": ("通知应答", "notification answer"),
    "9014": ("数据应答", "data answer"),
}
CN_2005: dict[str, tuple[str, str]] = {
    "1000": ("设置超时时间及重发次数", "set timeout and retries"),
    "1001": ("设置超限报警时间", "set alarm time"),
    "1011": ("提取现场机时间", "get logger time"),
    "1012": ("设置现场机时间", "set logger time"),
    "1021": ("提取污染物报警门限值", "get alarm limits"),
    "1022": ("设置污染物报警门限值", "set alarm limits"),
    "1031": ("提取上位机地址", "get host address"),
    "1032": ("设置上位机地址", "set host address"),
    "1041": ("提取数据上报时间", "get upload time"),
    "1042": ("设置数据上报时间", "set upload time"),
    "1061": ("提取实时数据间隔", "get real-time data interval"),
    "1062": ("设置实时数据间隔", "set real-time data interval"),
    "1072": ("设置访问密码", "set password"),
    "2011": ("实时数据", "real-time data"),
    "2012": ("停止察看实时数据", "stop real-time data"),
    "2021": ("设备运行状态", "equipment running state"),
    "2022": ("停止察看设备运行状态", "stop equipment state"),
    "2031": ("日历史数据", "daily data"),
    "2041": ("设备运行时间日历史数据", "daily equipment running time"),
    "2051": ("分钟数据", "minute data"),
    "2061": ("小时数据", "hourly data"),
    "2071": ("报警记录", "alarm records"),
    "2072": ("报警事件", "alarm event"),
    "3011": ("校零校满", "zero and span calibration"),
    "3012": ("即时采样", "immediate sampling"),
    "3013": ("设备操作", "equipment operation"),
    "3014": ("设置设备采样时间周期", "set sampling period"),
    "9011": ("请求应答", "request answer"),
    "9012": ("执行结果", "execution result"),
    "9013": ("通知应答", "notification answer"),
    "9014": ("数据应答", "data answer"),
}
CN_2025: dict[str, tuple[str, str]] = {
    "9015": ("心跳", "heartbeat"),
    "1014": ("密钥更新", "key update"),
    "2013": ("2025 新增命令", "2025 command"),
    "2052": ("2025 新增命令", "2025 command"),
    "2062": ("2025 新增命令", "2025 command"),
    "2111": ("2025 新增命令", "2025 command"),
    "3022": ("2025 新增命令", "2025 command"),
    "3024": ("2025 新增命令", "2025 command"),
}
CN_VENDOR: dict[str, tuple[str, str]] = {
    "9021": ("登录/心跳（厂商）", "vendor login / heartbeat"),
    "2000": ("厂商命令", "vendor command"),
    **{str(c): ("厂商命令", "vendor command") for c in range(5011, 5052)},
}

KNOWN_CN: frozenset[str] = frozenset(CN_2017) | frozenset(CN_2005)
"""The 2017 ∪ 2005 lists behind the warning ``CN_not_in_2017_or_2005_table`` (spec §3.2)."""

UPLOAD_CN: frozenset[str] = frozenset(
    {"2011", "2021", "2031", "2041", "2051", "2061", "2081", "1011", "1061", "1063", "3015"}
    | {str(c) for c in range(3017, 3021)}
)
"""Device-to-platform data uploads answered with 9014 when A = 1 (spec §3.5)."""
NOTIFY_CN: frozenset[str] = frozenset({"1013", "2072"})
ANSWER_CN: frozenset[str] = frozenset({"9011", "9012", "9013", "9014"})
HEARTBEAT_CN: frozenset[str] = frozenset({"9021", "9015"})
REQUEST_CN: frozenset[str] = frozenset(
    {"1000", "1001", "1011", "1012", "1021", "1022", "1031", "1032", "1041", "1042"}
    | {"1061", "1062", "1063", "1064", "1072", "2011", "2012", "2021", "2022", "2031", "2041", "2051", "2061"}
    | {str(c) for c in range(3011, 3022)}
)
"""Platform-to-device request codes (spec §3.5, §3.6)."""
SET_CN: frozenset[str] = frozenset({"1000", "1012", "1062", "1064", "1072"})
"""Set commands: 9011 then 9012, no data frames (spec §3.8)."""
NOTIFY_COMMAND_CN: frozenset[str] = frozenset({"2012", "2022"})
"""Platform notifications a device answers with 9013 only (spec §3.8)."""
RECALL_CN: frozenset[str] = frozenset({"2031", "2041", "2051", "2061"})

OBSERVATION_KIND: dict[str, str] = {
    "2011": "rtd",
    "2051": "min",
    "2061": "hour",
    "2031": "day",
    "2041": "runtime",
    "2021": "state",
    "3020": "info",
}
"""Observation kind per upload CN (spec §4.2)."""

QN_RTN: dict[int, tuple[str, str]] = {
    1: ("准备执行请求", "ready to execute"),
    2: ("请求被拒绝", "refused"),
    3: ("PW 错误", "PW error"),
    4: ("MN 错误", "MN error"),
    5: ("ST 错误", "ST error"),
    6: ("Flag 错误", "Flag error"),
    7: ("QN 错误", "QN error"),
    8: ("CN 错误", "CN error"),
    9: ("CRC 校验错误", "CRC error"),
    100: ("未知错误", "unknown error"),
}
"""QnRtn of 9011 [HJ 212-2017 Table 6]."""
EXE_RTN: dict[int, tuple[str, str]] = {
    1: ("执行成功", "success"),
    2: ("执行失败，但不知道原因", "failed, reason unknown"),
    3: ("命令请求条件错误", "condition error"),
    4: ("通讯超时", "timeout"),
    5: ("系统繁忙不能执行", "busy"),
    6: ("系统故障", "fault"),
    100: ("没有数据", "no data"),
}
"""ExeRtn of 9012 [HJ 212-2017 Table 7]."""

# --------------------------------------------------------------------------------------------------------
# Suffixes and flags [HJ 212-2017 Tables 4, 8; HJ/T 212-2005]
SUFFIXES: dict[str, tuple[str, str]] = {
    "Rtd": ("实时数据", "real-time value"),
    "Min": ("最小值", "minimum"),
    "Avg": ("平均值", "average"),
    "Max": ("最大值", "maximum"),
    "Cou": ("累计值", "cumulative emission"),
    "ZsRtd": ("折算实时数据", "converted real-time value"),
    "ZsMin": ("折算最小值", "converted minimum"),
    "ZsAvg": ("折算平均值", "converted average"),
    "ZsMax": ("折算最大值", "converted maximum"),
    "Flag": ("数据标记", "data flag"),
    "EFlag": ("设备标记", "instrument flag"),
    "SampleTime": ("采样时间", "sampling time"),
    "RS": ("运行状态", "running state"),
    "RT": ("运行时间", "running time [h]"),
    "Data": ("噪声值", "noise value"),
    "DayData": ("昼间噪声", "day noise"),
    "NightData": ("夜间噪声", "night noise"),
    "Info": ("现场信息", "site information"),
    "SN": ("设备唯一标识", "equipment id"),
    "Ala": ("报警值（2005）", "alarm value (2005)"),
    "UpValue": ("报警上限（2005）", "upper alarm limit (2005)"),
    "LowValue": ("报警下限（2005）", "lower alarm limit (2005)"),
}
NUMERIC_SUFFIXES: frozenset[str] = frozenset(
    {"Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "RT", "Data", "DayData"}
    | {"NightData", "Ala", "UpValue", "LowValue"}
)
FLAGS_2017: dict[str, tuple[str, str]] = {
    "N": ("在线监控（监测）仪器仪表工作正常", "normal"),
    "F": ("在线监控（监测）仪器仪表停运", "stopped"),
    "M": ("在线监控（监测）仪器仪表处于维护期间产生的数据", "maintenance"),
    "S": ("手工输入的设定值", "manual input"),
    "D": ("在线监控（监测）仪器仪表故障", "fault"),
    "C": ("在线监控（监测）仪器仪表处于校准状态", "calibration"),
    "T": ("在线监控（监测）仪器仪表采样数值超过测量上限", "over range"),
    "B": ("在线监控（监测）仪器仪表与数采仪通讯异常", "logger link fault"),
}
FLAGS_2005_SOURCE: dict[str, tuple[str, str]] = {
    "P": ("电源故障", "power failure"),
    "F": ("排放源停运", "source stopped"),
    "C": ("校验", "calibration"),
    "M": ("维护", "maintenance"),
    "T": ("超测上限", "over range"),
    "D": ("故障", "fault"),
    "S": ("设定值", "set value"),
    "N": ("正常", "normal"),
}
FLAGS_2005_AIR: dict[str, tuple[str, str]] = {
    "0": ("校准", "calibration"),
    "1": ("气象", "meteorological"),
    "2": ("异常", "abnormal"),
    "3": ("正常", "normal"),
}
NORMAL_FLAGS: frozenset[str] = frozenset({"N", "3"})


def interval_flag(flags: list[str], *, flue_gas: bool) -> str:
    """Flag of an interval from the flags of its samples [HJ 212-2017 Tables C.16-C.18 notes; spec §3.7].

    Flue gas: ``N`` when at least 75 % of the samples are ``N``, else ``D``. Waste water (and other media): one
    abnormal sample makes the interval abnormal (its flag is the first non-normal one). A source stopped for the
    whole interval keeps ``F`` (a stop is not a fault).

    >>> interval_flag(["N", "N", "N", "C"], flue_gas=True), interval_flag(["N", "C", "C", "N"], flue_gas=True)
    ('N', 'D')
    >>> interval_flag(["N", "N", "T", "D"], flue_gas=False), interval_flag(["F", "F"], flue_gas=True)
    ('T', 'F')
    """
    if not flags:
        raise ValueError("an interval needs at least one sample flag")
    abnormal = [f for f in flags if f not in NORMAL_FLAGS]
    if not abnormal:
        return flags[0]
    if all(f == "F" for f in flags):
        return "F"
    if flue_gas:
        return "N" if len(flags) - len(abnormal) >= 0.75 * len(flags) else "D"
    return abnormal[0]


RUNNING_STATE: dict[str, tuple[str, str]] = {
    "0": ("关闭", "off"),
    "1": ("运行", "running"),
    "2": ("校准", "calibration"),
    "3": ("维护", "maintenance"),
    "4": ("报警", "alarm"),
    "5": ("反吹", "blow-back"),
}


# --------------------------------------------------------------------------------------------------------
# Factor codes [HJ 212-2017 Tables B.1, B.2; spec §5.4]
@dataclass(frozen=True, slots=True)
class Factor:
    """One monitoring factor of the 2017 tables.

    ``unit_2017`` is the unit the 2017 table prints; ``default_unit`` is the unit bogda assumes when the
    registry says nothing (it differs where practice contradicts the table, e.g. PM in µg/m³).
    """

    code: str
    name_zh: str
    name_en: str
    unit_2017: str | None
    default_unit: str | None
    code_2005: str | None = None


def _f(code: str, zh: str, en: str, unit: str | None, default: str | None = "", c2005: str | None = None):
    return Factor(code, zh, en, unit, unit if default == "" else default, c2005)


_FACTOR_LIST: tuple[Factor, ...] = (
    _f("a21026", "二氧化硫", "SO2", "mg/m³", c2005="02"),
    _f("a21004", "二氧化氮", "NO2", "mg/m³"),
    _f("a21005", "一氧化碳", "CO", "mg/m³", c2005="04"),
    _f("a05024", "臭氧", "O3", None, "µg/m³"),
    _f("a34002", "PM10", "PM10", "ng/m³", "µg/m³"),
    _f("a34004", "PM2.5", "PM2.5", "ng/m³", "µg/m³"),
    _f("a34001", "总悬浮颗粒物", "TSP", "ng/m³", "µg/m³"),
    _f("a21002", "氮氧化物", "NOx", "mg/m³", c2005="03"),
    _f("a21003", "一氧化氮", "NO", "mg/m³"),
    _f("a34013", "烟尘", "smoke (particulate matter)", "mg/m³", c2005="01"),
    _f("a21024", "氯化氢", "HCl", "mg/m³", c2005="08"),
    _f("a21018", "氟化物", "fluoride", "mg/m³", c2005="06"),
    _f("a21028", "硫化氢", "H2S", "mg/m³", c2005="05"),
    _f("a21001", "氨", "NH3", "ng/m³", None, c2005="10"),
    _f("a05002", "甲烷", "methane", "ng/m³", None),
    _f("a24088", "非甲烷总烃", "NMHC", "mg/m³"),
    _f("a20057", "汞及其化合物", "mercury", "mg/m³", c2005="31"),
    _f("a01010", "林格曼黑度", "Ringelmann blackness", None, c2005="37"),
    _f("a00000", "废气流量", "flue-gas flow", "m³/s", c2005="B02"),
    _f("a19001", "氧气含量", "O2", "%", c2005="S01"),
    _f("a01011", "烟气流速", "flue-gas velocity", "m/s", c2005="S02"),
    _f("a01012", "烟气温度", "flue-gas temperature", "°C", c2005="S03"),
    _f("a01013", "烟气压力", "flue-gas pressure", "kPa", c2005="S08"),
    _f("a01014", "烟气湿度", "flue-gas humidity", "%", c2005="S05"),
    _f("a01016", "烟道截面积", "stack cross-section area", "m²", c2005="S07"),
    _f("a01017", "烟气动压", "flue-gas dynamic pressure", "kPa", c2005="S04"),
    _f("a01001", "温度", "air temperature", "°C"),
    _f("a01002", "湿度", "relative humidity", "%"),
    _f("a01006", "气压", "air pressure", "kPa"),
    _f("a01007", "风速", "wind speed", "m/s"),
    _f("a01008", "风向", "wind direction", "°"),
    _f("LA", "A 计权声级", "A-weighted sound level", "dB", c2005="B03"),
    _f("w00000", "污水流量", "waste-water flow", "L/s", c2005="B01"),
    _f("w01001", "pH 值", "pH", None, c2005="001"),
    _f("w01018", "化学需氧量", "COD", "mg/L", c2005="011"),
    _f("w21003", "氨氮", "NH3-N", "mg/L", c2005="060"),
    _f("w21011", "总磷", "total phosphorus", "mg/L", c2005="101"),
    _f("w21001", "总氮", "total nitrogen", "mg/L", c2005="065"),
    _f("w01012", "悬浮物", "suspended solids", "mg/L", c2005="003"),
    _f("w01017", "五日生化需氧量", "BOD5", "mg/L", c2005="010"),
    _f("w01019", "高锰酸盐指数", "COD_Mn", "mg/L"),
    _f("w01009", "溶解氧", "dissolved oxygen", "mg/L"),
    _f("w01010", "水温", "water temperature", "°C"),
    _f("w01014", "电导率", "conductivity", "µS/cm"),
    _f("w20111", "总汞", "total mercury", "µg/L", c2005="020"),
    _f("w20115", "总镉", "total cadmium", "µg/L", c2005="022"),
    _f("w20116", "总铬", "total chromium", "mg/L", c2005="023"),
    _f("w20117", "六价铬", "hexavalent chromium", "µg/L", c2005="024"),
    _f("w20119", "总砷", "total arsenic", "µg/L", c2005="026"),
    _f("w20120", "总铅", "total lead", "µg/L", c2005="027"),
)
FACTORS: dict[str, Factor] = {f.code: f for f in _FACTOR_LIST}
"""Common factors by 2017 code (spec §5.4). Codes outside are still stored (``code_known = False``)."""

CODE_2005_TO_2017: dict[str, str] = {f.code_2005: f.code for f in _FACTOR_LIST if f.code_2005}
"""HJ/T 212-2005 factor code -> HJ 212-2017 code (gas: 2 chars, water: 3 chars, S01-S08, B01-B03)."""
CODE_2017_TO_2005: dict[str, str] = {v: k for k, v in CODE_2005_TO_2017.items()}

DEFAULT_UNITS_BY_ST: dict[str, dict[str, str]] = {
    # Air stations report gases other than CO in µg/m³ (HJ 663 / HJ 818 practice), not the 2017 table's mg/m³.
    "22": {
        "a21026": "µg/m³",
        "a21004": "µg/m³",
        "a21005": "mg/m³",
        "a05024": "µg/m³",
        "a34002": "µg/m³",
        "a34004": "µg/m³",
        "a34001": "µg/m³",
    },
}
"""bogda defaults that depend on the station type (default, configurable; spec §5.4)."""

VENDOR_ALIASES: dict[str, dict[str, str]] = {
    "common": {
        "O3": "a05024",
        "PM25": "a34004",
        "PM2.5": "a34004",
        "PM10": "a34002",
        "TSP": "a34001",
        "SO2": "a21026",
        "NO2": "a21004",
        "CO": "a21005",
    },
}
"""Named code->code alias tables a device may use (spec §3.7); per-device tables come from the registry."""

VENDOR_KEY_ALIASES: dict[str, dict[str, tuple[str, str]]] = {
    "common": {"LA-td": ("LA", "Rtd")},
}
"""Named key -> (code, suffix) alias tables, for keys whose suffix itself is wrong (P044 ``LA-td``)."""

CODE_SCHEMES: tuple[str, ...] = ("2017", "2005", "none")


def canonical_code(
    code: str,
    *,
    scheme: str = "2017",
    aliases: Mapping[str, str] | None = None,
) -> tuple[str, bool]:
    """Canonical (2017) code of a factor code as a device sends it.

    The device's alias table wins, then its ``code_scheme``. Mapping never goes by pattern: a VOC station's
    local 3-digit codes look like 2005 water codes (spec §3.7), so ``2005`` applies only when the device is
    configured so.

    Parameters
    ----------
    code : str
        Code as sent (``a21026``, ``02``, ``PM25`` ...).
    scheme : {"2017", "2005", "none"}
        The device's code scheme.
    aliases : mapping, optional
        The device's code -> code alias table.

    Returns
    -------
    (str, bool)
        The canonical code (the input when nothing applies) and whether it is a known factor code.

    >>> canonical_code("02", scheme="2005")
    ('a21026', True)
    >>> canonical_code("PM25", aliases=VENDOR_ALIASES["common"])
    ('a34004', True)
    >>> canonical_code("023")
    ('023', False)
    """
    if aliases and code in aliases:
        code = aliases[code]
    elif scheme == "2005" and code in CODE_2005_TO_2017:
        code = CODE_2005_TO_2017[code]
    elif scheme not in CODE_SCHEMES:
        raise ValueError(f"unknown code scheme {scheme!r}; expected one of {CODE_SCHEMES}")
    return code, is_known_code(code)


def is_known_code(code: str) -> bool:
    """Whether ``code`` has the shape of an HJ 212-2017 code (``a``/``w`` + 5 digits, process, site-info) or
    is a listed factor (``LA``)."""
    if code in FACTORS:
        return True
    if len(code) == 6 and code[0] in "aweg" and code[1:].isdigit():
        return True
    return len(code) == 6 and code[0] == "i" and code[1] in "123" and code[2:].isdigit()


def unit_for(code: str, st: str | None = None, units: Mapping[str, str] | None = None) -> str | None:
    """Unit of a canonical factor code: the caller's mapping (registry, per device) first, then bogda's
    per-ST default, then the factor's default (spec §3.7: the packet carries no unit, nothing is converted).

    >>> unit_for("a34004", "22")
    'µg/m³'
    >>> unit_for("a21026", "31")
    'mg/m³'
    >>> unit_for("a21026", "31", {"a21026": "µg/m³"})
    'µg/m³'
    """
    if units and code in units:
        return units[code]
    if st is not None:
        by_st = DEFAULT_UNITS_BY_ST.get(st)
        if by_st and code in by_st:
            return by_st[code]
    factor = FACTORS.get(code)
    return factor.default_unit if factor else None


_CONC_WORDS = {"毫克": "mg", "微克": "μg", "纳克": "ng", "立方米": "m3", "升": "l"}
"""Chinese unit words a registry may be typed with (毫克/立方米, 微克/升 …)."""
COU_MASS_UNIT: dict[str, str] = {"mg/m3": "kg", "mg/l": "kg", "μg/m3": "g", "ng/m3": "g", "μg/l": "g"}
"""Concentration unit (as :func:`concentration_unit` spells it) → unit of its ``-Cou`` emission mass
[HJ 212-2017 Table B; spec hj212.md §5.4]: kg for mg/m³ and mg/L, g for ng/m³ and µg/L (µg/m³ as well: the
stations' particulate unit, bogda default §5.4)."""


def concentration_unit(unit: str | None) -> str | None:
    """A concentration unit in one spelling (lower case, ASCII ``3``, Greek ``μ``), ``None`` when blank.

    Registries and vendors write the same unit many ways (spec hj212.md §3.7, units come from the registry):
    ``mg/m3``, ``mg/m³``, ``mg/Nm3`` (normal state: still mg per m³), ``mg/m^3``, ``mg/L``/``mg/l``, ``ug/m3``,
    ``µg/m³`` (micro sign) and ``μg/m³`` (Greek mu), 毫克/立方米. Only the spelling is unified; nothing is converted.

    >>> [concentration_unit(u) for u in ("mg/m3", "mg/m³", " mg/Nm³ ", "MG/M^3", "毫克/立方米")]
    ['mg/m3', 'mg/m3', 'mg/m3', 'mg/m3', 'mg/m3']
    >>> [concentration_unit(u) for u in ("µg/m³", "ug/m3", "mg/L", "μg/l", "", None)]
    ['μg/m3', 'μg/m3', 'mg/l', 'μg/l', None, None]
    """
    if unit is None:
        return None
    u = unicodedata.normalize("NFKC", unit)  # ³ → 3, micro sign µ → Greek μ, full-width letters → ASCII
    u = "".join(u.split()).replace("^", "")
    for zh, short in _CONC_WORDS.items():
        u = u.replace(zh, short)
    u = u.lower()
    if u.startswith("ug/"):
        u = "μ" + u[1:]
    u = re.sub(r"/(n|s)m3$", "/m3", u)  # mg/Nm3 (normal), mg/Sm3 (standard): a per-volume concentration alike
    return u or None


def cou_unit(code: str, st: str | None = None, units: Mapping[str, str] | None = None) -> str | None:
    """Unit of the ``-Cou`` cumulative value [HJ 212-2017 Table B]: kg for mg/m³ and mg/L factors, g for
    ng/m³ and µg/L factors, m³ for flows.

    The factor's unit is the registry's (``units``, as typed: ``mg/m3``, ``mg/Nm³``, ``mg/l`` …, read through
    :func:`concentration_unit`), else bogda's default (:func:`unit_for`). ``None`` when the unit is not a
    concentration (pH, °C, unknown): the caller stores the series without a unit rather than guess one.

    >>> cou_unit("a21026", "31", {"a21026": "mg/m3"}), cou_unit("a21002", "31", {"a21002": "mg/Nm3"})
    ('kg', 'kg')
    >>> cou_unit("w01018", "32", {"w01018": "mg/l"}), cou_unit("w20111", "32", {"w20111": "ug/L"})
    ('kg', 'g')
    >>> cou_unit("a00000", "31", {"a00000": "m3/h"}), cou_unit("a21026", "31", {"a21026": "ppm"})
    ('m³', None)
    """
    if code in ("a00000", "w00000"):
        return "m³"
    return COU_MASS_UNIT.get(concentration_unit(unit_for(code, st, units)) or "")


def cn_name(cn: str, lang: str = "zh") -> str | None:
    """Name of a command code in Chinese (``zh``) or English (``en``), any table."""
    for table in (CN_2017, CN_2005, CN_2025, CN_VENDOR):
        if cn in table:
            return table[cn][0 if lang == "zh" else 1]
    return None


def st_name(st: str, lang: str = "zh") -> str | None:
    """Name of a system code in Chinese or English."""
    entry = ST_2017.get(st) or ST_SEEN_OUTSIDE.get(st)
    return None if entry is None else entry[0 if lang == "zh" else 1]
