from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bogda.registry import places as P
from bogda.registry.importers import ImportRejected, import_file
from bogda.registry.sites import with_check_digit
from bogda.store import Store
from bogda.store.schema import enterprise, outlet, place, site

GOOD_CREDIT = with_check_digit("91652300MA78ABCD1")


@pytest.fixture
def region(store: Store) -> Store:
    P.load_prefecture(store, "652300")
    return store


def _count(store: Store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_station_csv_gb18030_imports_with_place(region: Store, tmp_path: Path) -> None:
    f = tmp_path / "stations.csv"
    f.write_bytes(
        "编码,名称,经度,纬度,对照点\n2691A,州监测站,87.2997,44.0114,否\n2690A,天山天池,88.1236,43.8886,是\n".encode(
            "gb18030"
        )
    )
    report = import_file(region, "stations", f)
    assert report.written == 2
    with region.engine.connect() as conn:
        rows = dict(conn.execute(select(site.c.code, place.c.code).join(place, place.c.id == site.c.place_id)).all())
    assert rows == {"2691A": "652301", "2690A": "652302"}


def test_station_elevation_is_kept_and_checked(region: Store, tmp_path: Path) -> None:
    f = tmp_path / "stations.csv"
    f.write_text("编码,名称,经度,纬度,海拔\n2691A,州监测站,87.2997,44.0114,577\n2690A,天山天池,88.1236,43.8886,\n")
    assert import_file(region, "stations", f).written == 2
    with region.engine.connect() as conn:
        attrs = dict(conn.execute(select(site.c.code, site.c.attrs)).all())
    assert attrs["2691A"]["elevation_m"] == 577.0 and "elevation_m" not in attrs["2690A"]
    f.write_text("编码,名称,经度,纬度,海拔\n2692A,山顶,87.3,44.0,19000\n")
    with pytest.raises(ImportRejected) as exc:
        import_file(region, "stations", f)
    assert [(e.line, e.column) for e in exc.value.errors] == [(2, "海拔")]  # named as the file names it
    assert "outside -500..9000" in exc.value.errors[0].reason


def test_bad_rows_are_all_reported_and_nothing_written(region: Store, tmp_path: Path) -> None:
    f = tmp_path / "enterprises.csv"
    f.write_text(
        "code,name,credit_code,sector,grade,lon,lat\n"
        f"E1,好企业,{GOOD_CREDIT},cement,A,87.3,44.0\n"
        "E2,坏信用代码,91652300MA78ABCD10,cement,A,87.3,44.0\n"
        f"E3,坏行业,{with_check_digit('91652300MA78ABCD2')},bakery,A,87.3,44.0\n"
        f"E4,坏经度,{with_check_digit('91652300MA78ABCD3')},cement,Z,200,44.0\n"
        f"E1,重复,{with_check_digit('91652300MA78ABCD4')},cement,A,87.3,44.0\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as exc:
        import_file(region, "enterprises", f)
    errs = [(e.line, e.column) for e in exc.value.errors]
    assert (3, "credit_code") in errs
    assert (4, "sector") in errs
    assert (5, "grade") in errs and (5, "lon") in errs
    assert (6, "code") in errs
    assert all(e.file == "enterprises.csv" for e in exc.value.errors)
    assert "check character" in next(e.reason for e in exc.value.errors if e.line == 3)
    assert _count(region, enterprise) == 0


def test_missing_required_column(region: Store, tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("code,name,lon\nX,Y,87\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as exc:
        import_file(region, "stations", f)
    assert exc.value.errors[0].column == "lat" and exc.value.errors[0].line == 1


def test_database_conflict_rolls_back_whole_file(region: Store, tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("code,name,lon,lat\nA1,甲,87.3,44.0\n", encoding="utf-8")
    import_file(region, "stations", f)
    g = tmp_path / "s2.csv"
    g.write_text("code,name,lon,lat\nA2,乙,87.3,44.0\nA1,甲again,87.3,44.0\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as exc:
        import_file(region, "stations", g)
    assert exc.value.errors[0].line == 3 and "already exists" in exc.value.errors[0].reason
    assert _count(region, site) == 1  # A2 was rolled back with the file


def test_xlsx_enterprise_outlets_meters_devices(region: Store, tmp_path: Path) -> None:
    def xlsx(name: str, rows: list[list[object]]) -> Path:
        wb = Workbook()
        for r in rows:
            wb.active.append(r)
        path = tmp_path / name
        wb.save(path)
        return path

    import_file(
        region,
        "enterprises",
        xlsx(
            "e.xlsx",
            [
                ["企业编码", "企业名称", "统一社会信用代码", "行业", "经度", "纬度"],
                ["E1", "水泥厂", GOOD_CREDIT, "cement", 87.18, 43.98],
            ],
        ),
    )
    import_file(
        region,
        "outlets",
        xlsx(
            "o.xlsx",
            [
                ["enterprise_code", "code", "name", "medium", "o2_reference", "limit_a21026", "limit_a21002"],
                ["E1", "E1-DA001", "窑尾", "gas", 10, 50, 100],
            ],
        ),
    )
    import_file(
        region,
        "meters",
        xlsx(
            "m.xlsx",
            [
                ["enterprise_code", "code", "name", "role", "paired_code"],
                ["E1", "E1-M2", "治污", "treatment", None],
                ["E1", "E1-M1", "生产", "production", "E1-M2"],
            ],
        ),
    )
    import_file(
        region,
        "devices",
        xlsx(
            "d.xlsx",
            [["mn", "password", "site_kind", "site_code"], ["65230000000001", "pw-123456", "outlet", "E1-DA001"]],
        ),
    )
    with region.engine.connect() as conn:
        lim = conn.execute(select(outlet.c.limits, outlet.c.o2_reference)).one()
    assert lim.limits["a21026"]["limit"] == 50.0 and lim.o2_reference == 10.0
    with pytest.raises(ImportRejected) as exc:
        import_file(
            region,
            "devices",
            xlsx("d2.xlsx", [["mn", "password", "site_kind", "site_code"], ["65230000000002", "pw", "outlet", "NOPE"]]),
        )
    assert "NOPE" in exc.value.errors[0].reason


def test_geojson_park_with_broken_geometry_repaired(region: Store, tmp_path: Path) -> None:
    bowtie = [[[88.6, 44.6], [89.0, 45.0], [89.0, 44.6], [88.6, 45.0], [88.6, 44.6]]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "P1", "name": "园区", "kind": "park", "parent_code": "652300"},
                "geometry": {"type": "Polygon", "coordinates": bowtie},
            },
        ],
    }
    f = tmp_path / "parks.geojson"
    f.write_text(json.dumps(doc), encoding="utf-8")
    assert import_file(region, "places", f).written == 1
    bad = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "P2", "name": "线", "kind": "park"},
                "geometry": {"type": "LineString", "coordinates": [[88, 44], [89, 45]]},
            },
            {"type": "Feature", "properties": {"code": "P3", "kind": "nonsense"}, "geometry": None},
        ],
    }
    g = tmp_path / "bad.geojson"
    g.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ImportRejected) as exc:
        import_file(region, "places", g)
    reasons = {(e.line, e.column): e.reason for e in exc.value.errors}
    assert "LineString" in reasons[(1, "geometry")]
    assert (2, "name") in reasons and (2, "kind") in reasons


def test_unreadable_files(region: Store, tmp_path: Path) -> None:
    f = tmp_path / "x.xlsx"
    f.write_bytes(b"not a zip")
    with pytest.raises(ImportRejected, match="not a readable Excel file"):
        import_file(region, "stations", f)
    pdf = tmp_path / "y.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(ImportRejected, match="unsupported file type"):
        import_file(region, "stations", pdf)
    with pytest.raises(ImportRejected, match="file not found"):
        import_file(region, "stations", tmp_path / "missing.csv")


def test_enterprise_import_accepts_both_leading_grades(region: Store, tmp_path: Path) -> None:
    """非引领性 is a grade the grading ledger writes (a downgrade from 引领性): the registry import takes it."""
    f = tmp_path / "enterprises.csv"
    f.write_text(
        "编码,名称,统一社会信用代码,行业,绩效分级,经度,纬度\n"
        f"E1,引领水泥,{GOOD_CREDIT},cement,引领性,87.3,44.0\n"
        f"E2,非引领水泥,{with_check_digit('91652300MA78ABCD2')},cement,非引领性,87.3,44.0\n",
        encoding="utf-8",
    )
    assert import_file(region, "enterprises", f).written == 2
    with region.engine.connect() as conn:
        grades = dict(conn.execute(select(site.c.code, enterprise.c.grade).join(enterprise)).all())
    assert grades == {"E1": "引领性", "E2": "非引领性"}
