"""The forecast page in a real browser: the 7-day AQI strip with p10–p90 and the scenario probability of heavy
pollution, the run line saying which weather input the models used (forecast.md §3.5, §3.4), and the days-avoided
evaluations shown only with an interval and a passed placebo test (§1, §3.9); before the first run, the page says so
and still links to the source-apportionment shares (§3.9 step 6), which can be entered before any forecast."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from e2e.harness import ARTIFACTS, chromium, outside, running_server, signed_in
from forecast.episode import set_pm
from forecast.test_interventions_api import record

pytestmark = pytest.mark.browser
ADMIN = ("fcadmin", "fcadmin-pass-1")


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from bogda.forecast import avoided as av
    from bogda.forecast import service as sv
    from bogda.registry.people import add_user
    from bogda.store import connect
    from bogda.store.schema import site

    folder = tmp_path_factory.mktemp("forecast_page")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    st = connect(f"sqlite:///{db}")
    set_pm(st, ["CJ-HT01"], 260.0)
    with st.begin() as conn:  # one enterprise of the warned county with a registry baseline [t/d]
        conn.execute(site.update().where(site.c.code == "HT-BL1").values(attrs={"baseline_t_per_day": {"SO2": 0.4}}))
    sv.refresh(st, models=None)
    scores = {"station": ["1003A"] * 2, "target": ["daily_mean_PM2.5"] * 2, "horizon": ["D+1"] * 2}
    scores |= {"method": ["lgbm_none", "damped_persistence"], "protocol": ["beijing"] * 2, "weather_mode": ["none"] * 2}
    scores |= {"n": [342, 342], "RMSE": [46.14, 63.99], "SS_damped": [0.279, 0.0]}
    scores |= {"RMSE_lo": [40.21, 57.02], "RMSE_hi": [52.37, 70.55], "SS_damped_lo": [0.2106, 0.0]}
    sv.store_scores(st, pl.DataFrame(scores | {"SS_damped_hi": [0.3412, 0.0]}), config="page")
    # the daily AQI check (bogda forecast backtest --aqi): AQI, level and primary pollutant figures
    aqi = {"station": ["1003A"], "target": ["daily_AQI"], "horizon": ["D+1"], "method": ["lgbm_noisy_proxy"]}
    aqi |= {"protocol": ["beijing"], "weather_mode": ["noisy_proxy"], "n": [301], "AQI_RMSE": [31.5]}
    aqi |= {"level_acc": [0.61], "primary_acc": [0.812], "TS_O3_8h_gt160": [0.47]}
    sv.store_scores(st, pl.DataFrame(aqi | {"RMSE": [None]}, schema_overrides={"RMSE": pl.Float64}), config="page aqi")
    # an item's own row of the same check has a level score too: it belongs to the table above, not the AQI one
    o3 = {"station": ["1003A"], "target": ["daily_max_8h_O3"], "horizon": ["D+1"], "method": ["damped_persistence"]}
    o3 |= {"protocol": ["beijing"], "weather_mode": ["noisy_proxy"], "n": [338], "RMSE": [37.6], "level_acc": [0.68]}
    sv.store_scores(st, pl.DataFrame(o3), config="page aqi items")
    # a warning check and an advisory check, as warnings-check / advisories check keep them (forecast.md §7.2, §9.1)
    ge = {"category": "≥ yellow", "method": "simulated", "weather": "none", "n": 27, "pod": 1.0, "far": 0.2}
    sv.store_checks(
        st, [ge | {"lead_h_median": 0.0}], item="warning", protocol="beijing", period="2016-03..2017-02", config="page"
    )
    oz = {"category": "ozone", "method": "tuned", "weather": "noisy D+1", "n": 2907, "ts": 0.46, "ets": 0.351}
    sv.store_checks(st, [oz], item="advisory", protocol="beijing", period="test 2016-03-01..2017-02-28", config="page")
    with st.begin() as conn:
        add_user(conn, login=ADMIN[0], password=ADMIN[1], roles=["admin"])
    # days-avoided evaluations: one validated effect, one that failed its placebo test (forecast.md §3.9)
    av.store_result(st, record("effect_detected", label="呼图壁 2016"))
    av.store_result(st, record("method_failed_validation", label="昌吉 2016", placebo_ok=False, avoided=9.0))
    st.dispose()
    with running_server(db, folder) as base:
        yield base


def test_strip_shows_scenario_probability_and_weather_input(server: str) -> None:
    with chromium() as b:
        pg, urls = signed_in(b, server, ADMIN, "/forecast")
        pg.wait_for_selector(".bogda-forecast-strip")
        # the run line and its reasons in the page's language (the run record keeps them in English)
        status = pg.locator(".bogda-run-status").inner_text()
        assert "气象输入 无" in status and "状态 降级" in status
        reasons = pg.locator(".bogda-run-reason").all_inner_texts()
        assert any("尚无训练好的模型集" in r for r in reasons), reasons
        assert not any("baselines only" in r for r in reasons)
        # 呼图壁县's proposal, with the area's name, the level and the state in words
        warning = pg.locator(".bogda-warning").first.inner_text()
        assert "呼图壁县" in warning and "建议发布" in warning
        assert any(w in warning for w in ("黄色", "橙色", "红色")) and "proposed" not in warning
        # and why: the run's daily AQI forecast and the rule's clause in words, with its document
        basis = pg.locator(".bogda-warning-basis").first.inner_text()
        assert basis.startswith("日均 AQI 预报 ") and "依据：AQI > " in basis and "小时" in basis, basis
        # during the episode the proposal counts today (observed hours + forecast), and says which day that is
        assert basis.startswith("日均 AQI 预报 今日 "), basis
        assert "〔2024〕" in basis and " for ≥ " not in basis
        probs = pg.locator(".bogda-prob").all_inner_texts()
        assert probs and all(t.startswith("P>200 ") and t.endswith("%") for t in probs)
        # 呼图壁县 is in a 260 µg/m³ episode: its first day is heavy in (almost) every scenario
        strip = pg.locator(".bogda-forecast-strip").inner_text()
        assert "呼图壁" in strip
        # today's column in front of D+1: the AQI the proposal counted, and what it is made of (§3.6)
        head = pg.locator(".bogda-forecast-strip th.bogda-today").inner_text()
        assert head.startswith("今日 "), head
        today = pg.locator(".bogda-forecast-strip td.bogda-today").all_inner_texts()
        assert len(today) == 8 and all("实测 " in t and " 时 + 预报" in t for t in today), today
        assert not any("(" in t for t in today)  # no interval is claimed for a half-observed day
        # each day's primary pollutant under its AQI, as a forecaster writes it (PM2.5 in the 260 µg/m³ episode)
        primaries = pg.locator(".bogda-primary").all_inner_texts()
        assert "PM2.5" in primaries and not any("_" in p or "," in p for p in primaries), primaries
        assert any(int(t.split()[1].rstrip("%")) >= 50 for t in probs)
        # the verification table: columns and methods in words
        scores = pg.locator(".bogda-scores").inner_text()
        for words in ("时效", "方法", "气象输入", "LightGBM（气象输入：无预报气象）", "阻尼持续性", "46.14"):
            assert words in scores
        # each RMSE and skill with its 90 % bootstrap interval, and what the interval means
        for words in ("RMSE 90 % 区间", "技巧评分 90 % 区间", "40.21–52.37", "0.211–0.341"):
            assert words in scores, (words, scores)
        assert "抽样误差" in pg.get_by_text("90 % 区间”为").inner_text()
        assert "lgbm_none" not in scores and "damped_persistence" not in scores
        assert "PM2.5 日均" in scores and "daily_mean_PM2.5" not in scores and "AQI" not in scores
        # the daily AQI check in its own table, in words
        aqi = pg.locator(".bogda-aqi-scores").inner_text()
        # only the AQI rows: the items' own rows (they carry level scores too) stay in the table above
        assert aqi.count("1003A") == 1 and "阻尼持续性" not in aqi
        model = "LightGBM（气象输入：带误差的观测气象）"
        for words in ("首要污染物准确率", "O3 8 小时 > 160 TS", "0.812", "0.47", model, "301"):
            assert words in aqi, (words, aqi)
        # the warning and advisory checks, in words
        checks = pg.locator(".bogda-checks").inner_text()
        for words in (
            "重污染预警",
            "黄色及以上",
            "按预报模拟发布",
            "不利气象提示",
            "高温强日照（臭氧）",
            "本地调整阈值",
        ):
            assert words in checks
        assert "带误差气象 D+1" in checks and "检验 2016-03-01..2017-02-28" in checks and "0.351" in checks
        assert "≥ yellow" not in checks and "tuned" not in checks
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_page.png"), full_page=True)
        assert outside(urls) == []


def test_issuing_shows_the_emergency_list_in_words(server: str) -> None:
    """Issuing the proposal activates the emergency list (forecast.md §3.10); its table speaks the page's language:
    column names, sectors, the allowed production as a percentage, the transport ban as 是 / 否."""
    with chromium() as b:
        pg, urls = signed_in(b, server, ADMIN, "/forecast")
        pg.locator(".bogda-warning").first.get_by_role("button", name="发布", exact=True).click()
        pg.wait_for_selector(".bogda-xlsx-link")
        assert "已发布" in pg.locator(".bogda-warning").first.inner_text()
        table = pg.locator(".q-table").first.inner_text()
        for header in (
            "县市",
            "企业名称",
            "行业",
            "绩效等级",
            "允许生产比例",
            "运输管控",
            "基准来源",
            "SO2 减排量 (t/d)",
        ):
            assert header in table
        # the required cut of the one enterprise with a baseline, and the totals line against the level's target
        cells = pg.locator(".q-table tbody tr", has_text="呼图壁模拟热力").first.locator("td").all_inner_texts()
        allowed = next(c for c in cells if c.endswith("%"))
        cut = f"{0.4 * (1 - float(allowed[:-1]) / 100):.2f}"
        assert "登记库" in cells and cut in cells, cells
        totals = pg.locator(".bogda-list-totals").first.inner_text()
        assert (
            totals.startswith(f"合计减排（t/d，括号内为占基准的比例）：SO2 {cut}（") and "红色预警目标 ≥ 30%" in totals
        )
        assert "county_name" not in table and "allowed_ratio" not in table
        assert "%" in table and ("是" in table or "否" in table)
        assert not any(code in table for code in ("coal_chemical", "cement", "coking", "boiler"))
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_page_list.png"), full_page=True)
        # the issuer changes the level (issued → changed): the list is re-resolved as a new version
        row = pg.locator(".bogda-warning").first
        wid = row.inner_text().split("#")[1].split()[0]
        row.locator(".bogda-change-level").click()
        pg.get_by_role("option", name="橙色", exact=True).click()
        row.get_by_role("button", name="变更级别").click()
        pg.wait_for_selector(f".bogda-warning:has-text('#{wid} '):has-text('已调整')")
        changed = pg.locator(f".bogda-warning:has-text('#{wid} ')").inner_text()
        assert "橙色" in changed and "红色" not in changed
        assert outside(urls) == []


def test_interventions_show_the_figure_only_when_validated(server: str) -> None:
    with chromium() as b:
        pg = b.new_page(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
        pg.goto(f"{server}/forecast")
        pg.fill("#login", ADMIN[0])
        pg.fill("#password", ADMIN[1])
        pg.click("button[type=submit]")
        pg.wait_for_url("**/forecast")
        pg.wait_for_selector(".bogda-interventions")
        rows = pg.locator(".bogda-interventions tbody tr").all_inner_texts()
        assert len(rows) == 2
        failed = next(r for r in rows if "昌吉 2016" in r)
        validated = next(r for r in rows if "呼图壁 2016" in r)
        assert "避免 +6 天（90% 区间 +2…+11 天）" in validated and "重污染天（AQI>200）" in validated
        assert "方法未通过检验" in failed and "+9" not in failed
        pg.locator(".bogda-interventions").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_interventions.png"), full_page=True)


@pytest.fixture(scope="module")
def no_run_server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo region as built: no forecast run yet."""
    folder = tmp_path_factory.mktemp("forecast_page_no_run")
    db = folder / "demo.db"
    shutil.copyfile(demo_template, db)
    with running_server(db, folder) as base:
        yield base


def test_no_run_yet_still_links_to_the_source_shares(no_run_server: str) -> None:
    with chromium() as b:
        pg = b.new_page(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
        pg.goto(f"{no_run_server}/forecast")
        pg.fill("#login", "operator")
        pg.fill("#password", "operator-pass-1")
        pg.click("button[type=submit]")
        pg.wait_for_url("**/forecast")
        pg.wait_for_selector(".bogda-source-shares-link")
        assert pg.get_by_text("尚无预报（运行 bogda forecast run 或等待定时任务）。").count() == 1
        assert pg.locator(".bogda-forecast-strip").count() == 0
        assert pg.locator(".bogda-source-shares-link").inner_text().startswith("源解析结果（已录入 0 条")
        pg.locator(".bogda-source-shares-link").click()
        pg.wait_for_url("**/forecast/source-shares")
        pg.wait_for_selector(".bogda-source-shares-empty")
