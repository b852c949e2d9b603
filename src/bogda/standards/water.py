"""Water quality classes: GB 3838-2002 surface water, drinking-water sources, lake trophic state; GB/T 14848-2017
groundwater [R].

Classes are integers: 1–5 = Ⅰ–Ⅴ, 6 = 劣Ⅴ (worse than Ⅴ), 0 = no value. Units mg/L unless stated (fecal coliform
count/L, pH dimensionless, chlorophyll a mg/m³, Secchi depth m).

Item keys (GB 3838-2002 Table 1): ``pH, DO, CODMn, COD, BOD5, NH3_N, TP, TN, Cu, Zn, F, Se, As, Hg, Cd, Cr6, Pb,
CN, phenol, petroleum, LAS, sulfide, fecal_coliform``; ``TP`` uses the river or the lake/reservoir limits by
``waterbody``. Table 2 (drinking-water source supplementary): ``sulfate, chloride, nitrate_N, Fe, Mn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from bogda.standards._data import table

CLASS_LABELS = ("", "Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ")
"""Display label per class integer (0 = no value)."""

WORSE_THAN_V = 6

STATUS = {
    1: ("优", "excellent", "#0000FF"),
    2: ("优", "excellent", "#0000FF"),
    3: ("良好", "good", "#00FF00"),
    4: ("轻度污染", "lightly polluted", "#FFFF00"),
    5: ("中度污染", "moderately polluted", "#FF7E00"),
    6: ("重度污染", "heavily polluted", "#FF0000"),
}
"""Section status per class (环办〔2011〕22号 [V secondary]); colours blue/green/yellow/orange/red [R]."""

WATERBODIES = ("river", "lake")
"""``lake`` = lakes and reservoirs (湖、库): TP uses the lake limits."""


@dataclass(frozen=True)
class WaterItem:
    """One item of a class-limit table."""

    key: str
    name_zh: str
    unit: str
    comparison: str
    """``<=`` (upper limit), ``>=`` (DO) or ``range`` (pH)."""
    limits: tuple[float, ...]
    """Limits of classes Ⅰ … Ⅴ (Ⅰ … Ⅳ for groundwater; ranges for pH are handled separately)."""
    counts_for_class: bool
    table: str
    source: str


@cache
def surface_items() -> dict[str, WaterItem]:
    """GB 3838-2002 Table 1 and Table 2 items keyed as in the module doc (TP as ``TP_river`` / ``TP_lake``).

    >>> surface_items()["NH3_N"].limits
    (0.15, 0.5, 1.0, 1.5, 2.0)
    >>> surface_items()["TN"].counts_for_class, surface_items()["TP_lake"].limits[0]
    (False, 0.01)
    """
    out = {}
    for r in table("gb3838_2002_limits"):
        lims = (
            tuple(float(r[f"class_{c}"]) for c in ("I", "II", "III", "IV", "V")) if r["comparison"] != "range" else ()
        )
        out[r["item"]] = WaterItem(
            r["item"],
            r["item_cn"],
            r["unit"],
            r["comparison"],
            lims,
            r["counts_for_class"] == "yes",
            r["table"],
            r["source"],
        )
    return out


def _item(key: str, waterbody: str) -> WaterItem:
    if waterbody not in WATERBODIES:
        raise ValueError(f"waterbody must be 'river' or 'lake', not {waterbody!r}")
    k = f"TP_{waterbody}" if key == "TP" else key
    items = surface_items()
    if k not in items:
        raise KeyError(f"unknown GB 3838-2002 item {key!r}; known: {sorted(items)}")
    return items[k]


def item_class(item: str, values: npt.ArrayLike, waterbody: str = "river") -> np.ndarray:
    """Class of one item per sample (GB 3838-2002 Table 1): the best class whose limit the value meets.

    ``<=`` items: value ≤ limit; DO: value ≥ limit; pH: 6–9 → Ⅰ, otherwise 劣Ⅴ. Equal limits across classes
    resolve to the better class. Value failing Class Ⅴ → 6 (劣Ⅴ); NaN → 0. TN is a lake/reservoir item but is
    classified the same way (it does not count for the section class, :func:`section_class`).

    >>> item_class("NH3_N", [0.15, 0.16, 0.5, 2.0, 2.01, np.nan]).tolist()
    [1, 2, 2, 5, 6, 0]
    >>> item_class("DO", [7.5, 6.0, 1.9]).tolist(), item_class("pH", [5.9, 7.0, 9.0]).tolist()
    ([1, 2, 6], [6, 1, 1])
    >>> item_class("TP", [0.05], "river").tolist(), item_class("TP", [0.05], "lake").tolist()
    ([2], [3])
    """
    it = _item(item, waterbody)
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if it.comparison == "range":
        out = np.where((v >= 6) & (v <= 9), 1, WORSE_THAN_V)
    elif it.comparison == ">=":
        # DO limits decrease with class: the first class whose limit the value reaches (6 when none)
        out = np.searchsorted(-np.array(it.limits), -np.where(ok, v, 0), side="left") + 1
    else:
        lims = np.array(it.limits)
        out = np.searchsorted(lims, np.where(ok, v, 0), side="left") + 1
    return np.where(ok, out, 0).astype(np.int8)


@dataclass
class SectionClass:
    """Single-factor class of a section (per sample or period)."""

    water_class: np.ndarray
    """Worst class over the evaluated items (0 = no item)."""
    item_classes: dict[str, np.ndarray]
    """Class of every item given (including TN and fecal coliform, which do not count)."""
    main_pollutants: np.ndarray
    """Up to three items above Class Ⅲ, worst first (object array of comma-joined keys; None when ≤ Ⅲ)."""

    @property
    def labels(self) -> np.ndarray:
        """Class labels Ⅰ … 劣Ⅴ."""
        return np.array(CLASS_LABELS, dtype=object)[self.water_class]

    @property
    def status_zh(self) -> np.ndarray:
        """Status per class (优 / 良好 / 轻度污染 / 中度污染 / 重度污染)."""
        lut = np.array([None] + [STATUS[c][0] for c in range(1, 7)], dtype=object)
        return lut[self.water_class]


def section_class(values: Mapping[str, npt.ArrayLike], waterbody: str = "river", *, max_main: int = 3) -> SectionClass:
    """Section class by the single-factor method (GB 3838-2002; 环办〔2011〕22号 [V secondary]).

    The class is the worst class over the **21 evaluation items** given (Table 1 minus water temperature, TN and
    fecal coliform); TN and fecal coliform are classified but reported separately; Table 2 items never count.
    Main pollutants (class worse than Ⅲ) [R]: up to ``max_main`` items above Class Ⅲ, ordered by worse class
    first, then by the exceedance multiple (C − S_Ⅲ)/S_Ⅲ (pH and DO have none and come last in their class).

    >>> r = section_class({"pH": [7.5], "DO": [6.5], "CODMn": [7.0], "NH3_N": [1.6], "TP": [0.12], "TN": [5.0]})
    >>> r.labels.tolist(), r.main_pollutants.tolist(), r.status_zh.tolist()
    (['Ⅴ'], ['NH3_N,CODMn'], ['中度污染'])
    """
    classes = {k: item_class(k, v, waterbody) for k, v in values.items()}
    counted = [k for k in classes if _item(k, waterbody).counts_for_class and _item(k, waterbody).table == "1"]
    if not classes:
        raise ValueError("no items given")
    n = len(next(iter(classes.values())))
    worst = np.max(np.vstack([classes[k] for k in counted]), axis=0) if counted else np.zeros(n, dtype=np.int8)
    # ordering key: class·10⁶ + exceedance multiple (capped) so that one argsort ranks the items per sample
    keys, names = [], []
    for k in counted:
        it = _item(k, waterbody)
        v = np.asarray(values[k], dtype=np.float64)
        mult = np.clip((v - it.limits[2]) / it.limits[2], 0, 1e5) if it.comparison == "<=" else np.zeros(n)
        cls = classes[k].astype(np.float64)
        keys.append(np.where(cls > 3, cls * 1e6 + np.nan_to_num(mult), -1.0))
        names.append(k)
    main = np.full(n, None, dtype=object)
    if keys:
        karr = np.vstack(keys)
        order = np.argsort(-karr, axis=0, kind="stable")
        for j in range(n):
            chosen = [names[i] for i in order[:max_main, j] if karr[i, j] > 0]
            main[j] = ",".join(chosen) if chosen else None
    return SectionClass(water_class=worst.astype(np.int8), item_classes=classes, main_pollutants=main)


def basin_status(section_classes: npt.ArrayLike) -> tuple[str, str]:
    """Status of a river/basin with ≥ 5 sections by the proportion method (环办〔2011〕22号 [V secondary]).

    Share of Ⅰ–Ⅲ ≥ 90 % 优; 75–90 % 良好; < 75 % and 劣Ⅴ < 20 % 轻度污染; < 75 % and 20 % ≤ 劣Ⅴ < 40 % 中度污染;
    劣Ⅴ ≥ 40 % 重度污染. Fewer than 5 sections: average each item over the sections and use
    :func:`section_class` instead (raises ``ValueError`` here).

    >>> basin_status([1, 2, 2, 3, 3, 3, 3, 3, 4, 4])
    ('良好', 'good')
    >>> basin_status([6, 6, 3, 4, 5])
    ('重度污染', 'heavily polluted')
    """
    c = np.asarray(section_classes)
    c = c[c > 0]
    if len(c) < 5:
        raise ValueError(f"proportion method needs ≥ 5 sections, got {len(c)}; average the items instead")
    good = (c <= 3).mean() * 100
    bad = (c == WORSE_THAN_V).mean() * 100
    if good >= 90:
        return "优", "excellent"
    if good >= 75:
        return "良好", "good"
    if bad >= 40:
        return "重度污染", "heavily polluted"
    if bad >= 20:
        return "中度污染", "moderately polluted"
    return "轻度污染", "lightly polluted"


def drinking_source_compliant(values: Mapping[str, npt.ArrayLike], waterbody: str = "river") -> np.ndarray:
    """Drinking-water source compliance: every Table 1 item assessed ≤ Class Ⅲ and every Table 2 (or selected
    Table 3, passed as ``<=`` items of the table) item ≤ its limit (GB 3838-2002 4.1–4.3). Missing items are
    not assessed.

    >>> drinking_source_compliant({"NH3_N": [0.4, 1.2], "Mn": [0.05, 0.05]}).tolist()
    [True, False]
    >>> drinking_source_compliant({"Fe": [0.31]}).tolist()
    [False]
    """
    ok = None
    for k, v in values.items():
        cls = item_class(k, v, waterbody)
        limit_class = 3 if _item(k, waterbody).table == "1" else 1
        good = (cls == 0) | (cls <= limit_class)
        ok = good if ok is None else ok & good
    if ok is None:
        raise ValueError("no items given")
    return ok


def half_detection_limit(values: npt.ArrayLike, below_dl: npt.ArrayLike, detection_limit: npt.ArrayLike) -> np.ndarray:
    """Replace results below the detection limit by ½ DL (环办监测函〔2020〕82号 [secondary, V]).

    >>> half_detection_limit([0.3, np.nan], [False, True], 0.02).tolist()
    [0.3, 0.01]
    """
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.asarray(below_dl, dtype=bool), np.asarray(detection_limit, dtype=np.float64) / 2, v)


# --- lake trophic state ---------------------------------------------------------------------------------

TLI_WEIGHTS = {"chla": 0.2663, "TP": 0.1879, "TN": 0.1790, "SD": 0.1834, "CODMn": 0.1834}
"""Weights of the comprehensive trophic level index (CNEMC 2001 rule [V secondary])."""

_TLI = {
    "chla": (2.5, 1.086),
    "TP": (9.436, 1.624),
    "TN": (5.453, 1.694),
    "SD": (5.118, -1.94),
    "CODMn": (0.109, 2.661),
}


def trophic_index(values: Mapping[str, npt.ArrayLike]) -> np.ndarray:
    """Comprehensive trophic level index TLI(Σ) = Σ W_j·TLI(j), TLI(j) = 10(a + b ln x_j) (CNEMC 2001 [V sec.]).

    Items: ``chla`` [mg/m³], ``TP``, ``TN``, ``CODMn`` [mg/L], ``SD`` [m]. Weights of missing items are
    renormalised away.

    >>> round(float(trophic_index({"chla": [10], "TP": [0.05], "TN": [1.0], "SD": [1.0], "CODMn": [4.0]})[0]), 1)
    48.0
    """
    num = None
    den = None
    for k, v in values.items():
        if k not in _TLI:
            raise KeyError(f"unknown trophic item {k!r}; known: {sorted(_TLI)}")
        x = np.asarray(v, dtype=np.float64)
        a, b = _TLI[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            tli = 10 * (a + b * np.log(x))
        ok = np.isfinite(tli) & (x > 0)
        w = np.where(ok, TLI_WEIGHTS[k], 0.0)
        term = np.where(ok, tli, 0.0) * w
        num = term if num is None else num + term
        den = w if den is None else den + w
    if num is None or den is None:
        raise ValueError("no items given")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def trophic_state(tli: npt.ArrayLike) -> np.ndarray:
    """Trophic state: < 30 oligotrophic, 30–50 mesotrophic, 50–60 light, 60–70 middle, > 70 hyper eutrophic.

    >>> trophic_state([25, 30, 50, 55, 65, 75]).tolist()
    ['贫营养', '中营养', '中营养', '轻度富营养', '中度富营养', '重度富营养']
    """
    t = np.asarray(tli, dtype=np.float64)
    labels = np.array(["贫营养", "中营养", "轻度富营养", "中度富营养", "重度富营养", None], dtype=object)
    idx = np.searchsorted([30, 50, 60, 70], np.where(np.isfinite(t), t, 0), side="left")
    idx = np.where(t == 30, 1, idx)  # 30 belongs to mesotrophic (30 ≤ TLI ≤ 50)
    return np.where(np.isfinite(t), labels[idx], None)


# --- groundwater (GB/T 14848-2017) [R] -----------------------------------------------------------------


@cache
def groundwater_items() -> dict[str, WaterItem]:
    """The GB/T 14848-2017 indicators bogda knows (a recalled subset [R]; verify against the text).

    >>> groundwater_items()["NH3_N"].limits
    (0.02, 0.1, 0.5, 1.5)
    """
    out = {}
    for r in table("gbt14848_2017_groundwater"):
        lims = tuple(float(r[f"class_{c}"]) for c in ("I", "II", "III", "IV")) if r["comparison"] != "range" else ()
        out[r["item"]] = WaterItem(
            r["item"], r["item_cn"], r["unit"], r["comparison"], lims, True, "GB/T 14848", r["source_status"]
        )
    return out


def groundwater_class(item: str, values: npt.ArrayLike) -> np.ndarray:
    """Groundwater class 1–5 of one indicator (GB/T 14848-2017 [R]); equal limits → the better class.

    pH: 6.5–8.5 → Ⅰ; 5.5–6.5 or 8.5–9.0 → Ⅳ; otherwise Ⅴ. Other items: ≤ Ⅳ limit → that class, above → Ⅴ.

    >>> groundwater_class("NH3_N", [0.02, 0.1, 0.3, 1.5, 1.6]).tolist()
    [1, 2, 3, 4, 5]
    >>> groundwater_class("pH", [7.0, 6.0, 9.0, 9.5]).tolist()
    [1, 4, 4, 5]
    """
    items = groundwater_items()
    if item not in items:
        raise KeyError(f"unknown groundwater item {item!r}; known: {sorted(items)}")
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    it = items[item]
    if it.comparison == "range":
        out = np.where((v >= 6.5) & (v <= 8.5), 1, np.where((v >= 5.5) & (v <= 9.0), 4, 5))
    else:
        out = np.searchsorted(np.array(it.limits), np.where(ok, v, 0), side="left") + 1
    return np.where(ok, out, 0).astype(np.int8)


def groundwater_overall(values: Mapping[str, npt.ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """Overall groundwater class (worst indicator) and the indicators above Class Ⅲ (comma-joined) [R].

    >>> c, over = groundwater_overall({"NH3_N": [0.3], "TDS": [1500], "pH": [7.2]})
    >>> c.tolist(), over.tolist()
    ([4], ['TDS'])
    """
    classes = {k: groundwater_class(k, v) for k, v in values.items()}
    stack = np.vstack(list(classes.values()))
    names = list(classes)
    over = np.array(
        [",".join(names[i] for i in range(len(names)) if stack[i, j] > 3) or None for j in range(stack.shape[1])],
        dtype=object,
    )
    return stack.max(axis=0).astype(np.int8), over


def water_class(values: Mapping[str, npt.ArrayLike], waterbody: str = "river") -> np.ndarray:
    """Shortcut: the single-factor section class (1–6) of samples (see :func:`section_class`).

    >>> water_class({"DO": [8.0, 4.0], "NH3_N": [0.1, 0.1]}).tolist()
    [1, 4]
    """
    return section_class(values, waterbody).water_class
