"""The report of every run: Locust-compatible CSVs, summary.json, profile.toml and a self-contained
report.html. See docs/REPORTS.md."""

from .writer import FILES, ReportError, ReportWriter

__all__ = ["FILES", "ReportError", "ReportWriter"]
