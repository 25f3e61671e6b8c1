"""Orchestration: sequences that cross domains (the sweep, chat housekeeping, the
console's hello and remedies); ADR 0015."""
