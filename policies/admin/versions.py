"""A policy's versions as engine specs, for the readable diff in the policy editor
(policies/engine/diff.py; docs/POLICIES.md, "Versions")."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from policies.engine import PolicySpec
from policies.engine.diff import SpecChange, spec_diff
from policies.models import Policy, PolicyVersion
from policies.specs import spec_of


@dataclass(frozen=True)
class VersionHistory:
    """Every version of one policy, loaded once: number → spec, pk → number."""

    specs: dict[int, PolicySpec]
    numbers: dict[int, int]
    tz: zoneinfo.ZoneInfo

    def previous(self, number: int) -> int | None:
        earlier = [n for n in self.specs if n < number]
        return max(earlier) if earlier else None

    def number_of(self, version_id: int) -> int | None:
        return self.numbers.get(version_id)

    def diff(self, old: int, new: int) -> list[SpecChange]:
        """What changed from version ``old`` to version ``new``, times in the site's zone."""
        return spec_diff(self.specs[old], self.specs[new], tz=self.tz)


def version_history(policy: Policy) -> VersionHistory:
    """Load (and validate, as on every load) every version of ``policy``."""
    versions = list(PolicyVersion.objects.filter(policy_id=policy.pk).order_by("number"))
    try:
        tz = zoneinfo.ZoneInfo(policy.site.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    return VersionHistory(
        specs={v.number: spec_of(v) for v in versions},
        numbers={v.pk: v.number for v in versions},
        tz=tz,
    )
