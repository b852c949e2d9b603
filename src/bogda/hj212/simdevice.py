"""Simulated HJ 212 data loggers: device profiles, deterministic value models, upload frames, answers to platform
commands, fleets (spec hj212.md §3.10). Split from :mod:`bogda.hj212.simulator` (faults, time-ordered frames and
the loopback client), which re-exports these names.

Values are a pure function of (seed, MN, factor, time): smooth noise anchored on a seeded RNG stands in for AR(1)
noise, so a recalled slot is re-sent with exactly the values first sent. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from bogda.hj212 import codes
from bogda.hj212.answers import (
    build_frame,
    build_segment,
    execution_response,
    format_cp,
    format_n14,
    make_qn,
    notify_response,
    request_response,
)
from bogda.hj212.codec import ParseResult
from bogda.timeutil import BEIJING, parse_time

__all__ = ["KINDS", "PROFILES", "AnswerConfig", "DeviceProfile", "FactorModel", "SimDevice", "make_fleet"]

KINDS: tuple[str, ...] = ("cems", "wastewater", "air")


# ---------------------------------------------------------------------------------------------- value models
@dataclass(frozen=True, slots=True)
class FactorModel:
    """How one factor's value evolves.

    ``base`` and ``sigma`` are in the factor's unit when ``additive``, else ``sigma`` is the lognormal spread.
    ``diurnal``/``seasonal`` are amplitudes (fractions of base, or absolute when additive), peaking at Beijing
    hour ``peak_hour`` and in January when ``seasonal`` > 0.
    """

    code: str
    base: float
    sigma: float = 0.15
    decimals: int = 2
    diurnal: float = 0.0
    peak_hour: float = 14.0
    seasonal: float = 0.0
    additive: bool = False
    load_scaled: bool = False
    zs: bool = False
    lo: float | None = 0.0
    hi: float | None = None
    analyser_hours: int | None = None
    cou: str | None = None
    """How ``-Cou`` is formed: ``mass_air`` (mg/m³ × flue-gas flow -> kg), ``mass_water`` (mg/L × L/s -> kg),
    ``flow_air`` (m³/s -> m³), ``flow_water`` (L/s -> m³); None = no ``-Cou``."""


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """A kind of monitored site: its ST, factors and the flow factor used for cumulative values."""

    kind: str
    st: str
    factors: tuple[FactorModel, ...]
    flow_code: str | None = None
    o2_reference: float | None = None
    """Reference O2 [%] for converted (Zs) concentrations, HJ 75-2017 (6 % for coal-fired boilers)."""


PROFILES: dict[str, DeviceProfile] = {
    "cems": DeviceProfile(
        "cems",
        "31",
        (
            FactorModel("a21026", 28.0, 0.25, 2, load_scaled=True, zs=True, cou="mass_air"),  # SO2 mg/m³
            FactorModel("a21002", 45.0, 0.2, 2, load_scaled=True, zs=True, cou="mass_air"),  # NOx mg/m³
            FactorModel("a34013", 4.0, 0.3, 2, load_scaled=True, zs=True, cou="mass_air"),  # dust mg/m³
            FactorModel("a19001", 0.0, 0.3, 2, additive=True),  # O2 %, from load
            FactorModel("a00000", 0.0, 0.05, 2, cou="flow_air"),  # flow m³/s, from load
            FactorModel("a01012", 125.0, 2.0, 1, additive=True, diurnal=3.0),  # flue-gas temperature °C
            FactorModel("a01013", 0.12, 0.01, 3, additive=True, lo=None),  # pressure kPa
            FactorModel("a01014", 8.0, 0.5, 2, additive=True),  # humidity %
            FactorModel("a01011", 0.0, 0.05, 2),  # velocity m/s, from load
            FactorModel("i33400", 0.0, 0.0, 1),  # unit load %, the driver
        ),
        flow_code="a00000",
        o2_reference=6.0,
    ),
    "wastewater": DeviceProfile(
        "wastewater",
        "32",
        (
            FactorModel("w00000", 30.0, 0.1, 2, diurnal=0.35, peak_hour=11.0, cou="flow_water"),  # L/s
            FactorModel("w01001", 7.4, 0.25, 2, additive=True, lo=6.5, hi=8.5),  # pH
            FactorModel("w01018", 42.0, 0.2, 1, diurnal=0.15, analyser_hours=2, cou="mass_water"),  # COD mg/L
            FactorModel("w21003", 3.2, 0.3, 3, diurnal=0.2, analyser_hours=2, cou="mass_water"),  # NH3-N
            FactorModel("w21011", 0.35, 0.25, 3, analyser_hours=4, cou="mass_water"),  # TP
            FactorModel("w21001", 11.0, 0.2, 2, analyser_hours=4, cou="mass_water"),  # TN
        ),
        flow_code="w00000",
    ),
    "air": DeviceProfile(
        "air",
        "22",
        (
            FactorModel("a34004", 32.0, 0.4, 0, diurnal=0.25, peak_hour=22.0, seasonal=0.8),  # PM2.5 µg/m³
            FactorModel("a34002", 30.0, 0.5, 0, diurnal=0.3, peak_hour=16.0, seasonal=0.2),  # PM10 = PM2.5 + coarse
            FactorModel("a21026", 9.0, 0.35, 0, diurnal=0.2, peak_hour=11.0, seasonal=0.7),  # SO2 µg/m³
            FactorModel("a21004", 28.0, 0.35, 0, diurnal=0.35, peak_hour=20.0, seasonal=0.4),  # NO2 µg/m³
            FactorModel("a21005", 0.8, 0.3, 3, diurnal=0.2, peak_hour=20.0, seasonal=0.5),  # CO mg/m³
            FactorModel("a05024", 70.0, 0.3, 0, diurnal=0.6, peak_hour=15.0, seasonal=-0.5),  # O3 µg/m³
            FactorModel("a01001", 8.0, 1.5, 1, additive=True, diurnal=5.0, peak_hour=15.0, seasonal=-20.0, lo=None),
            FactorModel("a01002", 55.0, 6.0, 0, additive=True, diurnal=-15.0, peak_hour=15.0, lo=5.0, hi=100.0),
            FactorModel("a01006", 95.2, 0.3, 2, additive=True, seasonal=0.8),  # kPa at ~580 m
            FactorModel("a01007", 2.4, 0.5, 1, diurnal=0.4, peak_hour=15.0),  # m/s
            FactorModel("a01008", 180.0, 60.0, 0, additive=True, lo=0.0, hi=359.0),  # °
        ),
    ),
}
"""Default profiles per device kind (values typical of Changji: heating-season PM and SO2, summer O3)."""


def _hash01(text: str) -> float:
    """Uniform [0, 1) from a stable hash of ``text`` (same value in every process and Python version)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "big") / 2.0**56


@lru_cache(maxsize=262_144)
def _anchor(key: str, k: int) -> float:
    # Box-Muller on two stable hashes: a standard normal anchor per (key, k).
    u1 = _hash01(f"{key}|{k}|a") or 2.0**-56
    u2 = _hash01(f"{key}|{k}|b")
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _smooth(key: str, t: float, scale: float) -> float:
    """Standard-normal-ish noise, continuous in ``t`` [s], correlation length ``scale`` [s]."""
    x = t / scale
    k = math.floor(x)
    f = x - k
    return (_anchor(key, k) * (1.0 - f) + _anchor(key, k + 1) * f) / math.sqrt(f * f + (1.0 - f) ** 2)


@lru_cache(maxsize=262_144)
def _uniform(key: str, k: int) -> float:
    return _hash01(f"{key}|u|{k}")


def _clip(v: float, lo: float | None, hi: float | None) -> float:
    if lo is not None and v < lo:
        v = lo
    if hi is not None and v > hi:
        v = hi
    return v


# ---------------------------------------------------------------------------------------------- devices
@dataclass(slots=True)
class SimDevice:
    """One simulated data logger.

    ``version`` is the protocol version (0 = 2005, 1 = 2017, 2 = 2025); ``rtd_interval_s`` [s] and
    ``min_interval_min`` [min] follow HJ 212-2017 commands 1062/1064. ``clock_offset_s`` [s] is how far the
    device clock is ahead of true time (a 1012 resets it).
    """

    index: int
    kind: str
    mn: str
    pw: str
    version: int = 1
    seed: int = 0
    rtd_interval_s: int = 30
    min_interval_min: int = 10
    ack: bool = True
    exceed_rate: float = 0.01
    clock_offset_s: float = 0.0
    history_start: datetime | None = None
    _last_qn_ms: int = field(default=0, repr=False)
    _memo: dict[tuple[str, float], float | bool] = field(default_factory=dict, repr=False)
    _keys: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def profile(self) -> DeviceProfile:
        return PROFILES[self.kind]

    @property
    def st(self) -> str:
        return self.profile.st

    def _key(self, code: str) -> str:
        key = self._keys.get(code)
        if key is None:
            key = self._keys[code] = f"{self.seed}|{self.mn}|{code}"
        return key

    def _cached(self, name: str, t: datetime, compute: Callable[[datetime], float | bool]) -> float | bool:
        # load() and stopped() are asked for by every factor of a frame: compute once per instant.
        k = (name, t.timestamp())
        v = self._memo.get(k)
        if v is None:
            if len(self._memo) > 8192:
                self._memo.clear()
            v = self._memo[k] = compute(t)
        return v

    # ---------------------------------------------------------------- state at an instant
    def load(self, t: datetime) -> float:
        """CEMS unit load [%]: 60-95 % daily profile with noise, 0 during stop periods."""
        return float(self._cached("load", t, self._load))

    def _load(self, t: datetime) -> float:
        if self.stopped(t):
            return 0.0
        h = _beijing_hour(t)
        profile = 60.0 + 35.0 * (0.5 - 0.5 * math.cos(2 * math.pi * (h - 3.0) / 24.0))
        return _clip(profile + 4.0 * _smooth(self._key("load"), t.timestamp(), 1800.0), 20.0, 100.0)

    def stopped(self, t: datetime) -> bool:
        """CEMS stop periods (flag F): on about 3 % of days, a 4-10 h outage starting at a random hour."""
        if self.kind != "cems":
            return False
        return bool(self._cached("stopped", t, self._stopped))

    def _stopped(self, t: datetime) -> bool:
        day = _beijing_day(t)
        if _uniform(self._key("stop"), day) >= 0.03:
            return False
        start = 6.0 * _uniform(self._key("stop-start"), day) + 4.0
        length = 4.0 + 6.0 * _uniform(self._key("stop-len"), day)
        return start <= _beijing_hour(t) < start + length

    def flag(self, code: str, t: datetime) -> str:
        """Data flag [HJ 212-2017 Table 8]: F stopped, C daily 15-min calibration, M maintenance, D rare fault."""
        if self.stopped(t):
            return "F"
        h, day, _ = _instant(t.timestamp())
        cal = 1.0 + 3.0 * _uniform(self._key("cal"), 0)
        if cal <= h < cal + 0.25:
            return "C"
        if _uniform(self._key("maint"), day) < 1 / 30 and 10.0 <= h < 12.0:
            return "M"
        slot = int(t.timestamp() // 60)
        if _uniform(self._key("D|" + code), slot) < 0.002:
            return "D"
        return "N"

    def value(self, model: FactorModel, t: datetime) -> float:
        """Value of one factor at instant ``t`` (unit of the factor, see :data:`PROFILES`)."""
        ts = t.timestamp()
        if model.analyser_hours:
            # Analysers (COD, NH3-N ...) report one value per measuring cycle.
            cycle = model.analyser_hours * 3600
            ts = ts - ts % cycle
            t = datetime.fromtimestamp(ts, UTC)
        key = self._key(model.code)
        z = _smooth(key, ts, 3600.0) * 0.8 + _smooth(key + "f", ts, 300.0) * 0.6
        h, _, season = _instant(t.timestamp())
        daily = math.cos(2 * math.pi * (h - model.peak_hour) / 24.0)
        if self.kind == "cems":
            load = self.load(t)
            if model.code == "i33400":
                return load
            if model.code == "a19001":  # O2 falls as load rises
                return _clip(15.5 - 7.0 * load / 100.0 + model.sigma * z, 2.0, 21.0) if load else 20.9
            if model.code == "a00000":
                return 140.0 * load / 100.0 * math.exp(model.sigma * z)
            if model.code == "a01011":
                return 15.0 * load / 100.0 * math.exp(model.sigma * z)
        if self.kind == "air" and model.code == "a34002":
            # PM10 contains PM2.5: the model's base describes the coarse fraction (dust, wind-blown).
            fine = next(m for m in self.profile.factors if m.code == "a34004")
            coarse = model.base * (1 + model.diurnal * daily) * (1 + model.seasonal * season)
            return self.value(fine, t) + coarse * math.exp(model.sigma * z - model.sigma**2 / 2)
        if model.additive:
            v = model.base + model.diurnal * daily + model.seasonal * season + model.sigma * z
        else:
            v = model.base * (1 + model.diurnal * daily) * (1 + model.seasonal * season)
            v *= math.exp(model.sigma * z - model.sigma**2 / 2)
        if model.load_scaled:
            load = self.load(t)
            v *= 0.35 + 0.65 * load / 100.0 if load else 0.02
            hour = int(ts // 3600)
            if _uniform(self._key("exceed"), hour) < self.exceed_rate:
                v *= 1.5 + 1.5 * _uniform(self._key("exceed-size"), hour)
        return _clip(v, model.lo, model.hi)

    def _zs(self, value: float, o2: float) -> float:
        ref = self.profile.o2_reference or 0.0
        return value * (21.0 - ref) / max(21.0 - o2, 1.0)

    # ---------------------------------------------------------------- data areas
    def values(self, cn: str, data_time: datetime) -> dict[str, dict[str, str]]:
        """CP factors of an upload: ``2011`` at ``data_time``; ``2051``/``2061``/``2031`` over the interval that
        starts at ``data_time`` (HJ 212-2017 §6.3.3: DataTime is the interval start for these)."""
        prof = self.profile
        out: dict[str, dict[str, str]] = {}
        o2_model = next((m for m in prof.factors if m.code == "a19001"), None)
        if cn == "2011":
            o2 = self.value(o2_model, data_time) if o2_model else None
            for m in prof.factors:
                v = self.value(m, data_time)
                item = {"Rtd": _fmt(v, m.decimals)}
                if m.zs and o2 is not None:
                    item["ZsRtd"] = _fmt(self._zs(v, o2), m.decimals)
                item["Flag"] = self.flag(m.code, data_time)
                out[m.code] = item
            return out
        length = _interval(cn, self.min_interval_min)
        if cn == "2041":  # daily running time of the equipment [h] (HJ 212-2017 Table C.19)
            hours = sum(not self.stopped(data_time + timedelta(minutes=30 + 60 * i)) for i in range(24))
            return {"SB1": {"RT": f"{hours:.1f}"}}
        n = {"2051": 5, "2061": 12, "2031": 24}[cn]
        times = [data_time + length * ((i + 0.5) / n) for i in range(n)]
        flows = None
        if prof.flow_code:
            fm = next(m for m in prof.factors if m.code == prof.flow_code)
            flows = [self.value(fm, t) for t in times]
        o2s = [self.value(o2_model, t) for t in times] if o2_model else None
        for m in prof.factors:
            vs = [self.value(m, t) for t in times]
            avg = sum(vs) / n
            item = {"Min": _fmt(min(vs), m.decimals), "Avg": _fmt(avg, m.decimals), "Max": _fmt(max(vs), m.decimals)}
            if m.zs and o2s is not None:
                zs = [self._zs(v, o2) for v, o2 in zip(vs, o2s, strict=True)]
                item.update(
                    ZsMin=_fmt(min(zs), m.decimals),
                    ZsAvg=_fmt(sum(zs) / n, m.decimals),
                    ZsMax=_fmt(max(zs), m.decimals),
                )
            seconds = length.total_seconds() / n
            if m.cou == "flow_air":
                item["Cou"] = _fmt(sum(vs) * seconds, 1)  # m³
            elif m.cou == "flow_water":
                item["Cou"] = _fmt(sum(vs) * seconds / 1000.0, 2)  # L -> m³
            elif (m.cou == "mass_air" and flows) or (m.cou == "mass_water" and flows):
                item["Cou"] = _fmt(sum(v * q for v, q in zip(vs, flows, strict=True)) * seconds / 1e6, 4)  # kg
            item["Flag"] = codes.interval_flag([self.flag(m.code, t) for t in times], flue_gas=self.kind == "cems")
            out[m.code] = item
        return out

    # ---------------------------------------------------------------- frames
    def next_qn(self, at: datetime) -> str:
        """A QN unique for this device: its clock's time, bumped by 1 ms on collision."""
        ms = int((at.timestamp() + self.clock_offset_s) * 1000)
        ms = max(ms, self._last_qn_ms + 1)
        self._last_qn_ms = ms
        return make_qn(datetime.fromtimestamp(ms / 1000, UTC))

    def device_time(self, t: datetime) -> datetime:
        return t + timedelta(seconds=self.clock_offset_s)

    def segment(
        self,
        cn: str,
        data_time: datetime,
        qn: str | None,
        *,
        pollutants: dict[str, dict[str, str]] | None = None,
        fields: dict[str, str] | None = None,
        flag: bool = True,
        pw: str | None = None,
    ) -> str:
        """Data segment of an upload (the device writes its own clock's DataTime)."""
        cp_fields = {"DataTime": format_n14(self.device_time(data_time))}
        if fields:
            cp_fields.update(fields)
        header = [
            ("QN", qn),
            ("ST", self.st),
            ("CN", cn),
            ("PW", self.pw if pw is None else pw),
            ("MN", self.mn),
            ("Flag", str((self.version << 2) | (1 if self.ack else 0)) if flag else None),
        ]
        return build_segment(
            header, format_cp(cp_fields, self.values(cn, data_time) if pollutants is None else pollutants)
        )

    def upload(self, cn: str, data_time: datetime, sent_at: datetime) -> bytes:
        """The upload frame exactly as a healthy device sends it (with CR LF). 2005 devices send no QN."""
        qn = self.next_qn(sent_at) if self.version else None
        return build_frame(self.segment(cn, data_time, qn, flag=self.version > 0))

    def schedule(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, str, datetime]]:
        """``(t_send, cn, data_time)`` for ``start <= t_send < end``, time-ordered: 2011 every RtdInterval,
        2051 after each MinInterval, 2061 after each hour, 2031 after each Beijing day."""
        events: list[tuple[datetime, int, str, datetime]] = []
        step = timedelta(seconds=self.rtd_interval_s)
        t = _ceil(start, step)
        while t < end:
            events.append((t, 0, "2011", t))
            t += step
        for cn, prio in (("2051", 1), ("2061", 2), ("2031", 3)):
            length = _interval(cn, self.min_interval_min)
            t = _ceil_beijing(start, length)
            while t < end:
                events.append((t, prio, cn, t - length))
                t += length
        events.sort()
        for t_send, _, cn, dt in events:
            yield t_send, cn, dt

    def slots(self, cn: str, begin: datetime, end: datetime) -> list[datetime]:
        """Interval starts of ``cn`` within [begin, end] (a recall's BeginTime..EndTime)."""
        length = _interval(cn, self.min_interval_min)
        t = _ceil_beijing(begin, length)
        out = []
        while t <= end:
            out.append(t)
            t += length
        return out

    # ---------------------------------------------------------------- answers to the platform
    def answer(
        self, command: ParseResult, now: datetime, config: AnswerConfig | None = None, rng: random.Random | None = None
    ) -> list[bytes]:
        """Frames a logger sends back for a platform command, in order (spec §3.8).

        9011 (QnRtn), then for data requests the data frames (own QNs; recalls re-send the generated history,
        values identical to the first sending), then 9012 (ExeRtn 1, or 100 for a range without data). Notifies
        2012/2022 get 9013 only. Unsupported commands are refused (QnRtn 2).
        """
        config = config or AnswerConfig()
        rng = rng or random.Random(f"{self.seed}|{self.mn}|answers|{command.request_qn}")
        if config.silent and rng.random() < config.silent:
            return []
        cn = command.CN or ""
        if cn in codes.NOTIFY_COMMAND_CN:
            return [notify_response(command)]
        supported = cn in codes.SET_CN or cn in codes.RECALL_CN or cn in ("1011", "1061", "1063")
        qn_rtn = config.qnrtn if supported else 2
        if qn_rtn != 1:
            return [request_response(command, qn_rtn)]
        out: list[bytes] = []
        if not (config.missing_9011 and rng.random() < config.missing_9011):
            out.append(request_response(command, 1))
        exe = config.exe
        fields = command.cp_fields
        if cn == "1012":
            try:
                self.clock_offset_s = (parse_time(fields.get("SystemTime", "")) - now).total_seconds()
            except ValueError:
                exe = 3
        elif cn == "1062" and fields.get("RtdInterval", "").isdigit():
            self.rtd_interval_s = int(fields["RtdInterval"])
        elif cn == "1064" and fields.get("MinInterval", "").isdigit():
            self.min_interval_min = int(fields["MinInterval"])
        elif cn == "1072" and ("NewPW" in fields or "PW" in fields):
            self.pw = fields.get("NewPW", fields.get("PW", self.pw))
        elif cn in ("1011", "1061", "1063"):
            value = {
                "1011": ("SystemTime", format_n14(self.device_time(now))),
                "1061": ("RtdInterval", str(self.rtd_interval_s)),
                "1063": ("MinInterval", str(self.min_interval_min)),
            }[cn]
            seg = build_segment(
                [("QN", self.next_qn(now)), ("ST", self.st), ("CN", cn), ("PW", self.pw), ("MN", self.mn),
                 ("Flag", str(self.version << 2))],
                f"{value[0]}={value[1]}",
            )  # fmt: skip
            out.append(build_frame(seg))
        elif cn in codes.RECALL_CN:
            try:
                begin, end = parse_time(fields["BeginTime"]), parse_time(fields["EndTime"])
            except (KeyError, ValueError):
                begin = end = None
                exe = 3
            if begin is not None and end is not None:
                earliest = self.history_start or datetime.min.replace(tzinfo=UTC)
                slots = [
                    s
                    for s in self.slots(cn, begin, end)
                    if earliest <= s and s + _interval(cn, self.min_interval_min) <= now
                ]
                out.extend(self.upload(cn, s, now) for s in slots)
                if not slots and exe == 1:
                    exe = 100
        out.append(execution_response(command, exe))
        return out


def _fmt(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}"


def _interval(cn: str, min_interval_min: int) -> timedelta:
    if cn == "2051":
        return timedelta(minutes=min_interval_min)
    if cn == "2061":
        return timedelta(hours=1)
    if cn in ("2031", "2041"):
        return timedelta(days=1)
    raise ValueError(f"CN {cn} has no interval")


@lru_cache(maxsize=65_536)
def _instant(ts: float) -> tuple[float, int, float]:
    """(Beijing hour of day [h], Beijing day ordinal, seasonal phase cos(day of year)) of a Unix time [s]."""
    b = datetime.fromtimestamp(ts, BEIJING)
    doy = b.timetuple().tm_yday
    return b.hour + b.minute / 60.0 + b.second / 3600.0, b.toordinal(), math.cos(2 * math.pi * (doy - 15) / 365.25)


def _beijing_hour(t: datetime) -> float:
    return _instant(t.timestamp())[0]


def _beijing_day(t: datetime) -> int:
    return _instant(t.timestamp())[1]


def _ceil(t: datetime, step: timedelta) -> datetime:
    s = step.total_seconds()
    ts = t.timestamp()
    return datetime.fromtimestamp(math.ceil(ts / s) * s, UTC)


def _ceil_beijing(t: datetime, step: timedelta) -> datetime:
    """Next boundary of ``step`` on the Beijing clock (days start at Beijing midnight)."""
    offset = 8 * 3600
    s = step.total_seconds()
    ts = t.timestamp() + offset
    return datetime.fromtimestamp(math.ceil(ts / s) * s - offset, UTC)


# ---------------------------------------------------------------------------------------------- fleet
def _share_counts(n: int, kinds: str) -> list[str]:
    shares = []
    for part in kinds.split(","):
        name, _, weight = part.strip().partition(":")
        if name not in PROFILES:
            raise ValueError(f"unknown device kind {name!r}; expected one of {KINDS}")
        shares.append((name, float(weight or 1)))
    total = sum(w for _, w in shares)
    exact = [(name, n * w / total) for name, w in shares]
    counts = {name: int(x) for name, x in exact}
    rest = n - sum(counts.values())
    for name, _x in sorted(exact, key=lambda e: e[1] - int(e[1]), reverse=True)[:rest]:
        counts[name] += 1
    return [name for name, _ in shares for _ in range(counts[name])]


def make_fleet(
    n: int,
    *,
    kinds: str = "cems:60,wastewater:30,air:10",
    version: str = "2017",
    seed: int = 0,
    rtd_interval_s: int = 30,
    min_interval_min: int = 10,
    clock_drift_s: float = 0.0,
    history_start: datetime | None = None,
) -> list[SimDevice]:
    """``n`` devices (at most 20 000) with kinds in the given shares, deterministic MN/PW for ``seed``.

    ``version``: ``2005``, ``2017``, ``2025`` or ``mix`` (10 % 2005, 80 % 2017, 10 % 2025). MNs are 24 hex digits
    (EPC-96 form) for 2017/2025 and 14 characters for 2005. ``clock_drift_s`` bounds a per-device clock error.
    """
    if not 0 < n <= 20_000:
        raise ValueError(f"device count {n} outside 1..20000")
    versions = {"2005": 0, "2017": 1, "2025": 2}
    if version not in versions and version != "mix":
        raise ValueError(f"version must be 2005, 2017, 2025 or mix, not {version!r}")
    kind_list = _share_counts(n, kinds)
    random.Random(f"{seed}|kinds").shuffle(kind_list)
    devices = []
    for i, kind in enumerate(kind_list):
        rng = random.Random(f"{seed}|device|{i}")
        if version == "mix":
            u = rng.random()
            v = 0 if u < 0.1 else 2 if u > 0.9 else 1
        else:
            v = versions[version]
        digest = hashlib.sha256(f"{seed}|mn|{i}".encode()).hexdigest().upper()
        mn = digest[:24] if v else "88" + str(int(digest[:16], 16))[-12:].zfill(12)
        devices.append(
            SimDevice(
                index=i,
                kind=kind,
                mn=mn,
                pw=f"{rng.randrange(1_000_000):06d}",
                version=v,
                seed=seed,
                rtd_interval_s=rtd_interval_s,
                min_interval_min=min_interval_min,
                clock_offset_s=rng.uniform(-clock_drift_s, clock_drift_s) if clock_drift_s else 0.0,
                history_start=history_start,
            )
        )
    return devices


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """How simulated devices answer commands (spec §3.10 ``--answers``)."""

    qnrtn: int = 1
    exe: int = 1
    delay: float = 0.0
    silent: float = 0.0
    missing_9011: float = 0.0

    @classmethod
    def parse(cls, text: str) -> AnswerConfig:
        """``"qnrtn=2,silent=0.5"`` -> AnswerConfig."""
        ints: dict[str, int] = {}
        floats: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name in ("qnrtn", "exe"):
                ints[name] = int(value)
            elif name in ("delay", "silent", "missing_9011"):
                floats[name] = float(value)
            else:
                raise ValueError(f"unknown answer option {name!r}")
        return cls(
            qnrtn=ints.get("qnrtn", 1),
            exe=ints.get("exe", 1),
            delay=floats.get("delay", 0.0),
            silent=floats.get("silent", 0.0),
            missing_9011=floats.get("missing_9011", 0.0),
        )
