"""Every user-visible string is translatable, and translated in every shipped language.

Three kinds of text reach shoppers and agents (docs/LOCALISATION.md):

* server-rendered templates and Python strings: Django's gettext, one catalogue per app
  (``<app>/locale/<lang>/LC_MESSAGES/django.po`` with its compiled ``.mo``);
* the widget's and the console's own strings: JSON catalogues beside the modules
  (``static/<bundle>/i18n/<lang>.json``), loaded by the browser code, no build step;
* copy that merchandisers write per language in admin (data, not checked here).

These checks fail when a string is left outside the catalogues (a literal in a shopper-
or agent-facing template or module), when a catalogue lacks a string the code uses, or
when a shipped language leaves one untranslated.
"""

from __future__ import annotations

import gettext
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.template.base import Lexer, TokenType

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
APPS = ["cartassist", "agents", "policies"]
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]

# Templates that shoppers or agents read. The demo storefront stands in for a shop's own
# pages, and Django admin pages are the merchandiser's (Django translates its own parts).
FACING_TEMPLATES = [
    *sorted((ROOT / "agents" / "templates" / "agents").glob("*.html")),
    *sorted((ROOT / "cartassist" / "templates" / "cartassist" / "embed").glob("*.html")),
]
# The browser bundles with their own catalogues; each module's visible strings go
# through the bundle's t().
BUNDLES = ["widget", "console"]

# Text that is the same in every language: names, symbols, separators.
LANGUAGE_NEUTRAL = {"CartAssist", "·", "×", "—", "–", "…", "/", "|", ":", "%", "+", "-"}
VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "value"}
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def _words(text: str) -> int:
    return len(re.findall(r"[^\W\d_]{2,}", text))


def _po_files() -> list[tuple[str, str, Path]]:
    return [
        (app, lang, ROOT / app / "locale" / lang / "LC_MESSAGES" / "django.po")
        for app in APPS
        for lang in TRANSLATED
        if (ROOT / app / "locale").exists()
    ]


# --- server-rendered text ---------------------------------------------------------------


class _VisibleText(HTMLParser):
    """The text and visible attribute values of an HTML fragment, outside script/style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value and "{{" not in value:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def untranslatable_template_text(source: str) -> list[str]:
    """Literal text in a template that is outside {% translate %} / {% blocktranslate %}.

    Django's lexer splits the template into text, variable and block tokens; text inside
    a blocktranslate block is translatable, and so is each {% translate %} tag."""
    found: list[str] = []
    in_blocktranslate = False
    html = []
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if name in {"blocktranslate", "blocktrans"}:
                in_blocktranslate = True
            elif name in {"endblocktranslate", "endblocktrans"}:
                in_blocktranslate = False
            html.append(" ")
        elif token.token_type == TokenType.TEXT and not in_blocktranslate:
            html.append(token.contents)
        else:
            html.append(" ")
    parser = _VisibleText()
    parser.feed("".join(html))
    parser.close()
    for text in parser.found:
        stripped = " ".join(text.split())
        if stripped and LETTER.search(stripped) and stripped not in LANGUAGE_NEUTRAL:
            found.append(stripped)
    return found


def test_the_checker_finds_literal_text_and_passes_translated_text() -> None:
    """The check itself can fail (a check that cannot fail is no check)."""
    source = (
        "{% load i18n %}<h1>Your order</h1><p title='Close'>{% translate 'Hello' %}</p>"
        "{% blocktranslate %}Code {{ code }}{% endblocktranslate %}"
        "<script>const x = 'not text';</script><span>{{ name }}</span><b>CartAssist</b>"
    )
    assert untranslatable_template_text(source) == ["Close", "Your order"] or sorted(
        untranslatable_template_text(source)
    ) == ["Close", "Your order"]


@pytest.mark.parametrize("template", FACING_TEMPLATES, ids=lambda path: path.name)
def test_shopper_and_agent_templates_have_no_untranslatable_text(template: Path) -> None:
    found = untranslatable_template_text(template.read_text(encoding="utf-8"))
    assert not found, f"{template.relative_to(ROOT)}: wrap in {{% translate %}}: {found}"


@pytest.mark.parametrize(("app", "lang", "path"), _po_files(), ids=lambda v: str(v))
def test_each_shipped_language_translates_every_message(app: str, lang: str, path: Path) -> None:
    assert path.exists(), f"{app} has a locale/ but no {lang} catalogue"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    untranslated, fuzzy, same = [], [], []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(ids[0])
        elif message.fuzzy:
            fuzzy.append(ids[0])
        elif strings[0] == ids[0] and _words(ids[0]) > 1:
            same.append(ids[0])
    assert not untranslated, f"{path.relative_to(ROOT)} leaves untranslated: {untranslated}"
    assert not fuzzy, f"{path.relative_to(ROOT)} has fuzzy (unchecked) entries: {fuzzy}"
    assert not same, f"{path.relative_to(ROOT)} keeps the English text: {same}"


@pytest.mark.parametrize(("app", "lang", "path"), _po_files(), ids=lambda v: str(v))
def test_compiled_catalogues_match_their_sources(app: str, lang: str, path: Path) -> None:
    """The committed .mo is what Django reads; it must say what the .po says."""
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"run `manage.py compilemessages`: {compiled} is missing"
    with compiled.open("rb") as handle:
        translations = gettext.GNUTranslations(handle)
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    stale = []
    for message in catalogue:
        if not message.id or isinstance(message.id, tuple) or message.fuzzy:
            continue
        key = f"{message.context}\x04{message.id}" if message.context else message.id
        if translations._catalog.get(key) != message.string:  # type: ignore[attr-defined]
            stale.append(message.id)
    assert not stale, f"{compiled.relative_to(ROOT)} is stale, run compilemessages: {stale[:5]}"


@pytest.mark.parametrize("app", APPS)
def test_every_translatable_string_is_in_the_catalogues(app: str, tmp_path: Path) -> None:
    """makemessages, run on a copy of the app, finds no message the catalogues lack."""
    require(shutil.which("xgettext") is not None, "GNU gettext is not installed (apt gettext)")
    copy = tmp_path / app
    shutil.copytree(
        ROOT / app,
        copy,
        ignore=shutil.ignore_patterns("locale", "migrations", "__pycache__", "*.mo"),
    )
    (copy / "locale").mkdir()
    run = subprocess.run(
        [sys.executable, "-P", "-m", "django", "makemessages", "-l", "de", "--no-location"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    extracted_path = copy / "locale" / "de" / "LC_MESSAGES" / "django.po"
    if not extracted_path.exists():
        return  # nothing in the app is marked for translation
    with extracted_path.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    committed_path = ROOT / app / "locale" / "de" / "LC_MESSAGES" / "django.po"
    committed: set[object] = set()
    if committed_path.exists():
        with committed_path.open("rb") as handle:
            committed = {m.id for m in read_po(handle) if m.id}
    missing = sorted(str(m) for m in extracted - committed)
    assert not missing, (
        f"{app}: strings marked for translation but not in its catalogues; run "
        f"`cd {app} && django-admin makemessages -l de -l fr -l es` and translate: {missing}"
    )


# --- the browser bundles -----------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{(\w+)\}")
T_CALL = re.compile(r"""\bt\(\s*["']([\w.\-]+)["']""")
# Assignments and calls that put a literal on the screen without t().
VISIBLE_LITERAL = re.compile(
    r"""(?:\.(?:textContent|innerText|placeholder|title|alt)\s*=\s*|"""
    r"""setAttribute\(\s*["'](?:aria-label|title|placeholder|alt)["']\s*,\s*)"""
    r"""(["'`])((?:(?!\1).)*?[A-Za-z](?:(?!\1).)*?)\1"""
)


def _catalogue(bundle: str, lang: str) -> dict[str, str]:
    path = ROOT / "static" / bundle / "i18n" / f"{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {key: value for key, value in data.items() if not key.startswith("@")}


def _bundles_with_catalogues() -> list[str]:
    return [b for b in BUNDLES if (ROOT / "static" / b / "i18n" / "en.json").exists()]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_the_bundle_has_an_english_catalogue(bundle: str) -> None:
    assert (ROOT / "static" / bundle / "i18n" / "en.json").exists(), (
        f"static/{bundle}/ has no i18n/en.json: its strings cannot be translated"
    )


@pytest.mark.parametrize("bundle", _bundles_with_catalogues())
@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_shipped_language_has_every_bundle_string(bundle: str, lang: str) -> None:
    english = _catalogue(bundle, "en")
    path = ROOT / "static" / bundle / "i18n" / f"{lang}.json"
    assert path.exists(), f"static/{bundle}/i18n/{lang}.json is missing"
    raw = json.loads(path.read_text(encoding="utf-8"))
    allowed_same = set(raw.get("@same_as_english", []))
    translated = _catalogue(bundle, lang)
    assert sorted(set(english) - set(translated)) == [], f"{lang}: missing keys"
    assert sorted(set(translated) - set(english)) == [], f"{lang}: keys English lacks"
    empty = [key for key, value in translated.items() if not value.strip()]
    assert not empty, f"{lang}: empty: {empty}"
    same = [
        key
        for key, value in translated.items()
        if value == english[key] and _words(value) > 1 and key not in allowed_same
    ]
    assert not same, f"{lang}: still English: {same}"
    placeholders = [
        key
        for key, value in translated.items()
        if set(PLACEHOLDER.findall(value)) != set(PLACEHOLDER.findall(english[key]))
    ]
    assert not placeholders, f"{lang}: placeholders differ from English: {placeholders}"


@pytest.mark.parametrize("bundle", _bundles_with_catalogues())
def test_every_key_the_code_uses_is_in_the_catalogue(bundle: str) -> None:
    english = _catalogue(bundle, "en")
    used = set()
    for module in (ROOT / "static" / bundle).glob("*.js"):
        used |= set(T_CALL.findall(module.read_text(encoding="utf-8")))
    assert used, f"static/{bundle}/ never calls t()"
    assert sorted(used - set(english)) == [], "keys used in code but not in en.json"


@pytest.mark.parametrize("bundle", BUNDLES)
def test_no_module_puts_a_literal_on_screen(bundle: str) -> None:
    found = []
    for module in sorted((ROOT / "static" / bundle).glob("*.js")):
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            for match in VISIBLE_LITERAL.finditer(line):
                found.append(f"{module.name}:{number}: {match.group(2)!r}")
    assert not found, "visible literals outside t():\n" + "\n".join(found)


def test_the_literal_check_can_fail() -> None:
    line = 'button.textContent = "Send"; el.setAttribute("aria-label", "Close chat");'
    assert [m.group(2) for m in VISIBLE_LITERAL.finditer(line)] == ["Send", "Close chat"]
    assert not list(VISIBLE_LITERAL.finditer('button.textContent = t("send");'))
