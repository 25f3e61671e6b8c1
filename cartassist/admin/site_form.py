"""The site editor's branding and languages (docs/OPERATIONS.md, "Admin: a site's branding
and languages"): a colour picker with a live preview of the launcher and its contrast, the
contrast check at the field, and the shipped languages as tick boxes with a fallback."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.db import models
from django.utils.html import format_html

from cartassist.carts.models import Site
from cartassist.domain.branding import (
    AA_NORMAL_TEXT,
    HEX_COLOUR,
    WHITE,
    contrast_ratio,
    text_colour_on,
)

PREVIEW_SCRIPT = "siteadmin/brand-preview.js"
ADMIN_CSS = "siteadmin/admin.css"


def https_urls(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    """Form fields of a model form, with https assumed for a typed address without a
    scheme (images load in shops' https pages)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


def shipped_languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class BrandColourInput(forms.TextInput):
    """``<input type="color">``: the browser's colour picker, always ``#rrggbb``."""

    input_type = "color"

    class Media:
        css = {"all": [ADMIN_CSS]}
        js = [forms.Script(PREVIEW_SCRIPT, type="module")]


def brand_preview(colour: str) -> str:
    """The launcher and a shopper's message in ``colour`` with the text colour the widget
    would use, and the contrast in words; brand-preview.js redraws it as the colour
    changes (the saved value is checked by the model's validator)."""
    if not HEX_COLOUR.match(colour or ""):
        colour = "#1f3a5f"
    text = text_colour_on(colour)
    return format_html(
        '<div class="brand-preview" data-brand-preview data-aa="{}">'
        '<span class="brand-preview-launcher" data-part="launcher" '
        'style="background-color: {}; color: {}">Chat with us</span> '
        '<span class="brand-preview-bubble" data-part="bubble" '
        'style="background-color: {}; color: {}">Is delivery free over 50?</span>'
        '<p class="brand-preview-ratio" data-part="ratio" aria-live="polite">{}</p></div>',
        AA_NORMAL_TEXT,
        colour, text, colour, text,
        contrast_words(colour),
    )  # fmt: skip


def contrast_words(colour: str) -> str:
    """E.g. "White text on #1f3a5f: contrast 11.42:1 (WCAG AA needs 4.5:1)."."""
    text = text_colour_on(colour)
    ratio = contrast_ratio(colour, text)
    which = "White" if text == WHITE else "Black"
    verdict = "" if ratio >= AA_NORMAL_TEXT else " Too low: choose a darker or lighter shade."
    return (
        f"{which} text on {colour}: contrast {ratio:.2f}:1 (WCAG AA needs "
        f"{AA_NORMAL_TEXT}:1).{verdict}"
    )


class SiteAdminForm(forms.ModelForm):
    """Languages as tick boxes of the shipped languages plus a fallback (stored as the
    model's list, fallback first); the logo must be an https address."""

    languages = forms.MultipleChoiceField(
        choices=shipped_languages,
        widget=forms.CheckboxSelectMultiple,
        help_text="The languages this shop speaks to shoppers. The widget and the invitation "
        "use the page's language when it is one of these.",
    )
    fallback_language = forms.ChoiceField(
        choices=shipped_languages,
        required=False,
        help_text="Used when the page's language is none of the ticked ones. Must be ticked.",
    )

    class Meta:
        model = Site
        # The admin passes the fieldsets' fields; these are the ones this form adds to.
        fields = ["display_name", "brand_colour", "logo_url", "languages"]
        widgets = {"brand_colour": BrandColourInput()}
        formfield_callback = https_urls
        labels = {"logo_url": "Logo URL"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = list(self.instance.languages or ["en"]) if self.instance.pk else ["en"]
        if "languages" in self.fields:
            self.initial["languages"] = stored
            self.initial["fallback_language"] = stored[0]

    def _kept_fallback(self, ticked: list[str]) -> str | None:
        """No fallback posted (a form built in code): keep the stored one if still
        ticked, else the first ticked."""
        stored = list(self.instance.languages or []) if self.instance.pk else []
        if stored and stored[0] in ticked:
            return stored[0]
        return ticked[0] if ticked else None

    def clean_logo_url(self) -> str:
        url: str = self.cleaned_data.get("logo_url") or ""
        if url and urlsplit(url).scheme != "https":
            raise forms.ValidationError(
                "Use an https address: shops' pages are https, and a browser blocks "
                "an http image on them."
            )
        return url

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        ticked = cleaned.get("languages")
        fallback = cleaned.get("fallback_language") or self._kept_fallback(ticked or [])
        if ticked and fallback:
            if fallback not in ticked:
                self.add_error(
                    "fallback_language", "Tick the fallback language under Languages too."
                )
            else:
                order = [code for code, _name in shipped_languages()]
                rest = sorted((c for c in ticked if c != fallback), key=order.index)
                cleaned["languages"] = [fallback, *rest]
        return cleaned
