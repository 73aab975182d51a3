"""One screen per file: profiles -> editor, profiles -> dashboard -> summary; dialogs and help on top."""

from .dashboard import DashboardScreen
from .dialogs import ChoiceDialog, NameDialog
from .editor import EditorScreen
from .help import HelpScreen
from .profiles import ProfilesScreen
from .start import StartDialog
from .summary import SummaryScreen

__all__ = [
    "ChoiceDialog",
    "DashboardScreen",
    "EditorScreen",
    "HelpScreen",
    "NameDialog",
    "ProfilesScreen",
    "StartDialog",
    "SummaryScreen",
]
