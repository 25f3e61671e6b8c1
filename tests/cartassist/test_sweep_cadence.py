"""The sweep's cadence (ADR 0020): a sub-second interval, decimals allowed, scheduled by
beat with an expiry so that a busy worker runs the latest sweep, not a backlog."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cartassist.settings import env_seconds


def test_the_interval_takes_decimal_seconds(monkeypatch):
    monkeypatch.setenv("CARTASSIST_SWEEP_INTERVAL_SECONDS", "0.25")
    assert env_seconds("CARTASSIST_SWEEP_INTERVAL_SECONDS", 0.5) == 0.25
    monkeypatch.setenv("CARTASSIST_SWEEP_INTERVAL_SECONDS", "10")
    assert env_seconds("CARTASSIST_SWEEP_INTERVAL_SECONDS", 0.5) == 10.0
    monkeypatch.delenv("CARTASSIST_SWEEP_INTERVAL_SECONDS")
    assert env_seconds("CARTASSIST_SWEEP_INTERVAL_SECONDS", 0.5) == 0.5


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_an_interval_that_is_not_a_positive_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("CARTASSIST_SWEEP_INTERVAL_SECONDS", value)
    with pytest.raises(ImproperlyConfigured, match="CARTASSIST_SWEEP_INTERVAL_SECONDS"):
        env_seconds("CARTASSIST_SWEEP_INTERVAL_SECONDS", 0.5)


def test_beat_schedules_the_sweep_every_interval_and_drops_stale_runs():
    entry = settings.CELERY_BEAT_SCHEDULE["stall-sweep"]
    interval = settings.CARTASSIST_SWEEP_INTERVAL.total_seconds()
    assert entry["task"] == "cartassist.tasks.stall_sweep_task"
    assert entry["schedule"] == interval
    assert entry["options"]["expires"] >= max(5.0, interval)
