"""Readers of each input layout (monitoring.md §2): one module per format, re-exported by
:mod:`bogda.monitoring.ingest`.

* :mod:`~bogda.monitoring.formats.common` — the long frame (:data:`LONG_SCHEMA`), :class:`ReadResult`, rejections,
  bytes → table, shared helpers;
* :mod:`~bogda.monitoring.formats.cnemc` — CNEMC daily files;
* :mod:`~bogda.monitoring.formats.stations` — CNEMC station lists;
* :mod:`~bogda.monitoring.formats.profiles` — pm25.in-style, aqistudy and PRSA layouts;
* :mod:`~bogda.monitoring.formats.hj212_values` — HJ 212 data frames, hours from minute data;
* :mod:`~bogda.monitoring.formats.revisions` — re-fetch diffs and polling windows.
"""
