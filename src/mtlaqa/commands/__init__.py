"""CLI commands that live outside cli.py (one module per topic)."""
