"""The analytics' figures in plain words (pure): a verdict a shop owner reads first,
then the statistics behind it (docs/ANALYTICS.md, "The headline")."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cartassist.domain.analytics_report import Comparison


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def pp(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} pp"


class Finding(enum.Enum):
    """What a comparison lets us say."""

    NO_DATA = "no_data"  # nothing invited or held out in the selection
    ONE_ARM = "one_arm"  # only invited, or only held-out carts
    TOO_FEW = "too_few"  # an arm below the minimum size
    UNCLEAR = "unclear"  # the always-valid 95 % interval includes zero
    MORE = "more"  # invited carts did better, beyond chance
    LESS = "less"  # invited carts did worse, beyond chance


@dataclass(frozen=True)
class Wording:
    """How one comparison reads: ``what`` is the verb phrase of what the rate counts
    ("converted"), ``whom`` what was invited or held out ("carts")."""

    what: str = "converted"
    whom: str = "carts"


CONVERSION = Wording()
FOLLOW_UPS = Wording(what="were followed by a contact with the shop")


def finding(c: Comparison) -> Finding:
    if c.invited == 0 and c.held_out == 0:
        return Finding.NO_DATA
    if c.invited == 0 or c.held_out == 0:
        return Finding.ONE_ARM
    if not c.enough_data or c.uplift is None:
        return Finding.TOO_FEW
    low, high = verdict_interval(c)
    if low is None or high is None or low <= 0 <= high:
        return Finding.UNCLEAR
    return Finding.MORE if c.uplift > 0 else Finding.LESS


def verdict_interval(c: Comparison) -> tuple[float | None, float | None]:
    """The interval the verdict rests on: the always-valid sequence (it holds however
    often the page is opened), or the fixed-horizon interval where there is none."""
    if c.sequence_low is not None and c.sequence_high is not None:
        return c.sequence_low, c.sequence_high
    return c.uplift_low, c.uplift_high


def _more_carts(c: Comparison) -> str:
    """ " About 1,200 more stalled carts at the rates so far should settle it." or ""."""
    if c.stalled_carts_to_exclude_zero is None or c.sequence_low is None:
        return ""
    return (
        f" About {c.stalled_carts_to_exclude_zero:,} more stalled carts at the rates so far "
        "would settle it."
    )


def _points(value: float) -> str:
    """0.151 → "15 points"; below half a point → "less than 1 point"."""
    points = round(abs(value) * 100)
    if points == 0:
        return "less than 1 point"
    return "1 point" if points == 1 else f"{points} points"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def plain_headline(c: Comparison, min_arm: int, wording: Wording = CONVERSION) -> str:
    """The verdict in plain words, e.g. "Invited carts converted 15 points more often
    than comparable carts we did not contact (34 % against 19 %)."; says plainly when
    there is nothing to compare yet or too little to tell."""
    whom, what = wording.whom, wording.what
    result = finding(c)
    if result is Finding.NO_DATA:
        return (
            f"No {whom} were invited or held out in this period yet, so there is nothing "
            "to compare."
        )
    if result is Finding.ONE_ARM:
        missing = (
            "no invited carts"
            if c.invited == 0
            else "no comparable carts we did not contact (held out)"
        )
        return f"Not enough data yet: this selection has {missing}, so there is nothing to compare."
    if result is Finding.TOO_FEW:
        return (
            f"Not enough data yet to tell whether outreach helped: {c.invited:,} invited and "
            f"{c.held_out:,} comparable {whom} we did not contact; at least {min_arm} of "
            "each are needed."
        )
    uplift = c.uplift or 0.0  # not None here: finding() checked it
    if result is Finding.UNCLEAR:
        return (
            f"Not enough data yet: invited {whom} {what} {_share(c.invited_rate)} of "
            f"the time and comparable {whom} we did not contact {_share(c.held_out_rate)}; "
            f"the gap of {_points(uplift)} could still be chance (the interval still "
            f"includes 0).{_more_carts(c)}"
        )
    direction = "more" if result is Finding.MORE else "less"
    return (
        f"Invited {whom} {what} {_points(uplift)} {direction} often than comparable "
        f"{whom} we did not contact ({_share(c.invited_rate)} against "
        f"{_share(c.held_out_rate)})."
    )


def headline(c: Comparison, *, what: str = "converted") -> str:
    """The statistics, after the plain words: e.g. "Invited carts converted 34.1 %
    (n=1,204) vs 22.0 % held out (n=133): +12.1 pp, 95 % CI +4.0 to +19.6 pp"."""
    text = (
        f"Invited carts {what} {rate(c.invited_rate)} (n={c.invited:,}) vs "
        f"{rate(c.held_out_rate)} held out (n={c.held_out:,})"
    )
    if c.uplift is None:
        return text
    text += f": {pp(c.uplift)}"
    if c.sequence_low is not None and c.sequence_high is not None:
        text += f", always-valid 95 % interval {pp(c.sequence_low)} to {pp(c.sequence_high)}"
    if c.uplift_low is not None and c.uplift_high is not None:
        text += f" (fixed-horizon 95 % CI {pp(c.uplift_low)} to {pp(c.uplift_high)})"
    return text


def caution(c: Comparison, min_arm: int) -> str | None:
    """A warning when the comparison cannot tell, or ``None``."""
    if c.invited == 0 or c.held_out == 0:
        return (
            "No comparison is possible: there are no "
            + ("invited" if c.invited == 0 else "held-out")
            + " carts in this selection."
        )
    if not c.enough_data:
        return (
            f"Too few carts to tell: fewer than {min_arm} in an arm "
            f"(invited {c.invited:,}, held out {c.held_out:,}). Treat the difference as unknown."
        )
    low, high = verdict_interval(c)
    if low is not None and high is not None and low <= 0 <= high:
        return (
            "Not enough data yet: the always-valid 95 % interval still includes 0, so this "
            f"sample cannot tell whether outreach changed the rate.{_more_carts(c)}"
        )
    return None
