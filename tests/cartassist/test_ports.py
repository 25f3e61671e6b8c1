"""Ports (cartassist/core/ports.py, ADR 0015): wired once by CartAssistConfig.ready,
refused before wiring, replaceable in a test."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from cartassist import tasks
from cartassist.availability import site_setting as aliased_site_setting
from cartassist.carts.availability import site_setting
from cartassist.core import ports
from cartassist.core.ports import Port
from cartassist.outcomes.services.followups import follow_up_record_chat
from cartassist.outcomes.services.outcomes import invitation_results_sync


def test_ready_wires_each_port_to_its_implementation():
    assert ports.outcomes_refresh_request.get() is tasks.outcomes_refresh_on_commit
    assert ports.invitation_results_sync.get() is invitation_results_sync
    assert ports.follow_up_chat_record.get() is follow_up_record_chat
    assert ports.webhook_delivery_dispatch.get() == tasks.webhook_deliver_task.delay
    assert all(port.registered for port in ports.ALL_PORTS)


def test_a_port_used_before_wiring_is_refused_by_name():
    port: Port[ports.OutcomesRefreshRequest] = Port("example_port")

    with pytest.raises(ImproperlyConfigured, match="'example_port' is not wired"):
        port.get()
    assert not port.registered


def test_override_replaces_the_implementation_within_the_block_only():
    calls: list[tuple[list[int], datetime]] = []

    def record(*, invitation_ids: list[int], now: datetime) -> None:
        calls.append((invitation_ids, now))

    moment = datetime(2026, 1, 1)
    with ports.invitation_results_sync.override(record):
        ports.invitation_results_sync.get()(invitation_ids=[7], now=moment)

    assert calls == [([7], moment)]
    assert ports.invitation_results_sync.get() is invitation_results_sync


def test_override_puts_the_previous_implementation_back_after_an_error():
    def failing(cart_ids: list[int]) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError), ports.outcomes_refresh_request.override(failing):
        ports.outcomes_refresh_request.get()([1])

    assert ports.outcomes_refresh_request.get() is tasks.outcomes_refresh_on_commit


def test_the_old_availability_path_still_names_the_same_check():
    assert aliased_site_setting is site_setting
