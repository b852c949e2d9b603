"""Deployment gate: a newly trained model set replaces the one in service only if it is not worse (forecast.md §3.4).

The spec's rule (d): over a rolling 90-day backtest, RMSE and MAE not more than 1 % worse than the set in service and
p10–p90 coverage within 75–85 %; old sets are kept. The spec leaves open how the two sets are scored on the same
days; bogda does it so that both are out of sample:

- **the set in service** is scored on what it actually issued: the archived operational forecasts (the served
  method, the only ``forecast`` row of a run with p10/p90) of one run a day in the window, at the bundle's daily
  issue hour, against the observations;
- **the candidate** is scored by a hold-out backtest: a *probe* trained exactly as the candidate (same code,
  profile, items and inputs) but on data ending the day before the window, issued at the same times.

Compared per item at the two goal horizons (hourly 24 h, daily D+1), on the pairs both have (same issue time,
target, lead; a valid observation). With fewer than :data:`MIN_PAIRS` such pairs (a new installation, a gap in the
record) RMSE and MAE are not compared and the check says so; coverage is always checked, on all the probe's pairs.
Without a set in service, or when the probe cannot be trained (a history shorter than the window plus the training
minimum), the candidate is accepted with the reason. :func:`judge` and :func:`decide` are pure; :func:`evaluate`
reads the record and runs the probe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from bogda.forecast import operational as op
from bogda.forecast import verify
from bogda.forecast.features import Panel
from bogda.forecast.nwp_archive import NwpArchive
from bogda.store import Store
from bogda.store.schema import forecast, forecast_run

WINDOW_DAYS = 90
"""Length of the rolling backtest window [days] (forecast.md §3.4, d)."""
TOLERANCE = 0.01
"""How much worse RMSE and MAE may be (1 %, d)."""
COVERAGE = (0.75, 0.85)
"""Accepted p10–p90 coverage of the candidate (d)."""
MIN_PAIRS = 100
"""Matched pairs per item and horizon below which RMSE and MAE are not compared (d)."""
HORIZONS: tuple[tuple[str, int], ...] = (("hour", 24), ("day", 1))
"""(resolution, lead) compared: hourly 24 h and daily D+1, the goal horizons (forecast.md §8.10)."""


@dataclass(frozen=True)
class Check:
    """One item and horizon: the candidate's figures against the set in service, and whether it passes."""

    item: str
    resolution: str
    lead: int
    n: int  # pairs with a forecast of both sets and an observation
    rmse_new: float | None
    rmse_current: float | None
    mae_new: float | None
    mae_current: float | None
    coverage_new: float | None  # on every probe pair with an observation
    passed: bool
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on a candidate, with every check and the window it was scored on."""

    accept: bool
    reason: str
    checks: tuple[Check, ...] = ()
    window: tuple[datetime, datetime] | None = None
    candidate: str = ""
    current: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["window"] = [t.isoformat() for t in self.window] if self.window else None
        return out


def judge(
    pairs: pl.DataFrame,
    *,
    tolerance: float = TOLERANCE,
    coverage: tuple[float, float] = COVERAGE,
    min_pairs: int = MIN_PAIRS,
) -> list[Check]:
    """Checks per (item, resolution, lead) of ``pairs``.

    Parameters
    ----------
    pairs : one row per probe forecast: ``item``, ``resolution``, ``lead``, ``obs``, ``new_mean``, ``new_p10``,
        ``new_p90`` and ``current_mean`` (null where the set in service issued nothing for that pair) [µg/m³]
    tolerance : relative worsening allowed in RMSE and MAE
    coverage : accepted range of the share of observations inside [p10, p90]
    min_pairs : matched pairs needed to compare RMSE and MAE
    """
    checks = []
    for (item, res, lead), g in pairs.group_by("item", "resolution", "lead", maintain_order=True):
        g = g.filter(pl.col("obs").is_finite() & pl.col("new_mean").is_finite())
        cov = (
            verify.coverage(g["obs"].to_numpy(), g["new_p10"].to_numpy(), g["new_p90"].to_numpy()) if g.height else None
        )
        m = g.filter(pl.col("current_mean").is_not_null() & pl.col("current_mean").is_finite())
        o = m["obs"].to_numpy()
        rn = rc = an = ac = None
        reasons = []
        ok = True
        if m.height >= min_pairs:
            rn, rc = verify.rmse(m["new_mean"].to_numpy(), o), verify.rmse(m["current_mean"].to_numpy(), o)
            an, ac = verify.mae(m["new_mean"].to_numpy(), o), verify.mae(m["current_mean"].to_numpy(), o)
            for name, new, cur in (("RMSE", rn, rc), ("MAE", an, ac)):
                if new is not None and cur is not None and new > (1 + tolerance) * cur:
                    ok = False
                    reasons.append(f"{name} {new:.2f} > {1 + tolerance:.2f} × {cur:.2f}")
        else:
            reasons.append(f"RMSE/MAE not compared: {m.height} pairs with the record (< {min_pairs})")
        if cov is None or not coverage[0] <= cov <= coverage[1]:
            ok = False
            shown = "none" if cov is None else f"{cov:.3f}"
            reasons.append(f"p10–p90 coverage {shown} outside {coverage[0]:.2f}–{coverage[1]:.2f}")
        checks.append(Check(str(item), str(res), int(lead), m.height, rn, rc, an, ac, cov, ok, "; ".join(reasons)))
    return checks


def decide(checks: Sequence[Check], *, has_current: bool) -> tuple[bool, str]:
    """Accept when every check passes; without a set in service there is nothing to keep, so accept anyway."""
    failed = [c for c in checks if not c.passed]
    if not has_current:
        return True, "no set in service: the candidate is the first" + (
            f" ({len(failed)} check(s) would have failed)" if failed else ""
        )
    if not checks:
        return False, "nothing to compare: no item of the candidate could be scored over the window"
    if failed:
        names = ", ".join(f"{c.item} {c.lead}{'h' if c.resolution == 'hour' else 'd'}" for c in failed)
        return False, f"rejected: {names} failed"
    return True, f"accepted: {len(checks)} check(s) passed"


# --------------------------------------------------------------------------------------------------------------
# Scoring over the window
# --------------------------------------------------------------------------------------------------------------


def issue_positions(panel: Panel, first_day: int, last_day: int, issue_hour: int) -> list[int]:
    """One issue position a day (hour ``issue_hour`` of each Beijing day), leaving room for the D+1 observation."""
    return [d * 24 + issue_hour for d in range(first_day, last_day + 1) if (d + 1) * 24 + 23 < panel.n_hours]


def probe_pairs(
    panel: Panel,
    probe: op.OperationalModels,
    items: Sequence[str],
    positions: Sequence[int],
    nwp: NwpArchive | None = None,
) -> pl.DataFrame:
    """The probe's forecasts at the gate horizons for every target and issue position, with the observations.

    With ``nwp`` (the archived runs aligned with ``panel``) the probe's NWP sets forecast where a run was usable at
    the issue time, as the refresh does, so the probe is scored as it would have served."""
    rows: list[dict[str, Any]] = []
    for item in items:
        var = op._hourly_var(panel, item)
        daily_obs = op.daily_item(panel, item)
        for t in positions:
            issue = panel.start_utc + timedelta(hours=t + 1)  # the run issued when hour t had ended
            for res, lead in HORIZONS:
                if res == "hour":
                    if item not in op.HOURLY_ITEMS:
                        continue
                    fc = op.forecast_hourly(panel, item, t, leads=(lead,), models=probe, nwp=nwp)
                    obs = panel.data[var][:, t + lead]
                else:
                    if item not in op.DAILY_ITEMS:
                        continue
                    fc = op.forecast_daily(panel, item, t, horizons=(lead,), models=probe, nwp=nwp)
                    obs = daily_obs[:, t // 24 + lead]
                mean = fc.methods[fc.primary][:, 0]
                for i, code in enumerate(panel.stations):
                    rows.append(
                        {
                            "issue_time": issue,
                            "target_code": code,
                            "item": item,
                            "resolution": res,
                            "lead": lead,
                            "obs": float(obs[i]),
                            "new_mean": float(mean[i]),
                            "new_p10": float(fc.p10[i, 0]),
                            "new_p90": float(fc.p90[i, 0]),
                        }
                    )
    return pl.DataFrame(rows, schema=_PROBE_SCHEMA)


_PROBE_SCHEMA = {
    "issue_time": pl.Datetime("us", "UTC"),
    "target_code": pl.Utf8,
    "item": pl.Utf8,
    "resolution": pl.Utf8,
    "lead": pl.Int64,
    "obs": pl.Float64,
    "new_mean": pl.Float64,
    "new_p10": pl.Float64,
    "new_p90": pl.Float64,
}


def record_pairs(store: Store, items: Sequence[str], issue_times: Sequence[datetime]) -> pl.DataFrame:
    """What the set in service issued at ``issue_times`` at the gate horizons: the served method's mean."""
    cols = {
        "issue_time": pl.Datetime("us", "UTC"),
        "target_code": pl.Utf8,
        "item": pl.Utf8,
        "resolution": pl.Utf8,
        "lead": pl.Int64,
        "current_mean": pl.Float64,
    }
    if not issue_times or not items:
        return pl.DataFrame(schema=cols)
    q = (
        select(
            forecast_run.c.issue_time,
            forecast.c.target_code,
            forecast.c.item,
            forecast.c.resolution,
            forecast.c.lead,
            forecast.c.mean,
        )
        .join(forecast_run, forecast_run.c.id == forecast.c.run_id)
        .where(
            forecast_run.c.kind == "operational",
            forecast_run.c.issue_time.in_(list(issue_times)),
            forecast.c.item.in_(list(items)),
            forecast.c.p10.is_not(None),  # the served method carries the band; baselines beside it do not
            (
                ((forecast.c.resolution == "hour") & (forecast.c.lead == 24))
                | ((forecast.c.resolution == "day") & (forecast.c.lead == 1))
            ),
        )
        .order_by(forecast_run.c.id)  # so that "the last run" below is the newest, not whatever the server returns
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    frame = pl.DataFrame([tuple(r) for r in rows], schema=cols, orient="row")
    # a rerun at the same hour: the last run's value counts
    return frame.unique(["issue_time", "target_code", "item", "resolution", "lead"], keep="last", maintain_order=True)


def evaluate(
    store: Store,
    panel: Panel,
    candidate: op.OperationalModels,
    probe: op.OperationalModels | None,
    current: op.OperationalModels | None,
    *,
    nwp: NwpArchive | None = None,
    window_days: int = WINDOW_DAYS,
    tolerance: float = TOLERANCE,
    coverage: tuple[float, float] = COVERAGE,
    min_pairs: int = MIN_PAIRS,
) -> Verdict:
    """Score ``probe`` (the candidate's configuration trained before the window) and the record of the set in
    service over the last ``window_days`` whole days of ``panel``, and decide on ``candidate``."""
    current_version = current.version if current is not None else ""
    if current is None:
        return Verdict(True, "no set in service: the candidate is the first", candidate=candidate.version)
    if probe is None:
        return Verdict(
            True,
            "not gated: the history is too short to train a probe before the window",
            candidate=candidate.version,
            current=current_version,
        )
    last_day = panel.n_days - 2  # the last day whose D+1 has been observed
    first_day = max(0, last_day - window_days + 1)
    positions = issue_positions(panel, first_day, last_day, candidate.issue_hour)
    items = [it for it in candidate.items if it in probe.items]
    new = probe_pairs(panel, probe, items, positions, nwp)
    times = sorted(set(new["issue_time"].to_list()))
    rec = record_pairs(store, items, times)
    pairs = new.join(rec, on=["issue_time", "target_code", "item", "resolution", "lead"], how="left")
    checks = judge(pairs, tolerance=tolerance, coverage=coverage, min_pairs=min_pairs)
    accept, reason = decide(checks, has_current=True)
    window = (panel.start_utc + timedelta(days=first_day), panel.start_utc + timedelta(days=last_day + 1))
    return Verdict(accept, reason, tuple(checks), window, candidate.version, current_version)


def log_verdict(verdict: Verdict, path: Path) -> None:
    """Append the verdict as one JSON line (the gate's history beside the model files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(verdict.as_dict(), ensure_ascii=False, default=str) + "\n")


def read_verdicts(path: Path, limit: int = 20) -> list[Mapping[str, Any]]:
    """The last ``limit`` verdicts, newest first."""
    if not path.is_file():
        return []
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    out = []
    for ln in reversed(lines[-limit:]):
        try:
            out.append(json.loads(ln))
        except json.JSONDecodeError:
            continue  # a torn last line after a crash: skipped, the others stay readable
    return out


__all__ = [
    "COVERAGE",
    "HORIZONS",
    "MIN_PAIRS",
    "TOLERANCE",
    "WINDOW_DAYS",
    "Check",
    "Verdict",
    "decide",
    "evaluate",
    "issue_positions",
    "judge",
    "log_verdict",
    "probe_pairs",
    "read_verdicts",
    "record_pairs",
]
