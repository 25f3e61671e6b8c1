"""Settings for the server-side policy tests (not the pure engine tests below engine/)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def chat_settings(settings: Any) -> None:
    """A fresh in-memory channel layer per test and a fast password hasher (every agent
    is a user)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
