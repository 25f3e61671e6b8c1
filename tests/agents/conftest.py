"""The chat tests run on a fresh in-memory channel layer in both CI phases
(``chat_settings``, tests/fixtures/settings.py).

The Redis layer is exercised by the production-mode tests in tests/integration/.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _chat_settings(chat_settings: None) -> None:
    """Every test here: ``chat_settings``."""
