"""The `retort` command line: `main.py` (``python -m retort.orchestrator.cli`` runs it too)."""
