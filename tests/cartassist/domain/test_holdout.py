"""The holdout (control group): deterministic, monotonic, the configured share. No database."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartassist.domain.holdout import is_held_out

SALT = "pk_test_site"
KEYS = [f"7:cart-{n}" for n in range(5000)]

shares = st.decimals(min_value=0, max_value=1, places=3)
cart_keys = st.text(min_size=1, max_size=80)


@pytest.mark.parametrize("share", [Decimal(0), Decimal("-0.5")])
def test_no_cart_is_held_out_at_share_zero_or_below(share):
    # when
    held_out = [key for key in KEYS if is_held_out(key, share, SALT)]
    # then
    assert held_out == []


@pytest.mark.parametrize("share", [Decimal(1), Decimal("1.5")])
def test_every_cart_is_held_out_at_share_one_or_above(share):
    # when
    held_out = [key for key in KEYS if is_held_out(key, share, SALT)]
    # then
    assert held_out == KEYS


@given(key=cart_keys, share=shares, salt=st.text(max_size=40))
def test_the_same_cart_always_gets_the_same_answer(key, share, salt):
    # when
    answers = {is_held_out(key, share, salt) for _ in range(3)}
    # then
    assert len(answers) == 1


def test_the_answer_survives_a_new_process():
    # given: Python's hash() is salted per process; the holdout must not depend on it
    keys = KEYS[:200]
    here = [is_held_out(key, Decimal("0.5"), SALT) for key in keys]
    code = (
        "from decimal import Decimal; from cartassist.domain.holdout import is_held_out; "
        f"print([is_held_out(k, Decimal('0.5'), {SALT!r}) for k in {keys!r}])"
    )
    # when
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        cwd=Path(__file__).resolve().parents[3],
    ).stdout
    # then
    assert out.strip() == repr(here)


@given(key=cart_keys, salt=st.text(max_size=40), a=shares, b=shares)
def test_a_cart_held_out_at_a_share_stays_held_out_at_any_larger_share(key, salt, a, b):
    # given
    low, high = sorted((a, b))
    # when / then
    if is_held_out(key, low, salt):
        assert is_held_out(key, high, salt)


@given(share=shares)
def test_the_held_out_fraction_matches_the_share(share):
    # when
    fraction = sum(is_held_out(key, share, SALT) for key in KEYS) / len(KEYS)
    # then: the hash is uniform, so over 5,000 carts the fraction is within 0.03 of the
    # share (the Kolmogorov–Smirnov bound at this sample size is about 0.024 at 99.9 %)
    assert abs(fraction - float(share)) <= 0.03


def test_the_default_share_holds_out_about_a_tenth():
    # when
    held_out = sum(is_held_out(key, Decimal("0.100"), SALT) for key in KEYS)
    # then
    assert 450 <= held_out <= 550


def test_the_salt_reshuffles_the_holdout():
    # when
    one = {key for key in KEYS if is_held_out(key, Decimal("0.5"), "site-a")}
    other = {key for key in KEYS if is_held_out(key, Decimal("0.5"), "site-b")}
    # then: two sites' control groups are independent, not the same carts
    assert one != other
    assert 1000 <= len(one & other) <= 1500  # about a quarter of 5,000
