"""Policy versions: every save of a policy appends an immutable snapshot; a policy that
nothing names can be deleted with its versions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max

from cartassist.core.locks import for_update
from policies.models import Policy, PolicyVersion
from policies.selectors import policy_in_use
from policies.specs import policies_changed, raw_spec, spec_of


def policy_version_create(*, policy: Policy, user: Any, now: datetime) -> PolicyVersion:
    """Snapshot ``policy`` (already saved) as its next version and make it current.

    The spec is validated again by ``spec_of``: a policy that fails validation raises
    and the whole save rolls back. Saving without a change still creates no new version.
    A new version renews the site's policy-set token in the same transaction
    (``policies_changed``, ADR 0026): every process reads the site's current versions
    again once it commits.
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
        policies_changed(site_id=policy.site_id)
    return version


def policies_delete(*, policy_ids: Iterable[int]) -> list[int]:
    """Delete every named policy that no offer, grant or audit entry names
    (``policy_in_use``), with its versions, in one transaction; a policy in use stays
    (switch it off instead). Returns the ids deleted.

    1. Unset the current version (it points at a version, which points back).
    2. Delete the versions, then the policy.
    3. Renew the policy-set token of each site that lost a policy, once, in ascending
       site order (``policies_changed``, ADR 0026: the same order in every transaction).
    """
    deleted = []
    sites = set()
    with transaction.atomic():
        for policy in Policy.objects.filter(pk__in=list(policy_ids)):
            if policy_in_use(policy):
                continue
            Policy.objects.filter(pk=policy.pk).update(current_version=None)
            PolicyVersion.objects.filter(policy=policy).delete()
            deleted.append(policy.pk)
            policy.delete()
            sites.add(policy.site_id)
        for site_id in sorted(sites):
            policies_changed(site_id=site_id)
    return deleted
