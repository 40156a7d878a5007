"""CI runs exactly the test command the README gives (after installing the browser the web
test drives and strace), then the style and type checks."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_COMMAND = "(command -v uv >/dev/null || pip install uv) && uv run pytest -n auto"
SYSTEM_TOOLS = (
    "(command -v chromium >/dev/null && command -v strace >/dev/null) || "
    "(apt-get update -q && apt-get install -y -q chromium chromium-driver strace)"
)
"""Debian's chromium and its driver, for the test of `jobs web` in a headless browser, and
strace, for the test that counts FULL durability's fsyncs."""


def test_ci_runs_the_readme_test_command_then_the_checks() -> None:
    readme = (ROOT / "README.md").read_text()
    steps = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    assert f"```sh\n{TEST_COMMAND}\n```" in readme
    assert steps == [
        "set -euo pipefail",
        'cd "$(dirname "$0")/.."',
        SYSTEM_TOOLS,
        TEST_COMMAND,
        "uv run ruff check .",
        "uv run ruff format --check .",
        "uv run mypy",
        "uv run lint-imports",
    ]
