"""The analytics headline in plain words (cartassist/analytics/text.py): the verdict
first, in each case a comparison can end in; no database."""

from __future__ import annotations

import pytest

from cartassist.analytics.text import (
    FOLLOW_UPS,
    Finding,
    caution,
    finding,
    headline,
    plain_headline,
)
from cartassist.domain.analytics_report import Comparison
from cartassist.domain.sequential import difference_sequence
from cartassist.domain.uplift import compare

MIN_ARM = 30


def comparison(invited_won: int, invited: int, held_won: int, held: int) -> Comparison:
    """As the analytics service builds it (cartassist/outcomes/services/analytics.py)."""
    result = compare(invited_won, invited, held_won, held)
    sequence = difference_sequence(invited_won, invited, held_won, held)
    return Comparison(
        invited=invited,
        invited_successes=invited_won,
        invited_rate=result.rate_a,
        held_out=held,
        held_out_successes=held_won,
        held_out_rate=result.rate_b,
        uplift=result.difference,
        uplift_low=result.interval.low if result.interval else None,
        uplift_high=result.interval.high if result.interval else None,
        relative_uplift=result.relative,
        enough_data=min(invited, held) >= MIN_ARM and result.interval is not None,
        sequence_low=sequence.interval.low if sequence.interval else None,
        sequence_high=sequence.interval.high if sequence.interval else None,
        sequence_excludes_zero=sequence.excludes_zero,
        stalled_carts_to_exclude_zero=sequence.carts_to_exclude_zero,  # none suppressed
    )


def test_a_clear_gain_in_points_first():
    # given: 34 % of 1,000 invited against 19 % of 400 held out
    c = comparison(340, 1000, 76, 400)

    # then
    assert finding(c) is Finding.MORE
    assert plain_headline(c, MIN_ARM) == (
        "Invited carts converted 15 points more often than comparable carts we did not "
        "contact (34 % against 19 %)."
    )
    # and the statistics come after, unchanged
    assert headline(c).startswith("Invited carts converted 34.0 % (n=1,000) vs 19.0 % held out")


def test_a_clear_loss_says_less_often():
    c = comparison(100, 1000, 80, 400)

    assert finding(c) is Finding.LESS
    assert plain_headline(c, MIN_ARM) == (
        "Invited carts converted 10 points less often than comparable carts we did not "
        "contact (10 % against 20 %)."
    )


def test_a_difference_within_chance_is_called_unclear():
    c = comparison(22, 100, 18, 100)

    assert finding(c) is Finding.UNCLEAR
    more = c.stalled_carts_to_exclude_zero
    assert more is not None
    assert plain_headline(c, MIN_ARM) == (
        "Not enough data yet: invited carts converted 22 % of the time and comparable "
        "carts we did not contact 18 %; the gap of 4 points could still be chance (the "
        f"interval still includes 0). About {more:,} more stalled carts at the rates so far "
        "would settle it."
    )


def test_the_verdict_rests_on_the_always_valid_interval_not_the_fixed_one():
    # given: 30 % of 400 against 22 % of 400: the fixed-horizon interval excludes 0
    # (a single planned look would call it), the always-valid one does not yet
    c = comparison(120, 400, 88, 400)
    assert c.uplift_low is not None
    assert c.uplift_low > 0
    assert c.sequence_low is not None
    assert c.sequence_low < 0
    # then
    assert finding(c) is Finding.UNCLEAR
    assert plain_headline(c, MIN_ARM).startswith("Not enough data yet:")
    caution_text = caution(c, MIN_ARM)
    assert caution_text is not None
    assert "always-valid 95 % interval still includes 0" in caution_text
    assert f"About {c.stalled_carts_to_exclude_zero:,} more stalled carts" in caution_text
    assert "always-valid 95 % interval" in headline(c)
    assert "interval -1.5 pp to +17.5 pp (fixed-horizon 95 % CI +1.9 pp to +14.0 pp)" in headline(c)


def test_too_few_carts_says_so_and_how_many_are_needed():
    c = comparison(8, 16, 3, 13)

    assert finding(c) is Finding.TOO_FEW
    assert plain_headline(c, MIN_ARM) == (
        "Not enough data yet to tell whether outreach helped: 16 invited and 13 comparable "
        "carts we did not contact; at least 30 of each are needed."
    )


@pytest.mark.parametrize(
    ("counts", "missing"),
    [
        ((5, 40, 0, 0), "no comparable carts we did not contact (held out)"),
        ((0, 0, 4, 40), "no invited carts"),
    ],
)
def test_one_arm_empty_says_there_is_nothing_to_compare(counts, missing):
    c = comparison(*counts)

    assert finding(c) is Finding.ONE_ARM
    assert plain_headline(c, MIN_ARM) == (
        f"Not enough data yet: this selection has {missing}, so there is nothing to compare."
    )


def test_no_data_at_all():
    c = comparison(0, 0, 0, 0)

    assert finding(c) is Finding.NO_DATA
    assert plain_headline(c, MIN_ARM) == (
        "No carts were invited or held out in this period yet, so there is nothing to compare."
    )


def test_a_gap_below_one_point_is_not_rounded_to_zero_points():
    c = comparison(3003, 10000, 2998, 10000)

    assert "the gap of less than 1 point could still be chance" in plain_headline(c, MIN_ARM)


def test_follow_ups_read_as_contacts():
    c = comparison(40, 1000, 60, 400)

    assert plain_headline(c, MIN_ARM, FOLLOW_UPS) == (
        "Invited carts were followed by a contact with the shop 11 points less often than "
        "comparable carts we did not contact (4 % against 15 %)."
    )
