"""Widgets of the app. Each owns its look (``DEFAULT_CSS``) and its messages; none knows about screens."""

from .counters import ConnectionCounters
from .endpoint_table import EndpointTable
from .events import EventLog
from .failures import FailureTable
from .health import GeneratorHealth
from .percentiles import PercentilePanel
from .profile_form import ProfileForm
from .profile_preview import ProfilePreview
from .ramp import Ramp, load_curve
from .run_header import RunHeader
from .trends import Trends

__all__ = [
    "ConnectionCounters",
    "EndpointTable",
    "EventLog",
    "FailureTable",
    "GeneratorHealth",
    "PercentilePanel",
    "ProfileForm",
    "ProfilePreview",
    "Ramp",
    "RunHeader",
    "Trends",
    "load_curve",
]
