"""Days-avoided results: the ``intervention_eval`` record, its storage and its presentation (forecast.md §4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bogda.forecast.avoided.checks import Check, verdict
from bogda.forecast.avoided.counterfactual import Estimate
from bogda.forecast.avoided.params import LABEL_WEATHER_ONLY, AvoidedParams

if TYPE_CHECKING:
    from bogda.store import Store


@dataclass(frozen=True)
class InterventionResult:
    """One ``intervention_eval`` row (§4). Counts in days, ``mde_pct`` in % of the concentration."""

    label: str
    targets: tuple[str, ...]
    controls: tuple[str, ...]
    pollutant: str
    event: str
    window_start: date
    window_end: date
    n_obs: int
    cf_expected: float
    avoided_median: float
    ci90: tuple[float, float]
    mde_days: float
    mde_pct: float
    placebo: dict[str, Any]
    injection: dict[str, Any]
    params: dict[str, Any]
    verdict: str

    def row(self, created_at: datetime) -> dict[str, Any]:
        """The column values of ``intervention_eval``."""
        d = asdict(self)
        d["targets"], d["controls"], d["ci90"] = list(self.targets), list(self.controls), list(self.ci90)
        d["created_at"] = created_at
        return d


def result_record(
    est: Estimate,
    checks: Sequence[Check],
    *,
    label: str,
    targets: Sequence[str],
    controls: Sequence[str],
    window: tuple[date, date],
    params: AvoidedParams,
    pollutant: str = "a34004",
    event: str | None = None,
) -> InterventionResult:
    """Assemble the ``intervention_eval`` record of one evaluation and its validation checks."""
    by = {c.name: c for c in checks}
    placebo = {n: {"passed": c.passed, **c.detail} for n, c in by.items() if n not in ("injection",)}
    placebo["bootstrap"] = {
        "cf_median": est.cf_median,
        "expected_analytic": est.expected,
        "expected_ci": list(est.expected_ci),
        "bss": est.bss,
        "sigma": est.sigma,
        "rho1": est.rho1,
        "n_eff": est.n_eff,
        "mde_log": est.mde_log,
    }
    inj = by.get("injection")
    return InterventionResult(
        label=label,
        targets=tuple(targets),
        controls=tuple(controls),
        pollutant=pollutant,
        event=event or f"daily>{params.threshold:g}",
        window_start=window[0],
        window_end=window[1],
        n_obs=est.n_obs,
        cf_expected=est.cf_median,
        avoided_median=est.avoided_median,
        ci90=est.ci90,
        mde_days=est.mde_days,
        mde_pct=est.mde_pct,
        placebo=placebo,
        injection={"passed": inj.passed, **inj.detail} if inj else {"passed": None, "not_run": True},
        params={k: _json_list(v) if isinstance(v, tuple) else v for k, v in asdict(params).items()},
        verdict=verdict(est, checks),
    )


def _json_list(v: tuple[Any, ...]) -> list[Any]:
    """A tuple (nested for the heating season) as JSON lists, the form the stored ``params`` read back in."""
    return [_json_list(x) if isinstance(x, tuple) else x for x in v]


def store_result(store: Store, result: InterventionResult) -> int:
    """Insert one evaluation into ``intervention_eval``; returns its id."""
    from bogda.store.schema import intervention_eval
    from bogda.timeutil import now_utc

    with store.begin() as conn:
        res = conn.execute(intervention_eval.insert().values(**result.row(now_utc())))
        return int(res.inserted_primary_key[0])


def read_results(store: Store, *, label: str | None = None) -> list[dict[str, Any]]:
    """Stored evaluations, newest first (optionally of one ``label``)."""
    from sqlalchemy import select

    from bogda.store.schema import intervention_eval

    q = select(intervention_eval).order_by(intervention_eval.c.id.desc())
    if label is not None:
        q = q.where(intervention_eval.c.label == label)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def read_result(store: Store, eval_id: int) -> dict[str, Any] | None:
    """One stored evaluation by id, or None."""
    from sqlalchemy import select

    from bogda.store.schema import intervention_eval

    with store.engine.connect() as conn:
        r = conn.execute(select(intervention_eval).where(intervention_eval.c.id == eval_id)).mappings().first()
    return dict(r) if r is not None else None


def presentation(row: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of one stored ``intervention_eval`` row (forecast.md §1 "shown only with an interval and
    a passed placebo test", §3.9 steps 4–5).

    The avoided figure (``avoided``, ``ci90``) is given only when the verdict is ``effect_detected``, every
    placebo in time was run and passed, no other check failed, and the 90 % interval is stored; otherwise both
    are None and the reader shows the verdict with the MDE. Pure: used by the API, the console and the duty report
    so that the rule lives in one place.
    """
    placebo = row.get("placebo") or {}
    checks = {k: v for k, v in placebo.items() if isinstance(v, Mapping) and "passed" in v}
    injection = row.get("injection") or {}
    if "passed" in injection:
        checks["injection"] = injection
    failed = sorted(k for k, v in checks.items() if v.get("passed") is False)
    in_time = [v for k, v in checks.items() if k.startswith("placebo_time")]
    placebo_ok = bool(in_time) and all(v.get("passed") is True for v in in_time)
    placebo_ok = placebo_ok and not any(k.startswith("placebo") for k in failed)
    ci = row.get("ci90")
    has_ci = isinstance(ci, Sequence) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci)
    show = row.get("verdict") == "effect_detected" and placebo_ok and not failed and has_ci
    return {
        "show_figure": bool(show),
        "avoided": row.get("avoided_median") if show else None,
        "ci90": [float(ci[0]), float(ci[1])] if show and ci is not None else None,
        "verdict": row.get("verdict"),
        "placebo_passed": placebo_ok,
        "failed_checks": failed,
        "mde_days": row.get("mde_days"),
        "mde_pct": row.get("mde_pct"),
        "unvalidated": LABEL_WEATHER_ONLY in str(row.get("label") or ""),
    }
