"""PM2.5 source apportionment by positive matrix factorisation (PMF): the platform's side (governance.md §3.11).

The factorisation itself is EPA's ESAT (``esat`` 2025.0.1, LS-NMF) run in its own environment by
:mod:`bogda.tracing.esat` through the worker script :mod:`bogda.tracing.esat_worker`. Everything before and after
it is here, as pure functions on pandas frames (samples × species):

- input: :func:`read_matrix` (CSV or tab-separated text, as EPA PMF 5.0 and ESAT read them), :func:`check_pair`,
  :func:`pmf_uncertainty` and :func:`uncertainty_matrix` (EPA PMF 5.0 convention when the instrument gives none);
- species selection: :func:`signal_to_noise`, :func:`categorize`, :func:`q_expected`;
- results: :func:`fingerprints`, :func:`factor_mass` (PM2.5 by factor and share, overall, by season and on heavy
  days), :func:`residual_check`, :func:`bootstrap_check`, :func:`suggest_labels` (marker species), and
  :func:`proposed_shares`, the rows a bureau may adopt as its source shares (``source_share``, the basis of the
  emission-based estimate of emergency lists, forecast.md §3.9 step 6).

Units: concentrations and uncertainties in the same unit per species (µg/m³ for PM2.5 speciation); the MDL in that
unit. (d) marks a default of the spec, not of a standard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = ("strong", "weak", "bad")

MASS_NAMES = ("PM2.5", "PM25", "pm2.5", "pm25", "Mass", "mass", "PM2.5 mass", "PM2.5质量浓度")
"""Names under which the total mass column is recognised (the Baltimore file says ``PM2.5``, St. Louis ``Mass``)."""

REDUNDANT = ("OM", "Organic Matter", "有机物")
"""Species computed from another (OM = a multiple of OC): categorised bad, as they would double-count (§3.11)."""

SOURCE_OF_LABEL = {
    "sulfate": "secondary",
    "nitrate": "secondary",
    "biomass": "biomass",
    "coal": "coal",
    "dust": "dust",
    "traffic": "traffic",
    "industry": "industry",
    "other": "other",
}
"""Factor label (the analyst's, or :func:`suggest_labels`') → source category of ``source_share``."""

LABEL_ZH = {
    "sulfate": "二次硫酸盐",
    "nitrate": "二次硝酸盐",
    "biomass": "生物质燃烧",
    "coal": "燃煤",
    "dust": "扬尘",
    "traffic": "机动车",
    "industry": "工业",
    "other": "其他",
}

MARKERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sulfate": (("SO4",), ("NH4",)),
    "nitrate": (("NO3",), ("NH4",)),
    "biomass": (("K",), ("OC", "EC")),
    "dust": (("Ca", "Fe", "Si", "Ti", "Al"), ()),
    "traffic": (("EC", "OC"), ("Cu", "Zn", "Fe")),
    "coal": (("Cl", "As", "Se", "Pb"), ("OC", "EC")),
    "industry": (("Zn", "Pb", "Mn"), ()),
}
"""Marker species of each label (governance.md §3.11): (key markers, supporting markers). SO4+NH4 sulfate; NO3+NH4
nitrate; OC/EC+K biomass/coal; Ca/Fe/Si/Ti/Al dust; EC+Cu/Zn/Fe traffic; Cl+As+Se+Pb coal; Zn/Pb/Mn industry.
Traffic also keys on OC: a carbonaceous factor without potassium is read as traffic first (the analyst decides)."""

SPECIES_ALIASES: dict[str, str] = {
    # English names of the EPA examples and common abbreviations → marker key
    "sulfate": "SO4",
    "so4": "SO4",
    "so42-": "SO4",
    "so4^2-": "SO4",
    "so₄²⁻": "SO4",
    "硫酸盐": "SO4",
    "total nitrate": "NO3",
    "nitrate": "NO3",
    "no3": "NO3",
    "no3-": "NO3",
    "硝酸盐": "NO3",
    "ammonium ion": "NH4",
    "ammonium": "NH4",
    "nh4": "NH4",
    "nh4+": "NH4",
    "铵盐": "NH4",
    "potassium ion": "K",
    "potassium": "K",
    "k": "K",
    "k+": "K",
    "钾离子": "K",
    "organic carbon": "OC",
    "oc": "OC",
    "有机碳": "OC",
    "elemental carbon": "EC",
    "ec": "EC",
    "元素碳": "EC",
    "calcium": "Ca",
    "ca": "Ca",
    "ca2+": "Ca",
    "钙": "Ca",
    "iron": "Fe",
    "fe": "Fe",
    "铁": "Fe",
    "silicon": "Si",
    "si": "Si",
    "硅": "Si",
    "titanium": "Ti",
    "ti": "Ti",
    "钛": "Ti",
    "aluminum": "Al",
    "aluminium": "Al",
    "al": "Al",
    "铝": "Al",
    "copper": "Cu",
    "cu": "Cu",
    "铜": "Cu",
    "zinc": "Zn",
    "zn": "Zn",
    "锌": "Zn",
    "chlorine": "Cl",
    "chloride": "Cl",
    "cl": "Cl",
    "cl-": "Cl",
    "氯离子": "Cl",
    "arsenic": "As",
    "as": "As",
    "砷": "As",
    "selenium": "Se",
    "se": "Se",
    "硒": "Se",
    "lead": "Pb",
    "pb": "Pb",
    "铅": "Pb",
    "manganese": "Mn",
    "mn": "Mn",
    "锰": "Mn",
}


class ApportionmentError(ValueError):
    """Input that cannot be apportioned, or a run that failed; the message names the file, row, species or step."""


@dataclass(frozen=True)
class Settings:
    """One PMF run (governance.md §3.11 "Run", all (d)): LS-NMF, 20 models, seed 42, max_iter 20000,
    converge_delta 0.1, converge_n 25; ESAT's best model (lowest Q(robust)); 20 block-bootstrap runs mapped at
    r ≥ 0.6. ``factors`` 4–9 is the analyst's choice; ≥ 100 samples are required."""

    factors: int = 6
    models: int = 20
    method: str = "ls-nmf"
    seed: int = 42
    max_iter: int = 20000
    converge_delta: float = 0.1
    converge_n: int = 25
    bootstrap_n: int = 20
    bootstrap_threshold: float = 0.6
    cores: int | None = None
    min_samples: int = 100

    def job(self, categories: Mapping[str, str]) -> dict[str, Any]:
        """The worker's ``job.json`` (see :mod:`bogda.tracing.esat_worker`)."""
        d = asdict(self)
        d.pop("min_samples")
        d["categories"] = dict(categories)
        return d


# --------------------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------------------


def read_matrix(path: str | Path) -> pd.DataFrame:
    """Read a concentration or uncertainty matrix: first column the sample (date or label), one column per species.

    ``.txt``/``.tsv`` are tab-separated, anything else comma-separated (the EPA PMF 5.0 / ESAT examples). Rows that
    are empty in every cell are dropped (the Baltimore files end with 27 of them). Blank cells stay NaN (missing);
    a cell that is not a number raises :class:`ApportionmentError` naming the file, row and species.
    """
    p = Path(path)
    sep = "\t" if p.suffix.lower() in (".txt", ".tsv") else ","
    try:
        raw = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ApportionmentError(f"{p}: cannot read the matrix ({exc})") from exc
    if raw.shape[1] < 2:
        raise ApportionmentError(f"{p}: expected a sample column and at least one species column")
    raw = raw.apply(lambda c: c.str.strip())
    raw = raw[(raw != "").any(axis=1)]
    index = raw.iloc[:, 0].rename(str(raw.columns[0]))
    out = {}
    for col in raw.columns[1:]:
        cells = raw[col].replace("", np.nan)
        values = pd.to_numeric(cells, errors="coerce")
        bad = values.isna() & cells.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            # +2: the header is line 1 and the frame is 0-based
            raise ApportionmentError(
                f"{p}: line {int(raw.index[i]) + 2}, species {col!r}: {cells.iloc[i]!r} is not a number"
            )
        out[str(col).strip()] = values.to_numpy(dtype=float)
    frame = pd.DataFrame(out, index=pd.Index(index.to_numpy(), name=index.name))
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise ApportionmentError(f"{p}: sample {dup!r} appears twice")
    return frame


def check_pair(conc: pd.DataFrame, unc: pd.DataFrame) -> None:
    """Both matrices must have the same samples and species in the same order, no negative value, and a positive
    uncertainty wherever there is a concentration (PMF weighs each cell by 1/u²)."""
    if list(conc.columns) != list(unc.columns):
        extra = [c for c in conc.columns if c not in unc.columns] or [c for c in unc.columns if c not in conc.columns]
        raise ApportionmentError(
            f"concentration and uncertainty species differ: {extra[:5] or 'same species, different order'}"
        )
    if len(conc) != len(unc) or list(map(str, conc.index)) != list(map(str, unc.index)):
        raise ApportionmentError(
            f"concentration ({len(conc)} samples) and uncertainty ({len(unc)} samples) differ in their samples"
        )
    for name, frame in (("concentration", conc), ("uncertainty", unc)):
        neg = frame.lt(0).to_numpy()
        if neg.any():
            r, c = (int(a[0]) for a in np.nonzero(neg))
            raise ApportionmentError(
                f"{name} of {frame.columns[c]!r} at sample {frame.index[r]!r} is negative ({frame.iat[r, c]})"
            )
    zero = (unc.le(0) & conc.notna()).to_numpy()
    if zero.any():
        r, c = (int(a[0]) for a in np.nonzero(zero))
        raise ApportionmentError(
            f"uncertainty of {unc.columns[c]!r} at sample {unc.index[r]!r} is {unc.iat[r, c]}: it must be > 0"
        )


def pmf_uncertainty(conc: float, mdl: float, ef: float = 0.10) -> tuple[float, float]:
    """Concentration and uncertainty of one cell by the EPA PMF 5.0 convention (user guide §5.2.2, eq. 5-1/5-2).

    C ≤ MDL → C := MDL/2 and U = 5/6·MDL; else U = √((EF·C)² + (0.5·MDL)²). ``ef`` is the error fraction (0.10 (d)).
    Missing cells are handled by :func:`uncertainty_matrix` (median, 4 × median).

    >>> [round(v, 4) for v in pmf_uncertainty(0.05, 0.1)]
    [0.05, 0.0833]
    >>> round(pmf_uncertainty(2.0, 0.1)[1], 4)
    0.2062
    """
    if conc <= mdl:
        return mdl / 2.0, 5.0 / 6.0 * mdl
    return conc, float(np.hypot(ef * conc, 0.5 * mdl))


def uncertainty_matrix(
    conc: pd.DataFrame, mdl: Mapping[str, float], ef: float | Mapping[str, float] = 0.10
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Concentration and uncertainty matrices from concentrations and the species' MDLs (EPA PMF 5.0 convention).

    Per species with an MDL: every cell by :func:`pmf_uncertainty`; a missing cell takes the species' median
    concentration with 4 × median as its uncertainty. A species without an MDL is excluded and named in the
    returned messages (governance.md §3.11). Returns ``(conc, unc, messages)``.
    """
    messages: list[str] = []
    cols_c: dict[str, np.ndarray] = {}
    cols_u: dict[str, np.ndarray] = {}
    for species in conc.columns:
        m = mdl.get(species)
        if m is None or not np.isfinite(m) or m <= 0:
            messages.append(f"{species}: no detection limit (MDL) given, species excluded")
            continue
        e = float(ef.get(species, 0.10)) if isinstance(ef, Mapping) else float(ef)
        x = conc[species].to_numpy(dtype=float)
        missing = ~np.isfinite(x)
        median = float(np.nanmedian(x)) if (~missing).any() else float("nan")
        if not np.isfinite(median):
            messages.append(f"{species}: no value at all, species excluded")
            continue
        c = np.where(x <= m, m / 2.0, x)
        u = np.where(x <= m, 5.0 / 6.0 * m, np.hypot(e * x, 0.5 * m))
        c[missing] = median
        u[missing] = 4.0 * median
        if missing.any():
            messages.append(f"{species}: {int(missing.sum())} missing values set to the median {median:.4g}, U = 4×")
        cols_c[species] = c
        cols_u[species] = u
    if not cols_c:
        raise ApportionmentError("no species has a detection limit: nothing to apportion")
    return pd.DataFrame(cols_c, index=conc.index), pd.DataFrame(cols_u, index=conc.index), messages


def fill_missing(conc: pd.DataFrame, unc: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Missing cells of a given pair: C := species median, U := 4 × median (EPA PMF 5.0 convention)."""
    c, u, messages = conc.copy(), unc.copy(), []
    for species in c.columns:
        missing = c[species].isna() | u[species].isna()
        if missing.any():
            median = float(c[species].median())
            if not np.isfinite(median):
                raise ApportionmentError(f"species {species!r} has no value at all")
            c.loc[missing, species] = median
            u.loc[missing, species] = 4.0 * median
            messages.append(f"{species}: {int(missing.sum())} missing values set to the median {median:.4g}, U = 4×")
    return c, u, messages


# --------------------------------------------------------------------------------------------------------------
# Species selection
# --------------------------------------------------------------------------------------------------------------


CATEGORY_WORDS = {"强": "strong", "弱": "weak", "剔除": "bad"}
"""The console's Chinese words for the categories."""


def parse_categories(text: str | None) -> dict[str, str]:
    """Category overrides ``SPECIES=strong|weak|bad`` separated by commas, semicolons or lines (强/弱/剔除 also);
    :class:`ApportionmentError` for a malformed pair or a species given twice.

    >>> parse_categories("OM=bad, Lead = weak；Sulfate=强")
    {'OM': 'bad', 'Lead': 'weak', 'Sulfate': 'strong'}
    >>> parse_categories("  ")
    {}
    """
    out: dict[str, str] = {}
    for part in re.split(r"[,;，；、\n]+", text or ""):
        part = part.strip()
        if not part:
            continue
        species, eq, category = (x.strip() for x in part.replace("＝", "=").partition("="))
        category = CATEGORY_WORDS.get(category, category.lower())
        if not eq or not species or category not in CATEGORIES:
            raise ApportionmentError(f"{part!r}: expected SPECIES=strong|weak|bad (e.g. OM=bad, Lead=weak)")
        if species in out:
            raise ApportionmentError(f"species {species!r} is given twice")
        out[species] = category
    return out


def signal_to_noise(conc: pd.DataFrame, unc: pd.DataFrame) -> pd.Series:
    """S/N per species: mean over samples of d, d = (x − u)/u if x > u else 0 (EPA PMF 5.0 user guide §5.2.3;
    ESAT's ``DataHandler`` reports the same).

    >>> c = pd.DataFrame({"a": [2.0, 0.5]}); u = pd.DataFrame({"a": [1.0, 1.0]})
    >>> float(signal_to_noise(c, u)["a"])
    0.5
    """
    d = (conc - unc) / unc
    return d.where(conc > unc, 0.0).mean(axis=0)


def mass_column(columns: Sequence[str]) -> str | None:
    """The total-mass column among ``columns`` (:data:`MASS_NAMES`), or None."""
    for name in columns:
        if str(name).strip() in MASS_NAMES:
            return str(name)
    return None


def categorize(
    sn: pd.Series,
    *,
    mass: str | None = None,
    redundant: Sequence[str] = REDUNDANT,
    bad_below: float = 0.5,
    weak_below: float = 1.0,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Category of each species (governance.md §3.11, all (d)): S/N < 0.5 bad (dropped), 0.5–1 weak (U × 3), else
    strong; the total mass weak (it is the sum of the others, so it must not drive the fit); redundant species (OM,
    a multiple of OC) bad. ``overrides`` (the analyst's) win. ESAT itself starts everything strong."""
    out: dict[str, str] = {}
    for species, value in sn.items():
        name = str(species)
        if name in redundant:
            out[name] = "bad"
        elif mass is not None and name == mass:
            out[name] = "weak"
        elif value < bad_below:
            out[name] = "bad"
        elif value < weak_below:
            out[name] = "weak"
        else:
            out[name] = "strong"
    for name, category in (overrides or {}).items():
        if name not in out:
            raise ApportionmentError(f"category override for {name!r}, which is not a species of the data")
        if category not in CATEGORIES:
            raise ApportionmentError(f"category {category!r} for {name!r}: expected one of {', '.join(CATEGORIES)}")
        out[name] = category
    return out


def q_expected(categories: Mapping[str, str], samples: int, factors: int) -> float:
    """Q_expected = strong cells − factors · (samples + strong species) (governance.md §3.11; EPA PMF 5.0 §5.3).

    >>> q_expected({"a": "strong", "b": "strong", "c": "weak"}, samples=100, factors=1)
    98.0
    """
    strong = sum(1 for c in categories.values() if c == "strong")
    return float(samples * strong - factors * (samples + strong))


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


def fingerprints(profiles: pd.DataFrame) -> pd.DataFrame:
    """Share of each species' modelled total carried by each factor: H[k, j] / Σ_k H[k, j] (factors × species)."""
    total = profiles.sum(axis=0).replace(0.0, np.nan)
    return profiles.div(total, axis=1).fillna(0.0)


def factor_mass(
    contributions: pd.DataFrame,
    profiles: pd.DataFrame,
    mass: str,
    groups: Mapping[str, Sequence[bool] | np.ndarray] | None = None,
    observed: pd.Series | None = None,
) -> list[dict[str, Any]]:
    """Mass by factor: mean_t W[t, k] · H[k, mass] and its share of the modelled total, for all samples and for
    each named group of samples (a boolean mask over the rows of ``contributions``), e.g. heating season or heavy
    days (governance.md §3.11 "Store"). One row per (group, factor), with the group's sample count, its modelled
    and (given ``observed``) observed mean mass."""
    if mass not in profiles.columns:
        raise ApportionmentError(f"mass species {mass!r} was not kept in the run: set it weak, not bad")
    w = contributions.to_numpy(dtype=float)
    h = profiles[mass].to_numpy(dtype=float)
    parts = {"all": np.ones(len(w), dtype=bool)}
    for name, mask in (groups or {}).items():
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(w),):
            raise ApportionmentError(f"group {name!r} has {m.shape} flags for {len(w)} samples")
        parts[name] = m
    rows: list[dict[str, Any]] = []
    obs = None if observed is None else np.asarray(observed, dtype=float)
    for name, m in parts.items():
        n = int(m.sum())
        if n == 0:
            continue
        per = (w[m] * h).mean(axis=0)
        total = float(per.sum())
        obs_mean = None if obs is None else float(np.nanmean(obs[m]))
        for k, factor in enumerate(contributions.columns):
            rows.append(
                {
                    "group": name,
                    "factor": str(factor),
                    "samples": n,
                    "mass": float(per[k]),
                    "share": float(per[k] / total) if total > 0 else 0.0,
                    "modelled_total": total,
                    "observed_mean": obs_mean,
                }
            )
    return rows


def season_groups(samples: Sequence[Any]) -> dict[str, np.ndarray]:
    """Heating (Nov–Mar) and non-heating (May–Sep) masks over sample dates, with the months of
    :mod:`bogda.forecast.source_share` (April and October belong to neither, only to ``all``). Samples whose label
    is not a date are in neither."""
    dates = pd.to_datetime(pd.Series([str(s) for s in samples]), errors="coerce", format="mixed")
    month = dates.dt.month.to_numpy()
    return {
        "heating": np.isin(month, (11, 12, 1, 2, 3)),
        "non_heating": np.isin(month, (5, 6, 7, 8, 9)),
    }


def heavy_mask(samples: Sequence[Any], mass_values: Sequence[float], heavy_days: set[Any] | None = None) -> np.ndarray:
    """Samples on heavy-pollution days (AQI > 200, governance.md §3.11). With ``heavy_days`` (dates whose daily AQI
    was > 200, from ``aqi_daily``) the sample's date decides; without, the sample's own PM2.5 mass > 150 µg/m³
    (IAQI 200 of HJ 633-2012 table 1, 24 h) stands in — a PM2.5-only proxy the run records as such."""
    if heavy_days is not None:
        dates = pd.to_datetime(pd.Series([str(s) for s in samples]), errors="coerce", format="mixed").dt.date
        return dates.isin(heavy_days).to_numpy()
    return np.asarray(mass_values, dtype=float) > 150.0


RESIDUAL_SHARE_MIN = 0.95
"""A species with fewer of its scaled residuals within ±3 is flagged as poorly fitted (d)."""

BOOTSTRAP_SHARE_MIN = 0.8
"""A factor mapped in fewer bootstrap runs is flagged as not stable (d; EPA PMF 5.0 §6.1)."""


def residual_check(scaled: pd.DataFrame, limit: float = 3.0) -> list[dict[str, Any]]:
    """Per species: the share of uncertainty-scaled residuals (V − WH)/U within ±``limit`` (3 (d), §3.11), and the
    largest |residual|. A species with many outside is poorly fitted: look at it before using the factors."""
    a = np.abs(scaled.to_numpy(dtype=float))
    within = (a <= limit).mean(axis=0)
    return [
        {"species": str(s), "within": float(within[j]), "max_abs": float(np.nanmax(a[:, j]))}
        for j, s in enumerate(scaled.columns)
    ]


def bootstrap_check(
    mapped_runs: Sequence[int], runs: int, minimum: float = BOOTSTRAP_SHARE_MIN
) -> list[dict[str, Any]]:
    """Per base factor: the share of bootstrap runs that reproduced it (mapped at r ≥ threshold), and whether that
    is ≥ 80 % (d) (EPA PMF 5.0 §6.1: a factor mapped less often is not a stable source)."""
    return [
        {
            "factor": f"F{k + 1}",
            "mapped": int(n),
            "share": n / runs if runs else 0.0,
            "ok": runs > 0 and n / runs >= minimum,
        }
        for k, n in enumerate(mapped_runs)
    ]


def marker_key(species: str) -> str | None:
    """The marker key (SO4, NO3, NH4, K, OC, EC, Ca, …) of a species name in English, Chinese or formula form."""
    s = str(species).strip()
    if s in {k for pair in MARKERS.values() for group in pair for k in group}:
        return s
    return SPECIES_ALIASES.get(s.lower())


def suggest_labels(prints: pd.DataFrame, *, minimum: float = 0.3) -> dict[str, dict[str, Any]]:
    """A suggested label per factor from its marker species (governance.md §3.11, "marker labels for the analyst").

    Score of a label = mean fingerprint of its key markers present in the run, plus half the mean of its supporting
    markers present; the highest score wins when the factor carries ≥ ``minimum`` of some key marker, else
    ``other``. A suggestion only: the analyst confirms or changes each label before shares are proposed.
    """
    keys = {c: marker_key(c) for c in prints.columns}
    out: dict[str, dict[str, Any]] = {}
    for factor, row in prints.iterrows():
        by_key: dict[str, float] = {}
        for col, key in keys.items():
            if key is not None:
                by_key[key] = max(by_key.get(key, 0.0), float(row[col]))
        scores: dict[str, float] = {}
        for label, (key_markers, support) in MARKERS.items():
            present = [by_key[m] for m in key_markers if m in by_key]
            if not present or max(present) < minimum:
                continue
            helper = [by_key[m] for m in support if m in by_key]
            scores[label] = float(np.mean(present)) + (0.5 * float(np.mean(helper)) if helper else 0.0)
        top = max(scores, key=lambda lab: scores[lab]) if scores else "other"
        markers = sorted(by_key.items(), key=lambda kv: -kv[1])[:4]
        out[str(factor)] = {
            "label": top,
            "label_zh": LABEL_ZH[top],
            "scores": {k: round(v, 3) for k, v in sorted(scores.items(), key=lambda kv: -kv[1])},
            "markers": [{"species": k, "fingerprint": round(v, 3)} for k, v in markers],
        }
    return out


def proposed_shares(mass_rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Source shares from a run's mass table and the analyst's factor labels: per group (``all``, ``heating``,
    ``non_heating``, ``heavy`` — the seasons of ``source_share``), Σ share of the factors labelled into each source
    category (:data:`SOURCE_OF_LABEL`; a label may also be a category itself). Every factor must be labelled."""
    factors = {str(r["factor"]) for r in mass_rows}
    missing = sorted(factors - set(labels))
    if missing:
        raise ApportionmentError(f"factors without a label: {', '.join(missing)}")
    extra = sorted(set(labels) - factors)
    if extra:
        raise ApportionmentError(f"no factor {', '.join(extra)} in the run (factors {', '.join(sorted(factors))})")
    categories = set(SOURCE_OF_LABEL.values())
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in mass_rows:
        label = labels[str(r["factor"])]
        source = SOURCE_OF_LABEL.get(label, label if label in categories else None)
        if source is None:
            raise ApportionmentError(
                f"factor {r['factor']}: label {label!r} unknown; expected one of {', '.join(SOURCE_OF_LABEL)}"
            )
        key = (str(r["group"]), source)
        row = out.setdefault(
            key, {"season": key[0], "source": source, "share": 0.0, "samples": r["samples"], "factors": []}
        )
        row["share"] += float(r["share"])
        row["factors"].append(str(r["factor"]))
    # Rounded to 4 places so that a study's categories sum to ≤ 1 also after rounding (source_share's check).
    rows = []
    for row in out.values():
        row["share"] = float(np.floor(row["share"] * 1e4) / 1e4)
        rows.append(row)
    order = ("all", "heating", "non_heating", "heavy")
    return sorted(rows, key=lambda r: (order.index(r["season"]) if r["season"] in order else 9, -r["share"]))
