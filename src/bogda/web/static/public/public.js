// The public AQI page: reads /public/api/v1/stations (cached JSON) and draws everything client-side.
// ECharts comes from this server (/public/vendor/echarts, NiceGUI's bundle); nothing is fetched elsewhere.
import { echarts } from "/public/vendor/echarts/index.js";

const TEXT = {
  zh: {
    title: "昌吉州空气质量实时发布", warnings: "重污染天气预警", none: "当前无生效预警", map: "站点分布",
    forecast: "未来7天空气质量预报", noForecast: "暂无有效预报", issued: "预报发布时间", range: "可能范围",
    published: "预报员发布时间", modelOnly: "模型预报（今日尚未人工发布）",
    counties: "各县市空气质量指数", stations: "监测站点", updated: "更新时间", primary: "首要污染物",
    offline: "离线", noData: "暂无数据", effect: "健康影响", advice: "建议措施",
    note: "数据为小时实时值（未经审核），以生态环境部门正式发布为准。演示数据为模拟数据。",
    level: { blue: "蓝色", yellow: "黄色", orange: "橙色", red: "红色" }, prefecture: "全州",
  },
  en: {
    title: "Changji air quality now", warnings: "Heavy-pollution warnings", none: "No warning in force",
    forecast: "7-day air-quality forecast", noForecast: "No current forecast", issued: "Forecast issued",
    range: "likely range", published: "Published by the duty forecaster",
    modelOnly: "model forecast (today's forecast not published yet)",
    map: "Stations", counties: "AQI by county", stations: "Monitoring stations", updated: "Updated",
    primary: "Primary pollutant", offline: "offline", noData: "no data", effect: "Health effects",
    advice: "Advice",
    note: "Hourly real-time values (not yet audited); the bureau's official release prevails. Demo data are simulated.",
    level: { blue: "Blue", yellow: "Yellow", orange: "Orange", red: "Red" }, prefecture: "Prefecture",
  },
};
const MAP = "bogda-public";
let lang = localStorage.getItem("bogda.lang") || ((navigator.language || "zh").startsWith("zh") ? "zh" : "en");
let data = null;
let chart = null;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function category(levelInfo) {
  return levelInfo ? (lang === "zh" ? levelInfo.category_zh : levelInfo.category_en) : "";
}
function localTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", hour12: false });
}
function areaName(a) { return lang === "zh" ? a.name : a.name_en; }

function render() {
  const T = TEXT[lang];
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = T.title;
  for (const b of document.querySelectorAll("button.lang")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  $("title").textContent = T.title;
  for (const [id, key] of [["h-warnings", "warnings"], ["h-forecast", "forecast"], ["h-map", "map"], ["h-counties", "counties"], ["h-stations", "stations"], ["note", "note"]])
    $(id).textContent = T[key];
  if (!data) return;
  const pref = data.areas.find((a) => a.kind === "prefecture");
  const info = pref && pref.level ? data.advice[String(pref.level)] : null;
  $("pref-name").textContent = pref ? `${areaName(pref)} · AQI` : T.prefecture;
  $("pref-aqi").textContent = pref && pref.aqi != null ? pref.aqi : "—";
  const badge = $("pref-cat");
  badge.textContent = info ? category(info) : T.noData;
  badge.style.background = info ? info.colour : "#eee";
  $("pref-primary").textContent = pref && pref.primary_pollutant ? `${T.primary}: ${pref.primary_pollutant}` : "";
  $("advice").innerHTML = info
    ? `<b>${T.effect}</b>: ${esc(lang === "zh" ? info.effect_zh : info.effect_en)}<br><b>${T.advice}</b>: ${esc(lang === "zh" ? info.advice_zh : info.advice_en)}`
    : "";
  $("updated").textContent = `${T.updated}: ${localTime(pref && pref.ts)}`;
  const names = Object.fromEntries(data.areas.map((a) => [a.code, areaName(a)]));
  $("warning-list").innerHTML = data.warnings.length
    ? data.warnings.map((w) => `<li class="warning">${esc(names[w.area_code] || w.area_code)} · ${esc(T.level[w.level] || w.level)} · ${esc(w.start_date)} – ${esc(w.end_date)}</li>`).join("")
    : `<li class="muted">${T.none}</li>`;
  renderForecast(T);
  const counties = data.areas.filter((a) => a.kind === "county");
  $("counties").tBodies[0].innerHTML = counties.map((a) => {
    const i = a.level ? data.advice[String(a.level)] : null;
    return `<tr class="county" data-code="${esc(a.code)}"><td><span class="dot" style="background:${i ? i.colour : "#ddd"}"></span>${esc(areaName(a))}</td>`
      + `<td>${i ? esc(category(i)) : T.noData}</td><td class="num">${a.aqi ?? "—"}</td></tr>`;
  }).join("");
  $("stations").tBodies[0].innerHTML = data.stations.map((s) => {
    const i = s.level ? data.advice[String(s.level)] : null;
    const state = !s.online ? T.offline : i ? category(i) : T.noData;
    return `<tr class="station" data-code="${esc(s.code)}"><td><span class="dot" style="background:${s.colour}"></span>${esc(s.name)}</td>`
      + `<td>${esc(state)}</td><td class="num">${s.aqi ?? "—"}</td></tr>`;
  }).join("");
  drawMap();
}

// the prefecture's daily AQI for the next days: mean, the p10-p90 range and the category of the mean
function renderForecast(T) {
  const f = data.forecast;
  const area = f && (f.areas.find((a) => a.kind === "prefecture") || f.areas[0]);
  const body = $("forecast-days").tBodies[0];
  if (!area) {
    body.innerHTML = `<tr><td class="muted">${T.noForecast}</td></tr>`;
    $("forecast-issued").textContent = "";
    return;
  }
  // the duty forecaster's publication gives an AQI range per day; the model's run gives its forecast and p10-p90
  const published = f.source === "published";
  body.innerHTML = area.days.map((d) => {
    const i = d.level ? data.advice[String(d.level)] : null;
    const range = d.p10 != null && d.p90 != null ? `${Math.round(d.p10)}–${Math.round(d.p90)}` : "";
    const aqi = d.aqi_lo != null ? `${d.aqi_lo}–${d.aqi_hi}` : d.aqi != null ? Math.round(d.aqi) : "—";
    const primary = d.primary ? `${T.primary} ${esc(d.primary.split(",").map((p) => p.split("_")[0]).join("、"))}` : "";
    return `<tr class="forecast-day" data-date="${esc(d.date)}"><td>${esc(d.date.slice(5))}</td>`
      + `<td><span class="dot" style="background:${i ? i.colour : "#ddd"}"></span>${i ? esc(category(i)) : T.noData}</td>`
      + `<td class="num">${aqi}</td><td class="muted small">${published ? primary : range ? `${T.range} ${range}` : ""}</td></tr>`;
  }).join("");
  $("forecast-issued").textContent = published
    ? `${T.published}: ${localTime(f.issued_at)}`
    : `${T.issued}: ${localTime(f.issued_at)} · ${T.modelOnly}`;
}

function drawMap() {
  if (!chart || !data) return;
  const T = TEXT[lang];
  chart.setOption({
    animation: false,
    tooltip: { trigger: "item", formatter: (p) => (p.data && p.data.tip) || p.name },
    geo: {
      map: MAP, roam: true, aspectScale: 0.72, top: 8, bottom: 8, left: 8, right: 8,
      nameProperty: lang === "zh" ? "name" : "name_en",
      label: { show: true, fontSize: 11, color: "#1a2b45" },
      itemStyle: { areaColor: "#e8eef5", borderColor: "#5a7596" },
      emphasis: { itemStyle: { areaColor: "#cfdcec" } }, select: { disabled: true },
    },
    series: [{
      name: T.stations, type: "scatter", coordinateSystem: "geo", symbolSize: 12,
      itemStyle: { borderColor: "#fff", borderWidth: 1.5 },
      data: data.stations.map((s) => ({
        name: s.name, value: [s.lon, s.lat, s.aqi], itemStyle: { color: s.colour },
        tip: `<b>${esc(s.name)}</b><br>AQI ${s.aqi ?? "—"}${s.online ? "" : " · " + T.offline}`,
      })),
    }],
  }, { replaceMerge: ["series"] });
}

async function load() {
  // "no-cache": the browser revalidates with the ETag and the server answers 304 while nothing changed
  const r = await fetch("/public/api/v1/stations", { cache: "no-cache" });
  data = await r.json();
  render();
}

async function start() {
  for (const b of document.querySelectorAll("button.lang"))
    b.addEventListener("click", () => { lang = b.dataset.lang; localStorage.setItem("bogda.lang", lang); chart && chart.clear(); render(); });
  render();
  const outlines = await (await fetch("/public/api/v1/outlines")).json();
  echarts.registerMap(MAP, outlines);
  chart = echarts.init($("map"));
  window.addEventListener("resize", () => chart.resize());
  window.bogdaPublicChart = chart;
  await load();
  document.body.dataset.ready = "1";
  setInterval(() => load().catch(() => {}), 60_000);
}
start();
