"""Package boundaries a tool can check: the library never loads the TUI stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_import_jobs_core_loads_no_textual_rich_or_httpx() -> None:
    code = (
        "import sys, jobs_core\n"
        "from jobs_core import BackgroundJobs\n"
        "loaded = [m for m in ('textual', 'rich', 'jobs_tui', 'httpx') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout
