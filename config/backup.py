"""Backups and restores of the whole database with the right PostgreSQL client tools.

``pg_dump`` refuses a server newer than itself, and ``pg_restore`` an archive newer than
itself. The embedded server is PostgreSQL 16 (pgserver ships its own client tools), while
a Debian 12 machine's ``pg_dump`` is 15. So the tools are chosen per server: the same major
version when one is installed, else the newest that is at least as new (pgserver's, the
``/usr/lib/postgresql/*/bin`` folders, ``$PATH``, or the folder an operator names).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

# libpq connection keywords that may come from DATABASE_URL's query string (OPTIONS).
_LIBPQ_OPTIONS = {
    "host",
    "port",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "application_name",
}
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
_DUMPED_BY = re.compile(r"Dumped by pg_dump version: (\d+)")


class BackupError(RuntimeError):
    """A tool is missing or failed; the message says what to do."""


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int


def _candidate_folders(extra: Path | None) -> list[Path]:
    folders = [extra] if extra else []
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

        folders.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    folders += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"))]
    folders += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return folders


def _major(path: Path) -> int | None:
    try:
        output = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    match = _VERSION.search(output)
    return int(match.group(1)) if match else None


def find_tool(name: str, at_least: int, folder: Path | None = None) -> Tool:
    """``name`` (pg_dump, pg_restore) for PostgreSQL ``at_least``: that major version if
    installed, else the newest newer one. With ``folder``, only that folder is searched."""
    tools: dict[Path, Tool] = {}
    for candidate in _candidate_folders(folder) if folder is None else [folder]:
        try:
            path = (candidate / name).resolve()
            if path in tools or not path.is_file() or not os.access(path, os.X_OK):
                continue
        except OSError:  # a folder on $PATH this user may not read
            continue
        if (major := _major(path)) is not None:
            tools[path] = Tool(path, major)
    usable = [t for t in tools.values() if t.major >= at_least]
    if not usable:
        found = ", ".join(f"{t.path} ({t.major})" for t in tools.values()) or "none"
        raise BackupError(
            f"no {name} for PostgreSQL {at_least} or newer (found: {found}). Install the matching "
            f"client (Debian: apt install postgresql-client-{at_least}) or pass --pg-bin FOLDER."
        )
    exact = [t for t in usable if t.major == at_least]
    return exact[0] if exact else max(usable, key=lambda t: t.major)


def libpq_target(settings_dict: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A libpq connection string for Django's database settings, and the environment that
    carries its password (never on the command line, where ``ps`` would show it)."""
    params = {
        "dbname": settings_dict["NAME"],
        "user": settings_dict.get("USER") or "",
        "host": settings_dict.get("HOST") or "",
        "port": str(settings_dict.get("PORT") or ""),
    }
    options = settings_dict.get("OPTIONS") or {}
    params.update({k: str(v) for k, v in options.items() if k in _LIBPQ_OPTIONS and v not in (None, "")})
    env = {"PGPASSWORD": settings_dict["PASSWORD"]} if settings_dict.get("PASSWORD") else {}
    return make_conninfo(**{k: v for k, v in params.items() if v}), env


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
    if result.returncode != 0:
        raise BackupError(
            f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return result.stdout


def dump(settings_dict: dict[str, Any], server_major: int, output: Path, folder: Path | None = None) -> int:
    """Write a custom-format dump of the whole database to ``output`` (through a temporary
    file, so a failed dump never leaves a truncated file under the final name); return the
    number of archive entries, as listed back by ``pg_restore``: the dump is read once."""
    pg_dump = find_tool("pg_dump", server_major, folder)
    target, env = libpq_target(settings_dict)
    partial = output.with_name(output.name + ".partial")
    partial.touch(mode=0o600)  # it holds password and key hashes: the owner's only
    try:
        _run([str(pg_dump.path), "--format=custom", f"--file={partial}", f"--dbname={target}"], env)
        entries = len(archive_listing(partial, folder)[1])
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return entries


def archive_listing(archive: Path, folder: Path | None = None) -> tuple[int, list[str]]:
    """The major version of the pg_dump that made ``archive`` and its table of contents, read
    with the newest pg_restore at hand (an older one refuses a newer archive)."""
    pg_restore = find_tool("pg_restore", 0, folder)
    listing = _run([str(pg_restore.path), "--list", str(archive)], {})
    match = _DUMPED_BY.search(listing)
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    return (int(match.group(1)) if match else pg_restore.major), entries


# Empties the public schema inside the restore's transaction. pg_restore --clean cannot do
# it: it drops a partition's inherited primary key before the partition and fails.
_DROP_EVERYTHING = """
DO $drop$
DECLARE r record;
BEGIN
  -- Sequences last: most belong to a table and go with it.
  FOR r IN SELECT 'public.' || quote_ident(c.relname) AS name, c.relkind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND NOT c.relispartition
           ORDER BY c.relkind = 'S'
  LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE',
      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                     WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.name);
  END LOOP;
END
$drop$;
"""


def restore(
    settings_dict: dict[str, Any], server_major: int, archive: Path, folder: Path | None = None
) -> None:
    """Replace every table of the database with the archive's in one transaction (all or
    nothing): the archive as SQL from a pg_restore at least as new as both the server and the
    archive, run by psql after emptying the schema; any error rolls the whole of it back."""
    dumped_by, _ = archive_listing(archive, folder)
    pg_restore = find_tool("pg_restore", max(server_major, dumped_by), folder)
    psql = find_tool("psql", server_major, folder)
    target, env = libpq_target(settings_dict)
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        sql = subprocess.Popen(
            [str(pg_restore.path), "--no-owner", "--no-privileges", "--file=-", str(archive)],
            stdout=subprocess.PIPE,
            stderr=restore_errors,
        )
        runner = subprocess.Popen(
            [str(psql.path), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={target}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env={**os.environ, **env},
        )
        try:
            runner.stdin.write(b"BEGIN;\n" + _DROP_EVERYTHING.encode())
            shutil.copyfileobj(sql.stdout, runner.stdin, 1 << 20)
            # Commit only a complete archive: a failed pg_restore ends the session uncommitted.
            runner.stdin.write(b"COMMIT;\n" if sql.wait() == 0 else b"ROLLBACK;\n")
            runner.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error (ON_ERROR_STOP): nothing was committed
        finally:
            sql.kill()
            sql.wait()
            runner.wait()
        # psql's error first: when it stops, pg_restore is killed and has nothing to say.
        for process, errors in ((runner, psql_errors), (sql, restore_errors)):
            if process.returncode != 0:
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()[-2000:]
                raise BackupError(f"{Path(process.args[0]).name} failed ({process.returncode}): {message}")
