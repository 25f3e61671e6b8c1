"""The analytics' figures in plain words (pure)."""

from __future__ import annotations

from cartassist.domain.analytics_report import Comparison


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def pp(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} pp"


def headline(c: Comparison, *, what: str = "converted") -> str:
    """E.g. "Invited carts converted 34.1 % (n=1,204) vs 22.0 % held out (n=133):
    +12.1 pp, 95 % CI +4.0 to +19.6 pp"."""
    text = (
        f"Invited carts {what} {rate(c.invited_rate)} (n={c.invited:,}) vs "
        f"{rate(c.held_out_rate)} held out (n={c.held_out:,})"
    )
    if c.uplift is None:
        return text
    text += f": {pp(c.uplift)}"
    if c.uplift_low is not None and c.uplift_high is not None:
        text += f", 95 % CI {pp(c.uplift_low)} to {pp(c.uplift_high)}"
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
    if (
        c.uplift_low is not None
        and c.uplift_high is not None
        and c.uplift_low <= 0 <= c.uplift_high
    ):
        return (
            "The 95 % interval includes zero: this sample cannot tell whether outreach "
            "changed the rate."
        )
    return None
