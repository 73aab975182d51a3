"""liminal-tui: a terminal load tester for HTTP and WebSocket APIs."""

__version__ = "0.1.0"
__all__ = ["__version__"]
