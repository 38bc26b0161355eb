"""The mutation check (``scripts/mutation_check.py``) as part of the suite: every named mutant,
a deliberate user-visible bug, must make its tests fail. A few minutes; skip it while iterating
with ``-m "not mutation"``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO_ROOT


@pytest.mark.mutation
def test_every_named_mutant_is_killed():
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "mutation_check.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
