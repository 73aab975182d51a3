"""One screen per file: profiles -> editor, profiles -> dashboard -> summary; profiles -> history -> compare; dialogs and help on top."""

from .dashboard import DashboardScreen
from .dialogs import ChoiceDialog, NameDialog
from .editor import EditorScreen
from .help import HelpScreen
from .history import CompareScreen, HistoryScreen
from .profiles import ProfilesScreen
from .start import StartDialog
from .summary import SummaryScreen

__all__ = [
    "ChoiceDialog",
    "CompareScreen",
    "DashboardScreen",
    "EditorScreen",
    "HelpScreen",
    "HistoryScreen",
    "NameDialog",
    "ProfilesScreen",
    "StartDialog",
    "SummaryScreen",
]
