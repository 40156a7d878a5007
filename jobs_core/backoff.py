"""Retrying after a store error (a full disk, a corrupt month file): pauses that grow, and
log lines that say so once, then once per interval, never once per try or per job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

FIRST_DELAY_SECS = 0.05
MAX_DELAY_SECS = 5.0
LOG_EVERY_SECS = 60.0
"""While something keeps failing, it is logged again at most this often."""


class Backoff:
    """The retry state of one thing that can fail (`what`, e.g. "archiving jobs_2026-11.db").

    Call `failed` after each failure and wait the seconds it returns (or skip the work until
    `due`); call `succeeded` after a success, which logs the recovery if there was trouble.
    """

    def __init__(
        self,
        what: str,
        log: logging.Logger,
        *,
        first_secs: float = FIRST_DELAY_SECS,
        max_secs: float = MAX_DELAY_SECS,
        log_every_secs: float = LOG_EVERY_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.log = log
        self.first_secs = first_secs
        self.max_secs = max_secs
        self.log_every_secs = log_every_secs
        self.clock = clock
        self.failures = 0
        """Failures in a row."""
        self.last_error: str | None = None
        """The latest failure's message, while failing."""
        self.delay = 0.0
        self.retry_at = 0.0
        self._since = 0.0
        self._logged_at: float | None = None

    def failed(self, error: BaseException | str) -> float:
        """Record a failure; returns the seconds to wait before the next try."""
        now = self.clock()
        self.failures += 1
        self.last_error = str(error)
        if self.failures == 1:
            self._since = now
            self.delay = self.first_secs
        else:
            self.delay = min(self.delay * 2, self.max_secs)
        self.retry_at = now + self.delay
        if self._logged_at is None:
            self._logged_at = now
            self.log.error("%s failed: %s (retrying)", self.what, self.last_error)
        elif now - self._logged_at >= self.log_every_secs:
            self._logged_at = now
            self.log.error(
                "%s still failing after %d tries in %.0fs: %s (retrying every %gs)",
                self.what, self.failures, now - self._since, self.last_error, self.delay,
            )  # fmt: skip
        return self.delay

    def succeeded(self) -> None:
        """Record a success; logs the recovery after a failure."""
        if not self.failures:
            return
        self.log.warning(
            "%s works again after %d failed tries in %.1fs",
            self.what, self.failures, self.clock() - self._since,
        )  # fmt: skip
        self.failures = 0
        self.last_error = None
        self.delay = 0.0
        self.retry_at = 0.0
        self._logged_at = None

    def due(self) -> bool:
        """Whether the next try may happen now (always, unless failing)."""
        return not self.failures or self.clock() >= self.retry_at
