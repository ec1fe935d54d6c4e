"""The auditor's report and review: ``build_report`` writes ``DIR/report.html`` and one page per
document; ``extract.report.server`` serves them for review; ``export_gold`` writes reviewed figures
as gold JSONL. Corrections live in the store's ``corrections`` table (``extract.report.corrections``)."""

from extract.report.gold import export_gold
from extract.report.pages import ReportError, ReportSummary, build_report

__all__ = ["ReportError", "ReportSummary", "build_report", "export_gold"]
