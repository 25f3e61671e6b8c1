"""The browser modules after ``collectstatic`` with the production storage (ADR 0014).

The hashed copy of a module imports the hashed copies of its modules, so a page that
loads the console's hashed ``main.js`` gets one consistent set, cached forever; the
unhashed copies, which the widget's unhashed tag loads, stay as written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

REPO_ROOT = Path(__file__).resolve().parents[1]
STORAGE = "cartassist.staticfiles.ModuleManifestStaticFilesStorage"
IMPORT = re.compile(r"""^import\s+(?:[^"';]*?\s+from\s+)?["'](\.{1,2}/[^"']+)["'];""", re.M)
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """collectstatic into a fresh folder with the production storage."""
    from django.test import override_settings

    root = tmp_path_factory.mktemp("static")
    storages = {"staticfiles": {"BACKEND": STORAGE}}
    with override_settings(STATIC_ROOT=root, STORAGES=storages):  # resets the storage
        call_command("collectstatic", "--noinput", "--verbosity", "0")
    manifest = json.loads((root / "staticfiles.json").read_text())["paths"]
    return root, manifest


def imports_of(path: Path) -> list[str]:
    return IMPORT.findall(path.read_text())


def test_the_hashed_console_imports_only_hashed_modules(collected):
    # given
    root, manifest = collected
    entry = root / manifest["console/main.js"]

    # when: the module graph a browser walks from the console's hashed entry
    seen: dict[str, list[str]] = {}
    pending = [entry]
    while pending:
        module = pending.pop()
        name = module.relative_to(root).as_posix()
        if name in seen:
            continue
        seen[name] = imports_of(module)
        pending += [(module.parent / spec).resolve() for spec in seen[name]]

    # then: every module in it is a hashed copy that exists, and all of the console and
    # the widget modules it shares (protocol, language helpers) are there
    assert all(HASHED.search(name) for name in seen), sorted(seen)
    assert all((root / name).is_file() for name in seen)
    unhashed = {HASHED.sub(".js", name) for name in seen}
    sources = {f"console/{path.name}" for path in (REPO_ROOT / "static/console").glob("*.js")}
    assert unhashed == sources | {"widget/protocol.js", "widget/i18n.js"}


def test_the_unhashed_widget_files_are_served_as_written(collected):
    # given
    root, _ = collected
    widget = REPO_ROOT / "static" / "widget"

    # then: the tag shops paste loads cartassist.js, which imports chat.js and its
    # modules by their plain names; those copies import plain names too
    for source in sorted(widget.glob("*.js")):
        copy = root / "widget" / source.name
        assert copy.read_text() == source.read_text(), source.name
        assert not [spec for spec in imports_of(copy) if HASHED.search(spec)]
    # and the catalogues the chat fetches beside its modules (i18n/<lang>.json, relative
    # to import.meta.url) are there under their plain names
    catalogues = sorted((widget / "i18n").glob("*.json"))
    assert [path.name for path in catalogues] == ["de.json", "en.json", "es.json", "fr.json"]
    for source in catalogues:
        assert (root / "widget" / "i18n" / source.name).read_text() == source.read_text()
