"""The foundation's sweep tests exercise suppression with the site's switch as the
availability check; agent presence has its own tests in tests/agents."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _availability_by_site_switch(settings):
    settings.CARTASSIST_AGENT_AVAILABILITY = "cartassist.availability.site_setting"
