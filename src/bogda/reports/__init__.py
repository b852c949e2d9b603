"""Documents generated from the records (governance.md §3.9–§3.10): the monthly air-quality bulletin and the annual
duty-performance report, as DOCX and PDF, every figure with its provenance."""
