"""Bulletin points in the store: the real straw-burning list (fire.md §8.7, §8.15) and matching to detections."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from bogda import findings as F
from bogda.fire.bulletin_store import bulletin_findings, bulletin_points, import_bulletin, match_bulletins, unmatched
from bogda.fire.service import ingest_files, stats
from bogda.registry import places as P
from bogda.store import Store

XLSX = "china_straw_burning_fire_points_2016-08_2017-02.xlsx"
CHANGJI_NAMES = {
    "652301": "昌吉市",
    "652302": "阜康市",
    "652323": "呼图壁县",
    "652324": "玛纳斯县",
    "652325": "奇台县",
    "652327": "吉木萨尔县",
    "652328": "木垒哈萨克自治县",
}


def test_real_bulletin_list_is_stored_attributed_and_counted(store: Store, fire_dir: Path) -> None:
    P.load_prefecture(store, "652300")
    r = import_bulletin(store, fire_dir / XLSX)
    assert (r.n_rows, r.n_new, r.n_known, len(r.rejected)) == (2583, 2583, 0, 0)
    assert r.n_in_area == 9  # fire.md §8.7: 9 rows in 昌吉回族自治州
    pts = bulletin_points(store).filter(pl.col("county_code").is_not_null())
    # polygon attribution agrees with the county the bulletin lists, for all 9
    assert all(CHANGJI_NAMES[c] == n for c, n in pts.select("county_code", "county").iter_rows())
    again = import_bulletin(store, fire_dir / XLSX)
    assert (again.n_new, again.n_known) == (0, 2583)
    assert bulletin_points(store).height == 2583
    month = stats(store, by="month")
    pref = month.filter((pl.col("county_code") == "all") & (pl.col("sensor") == "all")).sort("month")
    counts = dict(zip(pref["month"], pref["bulletin_points"], strict=True))
    assert (counts["2016-08"], counts["2016-09"], counts["2016-10"]) == (1, 1, 7)  # fire.md §8.15
    hutubi = month.filter((pl.col("county_code") == "652323") & (pl.col("sensor") == "all"))
    assert int(hutubi["bulletin_points"].sum()) == 4


def test_bulletin_points_match_detections_of_the_same_day(store: Store, fire_dir: Path, tmp_path: Path) -> None:
    P.load_prefecture(store, "652300")
    import_bulletin(store, fire_dir / XLSX)
    pts = bulletin_points(store).filter(pl.col("county_code").is_not_null()).sort("id")
    target = pts.row(0, named=True)
    day: date = target["date_bjt"]
    csv = tmp_path / "fire_nrt_synthetic.csv"
    csv.write_text(
        "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,"
        "daynight\n"
        f"{target['lat'] + 0.005:.5f},{target['lon']:.5f},330.1,1.0,1.0,{day.isoformat()},0500,T,85,6.1NRT,"
        "290.2,20.5,D\n"
    )
    rep = ingest_files(store, [csv], learn=False)
    assert rep.n_stored == 1
    assert match_bulletins(store, day, day) == 1
    row = bulletin_points(store).filter(pl.col("id") == target["id"]).row(0, named=True)
    assert row["matched"] and row["matched_detection_id"] is not None
    only_bulletin, only_satellite = unmatched(store, pts["date_bjt"].min(), pts["date_bjt"].max())
    assert target["id"] not in only_bulletin["id"].to_list() and only_bulletin.height == 8
    assert only_satellite.height == 0
    month = stats(store, by="month", county=target["county_code"])
    m = month.filter((pl.col("sensor") == "all") & (pl.col("month") == day.strftime("%Y-%m"))).row(0, named=True)
    assert m["bulletin_matched"] == 1 and m["points_screened"] == 1
    # the 8 unmatched points in Changji become fire findings (source bulletin), once
    lo, hi = pts["date_bjt"].min(), pts["date_bjt"].max()
    made = bulletin_findings(store, lo, hi)
    assert len(made) == 8
    rows, _ = F.query(store, kinds=["fire"])
    bulletin = [r for r in rows if r["evidence"].get("source") == "bulletin"]
    assert len(bulletin) == 8 and all(r["place_id"] is not None for r in bulletin)
    assert target["id"] not in {r["evidence"]["bulletin_point_id"] for r in bulletin}
    assert bulletin_findings(store, lo, hi) == []
