"""The simulator: a synthetic population of shoppers sent through the real pipeline.

docs/ANALYTICS.md, "Simulator". Each shopper gets true rates we chose (conversion if invited, if
held out; a follow-up contact after outreach), goes through the same services a live shopper
and agent would (event ingestion with its validation, the stall sweep, invitations,
chat, offers within policy, grants, orders, grant redemption, helpdesk follow-ups, the
outcome finaliser), and the analytics are then read back, so that what they report can
be checked against the truth, and the demo has data to show.

How it stays honest and reproducible:

- Every random draw comes from one ``random.Random(seed)``, and the timeline is anchored
  at local midnight of the site's day (``simulation_horizon``), so the same seed gives the
  same summary on a fresh database on the same day.
- Nothing sleeps: every service takes the simulated moment as ``now``. Shoppers arrive
  over ``days`` days that end one day before the horizon, so every order falls inside its
  attribution window, in the past, and the finaliser closes every window.
- Conversion is intention-to-treat: every invited shopper converts with the invited
  rate, whatever they did with the invitation; held-out (and suppressed) shoppers with
  the held-out rate.
- Each shopper has a visitor id of their own (``sim-r<run>-<n>``), so frequency caps do
  not cut into the experiment; a small share of shoppers come back within the cap on
  purpose, to show "suppressed: frequency cap" (they never join the experiment).
- The sweep asks the "is an agent available?" check about its own moment (the default
  check takes ``now``), so simulated agents, who follow shifts, are online at simulated
  times; stalls outside the shifts are suppressed with "no agent available", as they
  would be.
"""

from __future__ import annotations

from cartassist.simulation.journey import simulation_horizon
from cartassist.simulation.population import (
    DEFAULT_SITE_NAME,
    DEMO_HISTORY_CONFIG,
    DEMO_HISTORY_SHOPPERS,
    DEMO_HISTORY_SITE_NAME,
    SimulationConfig,
)
from cartassist.simulation.run import demo_history_ensure, simulate
from cartassist.simulation.sites import (
    SimulationError,
    simulation_site_ensure,
    simulation_site_key,
    site_find,
)
from cartassist.simulation.summary import (
    Measured,
    SimulationSummary,
    standard_error,
    summary_lines,
)

__all__ = [
    "DEFAULT_SITE_NAME",
    "DEMO_HISTORY_CONFIG",
    "DEMO_HISTORY_SHOPPERS",
    "DEMO_HISTORY_SITE_NAME",
    "Measured",
    "SimulationConfig",
    "SimulationError",
    "SimulationSummary",
    "demo_history_ensure",
    "simulate",
    "simulation_horizon",
    "simulation_site_ensure",
    "simulation_site_key",
    "site_find",
    "standard_error",
    "summary_lines",
]
