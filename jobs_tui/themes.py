"""The `jobs-dark` and `jobs-light` themes; styles use only their variables."""

from __future__ import annotations

from collections.abc import Mapping

from textual.color import Color
from textual.theme import Theme

JOBS_DARK = Theme(
    name="jobs-dark",
    primary="#4EA1D3",
    secondary="#7FB77E",
    accent="#E0A458",
    warning="#E0A458",
    error="#E06C75",
    success="#7FB77E",
    foreground="#D8DEE9",
    background="#161B22",
    surface="#1F2630",
    panel="#27303B",
    dark=True,
)

JOBS_LIGHT = Theme(
    name="jobs-light",
    primary="#1F6FA8",
    secondary="#3F7F3E",
    accent="#A8641B",
    warning="#A8641B",
    error="#B3363F",
    success="#2F7A2E",
    foreground="#1B1F24",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#E4E9EF",
    dark=False,
)

THEMES = (JOBS_DARK, JOBS_LIGHT)
"""Registered by the app; the first is the default."""


def other_theme(name: str) -> str:
    """The theme the toggle switches to from `name`."""
    return JOBS_LIGHT.name if name == JOBS_DARK.name else JOBS_DARK.name


Palette = Mapping[str, str]
"""Rich styles for the roles table cells use: error, success, warning, accent, muted."""

PLAIN: Palette = {role: "" for role in ("error", "success", "warning", "accent", "muted")}
"""No colours (before the app has a theme)."""


def palette(variables: Mapping[str, str]) -> Palette:
    """Rich styles for table cells from the app's theme variables (Rich cannot read
    `$variables` or alpha colours, so they are resolved here)."""
    background = Color.parse(variables.get("background", "#000000"))
    foreground = Color.parse(variables.get("foreground", "#ffffff"))
    return {
        "error": variables.get("text-error", ""),
        "success": variables.get("text-success", ""),
        "warning": variables.get("text-warning", ""),
        "accent": variables.get("text-accent", ""),
        "muted": background.blend(foreground, 0.6).hex,
    }
