"""Archived NWP runs as issued, for training and backtests in weather mode ``nwp`` (forecast.md §3.4, §3.9).

Training on observed weather (``observed_proxy``) teaches a model a perfect forecast it will never get; training
on the runs *as they were issued* teaches it the forecast error that grows with lead time. An
:class:`NwpArchive` holds every archived run interpolated to the panel's rows (``nwp_value`` rows, e.g. from
:func:`bogda.forecast.nwp.read_nwp` on the archived NetCDF / GRIB2 files) as arrays (runs, rows, lead hours),
and answers, for an issue position t, with the run that was usable then: the newest run available by the issue
time, not older than the newest expected run by more than 24 h (d) (:func:`bogda.forecast.weather.select_run`
applies the same rule to one issue time). Available (forecast.md §2): at the recorded arrival time when the store
has one (:func:`bogda.forecast.nwp.load_nwp` records when a run was first loaded in table ``nwp_run``, read with
:func:`bogda.forecast.nwp.run_info`), else at run_time + latency (6 h (d)).
Inputs never come from a run issued, or arrived, after t: a backtest in mode ``nwp`` sees only what a forecaster had.

A run loaded with corrupt GRIB messages skipped is ``degraded`` (forecast.md §6): :meth:`NwpArchive.run_reasons`
gives the reason for the forecast run that uses it.

Hour positions follow the panel: position t is the hour [t, t+1) (interval start); a forecast issued "at t" is
made at the end of that hour, time t+1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from bogda.forecast.features import DAILY_WEATHER_AGG, WEATHER, Panel, relative_humidity
from bogda.forecast.nwp import RUN_SCHEMA, degraded_reason, runs_of
from bogda.forecast.weather import NWP_FALLBACK_AGE, NWP_LATENCY


class NwpArchiveError(ValueError):
    """The archive cannot serve the panel (no run, no station covered), naming what is missing."""


@dataclass
class NwpArchive:
    """Runs × panel rows × lead hours of each weather variable; lead j is the hour [run + j, run + j + 1)."""

    panel: Panel
    run_times: list[datetime]
    run_pos: np.ndarray  # hour position of each run time in the panel (sorted)
    data: dict[str, np.ndarray]
    latency_h: int = int(NWP_LATENCY.total_seconds() // 3600)
    fallback_h: int = int(NWP_FALLBACK_AGE.total_seconds() // 3600)
    source: str = ""
    arrival_pos: np.ndarray | None = None
    """Recorded arrival of each run in panel hours (fractional; NaN: none recorded, run_time + latency applies)."""
    notes: list[list[str]] | None = None
    """Per run, why a forecast using it is ``degraded`` (e.g. corrupt GRIB messages skipped at load)."""
    issue_aware: bool = field(default=True, init=False)
    _cum: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, init=False, repr=False)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(v for v in WEATHER if v in self.data)

    @property
    def max_lead(self) -> int:
        return next(iter(self.data.values())).shape[2] - 1

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_values(
        cls,
        values: pl.DataFrame,
        like: Panel,
        *,
        max_lead: int | None = None,
        runs: pl.DataFrame | None = None,
    ) -> NwpArchive:
        """Build from ``nwp_value`` rows (``source, run_time, valid_start, location_id, variable, value``).

        Derived variables are completed where their inputs exist: RH from T and Td (Magnus), wind speed from u/v.
        Rows for locations not in the panel are ignored; a panel row the archive does not cover stays NaN.

        ``runs`` is the run table (``source, run_time, arrived_at, skipped_messages``:
        :data:`~bogda.forecast.nwp.RUN_SCHEMA`, e.g. :func:`bogda.forecast.nwp.run_info` of the same window; extra
        columns are ignored): the recorded arrivals (forecast.md §2) and the corrupt messages skipped at load, which
        make a run ``degraded`` (§6, :meth:`run_reasons`). Without it, or for a run it lacks, run_time + latency
        applies and the run is clean. A run position fed by several sources is available when the last of them is.
        Naive times are taken as UTC.

        Raises
        ------
        NwpArchiveError
            when no row matches a panel location or a known variable, or ``runs`` lacks one of its columns.
        """
        runs_table = _checked_runs(runs)
        v = values.filter(pl.col("location_id").is_in(list(like.stations)) & pl.col("variable").is_in(list(WEATHER)))
        if v.height == 0:
            raise NwpArchiveError(
                f"the NWP archive has no values for the panel's locations ({', '.join(like.stations[:5])}…) "
                f"and variables {', '.join(WEATHER)}"
            )
        t0 = np.datetime64(like.start_utc.replace(tzinfo=None), "h")
        run_h = ((v["run_time"].dt.replace_time_zone(None).to_numpy().astype("datetime64[h]")) - t0).astype(np.int64)
        val_h = ((v["valid_start"].dt.replace_time_zone(None).to_numpy().astype("datetime64[h]")) - t0).astype(np.int64)
        runs = np.unique(run_h)
        lead = val_h - run_h
        keep = lead >= 0
        L = int(lead[keep].max()) if max_lead is None else max_lead
        keep &= lead <= L
        r_idx = np.searchsorted(runs, run_h)
        row = {c: i for i, c in enumerate(like.stations)}
        s_idx = np.array([row[c] for c in v["location_id"].to_list()])
        var = v["variable"].to_numpy()
        val = v["value"].to_numpy().astype(float)
        data: dict[str, np.ndarray] = {}
        for name in np.unique(var):
            m = keep & (var == name)
            arr = np.full((runs.size, len(like.stations), L + 1), np.nan)
            arr[r_idx[m], s_idx[m], lead[m]] = val[m]
            data[str(name)] = arr
        if "rh2m" not in data and {"t2m", "td2m"} <= set(data):
            data["rh2m"] = relative_humidity(data["t2m"], data["td2m"])
        if "ws10" not in data and {"u10", "v10"} <= set(data):
            data["ws10"] = np.hypot(data["u10"], data["v10"])
        base = like.start_utc
        from datetime import timedelta

        times = [base + timedelta(hours=int(h)) for h in runs]
        src = ",".join(sorted(set(v["source"].to_list()))) if "source" in v.columns else ""
        arrival, notes = _run_bookkeeping(runs_table, v, runs, t0, cls.latency_h)
        return cls(like, times, runs, data, source=src, arrival_pos=arrival, notes=notes)

    # ---- run selection ------------------------------------------------------------------------------------
    def available_pos(self) -> np.ndarray:
        """Panel hour from which each run is usable: its recorded arrival, else run_time + latency (forecast.md §2)."""
        expected = (self.run_pos + self.latency_h).astype(float)
        if self.arrival_pos is None:
            return expected
        return np.where(np.isfinite(self.arrival_pos), self.arrival_pos, expected)

    def run_for(self, t: np.ndarray) -> np.ndarray:
        """Index of the run usable when forecasting from issue position ``t`` (−1: none, mode ``none`` applies).

        The newest run (by run time) available at the issue time t + 1; arrivals need not follow run times (a late
        run), so the runs are walked in order of availability keeping the newest seen."""
        issue = np.asarray(t) + 1
        avail = self.available_pos()
        order = np.argsort(avail, kind="stable")
        newest = np.maximum.accumulate(order)
        k = np.searchsorted(avail[order], issue, side="right")
        i = np.where(k > 0, newest[np.maximum(k - 1, 0)], -1)
        ok = i >= 0
        expected = self.run_pos + self.latency_h
        age = np.where(ok, issue - expected[np.maximum(i, 0)], np.inf)
        # the newest run that could have arrived is at most 24 h (d) older than expected
        return np.where(ok & (age <= self.fallback_h + self._cycle_h), i, -1)

    def run_reasons(self, index: int) -> list[str]:
        """Why a forecast made with run ``index`` is ``degraded`` ([] for a clean run or index −1, forecast.md §6)."""
        if index < 0 or self.notes is None:
            return []
        return list(self.notes[index])

    @property
    def _cycle_h(self) -> int:
        # runs arrive every cycle (e.g. 12 h): an age within one cycle is the newest run, not a fallback
        return int(np.median(np.diff(self.run_pos))) if self.run_pos.size > 1 else 0

    def hours_since_run(self, t: np.ndarray) -> np.ndarray:
        r = self.run_for(t)
        return np.where(r >= 0, np.asarray(t) + 1 - self.run_pos[np.maximum(r, 0)], np.nan).astype(float)

    def _lead(self, r: np.ndarray, tgt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = np.asarray(tgt) - self.run_pos[np.maximum(r, 0)]
        ok = (r >= 0) & (j >= 0) & (j <= self.max_lead)
        return np.clip(j, 0, self.max_lead), ok

    # ---- values as the feature functions read them ---------------------------------------------------------
    def at(self, var: str, s: np.ndarray, tgt: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Value of ``var`` for the hour ``tgt`` from the run usable at issue position ``t`` (NaN: not covered)."""
        r = self.run_for(t)
        j, ok = self._lead(r, tgt)
        out = self.data[var][np.maximum(r, 0), s, j]
        return np.where(ok, out, np.nan)

    def _cums(self, var: str) -> tuple[np.ndarray, np.ndarray]:
        if var not in self._cum:
            x = self.data[var]
            ok = np.isfinite(x)
            z = np.zeros((*x.shape[:2], 1))
            self._cum[var] = (
                np.concatenate([z, np.cumsum(np.where(ok, x, 0.0), axis=2)], axis=2),
                np.concatenate([z, np.cumsum(ok, axis=2)], axis=2),
            )
        return self._cum[var]

    def span_stats(
        self, var: str, s: np.ndarray, t: np.ndarray, tgt: np.ndarray, min_frac: float = 0.5
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sum over the hours (t, tgt] from the run usable at ``t`` (NaN below ``min_frac`` coverage)."""
        r = self.run_for(t)
        rr = np.maximum(r, 0)
        j1 = np.clip(np.asarray(t) + 1 - self.run_pos[rr], 0, self.max_lead + 1)
        j2 = np.clip(np.asarray(tgt) + 1 - self.run_pos[rr], 0, self.max_lead + 1)
        cs, cn = self._cums(var)
        tot = cs[rr, s, j2] - cs[rr, s, j1]
        cnt = cn[rr, s, j2] - cn[rr, s, j1]
        want = np.maximum(np.asarray(tgt) - np.asarray(t), 1)
        ok = (r >= 0) & (cnt >= min_frac * want) & (cnt > 0)
        mean = np.where(ok, tot / np.maximum(cnt, 1), np.nan)
        return mean, np.where(ok, mean * want, np.nan)

    def daily(self, name: str, s: np.ndarray, day: np.ndarray, target_day: np.ndarray, issue_hour: int) -> np.ndarray:
        """Daily aggregate ``name`` (``t2m_max``, ``precip_sum`` … of :data:`DAILY_WEATHER_AGG`) of Beijing day
        ``target_day`` from the run usable at hour ``issue_hour`` of ``day`` (≥ 18 of 24 hours covered)."""
        var, how = name.rsplit("_", 1)
        t = np.asarray(day) * 24 + issue_hour
        r = self.run_for(t)
        hours = np.asarray(target_day)[:, None] * 24 + np.arange(24)[None, :]
        j = hours - self.run_pos[np.maximum(r, 0)][:, None]
        ok = (r >= 0)[:, None] & (j >= 0) & (j <= self.max_lead)
        vals = self.data[var][np.maximum(r, 0)[:, None], np.asarray(s)[:, None], np.clip(j, 0, self.max_lead)]
        vals = np.where(ok, vals, np.nan)
        fin = np.isfinite(vals)
        cnt = fin.sum(axis=1)
        with np.errstate(all="ignore"):
            if how == "mean":
                out = np.where(fin, vals, 0.0).sum(axis=1) / np.maximum(cnt, 1)
            elif how == "sum":
                out = np.where(fin, vals, 0.0).sum(axis=1) * 24.0 / np.maximum(cnt, 1)
            elif how == "max":
                out = np.where(fin, vals, -np.inf).max(axis=1)
            elif how == "min":
                out = np.where(fin, vals, np.inf).min(axis=1)
            else:
                raise ValueError(f"unknown aggregate {how!r} in {name!r}")
        return np.where(cnt >= 18, out, np.nan)

    def daily_names(self) -> list[str]:
        return [f"{v}_{how}" for v, how in DAILY_WEATHER_AGG if v in self.data]


def _checked_runs(runs: pl.DataFrame | None) -> pl.DataFrame | None:
    """``runs`` with its run table columns, or a clear error naming the missing ones."""
    if runs is None:
        return None
    missing = [c for c in RUN_SCHEMA if c not in runs.columns]
    if missing:
        raise NwpArchiveError(
            f"NWP run table: missing column(s) {', '.join(missing)} (needs {', '.join(RUN_SCHEMA)}, "
            "as bogda.forecast.nwp.run_info returns)"
        )
    return runs.filter(pl.col("run_time").is_not_null())


def _hours(col: pl.Series, t0: np.datetime64) -> np.ndarray:
    """Panel hours (fractional) of a datetime column since ``t0``: aware times converted to UTC, naive taken as UTC,
    null → NaN."""
    if col.dtype == pl.Null:
        return np.full(col.len(), np.nan)
    if getattr(col.dtype, "time_zone", None):
        col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    us = col.dt.cast_time_unit("us").to_numpy().astype("datetime64[us]")
    return (us - t0.astype("datetime64[us]")) / np.timedelta64(1, "h")


def _run_bookkeeping(
    runs: pl.DataFrame | None, kept: pl.DataFrame, run_pos: np.ndarray, t0: np.datetime64, latency_h: int
) -> tuple[np.ndarray, list[list[str]]]:
    """Arrival (panel hours, NaN: none recorded) and ``degraded`` reasons of each run position from the run table
    ``runs``; ``kept`` are the value rows used (which sources feed which run: without a ``source`` column, every
    source recorded at the run's time)."""
    arrival = np.full(run_pos.size, np.nan)
    notes: list[list[str]] = [[] for _ in run_pos]
    if runs is None or runs.height == 0:
        return arrival, notes
    run_h = np.floor(_hours(runs["run_time"], t0)).astype(np.int64)
    arr_h = _hours(runs["arrived_at"], t0)
    skipped = runs["skipped_messages"].cast(pl.Int64, strict=False).fill_null(0).to_list()
    recorded: dict[tuple[str, int], tuple[float, int, datetime]] = {
        (str(src), int(h)): (float(a), int(n), rt)
        for src, h, a, n, rt in zip(
            runs["source"].to_list(), run_h, arr_h, skipped, runs["run_time"].to_list(), strict=True
        )
    }
    if "source" in kept.columns:
        fed = kept.select("source", "run_time").unique()
        hours = np.floor(_hours(fed["run_time"], t0)).astype(np.int64)
        pairs = {(str(src), int(h)) for src, h in zip(fed["source"].to_list(), hours, strict=True)}
    else:
        at_runs = set(run_pos.tolist())
        pairs = {key for key in recorded if key[1] in at_runs}
    is_recorded = np.zeros(run_pos.size, dtype=bool)
    latest = np.full(run_pos.size, -np.inf)
    for src, h in sorted(pairs):
        k = int(np.searchsorted(run_pos, h))
        if k >= run_pos.size or run_pos[k] != h:
            continue
        arr, n, rt = recorded.get((src, h), (np.nan, 0, None))
        is_recorded[k] |= bool(np.isfinite(arr))
        latest[k] = max(latest[k], arr if np.isfinite(arr) else h + latency_h)
        if n > 0 and rt is not None:
            notes[k].append(degraded_reason(src, rt, n))
    return np.where(is_recorded, latest, np.nan), notes


def archive_from_files(
    paths: Sequence[str], like: Panel, points: dict[str, tuple[float, float]], *, source: str | None = None
) -> tuple[NwpArchive, list[str]]:
    """Read archived NWP files (NetCDF / GRIB2 / CSV via :func:`bogda.forecast.nwp.read_nwp`), one run or more
    each, into an archive aligned with ``like``. Returns the archive and the per-file rejection messages. A file
    with corrupt GRIB messages skipped makes its runs ``degraded`` (:meth:`NwpArchive.run_reasons`); files carry
    no arrival time, so run_time + latency applies."""
    from bogda.forecast.nwp import corrupt_messages, read_nwp

    frames, runs, problems = [], [], []
    for p in paths:
        batch = read_nwp(p, points, source=source)
        frames.append(batch.values)
        runs.append(runs_of(batch.values, skipped=corrupt_messages(batch)))
        problems.extend(f"{p}: {e.field}: {e.reason}" for e in batch.errors)
    if not frames:
        raise NwpArchiveError("no NWP files given")
    # a run split over several files (e.g. one per variable) is degraded by the corrupt messages of all of them
    table = (
        pl.concat(runs).group_by("source", "run_time").agg(pl.col("arrived_at").min(), pl.col("skipped_messages").sum())
    )
    return NwpArchive.from_values(pl.concat(frames, how="vertical_relaxed"), like, runs=table), problems
