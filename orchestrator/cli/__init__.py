"""The `retort` command line (`main.py`); ``python -m retort.orchestrator.cli`` runs it too."""

from retort.orchestrator.cli.main import COMMANDS, main

__all__ = ["COMMANDS", "main"]
