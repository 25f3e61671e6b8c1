"""Benchmarks for CartAssist (docs/PERFORMANCE.md). Not collected by pytest, not run by CI.

Run everything with ``.venv/bin/python -m bench`` (``--help`` for the options).
"""
