"""File modes of a store: its directory and databases are created private to their owner,
and existing ones that other users can read are found, with the command that fixes them.

A store holds `reply_to` secrets and users' request data. SQLite creates a database with
mode 0644 less the umask, but gives a `-wal` or `-shm` file the mode of its database; so
creating each database ourselves with mode 0600 makes its companions private too,
whatever the umask.
"""

from __future__ import annotations

import os
import re
import stat

from jobs_core.errors import StoreError, StoreNotFoundError
from jobs_core.records import ExposedFile

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SHARED_BITS = 0o077
"""Permission bits for the group and for others: any of them exposes the data."""
LIVE_FILE = "jobs.db"
"""The live store's database, in the store directory."""
MONTH_DATABASE = re.compile(r"^jobs_(\d{4}-\d{2})\.db$")
"""A month database, named by its month."""
DATABASE_FILE = re.compile(r"^jobs(_\d{4}-\d{2}\.db|\.db|\.inbox)(-wal|-shm|-journal)?$")
"""The live store, month files and their companions."""


def make_private_dir(directory: str) -> None:
    """Create `directory` (and missing parents) with the leaf readable only by its owner."""
    os.makedirs(directory, exist_ok=True)
    # makedirs applies the umask (0777 & ~umask); set the mode we mean exactly.
    os.chmod(directory, PRIVATE_DIR)


def create_private(path: str) -> None:
    """Create `path` empty with mode 0600 (SQLite opens an empty file as a new database),
    unless it exists; a process racing to create it too is harmless."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE)  # the umask may have removed bits; never added any
    finally:
        os.close(fd)


def exposed_files(directory: str) -> list[ExposedFile]:
    """The store directory and database files that users other than the owner can access."""
    found: list[ExposedFile] = []
    candidates = [directory]
    try:
        candidates += [
            os.path.join(directory, name)
            for name in sorted(os.listdir(directory))
            if DATABASE_FILE.match(name)
        ]
    except OSError:
        return found
    for path in candidates:
        try:
            info = os.stat(path)
        except OSError:
            continue  # removed meanwhile (a -shm when the last connection closed)
        mode = stat.S_IMODE(info.st_mode)
        if mode & SHARED_BITS:
            is_dir = stat.S_ISDIR(info.st_mode)
            wanted = PRIVATE_DIR if is_dir else PRIVATE_FILE
            found.append(ExposedFile(path=path, mode=mode, wanted_mode=wanted))
    return found


def check_location(directory: str, path: str, create: bool) -> None:
    """Refuse a missing store unless `create`; else make its directory and `jobs.db`
    private to their owner if they are new. An empty `jobs.db` is a store being created:
    refused unless `create`, and always beside month databases (`_check_not_emptied`)."""
    _check_directory(directory, path, create)
    _check_not_emptied(directory, path, create)
    if create:
        try:
            create_private(path)
        except OSError as error:
            raise StoreError(f"cannot create {path}: {error}") from None


def _check_not_emptied(directory: str, path: str, create: bool) -> None:
    """SQLite opens an empty file as a new database: a `jobs.db` of 0 bytes (its WAL empty
    too) is one a creator left before its schema, or one that was truncated. Beside month
    databases it was truncated: a new one would number jobs from 1 again, under archived
    ones, and hide that the live jobs were lost."""
    if not _empty(path):
        return
    try:
        names = os.listdir(directory)
    except OSError:
        names = []
    months = sorted(m.group(1) for name in names if (m := MONTH_DATABASE.match(name)))
    if months:
        raise StoreError(
            f"{path} is empty, but the store has month databases ({', '.join(months)}): its "
            "live database was lost or truncated; restore it from a backup (a new one would "
            "number jobs from 1 again, under the archived ones)"
        )
    if not create:
        raise StoreNotFoundError(f"{path} is empty: {directory} is not a jobs store yet")


def _empty(path: str) -> bool:
    try:
        if os.path.getsize(path) != 0:
            return False
    except OSError:
        return False  # missing: `_check_directory` has judged that
    try:
        return os.path.getsize(path + "-wal") == 0
    except OSError:
        return True


def _check_directory(directory: str, path: str, create: bool) -> None:
    if os.path.isdir(directory):
        if not create and not os.path.exists(path):
            raise StoreNotFoundError(f"{directory} is not a jobs store (it has no {LIVE_FILE})")
        return
    if os.path.exists(directory):
        raise StoreNotFoundError(f"{directory} is not a directory")
    if not create:
        raise StoreNotFoundError(f"{directory} does not exist")
    try:
        make_private_dir(directory)
    except OSError as error:
        raise StoreError(f"cannot create the store directory {directory}: {error}") from None
