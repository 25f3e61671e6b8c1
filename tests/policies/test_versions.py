"""Policy versions and deletion (policies/services/versions.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from policies.models import Policy, PolicyVersion
from policies.services.offers import offer_authorize
from policies.services.versions import policies_delete, policy_version_create
from tests.fixtures.policies import make_chat, make_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]


def test_policies_delete_removes_unused_policies_with_their_versions_and_keeps_used_ones(site):
    # given: an offer was made under the first policy; the second was edited once
    used = make_policy(site)
    unused = make_policy(site, name="Never used")
    Policy.objects.filter(pk=unused.pk).update(daily_budget="50.00")
    unused.refresh_from_db()
    policy_version_create(policy=unused, user=None, now=timezone.now())
    chat = make_chat(site)
    offer_authorize(
        agent=chat.agent, conversation_id=chat.conversation.pk, kind="waive_delivery",
        amount="5.00", now=timezone.now(),
    )  # fmt: skip

    # when
    deleted = policies_delete(policy_ids=[used.pk, unused.pk])

    # then
    assert deleted == [unused.pk]
    assert list(Policy.objects.values_list("pk", flat=True)) == [used.pk]
    assert list(PolicyVersion.objects.values_list("policy_id", "number")) == [(used.pk, 1)]
