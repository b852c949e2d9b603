"""Generate a document, write DOCX and PDF, and record it (``report`` row with SHA-256 and figure provenance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bogda.reports import bulletin, duty_report
from bogda.reports.render import Document, sha256, to_docx, to_pdf
from bogda.store import Store
from bogda.store.schema import report
from bogda.timeutil import now_utc


@dataclass
class Generated:
    kind: str
    period: str
    docx: Path | None
    pdf: Path | None
    figures: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    report_id: int | None = None
    document: Document | None = None


def _write(
    store: Store,
    kind: str,
    period: str,
    doc: Document,
    figures: list[dict[str, Any]],
    warnings: list[str],
    out_dir: Path,
    stem: str,
    *,
    pdf: bool,
    template_version: str,
    actor: str,
) -> Generated:
    out_dir.mkdir(parents=True, exist_ok=True)
    docx_bytes = to_docx(doc)
    docx_path = out_dir / f"{stem}.docx"
    docx_path.write_bytes(docx_bytes)
    pdf_path = None
    pdf_sha = None
    if pdf:
        pdf_bytes = to_pdf(doc)
        pdf_path = out_dir / f"{stem}.pdf"
        pdf_path.write_bytes(pdf_bytes)
        pdf_sha = sha256(pdf_bytes)
    now = now_utc()
    with store.begin() as conn:
        rid = conn.execute(
            report.insert()
            .values(
                kind=kind,
                period=period,
                as_of=now,
                docx_sha256=sha256(docx_bytes),
                pdf_sha256=pdf_sha,
                template_version=template_version,
                figures=figures,
                created_by=actor,
                created_at=now,
            )
            .returning(report.c.id)
        ).scalar_one()
    return Generated(kind, period, docx_path, pdf_path, figures, warnings, int(rid), doc)


def monthly(
    store: Store, year: int, month: int, out_dir: str | Path, *, pdf: bool = True, actor: str = "cli"
) -> Generated:
    """The monthly air-quality bulletin of ``year-month`` as DOCX (+ PDF) in ``out_dir``."""
    b = bulletin.build(store, year, month)
    return _write(
        store,
        "monthly",
        f"{year}-{month:02d}",
        b.document,
        b.sources.as_json(),
        b.sources.warnings,
        Path(out_dir),
        f"bulletin-{year}-{month:02d}",
        pdf=pdf,
        template_version="bulletin-1",
        actor=actor,
    )


def annual(
    store: Store,
    year: int,
    out_dir: str | Path,
    *,
    pdf: bool = True,
    template: str | Path | None = None,
    actor: str = "cli",
) -> Generated:
    """The annual duty-performance report of ``year`` as DOCX (+ PDF) in ``out_dir``."""
    r = duty_report.build(store, year, template=template)
    return _write(
        store,
        "annual",
        str(year),
        r.document,
        r.sources.as_json(),
        r.sources.warnings,
        Path(out_dir),
        f"duty-report-{year}",
        pdf=pdf,
        template_version=r.template_version,
        actor=actor,
    )
