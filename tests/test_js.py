"""The browser modules' unit tests (tests/js/: the shared socket protocol, the console's
money, the module graph and the widget's size) through Node's built-in test runner, so
that they run with the rest of the suite. CI also runs them, after eslint (.ci/run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import require

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_widget_and_console_seq_logic_passes_node_test() -> None:
    # given
    node = shutil.which("node")
    require(node is not None, "needs Node.js (node --test) for tests/js/")
    assert node is not None

    # when
    run = subprocess.run(  # noqa: S603 - a fixed command line
        [node, "--test", "tests/js/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout
