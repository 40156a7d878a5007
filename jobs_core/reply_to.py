"""The `reply_to` URL mini-language: parse, validate, mask and send a job's callback."""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import httpx

from jobs_core.errors import InvalidReplyToError, JobsError

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
"""HTTP methods accepted as the optional first word of a `reply_to`."""

MASK = "***"
"""What every secret is replaced by in masked text."""

SECRET_QUERY_NAMES = frozenset(
    {"token", "key", "secret", "password", "sig", "signature", "api_key", "apikey", "access_token"}
)
"""Query parameter names (case-insensitive) whose values `mask_reply_to` hides."""

_SECRET_QUERY_SUFFIXES = ("token", "key", "secret", "password", "passwd", "signature")
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)
_HTTP_PREFIX = re.compile(r"https?://", re.IGNORECASE)
_SCHEME_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# The auth part ends at the `@` right before a scheme, so an `@` inside the URL never splits it.
_AUTH_SEPARATOR = re.compile(r"@(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BODY_EXCERPT_CHARS = 200


class ReplyDeliveryError(JobsError):
    """A reply could not be delivered: a connection failure or a non-2xx response.

    `status_code` is the response status, or None when no response arrived.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyTarget:
    """Where and how to send a reply; its repr shows only the masked target."""

    method: str = "POST"
    """Upper-case HTTP method."""
    url: str = field(repr=False)
    """The http(s) URL, as written (it may hold credentials, so it is kept out of the repr)."""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """Headers from the auth part, environment variables already substituted."""
    masked: str = ""
    """The whole target with every secret replaced by `***`: safe to log."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Secret values to scrub from any text derived from a reply, such as a response body."""


class _Problem(Exception):
    """What is wrong with a `reply_to`, before the masked target is added to the message."""


@dataclass(frozen=True, slots=True)
class _Parts:
    """A `reply_to` cut into its method word (or ""), auth part (or None) and URL."""

    method_word: str
    auth: str | None
    url: str


def parse_reply_to(text: str, *, env: Mapping[str, str] | None = None) -> ReplyTarget:
    """Parse `text`, substituting `$NAME` references from `env` (default `os.environ`).

    Raises `InvalidReplyToError` for bad syntax or a referenced variable that is not set.
    """
    return _parse(text, os.environ if env is None else env)


def validate_reply_to(text: str) -> None:
    """Check the syntax of `text` without requiring its `$NAME` variables to be set.

    Used at enqueue time: the process that delivers the reply may be the one with the variables.
    """
    _valid_syntax(text)


@functools.lru_cache(maxsize=256)
def _valid_syntax(text: str) -> None:
    # Remembered: most producers send many jobs to one address, and the check (httpx's URL
    # parser included) cost ~70 µs an enqueue, more than the rest of it. A refusal raises,
    # so only accepted texts are kept.
    _parse(text, None)


def unset_variables(text: str, env: Mapping[str, str]) -> list[str]:
    """Names of the `$NAME` references in `text`'s auth part that `env` does not set."""
    auth = _split(text).auth
    if not auth:
        return []
    is_header = auth[:5].lower() == "http."
    raws = [auth[5:].partition(":")[2]] if is_header else auth.split(":", 1)
    return [raw[1:] for raw in raws if _is_env_ref(raw) and raw[1:] not in env]


def mask_reply_to(text: str) -> str:
    """Return `text` with every secret replaced by `***`; never raises."""
    try:
        return _mask(text)
    except Exception:  # masking feeds error messages, so it must not fail on any input
        return MASK


async def send_reply(
    text: str,
    payload_json: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Send `payload_json` as `application/json` to the target `text`; return the 2xx status.

    `headers` are sent too (the job's `X-Job-Id` and `X-Job-State`); the target's own headers
    (auth, `http.Name:value`) win over them.

    Raises `InvalidReplyToError` for a bad target or an unset `$NAME`, and `ReplyDeliveryError`
    for a connection failure or a non-2xx response. Redirects are not followed: a callback
    carrying credentials must land exactly where it was told to.
    """
    import httpx  # imported on use: it costs ~0.5 s at startup of every CLI command

    target = parse_reply_to(text, env=env)
    extra = dict(headers or {})
    if client is not None:
        return await _deliver(client, target, payload_json, timeout, extra)
    async with httpx.AsyncClient() as own_client:
        return await _deliver(own_client, target, payload_json, timeout, extra)


async def _deliver(
    client: httpx.AsyncClient, target: ReplyTarget, payload_json: str, timeout: float,
    extra: dict[str, str],
) -> int:  # fmt: skip
    import httpx

    headers = {"Content-Type": "application/json", **extra, **target.headers}
    masked_url = _mask_url(target.url)
    try:
        async with client.stream(
            target.method,
            target.url,
            content=payload_json.encode(),
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
        ) as response:
            if response.is_success:
                return response.status_code
            excerpt = _scrub(await _read_excerpt(response), target)
            raise ReplyDeliveryError(
                f"{target.method} {masked_url} returned {response.status_code}: {excerpt}",
                status_code=response.status_code,
            )
    except httpx.HTTPError as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", target)
        # `from None`: the cause's own message or request may carry the unmasked target.
        raise ReplyDeliveryError(f"{target.method} {masked_url} failed: {detail}") from None


async def _read_excerpt(response: httpx.Response) -> str:
    # Read only what the message shows, so a huge error page is never loaded whole.
    limit = _BODY_EXCERPT_CHARS * 4
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", errors="replace")[:_BODY_EXCERPT_CHARS]


def _scrub(message: str, target: ReplyTarget) -> str:
    message = message.replace(target.url, _mask_url(target.url))
    for secret in sorted(target.secrets, key=len, reverse=True):
        message = message.replace(secret, MASK)
    return message


def _parse(text: str, env: Mapping[str, str] | None) -> ReplyTarget:
    masked = mask_reply_to(text)
    try:
        parts = _split_strict(text)
        secrets: list[str] = []
        headers = (
            _auth_headers(parts.auth, _resolver(env, secrets)) if parts.auth is not None else {}
        )
        secrets.extend(headers.values())
        has_authorization = any(name.lower() == "authorization" for name in headers)
        secrets.extend(_check_url(parts.url, has_authorization=has_authorization))
    except _Problem as problem:
        raise InvalidReplyToError(f"invalid reply_to {masked!r}: {problem}") from None
    method = parts.method_word.upper() or "POST"
    return ReplyTarget(
        method=method,
        url=parts.url,
        headers=headers,
        masked=masked,
        secrets=tuple(s for s in secrets if s),
    )


def _split(text: str) -> _Parts:
    """Split into method word, auth part and URL without judging any of them."""
    stripped = text.strip()
    method_word, rest = "", stripped
    words = stripped.split(None, 1)
    if len(words) == 2 and words[0].upper() in METHODS:
        method_word, rest = words
    if _HTTP_PREFIX.match(rest):
        return _Parts(method_word, None, rest)
    separator = _AUTH_SEPARATOR.search(rest)
    if separator is None:
        return _Parts(method_word, None, rest)
    return _Parts(method_word, rest[: separator.start()], rest[separator.end() :])


def _split_strict(text: str) -> _Parts:
    stripped = text.strip()
    if not stripped:
        raise _Problem("it is empty")
    words = stripped.split(None, 1)
    if len(words) == 1 and words[0].upper() in METHODS:
        raise _Problem(f"no URL after the method {words[0]!r}")
    if len(words) == 2 and words[0].upper() not in METHODS:
        if words[0].isalpha():
            expected = ", ".join(sorted(METHODS))
            raise _Problem(f"unknown HTTP method {words[0]!r}; expected one of {expected}")
        raise _Problem("it contains whitespace; only a method may precede the URL, by one space")
    parts = _split(stripped)
    if any(c.isspace() for c in parts.url):
        raise _Problem("the URL contains whitespace")
    return parts


_Resolve = Callable[[str, str], str]
"""Turns one raw auth part and a description of it into its value."""


def _resolver(env: Mapping[str, str] | None, secrets: list[str]) -> _Resolve:
    """Build the `_Resolve` for `env` (None: only check syntax), recording values as secrets."""

    def resolve(raw: str, what: str) -> str:
        if raw.startswith("$"):
            name = raw[1:]
            if not _ENV_NAME.fullmatch(name):
                raise _Problem(
                    f"the {what} starts with '$' but is not an environment variable name; "
                    "percent-encode a literal '$' as %24"
                )
            if env is None:
                return "x"  # validation only: the variable is read when the reply is sent
            if name not in env:
                raise _Problem(f"environment variable {name} (the {what}) is not set")
            value = env[name]
        else:
            value = _decode(raw, what)
        secrets.append(value)
        return value

    return resolve


def _decode(raw: str, what: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise _Problem(f"the {what} is not valid percent-encoded UTF-8") from None


def _auth_headers(auth: str, resolve: _Resolve) -> dict[str, str]:
    """Headers for an auth part: `http.Name:value`, `user:password` or a bearer token."""
    if auth[:5].lower() == "http.":
        return _header_auth(auth[5:], resolve)
    if ":" in auth:
        user_raw, _, password_raw = auth.partition(":")
        user = resolve(user_raw, "basic auth user")
        password = resolve(password_raw, "basic auth password")
        if not user and not password:
            raise _Problem("basic auth has an empty user and password")
        if ":" in user:
            raise _Problem("the basic auth user contains ':', which basic auth cannot carry")
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {credentials}"}
    token = resolve(auth, "bearer token")
    if not token:
        raise _Problem("the bearer token before '@' is empty")
    _check_header_value(token, "bearer token")
    return {"Authorization": f"Bearer {token}"}


def _header_auth(spec: str, resolve: _Resolve) -> dict[str, str]:
    name_raw, colon, value_raw = spec.partition(":")
    if not colon:
        raise _Problem("a header auth part needs a value: http.Name:value@https://…")
    name = _decode(name_raw, "header name")
    if not name:
        raise _Problem("the header name after 'http.' is empty")
    if not _HEADER_NAME.fullmatch(name):
        raise _Problem(f"{name!r} is not a valid HTTP header name")
    if name.lower() in _RESERVED_HEADERS:
        raise _Problem(f"the header {name!r} is set by the sender and cannot be overridden")
    value = resolve(value_raw, f"value of header {name}")
    _check_header_value(value, f"value of header {name}")
    return {name: value}


def _check_header_value(value: str, what: str) -> None:
    if not value.isascii():
        raise _Problem(f"the {what} must be ASCII")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise _Problem(f"the {what} contains a control character")


def _check_url(url: str, *, has_authorization: bool) -> list[str]:
    """Check that `url` is an http(s) URL with a host; return the secrets it carries."""
    scheme = _SCHEME_PREFIX.match(url)
    if scheme is None:
        raise _Problem("no http:// or https:// URL found")
    if scheme.group(1).lower() not in ("http", "https"):
        raise _Problem(f"unsupported scheme {scheme.group(1)!r}; use http:// or https://")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise _Problem("the URL contains a control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _Problem("the URL has an invalid host or port") from None
    if not parts.hostname:
        raise _Problem("the URL has no host")
    if port == 0:
        raise _Problem("the URL has port 0")
    import httpx

    try:
        # The sender's own parser has the last word, so enqueue refuses what send would.
        httpx.Request("POST", url)
    except (httpx.InvalidURL, ValueError):
        raise _Problem("the URL has an invalid hostname") from None
    if parts.username is not None and has_authorization:
        raise _Problem("credentials are given both before '@' and inside the URL; use one")
    secrets = [parts.password or parts.username or ""]
    for name, _, value in (pair.partition("=") for pair in parts.query.split("&")):
        if _is_secret_name(unquote(name)):
            secrets.extend((value, unquote(value)))
    return secrets


def _is_secret_name(name: str) -> bool:
    compact = name.lower()
    if compact in SECRET_QUERY_NAMES:
        return True
    # Over-masking `monkey` is harmless; missing `client_secret` or `refreshToken` is not.
    compact = re.sub(r"[^a-z0-9]", "", compact)
    return compact.endswith(_SECRET_QUERY_SUFFIXES)


def _is_env_ref(value: str) -> bool:
    return value.startswith("$") and _ENV_NAME.fullmatch(value[1:]) is not None


def _mask_secret(value: str) -> str:
    return value if not value or _is_env_ref(value) else MASK


def _mask(text: str) -> str:
    parts = _split(text)
    prefix = f"{parts.method_word} " if parts.method_word else ""
    if not parts.url and parts.auth is None:
        return prefix.strip()
    if not _SCHEME_PREFIX.match(parts.url):
        return prefix + MASK
    auth = "" if parts.auth is None else _mask_auth(parts.auth) + "@"
    return prefix + auth + _mask_url(parts.url)


def _mask_auth(auth: str) -> str:
    if auth[:5].lower() == "http.":
        name, colon, value = auth[5:].partition(":")
        # Without a colon the "name" may be a mistyped secret such as `http.Key=abc`.
        return f"{auth[:5]}{name}:{_mask_secret(value)}" if colon else MASK
    if ":" in auth:
        user, _, password = auth.partition(":")
        return f"{user}:{_mask_secret(password)}"
    return _mask_secret(auth)


def _mask_url(url: str) -> str:
    scheme_end = url.index("://") + 3
    rest = url[scheme_end:]
    authority_end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user, colon, password = userinfo.partition(":")
        # A user without a password is usually a token (`https://TOKEN@host`).
        userinfo = f"{user}:{_mask_secret(password)}" if colon else _mask_secret(user)
        authority = f"{userinfo}@{host}"
    before_fragment, hash_mark, fragment = tail.partition("#")
    path, question, query = before_fragment.partition("?")
    query = _mask_pairs(query)
    # OAuth-style callbacks may carry `#access_token=…`; a fragment is never sent, but is logged.
    fragment = _mask_pairs(fragment)
    return f"{url[:scheme_end]}{authority}{path}{question}{query}{hash_mark}{fragment}"


def _mask_pairs(query: str) -> str:
    return "&".join(_mask_query_pair(pair) for pair in query.split("&"))


def _mask_query_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    if equals and value and _is_secret_name(unquote(name)):
        return f"{name}={MASK}"
    return pair
