"""Accessibility checks in the browser: axe-core (from the npm registry, `npm ci`) run
inside the page under test, and a few helpers for keyboard journeys.

axe's rules for WCAG 2.0/2.1/2.2 A and AA plus its best practices run; a test asserts
that no violation of impact "critical" or "serious" remains (issue 12's goal), and
prints the rest so a reader sees them.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

from tests.conftest import require

AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"critical", "serious"}


def _axe_installed() -> bool:
    """axe-core as pinned in package-lock.json; `npm ci` once if node_modules lacks it,
    so that the README's test command needs no extra step."""
    if AXE_SCRIPT.exists():
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    root = AXE_SCRIPT.parents[2]
    with (root / ".npm-ci.lock").open("w") as lock:  # parallel test workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE_SCRIPT.exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=root,
                check=False,
                capture_output=True,
                timeout=300,
            )
    return AXE_SCRIPT.exists()


def axe_violations(page: Any, context: Any = None) -> list[dict[str, Any]]:
    """All of axe's violations on the page as it is now (``context``: a selector or
    axe's include/exclude object, default the whole document)."""
    require(_axe_installed(), "axe-core is not installed and `npm ci` failed")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_SCRIPT.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async ([context, tags]) => {
            const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]};
            return await window.axe.run(context || document, options);
        }""",
        [context, AXE_TAGS],
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
        lines.append(
            f"[{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({len(violation['nodes'])} nodes: {', '.join(targets)})"
        )
    return "\n".join(lines)


def assert_no_blocking_violations(page: Any, context: Any = None) -> list[dict[str, Any]]:
    """Fails on any critical or serious violation; returns the minor ones (printed)."""
    violations = axe_violations(page, context)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, "axe-core found:\n" + describe(blocking)
    minor = [v for v in violations if v["impact"] not in BLOCKING]
    if minor:
        warnings.warn("axe-core, minor:\n" + describe(minor), stacklevel=2)
    return minor


def focused_element(page: Any) -> dict[str, Any]:
    """What has the keyboard focus: tag, id, accessible-ish name and whether a focus
    indicator is drawn (an outline or box-shadow that is not none)."""
    return dict(
        page.evaluate(
            """() => {
                let el = document.activeElement;
                while (el && el.shadowRoot && el.shadowRoot.activeElement) {
                    el = el.shadowRoot.activeElement;
                }
                if (!el) return {tag: null};
                const style = getComputedStyle(el);
                const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
                const shadow = style.boxShadow && style.boxShadow !== "none";
                return {
                    tag: el.tagName.toLowerCase(),
                    id: el.id,
                    name: (el.getAttribute("aria-label") || el.textContent || "").trim(),
                    visibleFocus: Boolean(outline || shadow),
                };
            }"""
        )
    )
