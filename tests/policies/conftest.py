"""The server-side policy tests (not the pure engine tests below engine/) use
``chat_settings`` (tests/fixtures/settings.py)."""
