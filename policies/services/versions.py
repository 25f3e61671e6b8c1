"""Policy versions: every save of a policy appends an immutable snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max

from cartassist.locks import for_update
from policies.models import Policy, PolicyVersion
from policies.specs import raw_spec, spec_of


def policy_version_create(*, policy: Policy, user: Any, now: datetime) -> PolicyVersion:
    """Snapshot ``policy`` (already saved) as its next version and make it current.

    The spec is validated again by ``spec_of``: a policy that fails validation raises
    and the whole save rolls back. Saving without a change still creates no new version.
    """
    with transaction.atomic():
        policy = for_update(Policy.objects.select_related("site")).get(pk=policy.pk)
        spec = raw_spec(policy, currency=policy.site.currency)
        current = policy.current_version
        if current is not None and current.spec == spec:
            return current
        number = (policy.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = PolicyVersion.objects.create(
            policy=policy,
            number=number,
            spec=spec,
            created_at=now,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        spec_of(version)  # refuses an invalid spec before it becomes current
        Policy.objects.filter(pk=policy.pk).update(current_version=version)
    return version
