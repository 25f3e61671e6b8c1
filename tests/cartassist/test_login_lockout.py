"""Login lockout on both login forms (django-axes; docs/OPERATIONS.md, "Login lockout").

Five wrong passwords in a row for one username from one address lock that pair out for
15 minutes (the fifth is answered with the lockout page): even the right password is
refused, with a page that says so, until the time is up or an admin unlocks the username.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

FORMS = ["/console/login/", "/admin/login/"]


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("merch", password="right-pass", is_staff=True)


def log_in(client: Client, path: str, password: str, **extra: Any) -> Any:
    return client.post(path, {"username": "merch", "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("path", FORMS)
def test_after_five_failures_even_the_right_password_is_refused(client, staff, path, caplog):
    # given: five wrong passwords: four answered by the form, the fifth locks
    failures = [log_in(client, path, "wrong").status_code for _ in range(5)]
    # when
    response = log_in(client, path, "right-pass")
    # then
    assert failures == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Login locked" in response.text
    assert "after 5 wrong passwords in a row" in response.text
    assert "locked for 15 minutes, even with the right password" in response.text
    assert not logged_in(client)
    assert "AXES: Locking out" in caplog.text


@pytest.mark.parametrize("path", FORMS)
def test_four_failures_still_let_the_right_password_in(client, staff, path):
    from axes.models import AccessAttempt

    # given
    for _ in range(4):
        assert log_in(client, path, "wrong").status_code == 200
    # when
    response = log_in(client, path, "right-pass")
    # then
    assert response.status_code == 302
    assert logged_in(client)
    assert AccessAttempt.objects.count() == 0  # a success forgets the failures


@pytest.mark.parametrize("path", FORMS)
def test_an_admin_unlocks_the_username_and_it_logs_in(client, staff, path):
    # given: locked out
    for _ in range(5):
        log_in(client, path, "wrong")
    assert log_in(client, path, "right-pass").status_code == 429
    # when
    call_command("axes_reset_username", "merch")
    response = log_in(client, path, "right-pass")
    # then
    assert response.status_code == 302
    assert logged_in(client)


def test_the_lock_is_for_that_username_from_that_address(client, staff):
    # given: locked out from 203.0.113.5
    for _ in range(5):
        log_in(client, "/console/login/", "wrong", REMOTE_ADDR="203.0.113.5")
    # when: the same user from another address
    response = log_in(client, "/console/login/", "right-pass", REMOTE_ADDR="198.51.100.7")
    # then
    assert response.status_code == 302
    assert logged_in(client)


def test_the_failures_of_both_forms_count_together(client, staff):
    # given: three failures on the console form, two on the admin form
    for _ in range(3):
        log_in(client, "/console/login/", "wrong")
    for _ in range(2):
        log_in(client, "/admin/login/", "wrong")
    # when
    response = log_in(client, "/console/login/", "right-pass")
    # then
    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_page_is_served_over_asgi_too(async_client, staff):
    # given: the console login served as daphne serves it (ASGI, async middleware)
    for _ in range(4):
        failed = await async_client.post(
            "/console/login/", {"username": "merch", "password": "wrong"}
        )
        assert failed.status_code == 200
    # when
    locked = await async_client.post("/console/login/", {"username": "merch", "password": "wrong"})
    refused = await async_client.post(
        "/console/login/", {"username": "merch", "password": "right-pass"}
    )
    # then
    assert (locked.status_code, refused.status_code) == (429, 429)
    assert "Login locked" in refused.text
    assert "sessionid" not in refused.cookies  # no session was started
