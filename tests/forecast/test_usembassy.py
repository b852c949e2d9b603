"""The US Embassy benchmark (forecast.md §8 check 6): persistence figures under the tutorial's framing and the honest
one, the file's reader (hours, wind decoding, bad rows named), the real file's figures and the command."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from bogda.cli import app
from bogda.forecast import usembassy as ue

HEADER = "No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir"


def test_persistence_framing_drops_a_day_trains_a_year_and_scores_the_rest() -> None:
    n = ue.DROPPED_ROWS + ue.TRAIN_PAIRS + 6
    x = np.arange(n, dtype=float) * 2.0  # persistence at lag L errs by 2L everywhere
    assert ue.persistence_scores(x, 1, tutorial=True) == ue.Score(5, 2.0, 2.0)
    assert ue.persistence_scores(x, 3) == ue.Score(3, 6.0, 6.0)  # 3 fewer pairs: the lag's own rows go first
    # the tutorial fills a gap with 0 and scores it; the honest framing skips the target and carries the input on
    y = x.copy()
    y[n - 3] = np.nan
    tut = ue.persistence_scores(y, 1, tutorial=True)
    assert tut.n == 5 and tut.rmse > 2.0
    honest = ue.persistence_scores(y, 1)
    assert honest.n == 4  # the missing target is not scored
    # the hour after the gap is forecast from the last valid value, two hours back: error 4 there, 2 elsewhere
    assert honest.mae == pytest.approx((2 + 2 + 4 + 2) / 4)
    with pytest.raises(ValueError, match="needs more than"):
        ue.persistence_scores(x[: ue.DROPPED_ROWS + ue.TRAIN_PAIRS], 1)


def _write(path: Path, rows: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def test_reader_decodes_the_cumulated_wind_and_converts_to_utc(tmp_path: Path) -> None:
    rows = [
        "1,2010,1,1,0,NA,-21,-11,1021,NW,1.79,0,0",
        "2,2010,1,1,1,129,-21,-12,1020,NW,4.92,0,0",  # same sector: 4.92 − 1.79 m/s
        "3,2010,1,1,2,148,-21,-11,1019,SE,0.89,0,0",  # sector changed: the value itself
        "4,2010,1,1,3,159,-21,-14,1019,cv,0.89,0,0",  # calm or variable: a speed, no direction
    ]
    f = ue.read_frame(_write(tmp_path / "e.csv.gz", rows))
    assert f["ts"][0].isoformat() == "2009-12-31T16:00:00+00:00"  # 00:00 Beijing
    assert f["a34004"].to_list() == [None, 129.0, 148.0, 159.0]
    assert f["ws10"].to_numpy() == pytest.approx([1.79, 3.13, 0.89, 0.89])
    u, v = f["u10"].to_numpy(), f["v10"].to_numpy()
    assert u[1] > 0 and v[1] < 0  # a north-west wind blows towards the south-east
    assert u[2] < 0 and v[2] > 0
    assert np.isnan(u[3]) and np.isnan(v[3])
    assert f["rh2m"][0] == pytest.approx(100 * np.exp(17.625 * -21 / (243.04 - 21) - 17.625 * -11 / (243.04 - 11)))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("3,2010,1,1,2,148,-21,warm,1019,SE,0.89,0,0", r"line 4, column TEMP: 'warm' is not a number"),
        ("3,2010,1,1,2,148,-21,-11,1019,SW,0.89,0,0", r"line 4, column cbwd: 'SW' is not a wind sector"),
        ("3,2010,1,1,4,148,-21,-11,1019,SE,0.89,0,0", r"line 4: hour .* does not follow"),
        (
            "3,2010,2,30,2,148,-21,-11,1019,SE,0.89,0,0",
            r"line 4, columns year–hour: 2010-2-30 2h is not a calendar hour",
        ),
    ],
)
def test_reader_names_the_line_and_column_of_a_bad_row(tmp_path: Path, bad: str, message: str) -> None:
    rows = ["1,2010,1,1,0,NA,-21,-11,1021,NW,1.79,0,0", "2,2010,1,1,1,129,-21,-12,1020,NW,4.92,0,0", bad]
    with pytest.raises(ValueError, match=message):
        ue.read_frame(_write(tmp_path / "bad.csv.gz", rows))


def test_check6_reproduces_the_spec_figures_on_the_real_file(shared_data: Path) -> None:
    pm = ue.read_frame(shared_data / ue.FILE)["a34004"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    assert pm.size == 43824
    got = ue.check6(pm)
    for key, (n, rmse, mae) in ue.REFERENCE.items():
        assert got[key].rmse == pytest.approx(rmse, abs=0.005), key
        assert got[key].mae == pytest.approx(mae, abs=0.005), key
        assert n is None or got[key].n == n


@pytest.mark.slow
def test_the_command_prints_check6_and_the_model_beside_persistence(shared_data: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    args = ["forecast", "backtest", "--protocol", "usembassy", "--modes", "none", "--data", str(shared_data)]
    out = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "--database-url", url])
    assert out.exit_code == 0, out.output
    assert out.output.count("→ matches") == 3 and "DIFFERS" not in out.output
    table = pl.read_csv(tmp_path / "out" / "verification.csv")
    assert set(table["protocol"]) == {"usembassy"} and set(table["station"]) == {ue.STATION}
    d1 = dict(table.filter(pl.col("horizon") == "D+1").select("method", "RMSE").iter_rows())
    # one training year and no neighbours, yet the daily model beats damped persistence on the four test years
    assert d1["lgbm_none"] < d1["damped_persistence"] < d1["persistence"]
    assert "stored" in out.output
