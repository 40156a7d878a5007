"""Tests for the reply_to mini-language: parsing, masking, and delivery to a real HTTP server."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from jobs_core.errors import InvalidReplyToError, JobsError
from jobs_core.reply_to import (
    ReplyDeliveryError,
    ReplyTarget,
    mask_reply_to,
    parse_reply_to,
    send_reply,
    validate_reply_to,
)

ENV = {"API_TOKEN": "tok-from-env", "API_KEY": "key-from-env", "DB_PASS": "pw-from-env"}
URL = "https://api.example.com/cb?refId=42"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def readable_auth(header: str | None) -> str | None:
    """`Basic user:password` for a basic Authorization header, any other header unchanged."""
    if header is None or not header.startswith("Basic "):
        return header
    return "Basic " + base64.b64decode(header.removeprefix("Basic ")).decode()


# --- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseCase:
    text: str
    method: str = "POST"
    url: str = URL
    headers: dict[str, str] = field(default_factory=dict)
    masked: str = ""
    """Expected masked text; empty means the text itself (nothing secret in it)."""


PARSE_CASES = {
    "plain https": ParseCase(text=URL),
    "plain http with port": ParseCase(
        text="http://127.0.0.1:8080/cb", url="http://127.0.0.1:8080/cb"
    ),
    "surrounding whitespace": ParseCase(text=f"  {URL}\n", masked=URL),
    **{
        f"method {method}": ParseCase(text=f"{method} {URL}", method=method)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    "lower-case method": ParseCase(text=f"put {URL}", method="PUT"),
    "method with extra spaces": ParseCase(
        text=f"PATCH   {URL}", method="PATCH", masked=f"PATCH {URL}"
    ),
    "basic auth": ParseCase(
        text=f"user:pass@{URL}",
        headers={"Authorization": basic("user", "pass")},
        masked=f"user:***@{URL}",
    ),
    "basic auth with empty password": ParseCase(
        text=f"sk_live_abc:@{URL}",
        headers={"Authorization": basic("sk_live_abc", "")},
        masked=f"sk_live_abc:@{URL}",
    ),
    "bearer token": ParseCase(
        text=f"myToken123@{URL}",
        headers={"Authorization": "Bearer myToken123"},
        masked=f"***@{URL}",
    ),
    "header": ParseCase(
        text=f"http.X-Api-Key:myApiKey@{URL}",
        headers={"X-Api-Key": "myApiKey"},
        masked=f"http.X-Api-Key:***@{URL}",
    ),
    "header with upper-case prefix": ParseCase(
        text=f"HTTP.X-Api-Key:myApiKey@{URL}",
        headers={"X-Api-Key": "myApiKey"},
        masked=f"HTTP.X-Api-Key:***@{URL}",
    ),
    "env bearer token": ParseCase(
        text=f"$API_TOKEN@{URL}", headers={"Authorization": "Bearer tok-from-env"}
    ),
    "env header value": ParseCase(
        text=f"http.X-Api-Key:$API_KEY@{URL}", headers={"X-Api-Key": "key-from-env"}
    ),
    "env password": ParseCase(
        text=f"svc:$DB_PASS@{URL}", headers={"Authorization": basic("svc", "pw-from-env")}
    ),
    "env user": ParseCase(
        text=f"$API_KEY:@{URL}", headers={"Authorization": basic("key-from-env", "")}
    ),
    "url-encoded password": ParseCase(
        text=f"user:p%40ss%3Aword@{URL}",
        headers={"Authorization": basic("user", "p@ss:word")},
        masked=f"user:***@{URL}",
    ),
    "url-encoded user": ParseCase(
        text=f"jo%20hn:pw@{URL}",
        headers={"Authorization": basic("jo hn", "pw")},
        masked=f"jo%20hn:***@{URL}",
    ),
    "url-encoded token": ParseCase(
        text=f"abc%40def%3A1@{URL}",
        headers={"Authorization": "Bearer abc@def:1"},
        masked=f"***@{URL}",
    ),
    "url-encoded header name and value": ParseCase(
        text=f"http.X%2DApi%2DKey:a%3Ab%40c@{URL}",
        headers={"X-Api-Key": "a:b@c"},
        masked=f"http.X%2DApi%2DKey:***@{URL}",
    ),
    "authorization header with an encoded space": ParseCase(
        text=f"http.Authorization:Token%20abc@{URL}",
        headers={"Authorization": "Token abc"},
        masked=f"http.Authorization:***@{URL}",
    ),
    "encoded dollar is a literal token": ParseCase(
        text=f"%24NOT_A_VAR@{URL}",
        headers={"Authorization": "Bearer $NOT_A_VAR"},
        masked=f"***@{URL}",
    ),
    "at-signs in a plain url": ParseCase(
        text="https://example.com/u/@bob?x=a@b", url="https://example.com/u/@bob?x=a@b"
    ),
    "at-signs in the url after an auth part": ParseCase(
        text="tok@https://example.com/u/@bob?x=a@b",
        url="https://example.com/u/@bob?x=a@b",
        headers={"Authorization": "Bearer tok"},
        masked="***@https://example.com/u/@bob?x=a@b",
    ),
    "unencoded at-sign in the password": ParseCase(
        text="user:p@ss@https://example.com/@x",
        url="https://example.com/@x",
        headers={"Authorization": basic("user", "p@ss")},
        masked="user:***@https://example.com/@x",
    ),
    "method and basic auth": ParseCase(
        text=f"PUT user:pass@{URL}",
        method="PUT",
        headers={"Authorization": basic("user", "pass")},
        masked=f"PUT user:***@{URL}",
    ),
    "method, env header and at-sign in url": ParseCase(
        text="DELETE http.X-Key:$API_KEY@https://example.com/@me",
        method="DELETE",
        url="https://example.com/@me",
        headers={"X-Key": "key-from-env"},
    ),
    "credentials in the url": ParseCase(
        text="https://user:pw@example.com/cb",
        url="https://user:pw@example.com/cb",
        masked="https://user:***@example.com/cb",
    ),
    "header auth beside credentials in the url": ParseCase(
        text="http.X-Key:v@https://user:pw@example.com/cb",
        url="https://user:pw@example.com/cb",
        headers={"X-Key": "v"},
        masked="http.X-Key:***@https://user:***@example.com/cb",
    ),
    "secret query parameters": ParseCase(
        text="https://example.com/cb?refId=1&access_token=abc&Signature=xyz&apiKey=k",
        url="https://example.com/cb?refId=1&access_token=abc&Signature=xyz&apiKey=k",
        masked="https://example.com/cb?refId=1&access_token=***&Signature=***&apiKey=***",
    ),
}


@pytest.mark.parametrize("case", PARSE_CASES.values(), ids=PARSE_CASES.keys())
def test_parse_reply_to_reads_every_variant(case: ParseCase) -> None:
    target = parse_reply_to(case.text, env=ENV)

    assert target.method == case.method
    assert target.url == case.url
    assert target.headers == case.headers
    assert target.masked == (case.masked or case.text)
    assert mask_reply_to(case.text) == (case.masked or case.text)


@pytest.mark.parametrize("case", PARSE_CASES.values(), ids=PARSE_CASES.keys())
def test_validate_reply_to_accepts_every_variant_without_env(case: ParseCase) -> None:
    validate_reply_to(case.text)


def test_parse_reply_to_defaults_env_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_TEST_REPLY_TOKEN", "from-os-environ")

    target = parse_reply_to(f"$JOBS_TEST_REPLY_TOKEN@{URL}")

    assert target.headers == {"Authorization": "Bearer from-os-environ"}


def test_reply_target_repr_shows_no_secret() -> None:
    target = parse_reply_to("http.K:hunter2hunter2@https://u:pw-in-url@example.com/?token=qtok")

    text = repr(target)
    assert "hunter2hunter2" not in text
    assert "pw-in-url" not in text
    assert "qtok" not in text
    assert "http.K:***@https://u:***@example.com/?token=***" in text


# Syntax errors: refused both at enqueue (validate) and at send (parse).
SYNTAX_ERRORS = {
    "empty": ("", "invalid reply_to '': it is empty"),
    "blank": ("  \t ", "it is empty"),
    "method without url": ("PUT", "no URL after the method 'PUT'"),
    "unknown method": (
        f"FETCH {URL}",
        "unknown HTTP method 'FETCH'; expected one of DELETE, GET, PATCH, POST, PUT",
    ),
    "space inside the url": ("https://example.com/a b", "it contains whitespace"),
    "space inside the url after a method": (
        "PUT https://example.com/a b",
        "the URL contains whitespace",
    ),
    "no scheme": ("example.com/cb", "invalid reply_to '\\*\\*\\*': no http:// or https://"),
    "ftp scheme": ("ftp://example.com/x", "unsupported scheme 'ftp'; use http:// or https://"),
    "ftp scheme after a token": (
        "s3cr3t@ftp://example.com/x",
        "invalid reply_to '\\*\\*\\*@ftp://example.com/x': unsupported scheme 'ftp'",
    ),
    "token without a url": ("s3cr3t@example.com", "no http:// or https:// URL found"),
    "no host": ("https://", "the URL has no host"),
    "no host but a port": ("https://:8080/cb", "the URL has no host"),
    "port out of range": ("https://example.com:99999/x", "invalid host or port"),
    "port zero": ("https://example.com:0/x", "the URL has port 0"),
    "unclosed ipv6 host": ("https://[::1/x", "invalid host or port"),
    "invalid idna host": ("https://\u2603.com/x", "the URL has an invalid hostname"),
    "invalid punycode host": ("https://xn--a.com/x", "the URL has an invalid hostname"),
    "control character in url": ("https://exa\x01mple.com/", "URL contains a control character"),
    "empty bearer token": (f"@{URL}", "the bearer token before '@' is empty"),
    "empty user and password": (f":@{URL}", "basic auth has an empty user and password"),
    "header without value": (f"http.X-Key@{URL}", "a header auth part needs a value"),
    "header without name": (f"http.:v@{URL}", "the header name after 'http.' is empty"),
    "bad header name": (f"http.X(Key):v@{URL}", "'X\\(Key\\)' is not a valid HTTP header name"),
    "content-type header": (
        f"http.Content-Type:text/plain@{URL}",
        "the header 'Content-Type' is set by the sender and cannot be overridden",
    ),
    "host header": (f"http.host:evil@{URL}", "the header 'host' is set by the sender"),
    "bare dollar": (f"$@{URL}", "the bearer token starts with '\\$' but is not an environment"),
    "dollar and digit": (f"$1X@{URL}", "percent-encode a literal '\\$' as %24"),
    "dollar in header value": (
        f"http.X-Key:$-x@{URL}",
        "the value of header X-Key starts with '\\$'",
    ),
    "header injection in token": (
        f"tok%0D%0AX-Evil%3A1@{URL}",
        "the bearer token contains a control character",
    ),
    "header injection in header value": (
        f"http.X-Key:v%0Ax@{URL}",
        "the value of header X-Key contains a control character",
    ),
    "non-ascii token": (f"caf%C3%A9@{URL}", "the bearer token must be ASCII"),
    "invalid utf-8 password": (
        f"user:%FF@{URL}",
        "the basic auth password is not valid percent-encoded UTF-8",
    ),
    "colon in user": (f"us%3Aer:pw@{URL}", "the basic auth user contains ':'"),
    "bearer and url credentials": (
        "tok@https://user:pw@example.com/",
        "credentials are given both before '@' and inside the URL",
    ),
    "authorization header and url credentials": (
        "http.Authorization:x@https://user:pw@example.com/",
        "credentials are given both",
    ),
}


@pytest.mark.parametrize(("text", "match"), SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS.keys())
def test_parse_reply_to_refuses_bad_syntax(text: str, match: str) -> None:
    with pytest.raises(InvalidReplyToError, match=match):
        parse_reply_to(text, env=ENV)


@pytest.mark.parametrize(("text", "match"), SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS.keys())
def test_validate_reply_to_refuses_bad_syntax(text: str, match: str) -> None:
    with pytest.raises(InvalidReplyToError, match=match):
        validate_reply_to(text)


def test_validate_reply_to_checks_a_text_once_and_a_refused_one_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs_core import reply_to

    parsed: list[str] = []
    real_parse = reply_to._parse

    def counting(text: str, env: Any) -> ReplyTarget:
        parsed.append(text)
        return real_parse(text, env)

    monkeypatch.setattr(reply_to, "_parse", counting)
    reply_to._valid_syntax.cache_clear()
    for _ in range(3):
        validate_reply_to(URL)
    assert parsed == [URL]  # one producer, one address: checked once
    for _ in range(2):
        with pytest.raises(InvalidReplyToError, match="unsupported scheme"):
            validate_reply_to("ftp://example.com/x")
    assert parsed == [URL, "ftp://example.com/x", "ftp://example.com/x"]


UNSET_ENV = {
    "token": (f"$MISSING@{URL}", "environment variable MISSING \\(the bearer token\\) is not set"),
    "header value": (
        f"http.X-Key:$MISSING@{URL}",
        "environment variable MISSING \\(the value of header X-Key\\) is not set",
    ),
    "password": (
        f"svc:$MISSING@{URL}",
        "environment variable MISSING \\(the basic auth password\\) is not set",
    ),
}


@pytest.mark.parametrize(("text", "match"), UNSET_ENV.values(), ids=UNSET_ENV.keys())
def test_parse_reply_to_names_an_unset_variable(text: str, match: str) -> None:
    with pytest.raises(InvalidReplyToError, match=match) as raised:
        parse_reply_to(text, env=ENV)

    assert "$MISSING@" in str(raised.value)


@pytest.mark.parametrize(("text", "match"), UNSET_ENV.values(), ids=UNSET_ENV.keys())
def test_validate_reply_to_does_not_need_the_variable(text: str, match: str) -> None:
    validate_reply_to(text)


@pytest.mark.parametrize(
    "text",
    [
        "hunter2hunter2@ftp://example.com/",
        "user:hunter2hunter2@https://",
        "http.X-Key:hunter2hunter2%0A@https://example.com/",
        "hunter2hunter2@https://user:pw@example.com/",
        "FETCH hunter2hunter2@https://example.com/",
        "https://example.com:99999/?token=hunter2hunter2",
        "hunter2hunter2",
    ],
)
def test_invalid_reply_to_message_never_shows_the_secret(text: str) -> None:
    with pytest.raises(InvalidReplyToError) as raised:
        parse_reply_to(text, env=ENV)

    assert "hunter2hunter2" not in str(raised.value)


# --- masking --------------------------------------------------------------------------------

MASK_CASES = {
    "empty": ("", ""),
    "garbage": ("hunter2", "***"),
    "method and garbage": ("PUT hunter2", "PUT ***"),
    "token before another scheme": ("tok@ftp://example.com/x", "***@ftp://example.com/x"),
    "header without colon": ("http.X-Key=abc@https://h/", "***@https://h/"),
    "invalid env reference": ("$1abc@https://h/", "***@https://h/"),
    "env reference": ("$API_TOKEN@https://h/", "$API_TOKEN@https://h/"),
    "env reference as password": ("u:$DB_PASS@https://h/", "u:$DB_PASS@https://h/"),
    "token as url user": ("https://ghp_abc@github.com/x", "https://***@github.com/x"),
    "url user with empty password": ("https://user:@h/x", "https://user:@h/x"),
    "secret-looking query names": (
        "https://h/cb?token=&apikey=a&refreshToken=r&client_secret=s&keyword=k&sig=g",
        "https://h/cb?token=&apikey=***&refreshToken=***&client_secret=***&keyword=k&sig=***",
    ),
    "encoded secret query name": ("https://h/?api%5Fkey=a", "https://h/?api%5Fkey=***"),
    "secret in fragment": ("https://h/cb#access_token=t&x=1", "https://h/cb#access_token=***&x=1"),
    "unclosed ipv6 host": ("https://[::1?key=v", "https://[::1?key=***"),
    "nul bytes and at-signs": ("\x00@@://", "***"),
}


@pytest.mark.parametrize(("text", "masked"), MASK_CASES.values(), ids=MASK_CASES.keys())
def test_mask_reply_to_hides_every_secret(text: str, masked: str) -> None:
    assert mask_reply_to(text) == masked


@pytest.mark.parametrize(
    "text", ["@", "@@", "://", "a@://", "http.", "http.:", "\ud800", "https://@", "%", "?" * 50]
)
def test_mask_reply_to_never_raises(text: str) -> None:
    assert isinstance(mask_reply_to(text), str)


# --- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    body: bytes


class RecordingServer(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 that records requests and answers with a set status."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.received: list[Received] = []
        self.status = 200
        self.response_body = b"{}"
        self.response_headers: dict[str, str] = {}

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        target = urlsplit(self.path)
        self.server.received.append(
            Received(
                method=self.command,
                path=target.path,
                query=target.query,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
        )
        self.send_response(self.server.status)
        for name, value in self.server.response_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.server.response_body)))
        self.end_headers()
        self.wfile.write(self.server.response_body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer()
    thread = threading.Thread(target=recording.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield recording
    finally:
        recording.shutdown()
        recording.server_close()
        thread.join()


@pytest.fixture
def refused_port() -> Iterator[int]:
    # A bound socket that never listens: connecting to it is refused, and no one else gets it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


PAYLOAD = json.dumps({"id": 7, "result": {"ok": True, "name": "é@x"}})


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryCase:
    text: str
    """The target; `{hp}` is replaced by the server's host:port."""
    method: str = "POST"
    path: str = "/cb"
    query: str = ""
    authorization: str | None = None
    """Expected Authorization header, basic credentials decoded (`Basic user:password`)."""
    extra: dict[str, str] = field(default_factory=dict)
    """Other expected headers, names lower-cased."""


DELIVERY_CASES = {
    "plain": DeliveryCase(text="http://{hp}/cb?refId=42", query="refId=42"),
    **{
        f"method {method}": DeliveryCase(text=method + " http://{hp}/cb", method=method)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    "basic auth, url-encoded": DeliveryCase(
        text="user:p%40ss%3Aword@http://{hp}/cb", authorization="Basic user:p@ss:word"
    ),
    "bearer": DeliveryCase(text="myToken123@http://{hp}/cb", authorization="Bearer myToken123"),
    "header": DeliveryCase(
        text="http.X-Api-Key:myApiKey@http://{hp}/cb", extra={"x-api-key": "myApiKey"}
    ),
    "env token": DeliveryCase(
        text="$API_TOKEN@http://{hp}/cb", authorization="Bearer tok-from-env"
    ),
    "env header value": DeliveryCase(
        text="http.X-Api-Key:$API_KEY@http://{hp}/cb", extra={"x-api-key": "key-from-env"}
    ),
    "env password": DeliveryCase(
        text="svc:$DB_PASS@http://{hp}/cb", authorization="Basic svc:pw-from-env"
    ),
    "method, token and at-signs in url": DeliveryCase(
        text="PUT tok@http://{hp}/u/@bob?x=a@b",
        method="PUT",
        path="/u/@bob",
        query="x=a@b",
        authorization="Bearer tok",
    ),
    "credentials in the url": DeliveryCase(
        text="http://user:pw@{hp}/cb", authorization="Basic user:pw"
    ),
    "header beside credentials in the url": DeliveryCase(
        text="DELETE http.X-Key:v@http://user:pw@{hp}/cb",
        method="DELETE",
        authorization="Basic user:pw",
        extra={"x-key": "v"},
    ),
    "authorization header": DeliveryCase(
        text="http.Authorization:Token%20abc@http://{hp}/cb", authorization="Token abc"
    ),
}


@pytest.mark.parametrize("case", DELIVERY_CASES.values(), ids=DELIVERY_CASES.keys())
async def test_send_reply_delivers_every_variant(
    server: RecordingServer, case: DeliveryCase
) -> None:
    status = await send_reply(case.text.format(hp=server.hostport), PAYLOAD, env=ENV)

    assert status == 200
    [request] = server.received
    assert request.method == case.method
    assert request.path == case.path
    assert request.query == case.query
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == json.loads(PAYLOAD)
    assert readable_auth(request.headers.get("authorization")) == case.authorization
    assert {name: request.headers.get(name) for name in case.extra} == case.extra


async def test_send_reply_returns_any_2xx_status(server: RecordingServer) -> None:
    server.status = 204
    server.response_body = b""

    assert await send_reply(f"http://{server.hostport}/cb", PAYLOAD) == 204


async def test_send_reply_uses_a_given_client_and_leaves_it_open(server: RecordingServer) -> None:
    async with httpx.AsyncClient() as client:
        status = await send_reply(f"t0k@http://{server.hostport}/cb", PAYLOAD, client=client)

        assert status == 200
        assert not client.is_closed
    assert server.received[0].headers["authorization"] == "Bearer t0k"


async def test_send_reply_reads_os_environ_by_default(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBS_TEST_REPLY_TOKEN", "from-os-environ")

    await send_reply(f"$JOBS_TEST_REPLY_TOKEN@http://{server.hostport}/cb", PAYLOAD)

    assert server.received[0].headers["authorization"] == "Bearer from-os-environ"


async def test_send_reply_with_an_unset_variable_sends_nothing(server: RecordingServer) -> None:
    with pytest.raises(InvalidReplyToError, match="environment variable MISSING"):
        await send_reply(f"$MISSING@http://{server.hostport}/cb", PAYLOAD, env={})

    assert server.received == []


async def test_send_reply_reports_a_500_without_the_secret(server: RecordingServer) -> None:
    server.status = 500
    server.response_body = b'{"error": "boom for hunter2hunter2"}'
    text = f"PUT user:hunter2hunter2@http://{server.hostport}/cb?token=qsecret"

    with pytest.raises(ReplyDeliveryError) as raised:
        await send_reply(text, PAYLOAD)

    message = str(raised.value)
    assert re.fullmatch(
        r"PUT http://127\.0\.0\.1:\d+/cb\?token=\*\*\* returned 500: "
        r'\{"error": "boom for \*\*\*"\}',
        message,
    )
    assert "hunter2hunter2" not in message
    assert "qsecret" not in message
    assert raised.value.status_code == 500
    assert isinstance(raised.value, JobsError)


async def test_send_reply_cuts_the_body_to_200_chars(server: RecordingServer) -> None:
    server.status = 400
    server.response_body = b"x" * 5000

    with pytest.raises(ReplyDeliveryError, match=r"returned 400: x{200}$"):
        await send_reply(f"http://{server.hostport}/cb", PAYLOAD)


async def test_send_reply_does_not_follow_redirects(server: RecordingServer) -> None:
    server.status = 307
    server.response_headers = {"Location": "http://example.invalid/steal"}

    with pytest.raises(ReplyDeliveryError, match="returned 307") as raised:
        await send_reply(f"tok@http://{server.hostport}/cb", PAYLOAD)

    assert raised.value.status_code == 307
    assert len(server.received) == 1


async def test_send_reply_wraps_a_refused_connection(refused_port: int) -> None:
    text = f"http.K:hunter2hunter2@http://user:pw-in-url@127.0.0.1:{refused_port}/cb?key=qsecret"

    with pytest.raises(ReplyDeliveryError) as raised:
        await send_reply(text, PAYLOAD)

    message = str(raised.value)
    assert message.startswith(
        f"POST http://user:***@127.0.0.1:{refused_port}/cb?key=*** failed: ConnectError"
    )
    for secret in ("hunter2hunter2", "pw-in-url", "qsecret"):
        assert secret not in message
    assert raised.value.status_code is None
    assert raised.value.__suppress_context__


def test_reply_target_is_frozen() -> None:
    target = ReplyTarget(url=URL)

    with pytest.raises(AttributeError):
        target.method = "PUT"  # type: ignore[misc]
