"""The chat tests run on the in-memory channel layer in both CI phases, with a fast
password hasher (make_agent creates a user per agent).

The Redis layer is exercised by the production-mode tests in tests/integration/; here a
fresh in-memory layer per test keeps groups and queued events from leaking between tests.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings: Any) -> None:
    # Changing CHANNEL_LAYERS drops Channels' cached layer (setting_changed), so each
    # test gets a new, empty one.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # PBKDF2's deliberate slowness would dominate these tests; nothing here tests hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
