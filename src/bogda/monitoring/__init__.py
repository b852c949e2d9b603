"""Air and water station monitoring (monitoring.md): readers (:mod:`.ingest`) and QA / completeness (:mod:`.qa`).

Pure core only: functions over Polars frames; no database, no clock.
"""

from __future__ import annotations
