"""Texts of the grid pages (tasks board, review, grid member view, KPIs), Chinese and English.

Kept beside the pages rather than in the shared ``i18n/*.json`` tables so the grid's vocabulary (glossary.md)
lives in one place; :func:`tx` follows the page's current language like :func:`bogda.web.i18n.t`.
"""

from __future__ import annotations

from bogda.grid.routing import SOURCE_NAMES
from bogda.grid.states import STATE_NAMES
from bogda.web.i18n import current_language

TEXTS: dict[str, tuple[str, str]] = {
    "board.title": ("任务调度台", "Task board"),
    "board.filters": ("筛选", "Filters"),
    "board.state": ("状态", "State"),
    "board.source": ("来源", "Source"),
    "board.severity": ("等级", "Class"),
    "board.overdue": ("仅超期", "Overdue only"),
    "board.dispatch": ("批量派单", "Dispatch selected"),
    "board.dispatched": ("已派单 {ok} 件，失败 {bad} 件", "{ok} dispatched, {bad} failed"),
    "board.none_selected": ("请先勾选任务", "Select tasks first"),
    "board.map": ("任务分布", "Tasks on the map"),
    "board.found": ("共 {n} 件", "{n} tasks"),
    "col.id": ("编号", "No."),
    "col.title": ("任务", "Task"),
    "col.place": ("责任网格", "Grid"),
    "col.county": ("县（市、区）", "County"),
    "col.state": ("状态", "State"),
    "col.severity": ("等级", "Class"),
    "col.source": ("来源", "Source"),
    "col.due": ("办结时限", "Close due"),
    "col.flags": ("标记", "Flags"),
    "flag.overdue": ("超期", "overdue"),
    "flag.escalated": ("提级{n}", "escalated {n}"),
    "flag.rework": ("返工{n}", "rework {n}"),
    "flag.repeat": ("重复{n}", "repeat {n}"),
    "card.blue": ("蓝牌", "blue card"),
    "card.yellow": ("黄牌", "yellow card"),
    "card.red": ("红牌", "red card"),
    "review.title": ("待审核任务", "Tasks to review"),
    "review.approve": ("通过（办结）", "Approve (close)"),
    "review.reject": ("退回返工", "Return for rework"),
    "review.comment": ("审核意见", "Review comment"),
    "review.empty": ("没有待审核的任务", "Nothing to review"),
    "review.measures": ("整改措施", "Measures"),
    "review.verdict": ("核查结论", "Verdict"),
    "verdict.confirmed": ("属实", "confirmed"),
    "verdict.not_confirmed": ("查否（不属实）", "not confirmed"),
    "m.title": ("我的任务", "My tasks"),
    "m.empty": ("暂无任务", "No tasks"),
    "m.back": ("返回列表", "Back to my tasks"),
    "m.sign": ("签收", "Accept"),
    "m.return": ("退回", "Return"),
    "m.return_reason": ("退回理由", "Reason for returning"),
    "m.photo": ("上传现场照片", "Upload site photo"),
    "m.photo_after": ("上传整改后照片", "Upload photo after the fix"),
    "m.photos": ("已上传照片", "Photos"),
    "m.photo_ok": ("照片校验通过", "photo passes the checks"),
    "m.confirm": ("属实", "Confirmed"),
    "m.not_confirm": ("查否（不属实）", "Not confirmed"),
    "m.note": ("核查说明", "Note"),
    "m.measures": ("整改措施", "Measures taken"),
    "m.feedback": ("提交反馈", "Submit feedback"),
    "m.due": ("时限", "Due"),
    "m.waiting": ("已提交，等待审核", "Submitted, waiting for review"),
    "m.done": ("操作成功", "Done"),
    "m.logout": ("退出", "Log out"),
    "stage.site": ("现场", "site"),
    "stage.before": ("整改前", "before"),
    "stage.after": ("整改后", "after"),
    "kpi.title": ("考核指标", "KPIs"),
    "kpi.level": ("层级", "Level"),
    "kpi.start": ("开始日期", "From"),
    "kpi.end": ("结束日期（不含）", "To (exclusive)"),
    "kpi.show": ("计算", "Compute"),
    "kpi.excel": ("导出 Excel", "Export to Excel"),
    "kpi.place": ("区域", "Place"),
    "kpi.overdue": ("超期未办结", "Open past due"),
    "kpi.score": ("得分", "Score"),
    "kpi.grade": ("等次", "Grade"),
    "level.prefecture": ("州", "prefecture"),
    "level.county": ("县（市、区）", "county"),
    "level.township": ("乡镇（街道）", "township"),
    "level.grid_cell": ("网格", "grid cell"),
    "error": ("未能完成：{reason}", "Not done: {reason}"),
}


def tx(key: str, **values: object) -> str:
    """The text of ``key`` in the current language (the key itself when missing)."""
    zh, en = TEXTS.get(key, (key, key))
    text = zh if current_language() == "zh" else en
    return text.format(**values) if values else text


def state_name(state: str) -> str:
    zh, en = STATE_NAMES.get(state, (state, state))
    return zh if current_language() == "zh" else en


def source_name(source: str) -> str:
    zh, en = SOURCE_NAMES.get(source, (source, source))
    return zh if current_language() == "zh" else en
