"""Every run against the ones before it: the run history (``reports/``), comparisons and baselines.

    record.py    one past run read back from its report folder
    index.py     the history: every report folder under ``reports/``, skipping what is not a report
    noise.py     how large a change must be to be more than run-to-run variation
    compare.py   two runs, per endpoint: change, noise and verdict; the terminal table
    baseline.py  thresholds relative to a baseline run (``p99 < baseline + 10%``)
    html.py      the offline HTML comparison page and the report's comparison section
    commands.py  ``--compare`` and ``--history``

Nothing here imports Textual.
"""

from .compare import Comparison, EndpointChange, MetricChange, compare, format_comparison
from .index import RunIndex, scan
from .record import RunError, RunRecord, load_run

__all__ = ["Comparison", "EndpointChange", "MetricChange", "RunError", "RunIndex", "RunRecord", "compare",
           "format_comparison", "load_run", "scan"]
