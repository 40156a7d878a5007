"""Store locations: telling a PostgreSQL URL from a directory, and masking its credentials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from jobs_core.errors import InvalidOptionError

SCHEMES = ("postgresql://", "postgres://")
"""URL prefixes that select the PostgreSQL backend; anything else is a directory."""

DEFAULT_SCHEMA = "jobs"
SCHEMA_PARAM = "schema"
"""Our own query parameter: the PostgreSQL schema holding the store (removed before connecting)."""

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_SECRET_PARAMS = frozenset({"password", "passfile", "sslpassword"})
_URL_IN_TEXT = re.compile(r"postgres(?:ql)?://[^\s'\"]+", re.IGNORECASE)
MASK = "***"


def is_store_url(location: str) -> bool:
    """Whether `location` names a PostgreSQL store (a path names an SQLite directory)."""
    return location.strip().lower().startswith(SCHEMES)


_ANY_URL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")


def foreign_scheme(location: str) -> str | None:
    """The scheme of a URL that names no backend (`mysql://...`), which would otherwise be
    taken for a directory path; None for a PostgreSQL URL or a path."""
    found = _ANY_URL.match(location)
    return None if found is None or is_store_url(location) else found[1]


def mask_store_url(location: str) -> str:
    """`location` safe to print: a URL's password (and password parameters) replaced by ***.

    A directory comes back unchanged. This is the one masking function: errors, `jobs
    status`, the admin app and logs all show stores through it.
    """
    if not is_store_url(location):
        return location
    scheme, netloc, path, query = _split(location.strip())
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostinfo}"
    if query:
        pairs = [pair.partition("=") for pair in query.split("&")]
        query = "&".join(
            f"{k}{eq}{MASK if k.lower() in _SECRET_PARAMS else v}" for k, eq, v in pairs
        )
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _split(url: str) -> tuple[str, str, str, str]:
    """Scheme, netloc, path and query of a URL, each exactly as written."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    slash = rest.find("/")
    netloc, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    return scheme, netloc, path, query


def mask_urls_in(text: str) -> str:
    """`text` with every PostgreSQL URL in it masked (for messages that quote one)."""
    return _URL_IN_TEXT.sub(lambda m: mask_store_url(m.group(0)), text)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreUrl:
    """A parsed PostgreSQL store URL."""

    dsn: str
    """What the driver connects with: the URL without our own parameters."""
    schema: str
    """PostgreSQL schema holding the store's tables."""
    display: str
    """The URL with credentials masked, for messages."""


def parse_store_url(url: str, schema: str | None = None) -> StoreUrl:
    """Split `url` into the driver's DSN and the schema (`?schema=` or `schema`, else `jobs`)."""
    scheme, netloc, path, query = _split(url.strip())
    pairs = parse_qsl(query, keep_blank_values=True)
    given = [v for k, v in pairs if k == SCHEMA_PARAM]
    rest = [(k, v) for k, v in pairs if k != SCHEMA_PARAM]
    name = schema or (given[-1] if given else DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.match(name):
        raise InvalidOptionError(
            f"schema '{name}': expected a lower-case PostgreSQL name (letters, digits, _)"
        )
    dsn = f"{scheme}://{netloc}{path}" + (f"?{urlencode(rest)}" if rest else "")
    return StoreUrl(dsn=dsn, schema=name, display=mask_store_url(url))
