"""Readers of fire-point files (fire.md §2, §6, acceptance checks 1–4)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from bogda.fire.formats import (
    DETECTION_SCHEMA,
    FireFormatError,
    deduplicate,
    normalise_header,
    parse_degrees,
    read_bulletin,
    read_fire_file,
    satellite_name,
)
from bogda.fire.masks import apply_flags

# fire.md §8 check 1: rows per file
ROWS = [
    ("firms_modis_c61_global_24h_2022-02-27.csv", 19_416, "firms_csv"),
    ("firms_modis_c61_global_24h_2023-03-10.csv", 8_812, "firms_csv"),
    ("firms_modis_c61_global_24h_2023-08-01.csv", 36_555, "firms_csv"),
    ("firms_modis_c61_global_24h_2025-11-18.csv", 6_624, "firms_csv"),
    ("firms_modis_c61_global_24h_2025-11-23.csv", 13_423, "firms_csv"),
    ("firms_legacy_modis_c6_seasia_24h_2019-01-22.csv", 1_661, "firms_csv"),
    ("firms_legacy_viirs_snpp_seasia_24h_2019-01-22.csv", 5_870, "firms_csv"),
    ("firms_modis_shapefile_dbf_export_2019-03-11.csv", 119, "gis_export"),
    ("firms_country_archive_modis_2000_Colombia.csv", 1_372, "firms_archive"),
    ("firms_download_json_fire_nrt_M-C61_628466.json", 6_016, "firms_json"),
    ("firms_viirs_noaa20_nrt_api_2026-09-17_excerpt.csv", 192, "firms_api"),
    ("H09_20251209_1900_L2WLF010_FLDK.06001_06001.csv", 212, "ahi_wlf"),
    ("AFIMG_j01_d20210414_t1126439_e1128084_b17637_c20210414114130392094_cspp_dev.txt", 18, "cspp_afimg"),
]


@pytest.mark.parametrize(("name", "rows", "product"), ROWS)
def test_every_file_ingests(fire_dir: Path, name: str, rows: int, product: str) -> None:
    r = read_fire_file(fire_dir / name)
    assert r.detections.height == rows
    assert r.rejected == []
    assert r.product == product
    assert dict(r.detections.schema) == DETECTION_SCHEMA
    assert r.detections["acq_time_utc"].null_count() == 0
    assert r.detections["sensor"].null_count() == 0


def test_api_times_not_zero_padded(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_viirs_noaa20_nrt_api_2026-09-17_excerpt.csv").detections
    assert d["acq_time_utc"][0] == datetime(2026, 9, 17, 6, 29, tzinfo=UTC)
    lens = d["confidence_raw"].len()  # all rows
    three = d.filter(pl.col("daynight") == "D")
    four = d.filter(pl.col("daynight") == "N")
    assert (three.height, four.height, lens) == (93, 99, 192)
    assert (three["acq_time_utc"].dt.hour() < 10).all() and (four["acq_time_utc"].dt.hour() >= 10).all()
    assert d["satellite"].unique().to_list() == ["NOAA-20"]
    assert d["processing"].unique().to_list() == ["NRT"]
    counts = dict(d.group_by("confidence_class").len().iter_rows())
    assert counts == {"nominal": 178, "low": 14}


def test_dbf_export(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_modis_shapefile_dbf_export_2019-03-11.csv").detections
    assert d["acq_time_utc"][0] == datetime(2019, 3, 11, 3, 15, tzinfo=UTC)
    assert dict(d.group_by("satellite").len().iter_rows()) == {"Terra": 104, "Aqua": 14, "S-NPP": 1}
    viirs = d.filter(pl.col("satellite") == "S-NPP")
    assert viirs["sensor"].to_list() == ["VIIRS"]
    assert viirs["confidence_class"].to_list() == ["nominal"]
    assert d["bt_tir_k"].null_count() == 0  # bright_1 → bt_tir
    assert d["version"][0] == "6.0NRT"  # _version


def test_ahi(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "H09_20251209_1900_L2WLF010_FLDK.06001_06001.csv").detections
    assert sorted(d["acq_time_utc"].dt.strftime("%H:%M").unique().to_list()) == ["19:02", "19:08"]
    assert dict(d.group_by("confidence_raw").len().iter_rows()) == {"3": 111, "1": 74, "5": 27}
    assert d["frp_mw"].null_count() == d.height  # unit unresolved
    assert d["frp_raw"].null_count() == 0
    assert d["satellite"].unique().to_list() == ["Himawari-9"]
    assert ((d["scan_km"] ** 2 - d["pixel_area_km2"]).abs() < 1e-9).all()
    # 19 UTC is night over China (03 BJT) but day over the western Pacific/Australia at 05–06 local
    china = d.filter(pl.col("lon").is_between(73, 135) & pl.col("lat").is_between(18, 54))
    assert china["daynight"].unique().to_list() == ["N"]


def test_cspp(fire_dir: Path) -> None:
    name = "AFIMG_j01_d20210414_t1126439_e1128084_b17637_c20210414114130392094_cspp_dev.txt"
    d = read_fire_file(fire_dir / name).detections
    assert d["acq_time_utc"].unique().to_list() == [datetime(2021, 4, 14, 11, 27, 26, 150000, tzinfo=UTC)]
    assert d["satellite"].unique().to_list() == ["NOAA-20"]
    assert d["confidence_class"].unique().to_list() == ["nominal"]
    assert d["line_no"][0] == 16


def test_legacy_viirs_encodings(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_legacy_viirs_snpp_seasia_24h_2019-01-22.csv").detections
    assert dict(d.group_by("confidence_class").len().iter_rows()) == {"nominal": 5307, "low": 488, "high": 75}
    assert d.filter(pl.col("bt_mir_k") == 367.0).height == 82  # saturated I-4 rows are valid
    flags = apply_flags(d)
    assert flags["spurious"].sum() == 0  # no shared VIIRS row fails the spurious test


def test_archive_type(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_country_archive_modis_2000_Colombia.csv").detections
    assert dict(d.group_by("firms_type").len().iter_rows()) == {0: 1363, 2: 9}
    assert d["processing"].unique().to_list() == ["SP"]
    flags = apply_flags(d)
    assert flags.filter("masked_external")["firms_type"].to_list() == [2] * 9


def test_json_strings(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_download_json_fire_nrt_M-C61_628466.json").detections
    assert dict(d.group_by("satellite").len().iter_rows()) == {"Terra": 3368, "Aqua": 2648}
    assert d["acq_time_utc"][0] == datetime(2025, 6, 1, 3, 6, tzinfo=UTC)
    assert d["confidence_class"].null_count() == 0


def test_beijing_dates(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_modis_c61_global_24h_2025-11-18.csv").detections
    shifted = d.filter(pl.col("date_bjt") != pl.col("acq_time_utc").dt.date())
    assert shifted.height == 1098
    assert dict(d.group_by("date_bjt").len().iter_rows()) == {date(2025, 11, 18): 4394, date(2025, 11, 19): 2230}


def test_deduplication(fire_dir: Path) -> None:
    d = read_fire_file(fire_dir / "firms_modis_c61_global_24h_2025-11-18.csv").detections
    again, dup = deduplicate(d, d)
    assert (again.height, dup) == (0, 6624)
    both, dup = deduplicate(pl.concat([d, d]))
    assert (both.height, dup) == (6624, 6624)
    halves, _ = deduplicate(pl.concat([d.head(4000), d.tail(4000)]))
    assert halves.height == 6624


def test_five_global_files_distinct_keys(global5: pl.DataFrame) -> None:
    unique, dup = deduplicate(global5)
    assert unique.height == 84_830
    assert dup == global5.height - 84_830


# ---- synthetic files: encodings and bad rows (fire.md §2.3, §6)

HEADER = (
    "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight"
)


@pytest.mark.parametrize(
    ("acq_time", "expected"),
    [("629", (6, 29)), ("0005", (0, 5)), ("5", (0, 5)), ("03:15:00", (3, 15)), ("1:05", (1, 5)), ("2359", (23, 59))],
)
def test_time_encodings(tmp_path: Path, acq_time: str, expected: tuple[int, int]) -> None:
    f = tmp_path / "t.csv"
    f.write_text(f"{HEADER}\n44.9,89.2,320,1,1,2025-11-18,{acq_time},T,50,6.1NRT,290,5,D\n")
    t = read_fire_file(f).detections["acq_time_utc"][0]
    assert (t.hour, t.minute) == expected


@pytest.mark.parametrize(
    ("acq_date", "expected"),
    [
        ("2025-11-18", date(2025, 11, 18)),
        ("2025/11/18", date(2025, 11, 18)),
        ("11/18/2025", date(2025, 11, 18)),
        ("2025年11月18日", date(2025, 11, 18)),
        ("45979", date(2025, 11, 18)),  # Excel serial day
    ],
)
def test_date_encodings(tmp_path: Path, acq_date: str, expected: date) -> None:
    f = tmp_path / "d.csv"
    f.write_text(f"{HEADER}\n44.9,89.2,320,1,1,{acq_date},0349,T,50,6.1NRT,290,5,D\n")
    assert read_fire_file(f).detections["acq_time_utc"][0].date() == expected


def test_ambiguous_dates_are_a_file_error(tmp_path: Path) -> None:
    f = tmp_path / "amb.csv"
    f.write_text(f"{HEADER}\n44.9,89.2,320,1,1,03/04/2025,0349,T,50,6.1NRT,290,5,D\n")
    with pytest.raises(FireFormatError, match="ambiguous"):
        read_fire_file(f)
    assert read_fire_file(f, date_order="dmy").detections["acq_time_utc"][0].month == 4


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("95.0,89.2,320,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D", "lat", "outside"),
        ("44.9,189.2,320,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D", "lon", "outside"),
        ("44.9,89.2,320,1,1,2025-11-18,2460,T,50,6.1NRT,290,5,D", "acq_time", "hour > 23"),
        ("44.9,89.2,320,1,1,2025-11-18,0360,T,50,6.1NRT,290,5,D", "acq_time", "minute > 59"),
        ("44.9,89.2,320,1,1,2025-13-45,0349,T,50,6.1NRT,290,5,D", "acq_date", "date not recognised"),
        ("abc,89.2,320,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D", "lat", "not a number"),
        ("44.9,89.2,hot,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D", "bt_mir", "not a number"),
        ("44.9,89.2,320,1,1,2025-11-18,0349,T", "*", "expected 13 fields, found 8"),
    ],
)
def test_bad_rows_are_kept_with_reasons(tmp_path: Path, row: str, field: str, reason: str) -> None:
    good = "44.9,89.2,320,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D"
    f = tmp_path / "bad.csv"
    f.write_text(f"{HEADER}\n{good}\n{row}\n{good.replace('89.2', '89.3')}\n")
    r = read_fire_file(f)
    assert r.detections.height == 2
    assert r.n_rows == 3
    assert len(r.rejected) == 1
    bad = r.rejected[0]
    assert (bad.file, bad.line, bad.field) == ("bad.csv", 3, field)
    assert reason in bad.reason
    assert bad.raw.startswith(row[:10])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Invalid MAP_KEY.\n", "no latitude/longitude"),
        ("foo,bar\n1,2\n", "no latitude/longitude"),
        ("latitude,longitude,frp\n1,2,3\n", "missing time"),
    ],
)
def test_file_errors(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "x.csv"
    f.write_text(content)
    with pytest.raises(FireFormatError, match=message):
        read_fire_file(f)


def test_unsupported_format_lists_supported(tmp_path: Path) -> None:
    f = tmp_path / "fires.kml"
    f.write_text("<kml/>")
    with pytest.raises(FireFormatError, match="supported: FIRMS CSV"):
        read_fire_file(f)


def test_header_only_file_is_no_fires(tmp_path: Path) -> None:
    f = tmp_path / "empty.csv"
    f.write_text(HEADER + "\n")
    r = read_fire_file(f)
    assert (r.detections.height, r.rejected) == (0, [])


def test_mixed_file_sensor_per_row_and_unmapped_columns(tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_text(
        "\ufeff# Latitude,LONGITUDE,brightness,acq_date,acq_time,satellite,confidence,note\n"
        "44.9,89.2,320,2025-11-18,349,T,92,a\n"
        "44.9,89.2,330,2025-11-18,0512,N20,h,b\n"
        "44.9,89.2,330,2025-11-18,0512,X9,h,c\n"
    )
    r = read_fire_file(f)
    d = r.detections
    assert d["sensor"].to_list() == ["MODIS", "VIIRS", "MODIS"]
    assert d["satellite"].to_list() == ["Terra", "NOAA-20", "X9"]  # unknown kept raw, warned
    assert d["scan_km"].to_list() == [1.0, 0.375, 1.0]
    assert d["confidence_class"].to_list() == ["high", "high", "high"]
    assert r.unmapped == ["note"]
    assert d["extra"][0] == '{"note":"a"}'
    assert any("X9" in w for w in r.warnings)


def test_chinese_fire_table(tmp_path: Path) -> None:
    f = tmp_path / "FY3D_MERSI_20250601_0000_20250601_0005_FPT.txt"
    f.write_text(
        "序号\t纬度\t经度\t火区号\t地区码\t像元面积\t火点强度\t火点可信度\t时间\t过境时间\n"
        "1\t44.91\t89.20\t3\t652327\t1.1\t12.5\t90\t2025-06-01\t0305\n"
    )
    d = read_fire_file(f).detections
    assert d["hot_group"].to_list() == [3]
    assert d["pixel_area_km2"].to_list() == [1.1]
    assert d["frp_mw"].to_list() == [None] and d["frp_raw"].to_list() == [12.5]
    assert d["acq_time_utc"][0] == datetime(2025, 6, 1, 3, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('\ufeff"latitude"', ("latitude", None)), ("FRP(Wm^-2)", ("frp", "Wm^-2")), ("_version", ("version", None))],
)
def test_normalise_header(raw: str, expected: tuple[str, str | None]) -> None:
    assert normalise_header(raw) == expected


@pytest.mark.parametrize(
    ("code", "name"), [("T", "Terra"), ("Aqua", "Aqua"), ("npp", "S-NPP"), ("J1", "NOAA-20"), ("j02", "NOAA-21")]
)
def test_satellite_codes(code: str, name: str) -> None:
    assert satellite_name(code) == name


@pytest.mark.parametrize(
    ("text", "deg"), [("116°14'37.289\"E", 116.243691), ("44°30′N", 44.5), ("-72.5", -72.5), ("10°S", -10.0)]
)
def test_parse_degrees(text: str, deg: float) -> None:
    assert parse_degrees(text) == pytest.approx(deg, abs=1e-6)


def test_bulletin_list(fire_dir: Path) -> None:
    name = "china_straw_burning_fire_points_2016-08_2017-02.xlsx"
    with pytest.raises(FireFormatError, match="read_bulletin"):
        read_fire_file(fire_dir / name)
    b, rejected = read_bulletin(fire_dir / name)
    assert (b.height, rejected) == (2583, [])
    assert b["province"].n_unique() == 24
    assert b["date_bjt"].n_unique() == 145
    xj = b.filter(pl.col("province") == "新疆")
    assert xj.height == 59
    assert xj.filter(pl.col("city") == "昌吉回族自治州").height == 9  # after removing line breaks


def _dbf(fields: list[tuple[str, int]], records: list[list[str]]) -> bytes:
    """A minimal dBase III file (character fields), as FIRMS shapefiles carry their attributes."""
    header_len = 32 + 32 * len(fields) + 1
    rec_len = 1 + sum(w for _, w in fields)
    out = bytearray(b"\x03\x7c\x01\x01")
    out += len(records).to_bytes(4, "little") + header_len.to_bytes(2, "little") + rec_len.to_bytes(2, "little")
    out += bytes(20)
    for name, width in fields:
        out += name.encode().ljust(11, b"\x00") + b"C" + bytes(4) + bytes([width, 0]) + bytes(14)
    out += b"\x0d"
    for rec in records:
        out += b" " + b"".join(v.encode().ljust(w) for v, (_, w) in zip(rec, fields, strict=True))
    return bytes(out + b"\x1a")


def test_zip_with_dbf_csv_and_json(tmp_path: Path) -> None:
    import json
    import zipfile

    fields = [
        ("LATITUDE", 10),
        ("LONGITUDE", 10),
        ("BRIGHT_TI4", 8),
        ("ACQ_DATE", 10),
        ("ACQ_TIME", 4),
        ("SATELLITE", 3),
        ("CONFIDENCE", 7),
        ("FRP", 6),
    ]
    dbf = _dbf(fields, [["44.9", "89.2", "340.1", "2025-11-18", "0512", "N", "nominal", "3.2"]])
    csv_text = f"{HEADER}\n44.9,89.2,320,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D\n"
    js = json.dumps(
        [
            {
                "latitude": 44.9,
                "longitude": 89.2,
                "brightness": 330,
                "acq_date": "2025-11-18",
                "acq_time": "0530",
                "satellite": "Aqua",
                "confidence": "85",
            }
        ]
    )
    z = tmp_path / "DL_FIRE_SV-C2_1.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("fire_nrt_SV-C2_1.dbf", dbf)
        zf.writestr("fire_archive_M-C61_1.csv", csv_text)
        zf.writestr("fire_nrt_M-C61_1.json", js)
    r = read_fire_file(z)
    d = r.detections.sort("acq_time_utc")
    assert d["satellite"].to_list() == ["Terra", "S-NPP", "Aqua"]
    assert d["sensor"].to_list() == ["MODIS", "VIIRS", "MODIS"]
    assert d["confidence_class"].to_list() == ["nominal", "nominal", "high"]
    assert d["source_file"].to_list()[1] == "DL_FIRE_SV-C2_1.zip!fire_nrt_SV-C2_1.dbf"


def test_xlsx_fire_table(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "纬度", "经度", "卫星过境日期", "过境时间", "卫星", "火点可信度"])
    ws.append([1, 44.91, 89.20, datetime(2025, 6, 1), "0305", "FY3D", "90"])
    ws.append([2, "x", 89.20, datetime(2025, 6, 1), "0305", "FY3D", "90"])
    f = tmp_path / "fires.xlsx"
    wb.save(f)
    r = read_fire_file(f)
    assert r.detections["acq_time_utc"].to_list() == [datetime(2025, 6, 1, 3, 5, tzinfo=UTC)]
    assert r.detections["sensor"].to_list() == ["MERSI"]
    assert [(x.line, x.field) for x in r.rejected] == [(3, "lat")]


def test_read_fire_files_reports_bad_files(tmp_path: Path) -> None:
    from bogda.fire.formats import read_fire_files

    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\n44.9,89.2,320,1,1,2025-11-18,0349,T,50,6.1NRT,290,5,D\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("Invalid MAP_KEY.\n")
    results, errors = read_fire_files([bad, good])
    assert [r.source_file for r in results] == ["good.csv"]
    assert list(errors) == ["bad.csv"]


def test_date_only_table_warns(tmp_path: Path) -> None:
    f = tmp_path / "dates.csv"
    f.write_text("latitude,longitude,acq_date\n44.9,89.2,2025-11-18\n")
    r = read_fire_file(f)
    assert r.detections["acq_time_utc"].to_list() == [datetime(2025, 11, 18, tzinfo=UTC)]
    assert any("no time-of-day" in w for w in r.warnings)
