"""A site's brand colour and languages, checked without Django (WCAG 2.2 contrast)."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# Text on the brand colour (the launcher, the shopper's bubbles, buttons) is white or
# near-black, whichever contrasts more; the colour must reach WCAG AA for normal text
# with one of them.
WHITE = "#ffffff"
INK = "#111827"
AA_NORMAL_TEXT = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of a ``#rrggbb`` colour."""
    if not HEX_COLOUR.match(colour):
        raise ValueError(f"{colour!r} is not a colour such as #1f6f4a")
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio, 1–21."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_colour_on(background: str) -> str:
    """White or ink, whichever reads better on ``background``."""
    if contrast_ratio(background, WHITE) >= contrast_ratio(background, INK):
        return WHITE
    return INK


def brand_colour_problem(colour: str) -> str | None:
    """Why ``colour`` cannot be a brand colour, or None. Plain words for the admin form."""
    if not HEX_COLOUR.match(colour):
        return f"Enter a colour as #rrggbb, e.g. #1f6f4a (got {colour!r})."
    best = contrast_ratio(colour, text_colour_on(colour))
    if best < AA_NORMAL_TEXT:
        return (
            f"Text on {colour} reaches a contrast of only {best:.2f}:1 with white or black "
            f"text; WCAG AA needs {AA_NORMAL_TEXT}:1. Choose a darker or lighter shade."
        )
    return None


def languages_problem(languages: list[object], shipped: list[str]) -> str | None:
    """Why a site's language list is not usable, or None."""
    if not isinstance(languages, list) or not languages:
        return 'List at least one language, e.g. ["en"].'
    unknown = [str(code) for code in languages if code not in shipped]
    if unknown:
        return f"Not a shipped language: {', '.join(unknown)}. Shipped: {', '.join(shipped)}."
    if len(set(languages)) != len(languages):
        return "Each language once."
    return None


# A BCP 47 language tag as pages write it in <html lang> ("de", "de-AT", "zh-Hant-TW";
# "de_AT" is accepted too): letters first, then subtags of letters and digits.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")
LANGUAGE_TAG_MAX_LENGTH = 35  # RFC 5646 §4.4.1: the length implementations must support


def language_tag_problem(tag: str) -> str | None:
    """Why ``tag`` is not a language tag such as ``de-AT``, or None."""
    if len(tag) > LANGUAGE_TAG_MAX_LENGTH:
        return f"A language tag has at most {LANGUAGE_TAG_MAX_LENGTH} characters."
    if not LANGUAGE_TAG.match(tag):
        return 'Send a BCP 47 language tag such as "de" or "de-AT".'
    return None
