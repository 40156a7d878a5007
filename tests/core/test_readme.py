"""The README does not lie: its quickstart program runs as given, every `jobs ...` command it
shows is a real subcommand with real options, and its Python fragments use names, keywords
and attributes the library has (and the one comment that quotes an output says it)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import sys
import typing
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import jobs_core
from jobs_cli.main import build_parser
from jobs_core import (
    BackgroundJobs,
    Batch,
    BatchCompleted,
    BulkResult,
    CommandHandle,
    EnqueueOptions,
    JobAttempt,
    JobContext,
    JobHandle,
    JobHandles,
    JobRefs,
    JobState,
    Page,
    PurgeReport,
    QueueInfo,
    SyncJobs,
)
from jobs_core import enqueue_options as enqueue_options_module
from jobs_core.handles import CommandDecorator

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

VARIABLES: dict[str, type] = {
    "jobs": BackgroundJobs,
    "job": JobHandle,
    "ctx": JobContext,
    "q": QueueInfo,
    "attempt": JobAttempt,
    "done": BatchCompleted,
    "report": PurgeReport,
    "batch": Batch,
    "refs": JobRefs,
    "handles": JobHandles,
    "result": BulkResult,
    "page": Page,
}
"""What the fragments' variables hold (the README's prose says so around each)."""

PROPERTIES: dict[tuple[type, str], type] = {(BackgroundJobs, "sync"): SyncJobs}


def fenced() -> list[tuple[str, str]]:
    """The README's fenced code blocks, in order: (language, code)."""
    found: list[tuple[str, str]] = []
    language: str | None = None
    lines: list[str] = []
    for line in README.splitlines(keepends=True):
        if not line.startswith("```"):
            lines.append(line)
        elif language is None:
            language, lines = line[3:].strip(), []
        else:
            found.append((language, "".join(lines)))
            language = None
    return found


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks in `language` ("" for blocks without one), in order."""
    return [code for lang, code in fenced() if lang == language]


# -- the quickstart program ------------------------------------------------------------------


def test_the_quickstart_program_runs_as_given(tmp_path: Path) -> None:
    """The first Python block, run as a script, ends by itself (not at the drain's timeout
    with its jobs interrupted) and prints what its last line computes."""
    script = tmp_path / "quickstart.py"
    script.write_text(blocks("python")[0])
    # The timeout only guards against a hang; the program ends in about a second.
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "250 OK"
    asyncio.run(_check_no_job_was_cut_short(str(tmp_path / "jobs_data")))


async def _check_no_job_was_cut_short(directory: str) -> None:
    jobs = BackgroundJobs(directory, create=False, start_engine=False)
    try:
        counts = await jobs.counts()
        assert counts[JobState.COMPLETED] >= 1  # the first mail: the program waited for it
        assert counts[JobState.STARTED] == counts[JobState.FAILED] == 0
        page = await jobs.find_jobs("state:queued", limit=1000)
        # A job stopped by the engine's shutdown is queued again with the start it had.
        interrupted = [j.id for j in page.items if j.started_date is not None]
        assert interrupted == [], "jobs the engine stopped while they ran"
    finally:
        await jobs.close()


# -- the command line ------------------------------------------------------------------------


def _subparsers(parser: Any) -> dict[str, Any]:
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            return dict(action.choices)
    return {}


def _options(parser: Any) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def command_lines() -> list[str]:
    """Every `jobs ...` command the README shows: its shell and plain blocks' lines and its
    inline code that start with one (or with `uv run jobs`), to the end of the line or span."""
    texts = [line for block in blocks("sh") + blocks("") for line in block.splitlines()]
    prose = README
    for _, code in fenced():
        prose = prose.replace(code, "", 1)
    texts += re.findall(r"`([^`]+)`", prose.replace("```", ""))
    return [m.group(1) for text in texts if (m := re.match(r"(?:.* uv run )?(jobs [a-z].*)", text))]


def test_every_jobs_command_in_the_readme_is_real() -> None:
    """Each subcommand (and `jobs queue` action) exists, and each `--option` written after it
    is one of that subcommand's options."""
    commands = _subparsers(build_parser())
    lines = command_lines()
    assert len(lines) > 30  # the extraction found the Command line section
    wrong: list[str] = []
    for line in lines:
        words = line.split()
        names = words[1].split("|")
        for name in names:
            if name not in commands:
                wrong.append(f"{line!r}: no subcommand {name!r}")
                continue
            parser = commands[name]
            actions = _subparsers(parser)
            if actions and len(words) > 2 and words[2].strip("[]").split("|")[0] in actions:
                parser = None
                for action in words[2].strip("[]").split("|"):
                    if action not in actions:
                        wrong.append(f"{line!r}: no action {action!r} of 'jobs {name}'")
                    else:
                        parser = actions[action]
                if parser is None:
                    continue
            for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line):
                if option not in _options(parser):
                    wrong.append(f"{line!r}: 'jobs {name}' has no {option}")
    assert wrong == []


def test_every_subcommand_is_in_the_command_line_section() -> None:
    section = README.split("## Command line")[1].split("\n## ")[0]
    synopsis = re.findall(r"^jobs ([a-z]+)", section.split("```")[1], flags=re.M)
    assert set(synopsis) == set(_subparsers(build_parser()))


# -- the Python fragments --------------------------------------------------------------------


def _fragments() -> list[ast.Module]:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    return [compile(code, "README.md", "exec", flags=flags) for code in blocks("python")]


def _attributes(cls: type) -> set[str]:
    """What an instance of `cls` has: class attributes, dataclass fields and what its
    `__init__`s assign to `self`."""
    names = set(dir(cls))
    if is_dataclass(cls):
        names |= {f.name for f in fields(cls)}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and not isinstance(init, type(object.__init__)):
            try:
                source = inspect.getsource(init)
            except (OSError, TypeError):
                continue
            names |= set(re.findall(r"self\.(\w+)\s*(?::[^=]+)?=", source))
    return names


def _keywords(fn: Any) -> set[str] | None:
    """The keyword arguments `fn` takes (None: any), `**options: Unpack[TypedDict]` included."""
    accepted: set[str] = set()
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            unpacked = re.fullmatch(r"Unpack\[(\w+)\]", str(parameter.annotation))
            if unpacked is None:
                return None
            accepted |= set(getattr(enqueue_options_module, unpacked.group(1)).__annotations__)
        elif parameter.kind is not inspect.Parameter.POSITIONAL_ONLY:
            accepted.add(parameter.name)
    return accepted


class FragmentChecker(ast.NodeVisitor):
    """Names the fragments use that the library lacks: attributes of known variables, and
    keywords of calls to the library's functions, methods and classes."""

    def __init__(self) -> None:
        self.variables: dict[str, Any] = dict(VARIABLES)
        self.wrong: list[str] = []

    def kind_of(self, node: ast.expr) -> Any:
        """The class (or the function) an expression stands for, when the README says."""
        if isinstance(node, ast.Name):
            return self.variables.get(node.id)
        if isinstance(node, ast.Await):
            return self.kind_of(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = self.kind_of(node.func)
            if inspect.isfunction(method):
                hints = typing.get_type_hints(method)
                returned = hints.get("return")
                return returned if isinstance(returned, type) else None
        if isinstance(node, ast.Attribute):
            owner = self.kind_of(node.value)
            if not isinstance(owner, type):
                return None
            if node.attr not in _attributes(owner):
                self.wrong.append(f"line {node.lineno}: {owner.__name__} has no {node.attr!r}")
                return None
            if (owner, node.attr) in PROPERTIES:
                return PROPERTIES[owner, node.attr]
            found = getattr(owner, node.attr, None)
            return found if inspect.isfunction(found) or isinstance(found, type) else None
        return None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.module.split(".")[0] == "jobs_core":
            module = __import__(node.module, fromlist=["_"])
            for alias in node.names:
                if not hasattr(module, alias.name):
                    self.wrong.append(f"line {node.lineno}: {node.module} has no {alias.name}")
                else:
                    self.variables[alias.asname or alias.name] = getattr(module, alias.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._handler(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._handler(node)

    def _handler(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if ast.unparse(target) == "jobs.command":
                self.variables[node.name] = CommandHandle
        for statement in node.body:
            self.visit(statement)

    def visit_Call(self, node: ast.Call) -> None:
        called = self.kind_of(node.func)
        if ast.unparse(node.func) == "jobs.command":
            called = CommandDecorator.__call__
        if called is not None and (inspect.isfunction(called) or isinstance(called, type)):
            accepted = _keywords(called)
            for keyword in node.keywords:
                if accepted is not None and keyword.arg is not None and keyword.arg not in accepted:
                    name = ast.unparse(node.func)
                    self.wrong.append(f"line {node.lineno}: {name}() takes no {keyword.arg}=")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        kind = self.kind_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if kind is not None:
                    self.variables[target.id] = kind
                elif target.id in VARIABLES:
                    self.variables[target.id] = VARIABLES[target.id]
                else:
                    self.variables.pop(target.id, None)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.kind_of(node)
        self.generic_visit(node)


def test_the_python_fragments_use_the_library_as_it_is() -> None:
    checker = FragmentChecker()
    for fragment in _fragments():
        checker.visit(fragment)
    assert checker.wrong == []
    assert {"send_email", "resize", "RateLimit", "RetryPolicy"} <= set(checker.variables)


def test_the_python_fragments_import_only_public_names() -> None:
    imported = {
        alias.name for fragment in _fragments() for node in ast.walk(fragment)
        if isinstance(node, ast.ImportFrom) and node.module == "jobs_core"
        for alias in node.names
    }  # fmt: skip
    assert imported and imported <= set(jobs_core.__all__)


async def test_why_waiting_says_what_the_readme_quotes(tmp_path: Path) -> None:
    """`print((await jobs.why_waiting(job.id)).text)  # "queue 'email' is paused; ..."`"""
    quoted = re.search(r"why_waiting\(job\.id\)\)\.text\)  # \"(.*?)\.\.\.\"", README)
    assert quoted is not None
    jobs = BackgroundJobs(str(tmp_path / "store"), start_engine=False)

    @jobs.command
    async def send_email(req: dict[str, str]) -> None: ...

    try:
        await jobs.pause_queue("email")
        in_an_hour = datetime.now(UTC) + timedelta(hours=1)
        job = await send_email.enqueue({}, queue="email", expires_at=in_an_hour)
        assert (await jobs.why_waiting(job.id)).text.startswith(quoted.group(1))
    finally:
        await jobs.close()


@pytest.mark.parametrize("name", ["blocks", "command_lines"])
def test_the_extraction_finds_what_it_checks(name: str) -> None:
    found = blocks("python") if name == "blocks" else command_lines()
    assert len(found) >= 10


def test_the_enqueue_options_listed_are_exactly_enqueue_options() -> None:
    listed = README.split("Enqueue options (`EnqueueOptions`")[1].split("Each is checked")[0]
    names = set(re.findall(r"`([a-z_]+)`", listed)) - {"timedelta", "datetime"}
    assert names == set(EnqueueOptions.__annotations__)
