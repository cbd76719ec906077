"""Peer tools measured beside Retort in the same benchmark run, each in an environment of its own."""
