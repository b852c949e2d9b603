"""The staff-editable report templates (governance.md §3.9): Jinja2 (sandboxed) over a small markup.

Used by the annual duty report (:mod:`bogda.reports.duty_report`) and the shift report
(:mod:`bogda.reports.shift_report`). The markup, one directive per line, paragraphs separated by a blank line:

==========================  ===================================================================================
``# 标题``                   the title
``## 一、…``                 a 一、 heading (黑体)
``### （一）…``              a （一） heading (楷体)
a blank-line paragraph      body text; lines of one paragraph are joined; ``**lead phrase**`` is bold
``!table 名称``              a table the code built (an unknown name is a render warning; a known table without
                            rows prints nothing)
``!note 文字``               a note (small print)
``!subtitle 文字``           a subtitle line under the title
``!text 名称 [若为空]``        a text the user typed (the officer's notes …), verbatim — never read as markup;
                            the rest of the line is printed when the text is empty
``@sign 文字``               a right-aligned signature line
``---``                     a page break
==========================  ===================================================================================

The template never holds a number: it calls ``f("key")`` (value and unit), ``v("key")`` (value), ``t("key")`` (a
text figure), ``updown("key", "上升", "下降", unit)``, ``each("prefix")`` (every figure keyed ``prefix.*``, as
"name value、name value", or "无"), and ``n("key")`` (the bare value, for ``{% if %}``, no mark). Each printing
call adds a reference mark ``[[n]]`` and enters the figure in the appendix 「数据来源」
(:class:`~bogda.reports.provenance.Sources`). An unknown key prints "—" and a render warning (governance §6).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bogda.ledger.figures import MISSING, Figure, round_half_up
from bogda.reports.provenance import Sources, runs
from bogda.reports.render import Block, Run


class MarkupError(ValueError):
    """A template that cannot be rendered (syntax error, unknown variable, forbidden operation): names the
    template and the line."""


def packaged(name: str) -> str:
    """The text of the packaged template ``name`` (``src/bogda/reports/templates/``)."""
    return (resources.files("bogda.reports") / "templates" / name).read_text(encoding="utf-8")


def load(template: str | Path | None, default: str) -> tuple[str, str, str]:
    """``(text, name, version)`` of ``template`` (a file path), or of the packaged ``default`` when ``None``.

    The version is the first 12 hex digits of the SHA-256 of the text: stored in the ``report`` row, it tells which
    template wording produced a document.
    """
    if template:
        path = Path(template)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MarkupError(f"report template {path}: cannot read it ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise MarkupError(f"report template {path}: not UTF-8 text ({exc})") from exc
        name = str(path)
    else:
        text, name = packaged(default), default
    return text, name, hashlib.sha256(text.encode()).hexdigest()[:12]


def render_text(
    template: str,
    figs: Mapping[str, Figure],
    src: Sources,
    context: Mapping[str, Any],
    *,
    name: str = "template",
) -> str:
    """The filled template text (markup with ``[[n]]`` reference marks).

    ``context`` holds the template's variables (and any extra functions); ``name`` is used in error messages.
    Raises :class:`MarkupError` naming the template and line when Jinja cannot render it.
    """

    def get(key: str) -> Figure:
        if key not in figs:
            src.warnings.append(f"template asks for unknown figure {key!r}: printed as {MISSING}")
            return Figure(key, key, None, "", 0, "未找到该数据（模板键名错误或数据缺失）")
        return figs[key]

    def f(key: str) -> str:
        return src.text(get(key))

    def v(key: str) -> str:
        return src.text(get(key), unit=False)

    def t(key: str) -> str:
        return src.text(get(key))

    def n(key: str) -> Decimal | int | None:
        return get(key).value

    def updown(key: str, up: str = "上升", down: str = "下降", unit: str = "%") -> str:
        fig = get(key)
        if fig.value is None:
            return f"{MISSING}[[{src.number(fig)}]]"
        r = round_half_up(fig.value, fig.dp)
        if r == 0:
            return f"持平[[{src.number(fig)}]]"
        return f"{up if r > 0 else down}{abs(r)}{unit}[[{src.number(fig)}]]"

    def each(prefix: str, sep: str = "、", empty: str = "无") -> str:
        # a breakdown whose parts depend on the data (the kinds of finding that came in, the counties with
        # overdue tasks): every figure keyed ``prefix.<part>``, in key order, as name + value + mark
        parts = [k for k in sorted(figs) if k.startswith(prefix + ".")]
        return sep.join(f"{figs[k].detail.get('name', figs[k].label)}{f(k)}" for k in parts) or empty

    funcs: dict[str, Callable[..., Any]] = {"f": f, "v": v, "t": t, "n": n, "updown": updown, "each": each}
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    try:
        return env.from_string(template).render(**funcs, **context)
    except (TemplateError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
        line = getattr(exc, "lineno", None) or _template_line(exc)
        where = f"{name}, line {line}" if line else name
        raise MarkupError(f"report template {where}: {type(exc).__name__}: {exc}") from exc


def _template_line(exc: BaseException) -> int | None:
    """The template line a runtime error happened on (Jinja maps its frames to ``<template>``)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def parse(
    text: str,
    tables: Mapping[str, Block | None],
    *,
    texts: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> list[Block]:
    """Blocks of the filled markup (see the module docstring).

    ``tables`` maps ``!table`` names to the blocks the code built (``None``: the table has no rows and prints
    nothing); ``texts`` maps ``!text`` names to user-typed text. Unknown names are appended to ``warnings``.
    """
    texts = texts or {}
    blocks: list[Block] = []

    def warn(msg: str) -> None:
        if warnings is not None:
            warnings.append(msg)

    for chunk in [c.strip() for c in text.replace("\r\n", "\n").split("\n\n")]:
        if not chunk:
            continue
        for line in chunk.split("\n") if chunk.startswith(("@sign", "#", "!", "---")) else [chunk]:
            line = line.strip()
            if not line:
                continue
            if line.startswith("### "):
                blocks.append(Block("h2", runs(line[4:])))
            elif line.startswith("## "):
                blocks.append(Block("h1", runs(line[3:])))
            elif line.startswith("# "):
                blocks.append(Block("title", runs(line[2:])))
            elif line.startswith("!table "):
                name = line[7:].strip()
                if name not in tables:
                    warn(f"template asks for unknown table {name!r} (known: {', '.join(sorted(tables))}): left out")
                elif (table := tables[name]) is not None:
                    blocks.append(table)
            elif line.startswith("!note "):
                blocks.append(Block("note", runs(line[6:])))
            elif line.startswith("!subtitle "):
                blocks.append(Block("subtitle", runs(line[10:])))
            elif line.startswith("!text "):
                name, _, empty = line[6:].strip().partition(" ")
                if name not in texts:
                    warn(f"template asks for unknown text {name!r} (known: {', '.join(sorted(texts))}): left out")
                    continue
                body = texts[name].strip()
                if body:
                    blocks.append(Block("para", [Run(body)]))  # verbatim: the user's text is not markup
                elif empty.strip():
                    blocks.append(Block("para", runs(empty.strip())))
            elif line.startswith("@sign "):
                blocks.append(Block("signature", runs(line[6:])))
            elif line == "---":
                blocks.append(Block("pagebreak"))
            else:
                blocks.append(Block("para", runs(line.replace("\n", ""))))
    return blocks
