"""The enqueue path on SQLite, step by step: CPU µs of one awaited `enqueue` and per job of
`enqueue_many`, layer by layer down to the statements, and the floors (our rows stored with
no library code), this tree against another revision, runs alternated.

Usage: uv run python bench/enqueue_steps.py [--base REV | --base-dir DIR] [--rounds 3]
       [--n 5000] [--quick]

Each run (`_enqueue_steps_run.py`, a fresh process and store, NORMAL, no engine) calls each
layer on its own, N times, and keeps the least CPU time of 3 passes: the public call
(`jobs.enqueue("noop", {"i": i})`; `enqueue_many` of 1,000 `EnqueueRequest`s made in the
loop), the store's `enqueue` of a ready `NewJob`, the group commit's `_insert_group_now`,
the transaction (`_in_transaction` of `insert_group`), and each statement of
`queue.insert_jobs` inside BEGIN IMMEDIATE … COMMIT (wall time, through a timing proxy).
A step is the difference of two layers: "request to job and facade" is the public call
less `store.enqueue`; "group commit" is `store.enqueue` less `_insert_group_now`; "spin
and wake" is `_insert_group_now` less the transaction; "insert's Python" is the
transaction less its statements. The floors: BEGIN IMMEDIATE, one row of our shape bound
(or 1,000 by `executemany`, or by multi-row INSERTs of 100 rows), its summary (bound;
copied for 1,000), COMMIT, in a store of their own. On a tree with the inbox (a plain job's
enqueue appends to `jobs.inbox`, which no layer below it shares) the single steps are those
of a job that goes to `jobs.db` (a named worker's), and "a plain job's enqueue (the inbox)"
is the public call of a plain job, total. Medians of the rounds; prints a table and a final
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import REPO, extract_revision, final_line, median, print_table, rotated

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_enqueue_steps_run.py")

SINGLE_STEPS = (
    ("request to job and facade", "public enqueue", "store.enqueue"),
    ("group commit (submit, leader, settle)", "store.enqueue", "_insert_group_now"),
    ("lock spin, wake signal", "_insert_group_now", "_in_transaction"),
    ("transaction plumbing, insert_group", "_in_transaction", "insert"),
    ("insert_jobs' Python", "insert's Python", None),
)
"""Steps of one enqueue: (name, outer layer, inner layer): the step is their difference."""

MANY_STEPS = (
    ("EnqueueRequest made (caller's code)", "EnqueueRequests", None),
    ("options checked, request to JSON, NewJob", "builder.build", None),
    ("facade (JobRefs, engine wake)", "public enqueue_many", "parts"),
    ("store's plumbing (group commit, transaction)", "store.enqueue", "insert"),
    ("insert_jobs' Python (rows)", "insert's Python", None),
)


MANY_COLUMN_STEPS = (
    ("EnqueueRequest made (caller's code)", "EnqueueRequests", None),
    ("plain_columns: options, JSON, one NewJob", "plain_columns", None),
    ("facade (JobRefs, engine wake)", "public enqueue_many", "column parts"),
    ("rows built before the lock (prebuild_columns)", "prebuild_columns", None),
    ("store's plumbing (transaction, wake signal)", "store.enqueue_columns", "prebuilt insert"),
    ("insert_prebuilt's Python (ids)", "insert's Python", None),
)
"""`enqueue_many`'s steps on a tree where a batch of one command with no option goes as
columns (`plain_columns`, `Store.enqueue_columns`)."""

EACH_STEPS = (
    ("request dicts made (caller's code)", "requests", None),
    ("build_columns: options once, JSON, types", "build_columns", None),
    ("facade (JobRefs, engine wake)", "public enqueue_each", "each parts"),
    ("store.enqueue_columns (rows, transaction)", "store.enqueue_columns", None),
    ("a handle's enqueue_many, total, CPU", "handle enqueue_many", None),
)
"""`jobs.enqueue_each("noop", requests)` (columns) on a tree that has it."""


def run_once(tree: str, n: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run(
        [sys.executable, RUN, str(n)], env=env, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, dict[str, float]] = json.loads(out.strip().splitlines()[-1])
    for part in ("single", "many"):
        layers = result[part]
        statements = sum(v for k, v in layers.items() if k.startswith("stmt "))
        layers["insert"] = layers["insert's Python"] + statements
    many = result["many"]
    many["parts"] = many["EnqueueRequests"] + many["builder.build"] + many["store.enqueue"]
    if "plain_columns" in many:
        many["column parts"] = (
            many["EnqueueRequests"] + many["plain_columns"] + many["store.enqueue_columns"]
        )
        many["prebuilt insert"] = many["prebuild_columns"] + many["insert"]
    each = result.get("each") or {}
    if each:
        each["each parts"] = (
            each["requests"] + each["build_columns"] + each["store.enqueue_columns"]
        )
    return result


def steps(runs: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    """Median µs of each step ("part: step") over one tree's runs."""

    def med(part: str, key: str | None) -> float:
        return median([r[part][key] for r in runs]) if key else 0.0

    out: dict[str, float] = {}
    columns = "plain_columns" in runs[0]["many"]
    parts = [
        ("single", SINGLE_STEPS, "public enqueue"),
        ("many", MANY_COLUMN_STEPS if columns else MANY_STEPS, "public enqueue_many"),
    ]
    if runs[0].get("each"):
        parts.append(("each", EACH_STEPS, "public enqueue_each"))
    for part, named, total in parts:  # fmt: skip
        for name, outer, inner in named:
            out[f"{part}: {name}"] = med(part, outer) - med(part, inner)
        for key in sorted(k for k in runs[0][part] if k.startswith("stmt ")):
            out[f"{part}: {key.replace('stmt ', 'statement: ')}"] = med(part, key)
        out[f"{part}: total, CPU"] = med(part, total)
    if "public enqueue, plain (inbox)" in runs[0]["single"]:
        out["single: a plain job's enqueue (the inbox), total, CPU"] = med(
            "single", "public enqueue, plain (inbox)"
        )
    for key in runs[0]["floor"]:
        out[f"floor: {key}"] = med("floor", key)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--base", help="a revision to compare against")
    group.add_argument("--base-dir", help="a source tree to compare against, as it is")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000, help="single enqueues a pass")
    parser.add_argument("--quick", action="store_true", help="one round of 1,000")
    args = parser.parse_args()
    rounds, n = (1, 1000) if args.quick else (args.rounds, args.n)
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"this": []}
    with tempfile.TemporaryDirectory(prefix="jobs-enqueue-steps-") as extracted:
        trees = {"this": REPO}
        if args.base or args.base_dir:
            trees["base"] = args.base_dir or extracted
            runs["base"] = []
            if args.base:
                extract_revision(args.base, extracted, "jobs_core")
        for r in range(rounds):
            for name in rotated(list(trees), r):
                runs[name].append(run_once(trees[name], n))
                last = runs[name][-1]
                each = last.get("each", {}).get("public enqueue_each")
                print(f"round {r + 1} {name}: enqueue {last['single']['public enqueue']:.1f} µs, "
                      f"enqueue_many {last['many']['public enqueue_many']:.2f} µs a job"
                      + (f", enqueue_each {each:.2f} µs a job" if each else ""),
                      flush=True)  # fmt: skip
    table = {name: steps(tree_runs) for name, tree_runs in runs.items()}
    names = ["base", "this"] if "base" in table else ["this"]
    order = {p: i for i, p in enumerate(("single", "many", "each", "floor"))}
    seen = dict.fromkeys(k for name in names for k in table[name])
    keys = sorted(seen, key=lambda k: order[k.split(":")[0]])  # steps in their order
    lines = [[k, *(f"{table[n][k]:.2f}" if k in table[n] else "-" for n in names)] for k in keys]
    print(f"CPU µs (one enqueue; enqueue_many and floors per job), medians of {rounds} rounds; "
          f"base: {args.base or args.base_dir or '-'}")  # fmt: skip
    print_table(["step", *names], lines)
    final_line({"base": args.base or args.base_dir, "rounds": rounds, "n": n,
                "steps": table,
                "runs": runs})  # fmt: skip


if __name__ == "__main__":
    main()
