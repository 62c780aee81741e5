"""CLI command groups, one module per topic (registered in cli.py)."""
