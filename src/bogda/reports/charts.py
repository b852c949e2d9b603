"""Charts for the bulletin and the duty report: matplotlib (Agg), Chinese labels in Noto Sans CJK SC, PNG 200 dpi
(governance.md §3.10). AQI categories use the HJ 633 colours (standards.md §1.4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from io import BytesIO

LEVEL_COLOURS = ("#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023")
LEVEL_NAMES = ("优", "良", "轻度污染", "中度污染", "重度污染", "严重污染")
DPI = 200


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    return plt


_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def plain(text: str) -> str:
    """Subscript digits as plain digits (the CJK sans face has no subscript glyphs): PM₂.₅ → PM2.5."""
    return text.translate(_SUB)


def _png(fig) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def daily_aqi(days: Sequence[date], aqi: Sequence[int | None], levels: Sequence[int | None], title: str) -> bytes:
    """Bars of the daily AQI coloured by category, with the 100 line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 3.0))
    xs = [d.day for d in days]
    ys = [a or 0 for a in aqi]
    cs = [LEVEL_COLOURS[(lv or 1) - 1] for lv in levels]
    ax.bar(xs, ys, color=cs, edgecolor="#555", linewidth=0.3)
    ax.axhline(100, color="#c00", linestyle="--", linewidth=0.8)
    ax.set_xlabel("日期")
    ax.set_ylabel("AQI")
    ax.set_title(title, fontsize=11)
    ax.set_xticks(xs[::2] if len(xs) > 16 else xs)
    from matplotlib.patches import Patch

    used = sorted({lv for lv in levels if lv})
    ax.legend(
        handles=[Patch(color=LEVEL_COLOURS[i - 1], label=LEVEL_NAMES[i - 1]) for i in used],
        fontsize=8,
        ncol=len(used),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        frameon=False,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def county_bars(
    names: Sequence[str], values: Sequence[float | None], title: str, ylabel: str, highlight: str = ""
) -> bytes:
    """Horizontal bars per county (e.g. composite index, lower is better), ascending."""
    plt = _pyplot()
    pairs = sorted(((v, n) for n, v in zip(names, values, strict=True) if v is not None), reverse=True)
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * max(len(pairs), 3) + 0.9))
    ys = range(len(pairs))
    ax.barh(list(ys), [v for v, _ in pairs], color=["#c0392b" if n == highlight else "#2e6da4" for _, n in pairs])
    ax.set_yticks(list(ys), [n for _, n in pairs])
    for y, (v, _) in zip(ys, pairs, strict=True):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def pollutant_change(
    names: Sequence[str],
    now: Sequence[float | None],
    before: Sequence[float | None],
    title: str,
    labels: tuple[str, str],
) -> bytes:
    """Grouped bars of pollutant concentrations, this period against the same period last year."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 3.0))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [v or 0 for v in before], 0.4, label=labels[1], color="#9bbbd9")
    ax.bar([x + 0.2 for x in xs], [v or 0 for v in now], 0.4, label=labels[0], color="#2e6da4")
    ax.set_xticks(list(xs), [plain(n) for n in names])
    ax.set_ylabel("浓度（μg/m³；CO为mg/m³×10）")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def monthly_good_ratio(
    months: Sequence[int], ratios: Sequence[float | None], last: Sequence[float | None], title: str
) -> bytes:
    """Monthly good-day ratio of the year against last year."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 2.8))
    ax.plot(months, [r if r is not None else float("nan") for r in last], "o--", color="#9bbbd9", label="上年")
    ax.plot(months, [r if r is not None else float("nan") for r in ratios], "o-", color="#2e6da4", label="本年")
    ax.set_xticks(list(months), [f"{m}月" for m in months])
    ax.set_ylabel("优良天数比例（%）")
    ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
