"""Daily rollups of the interventions for the analytics (docs/ANALYTICS.md, "Cost";
ADR 0019).

``AnalyticsChange`` rows are written by database triggers (migration 0011) in the same
transaction as any insert, update or delete of an intervention or follow-up contact that
the analytics read: one row per (site, UTC day of the decision) touched. Their summed
``weight`` per (site, UTC day) is that day's version; it only grows.

The rollups of a (site, zone, local day) are recomputed from the raw rows in one
snapshot, which also reads the versions of the UTC days the local day overlaps; their
sum is kept in ``AnalyticsDay.seen``. The rollups of a day are used only while ``seen``
equals the current sum, so they can never drift from the raw rows: any later change
raises the sum and the day is recomputed (``cartassist/outcomes/services/
analytics_rollups.py``).
"""

from __future__ import annotations

from django.db import models


class AnalyticsChange(models.Model):
    """A change to a day's interventions (written by triggers only). No foreign key: the
    triggers also write while a site's rows are being deleted."""

    site_id = models.BigIntegerField()
    day = models.DateField(help_text="The UTC day of the changed interventions' decision.")
    weight = models.PositiveIntegerField(default=1, help_text="Changes folded into this row.")

    class Meta:
        indexes = [models.Index(fields=["site_id", "day"], name="analytics_change_day")]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.day}: +{self.weight}"


def _site() -> models.ForeignKey:
    return models.ForeignKey("cartassist.Site", on_delete=models.CASCADE, related_name="+")


class AnalyticsDay(models.Model):
    """The rollups of a (site, time zone, local day) exist and were computed when the
    versions of the UTC days it overlaps summed to ``seen``."""

    site = _site()
    zone = models.CharField(max_length=64)
    day = models.DateField()
    seen = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "zone", "day"], name="analytics_day_once")
        ]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.zone} {self.day}: {self.seen}"


class AnalyticsGroup(models.Model):
    """Interventions of a local day grouped by every dimension the report splits by."""

    site = _site()
    zone = models.CharField(max_length=64)
    day = models.DateField()
    stall_reason = models.CharField(max_length=32)
    decision = models.CharField(max_length=16)
    suppression_reason = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    # Plain ids, not foreign keys: deleting a policy or an agent updates the
    # interventions (SET_NULL), which marks the day changed.
    policy_id = models.BigIntegerField(null=True)
    remedy_kind = models.CharField(max_length=16)
    agent_id = models.BigIntegerField(null=True)
    n = models.PositiveIntegerField()
    converted_n = models.PositiveIntegerField()
    followed_up_n = models.PositiveIntegerField()
    follow_up_contact_n = models.PositiveIntegerField()
    revenue_sum = models.DecimalField(max_digits=20, decimal_places=3)
    remedy_cost_sum = models.DecimalField(max_digits=20, decimal_places=3)
    granted_sum = models.DecimalField(max_digits=20, decimal_places=3)
    net_sum = models.DecimalField(max_digits=20, decimal_places=3)
    result_none = models.PositiveIntegerField()
    result_pending = models.PositiveIntegerField()
    result_delivered = models.PositiveIntegerField()
    result_accepted = models.PositiveIntegerField()
    result_dismissed = models.PositiveIntegerField()
    result_ignored = models.PositiveIntegerField()
    result_undelivered = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["site", "zone", "day"], name="analytics_group_day")]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.zone} {self.day}: {self.n} {self.decision}"


class AnalyticsRepeat(models.Model):
    """Interventions of a local day whose cart had an earlier intervention, by the local
    day of that previous one (for the distinct stalled carts of any range)."""

    site = _site()
    zone = models.CharField(max_length=64)
    day = models.DateField()
    previous_day = models.DateField()
    n = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["site", "zone", "day"], name="analytics_repeat_day")]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.zone} {self.day} after {self.previous_day}: {self.n}"


class AnalyticsContact(models.Model):
    """Follow-up contacts credited to the interventions of a local day."""

    site = _site()
    zone = models.CharField(max_length=64)
    day = models.DateField(help_text="The local day of the intervention's decision.")
    decision = models.CharField(max_length=16)
    reason = models.CharField(max_length=24)
    channel = models.CharField(max_length=10)
    resolution = models.CharField(max_length=16)
    n = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["site", "zone", "day"], name="analytics_contact_day")]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.zone} {self.day}: {self.n} {self.reason}"


class AnalyticsResponse(models.Model):
    """Chats of a local day (invited, with a first response) by the whole second of
    their time to first response: their count and sum (the mean), and where each
    percentile's rank falls, so that only the chats of one second are read to pick its
    exact value."""

    site = _site()
    zone = models.CharField(max_length=64)
    day = models.DateField()
    second = models.BigIntegerField(help_text="floor(first_response_seconds)")
    n = models.PositiveIntegerField()
    total = models.FloatField(help_text="Sum of their first_response_seconds (the mean).")

    class Meta:
        indexes = [models.Index(fields=["site", "zone", "day"], name="analytics_response_day")]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.zone} {self.day}: {self.n} at {self.second} s"


class AnalyticsMoment(models.Model):
    """Randomised interventions (invited or held out) of a local day by the covariates
    CUPED adjusts for (docs/ANALYTICS.md, "Variance reduction (CUPED)"): the count, the
    conversions, and the sums of ``v = ln(1 + cart_value)``, of ``v²`` and of ``v`` over
    the converted ones. Every sum of squares and cross-product CUPED needs follows: the
    stage, stall reason and returning shopper are constant within a row."""

    site = _site()
    zone = models.CharField(max_length=64)
    day = models.DateField()
    decision = models.CharField(max_length=16)
    stall_reason = models.CharField(max_length=32)
    stage = models.CharField(max_length=16)
    returning_shopper = models.BooleanField()
    n = models.PositiveIntegerField()
    converted_n = models.PositiveIntegerField()
    value_sum = models.FloatField()
    value_sq_sum = models.FloatField()
    value_converted_sum = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["site", "zone", "day"], name="analytics_moment_day")]

    def __str__(self) -> str:
        return f"site {self.site_id}, {self.zone} {self.day}: {self.n} {self.decision}"
