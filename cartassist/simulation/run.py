"""The run driver: ``simulate`` and the demo's simulated history."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from agents.services.invitations import invitations_expire
from cartassist.carts.models import Intervention, Site
from cartassist.outcomes.services.outcomes import outcomes_finalise
from cartassist.simulation.journey import SimulationRun
from cartassist.simulation.population import (
    DEMO_HISTORY_CONFIG,
    DEMO_HISTORY_SHOPPERS,
    DEMO_HISTORY_SITE_NAME,
    SimulationConfig,
    population_draw,
)
from cartassist.simulation.sites import (
    SimulationError,
    simulation_site_check,
    simulation_site_ensure,
)
from cartassist.simulation.summary import SimulationSummary, simulation_summary


def simulate(*, site: Site, config: SimulationConfig, now: datetime) -> SimulationSummary:
    """Send ``config.shoppers`` synthetic shoppers through the pipeline on ``site``.

    1. Draw the population (arrival, stall reason) from ``config.seed``.
    2. Set the site's holdout share for the run and switch outreach on (both restored
       afterwards); agents' presence is checked at each simulated moment.
    3. For each shopper, oldest first, in one transaction: cart events → sweep at the
       stall deadline → invitation, chat, offer and grant (invited) → order and grant
       redemption (with the true rate of the shopper's arm) → helpdesk follow-up.
    4. Expire what was ignored and finalise every outcome (``now`` is after every
       attribution window), then read the analytics back.
    """
    problems = config.errors()
    if problems:
        raise SimulationError("; ".join(problems))
    run = SimulationRun(site=site, config=config, now=now)
    simulation_site_check(site, run.agents, now)
    saved = Site.objects.filter(pk=site.pk).values("holdout_share", "agents_available").get()
    Site.objects.filter(pk=site.pk).update(
        holdout_share=config.holdout_share, agents_available=True
    )
    site.refresh_from_db()
    try:
        shoppers = population_draw(
            run.rng, config=config, first_day=run.first_day, tz=run.tz, prefix=run.prefix
        )
        for shopper in shoppers:
            run.shopper_run(shopper)
    finally:
        Site.objects.filter(pk=site.pk).update(**saved)
        site.refresh_from_db()
    invitations_expire(now=run.horizon)
    outcomes_finalise(now=now)
    return simulation_summary(run)


def demo_history_ensure(
    *, shoppers: int = DEMO_HISTORY_SHOPPERS, now: datetime
) -> SimulationSummary | None:
    """The demo's simulated history, the first time only (None when it exists already):
    ``shoppers`` shoppers over 14 days on a site of its own (DEMO_HISTORY_CONFIG)."""
    if shoppers <= 0:
        return None
    site = simulation_site_ensure(name=DEMO_HISTORY_SITE_NAME, now=now)
    if Intervention.objects.filter(site=site).exists():
        return None
    config = dataclasses.replace(DEMO_HISTORY_CONFIG, shoppers=shoppers)
    return simulate(site=site, config=config, now=now)
