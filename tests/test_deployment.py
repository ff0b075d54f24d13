"""A deployment that works from the docs alone: the env file of docs/operations.md, the
systemd units' own command lines (release step, then gunicorn), production host settings,
health probes by address, hashed static files, an admin login through the proxy (and over
plain HTTP in that mode), JSON logs from gunicorn; every setting in .env.example and the docs;
compose.yaml wired the same way."""

from __future__ import annotations

import ast
import http.client
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings

from tests.conftest import _test_database_url, wait_for

BASE = Path(settings.BASE_DIR)
DEPLOY = BASE / "docs" / "deploy"
OPERATIONS = (BASE / "docs" / "operations.md").read_text()
HOST = "tokenrank.example.com"
SECRET = "deployment-test-" + "k" * 50
ENV_READERS = {"get", "getenv", "str", "int", "bool", "list", "networks"}  # os.environ, env (django-environ)


def environment_variables_read() -> set[str]:
    """Every variable config/settings.py reads, from its source."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((BASE / "config" / "settings.py").read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ENV_READERS and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return {n for n in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)}


def test_every_setting_read_is_in_env_example_and_the_operations_docs():
    names = environment_variables_read()
    assert {"DATABASE_URL", "SECRET_KEY", "TOKENRANK_BATCH_COALESCE_EVENTS", "TOKENRANK_PLAIN_HTTP"} <= names
    example = (BASE / ".env.example").read_text()
    missing = sorted(n for n in names if not re.search(rf"^#?\s*{n}=", example, re.MULTILINE))
    assert missing == [], f"not in .env.example: {missing}"
    undocumented = sorted(n for n in names if f"`{n}`" not in OPERATIONS)
    assert undocumented == [], f"not in docs/operations.md: {undocumented}"


def docs_env_file() -> dict[str, str]:
    """The env file docs/operations.md writes to /etc/tokenrank.env."""
    block = OPERATIONS.split("cat > /etc/tokenrank.env <<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    return dict(line.split("=", 1) for line in block.splitlines() if line and not line.startswith("#"))


def exec_lines(unit: str, key: str = "ExecStart", instance: str = "") -> list[list[str]]:
    """The unit's command lines, as systemd would run them from this checkout's virtualenv
    (``%i`` is the template's instance, ``%%`` a percent sign)."""
    text = (DEPLOY / unit).read_text().replace("\\\n", " ").replace("%i", instance).replace("%%", "%")
    bin_dir = str(Path(sys.executable).parent) + "/"
    return [
        [arg.replace("/srv/tokenrank/.venv/bin/", bin_dir) for arg in shlex.split(line.split("=", 1)[1])]
        for line in text.splitlines()
        if line.startswith(f"{key}=")
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TOKENRANK_"))}
    env.update(docs_env_file())
    env.update(
        SECRET_KEY=SECRET,
        DATABASE_URL=_test_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        TOKENRANK_DATA_DIR=str(tmp_path),
        DB_CONN_MAX_AGE="0",
        **overrides,
    )
    return env


def run(env: dict[str, str], command: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    """``command`` run in the project's folder under ``env``, its output captured."""
    return subprocess.run(command, cwd=BASE, env=env, capture_output=True, text=True, timeout=timeout)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run(env, [sys.executable, "manage.py", *args])


def test_production_refuses_to_start_without_its_services():
    for missing in ("DATABASE_URL", "CELERY_BROKER_URL"):
        env = {k: v for k, v in os.environ.items() if k != missing}
        env.update(DJANGO_ENV="production", SECRET_KEY=SECRET, ALLOWED_HOSTS=HOST)
        if missing == "DATABASE_URL":
            env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
        else:
            env["DATABASE_URL"] = settings.DATABASE_URL
        result = manage(env, "check")
        assert result.returncode != 0, missing
        assert f"DJANGO_ENV=production needs {missing}" in result.stderr, result.stderr[-500:]


class Site:
    """gunicorn started with the web unit's command line on a free port."""

    def __init__(self, env: dict[str, str], tmp_path: Path):
        self.port = _free_port()
        (command,) = exec_lines("tokenrank-web.service")
        command = [arg.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}") for arg in command]
        # systemd fills ${VAR} from the env file.
        command = [env[arg[2:-1]] if re.fullmatch(r"\$\{\w+\}", arg) else arg for arg in command]
        self.log_path = tmp_path / "gunicorn.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            command, cwd=BASE, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(lambda: self._up() or self.proc.poll() is not None, 60)
        assert self.proc.poll() is None, self.log_path.read_text()[-3000:]

    def _up(self) -> bool:
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode(errors="replace")

    def get(self, path: str, headers: dict[str, str] | None = None):
        return self.request("GET", path, headers)

    def stop(self) -> str:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(30)
        self.log.close()
        return self.log_path.read_text()


def _login(site: Site, headers: dict[str, str], origin: str) -> tuple[int, bool]:
    """(status of the login POST, whether the CSRF cookie is Secure-only)."""
    status, response_headers, page = site.get("/admin/login/", headers)
    assert status == 200, page[:300]
    cookie = SimpleCookie(response_headers.get("Set-Cookie", ""))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode(
        {"csrfmiddlewaretoken": token, "username": "admin", "password": "pw-Deploy-123", "next": "/admin/"}
    )
    status, after, _ = site.request(
        "POST",
        "/admin/login/",
        {
            **headers,
            "Cookie": f"csrftoken={cookie['csrftoken'].value}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"{origin}/admin/login/",
            "Origin": origin,
        },
        body,
    )
    return status, bool(cookie["csrftoken"]["secure"])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One TOKENRANK_DATA_DIR for both modes: the second collectstatic finds its files there."""
    return tmp_path_factory.mktemp("tokenrank-data")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["https-proxy", "plain-http"])
def test_the_documented_deployment_runs(tmp_path, data_dir, mode):
    plain = mode == "plain-http"
    env = _production_env(
        data_dir,
        **({"TOKENRANK_PLAIN_HTTP": "true", "CSRF_TRUSTED_ORIGINS": f"http://{HOST}"} if plain else {}),
    )
    # The release step, as tokenrank-migrate.service runs it.
    release = exec_lines("tokenrank-migrate.service")
    assert [c[-2:] for c in release] == [["migrate", "--noinput"], ["collectstatic", "--noinput"]]
    for command in release:
        result = run(env, command, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    created = manage(env, "create_staff", "admin", "--role", "admin", "--password", "pw-Deploy-123")
    assert created.returncode == 0, created.stderr

    site = Site(env, tmp_path)
    worker = None
    try:
        # Probes by address pass under the production host settings...
        assert site.get("/healthz")[0] == 200
        assert json.loads(site.get("/readyz")[2]) == {"status": "ready"}
        assert site.get("/healthz?token=secret-in-query")[0] == 200
        # ...while pages still need an allowed host.
        assert site.get("/", {"Host": "127.0.0.1"})[0] == 400
        proxied = {"Host": HOST} if plain else {"Host": HOST, "X-Forwarded-Proto": "https"}
        status, _, page = site.get("/", proxied)
        assert status == 200, page[:500]
        assets = re.findall(r'(?:src|href)="(/static/[^"]+\.[0-9a-f]{12}\.(?:js|css))"', page)
        assert assets, "pages link the hashed files collectstatic made"
        for asset in assets:
            assert site.get(asset, proxied)[0] == 200, asset
        origin = f"{'http' if plain else 'https'}://{HOST}"
        # Behind TLS the CSRF cookie is Secure-only (a browser on plain HTTP would never send it
        # back: 403); in plain-HTTP mode it is not, so the login works there.
        assert _login(site, proxied, origin) == (302, not plain)
        _long_request_lines(site, proxied)
        if not plain:
            worker = _ingest_through_the_worker_unit(site, env, proxied, tmp_path)
    finally:
        log = site.stop()
        if worker is not None:
            lines = [line for line in _stop(worker).splitlines() if line.strip()]
            if os.geteuid() == 0:  # Celery warns about root in text before logging is set up
                lines = lines[next(n for n, line in enumerate(lines) if line.startswith("{")) :]
            # Celery prints its shutdown notice as text, whatever the logging: the one exception.
            records = [json.loads(line) for line in lines if line != "worker: Warm shutdown (MainProcess)"]
            assert any(r["message"].endswith("ready.") for r in records)
            assert any(r["logger"] == "ingest.processing" and "done" in r["message"] for r in records)

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(lines) == len([line for line in log.splitlines() if line.strip()]), log[-2000:]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    probe = next(line for line in access if line["path"] == "/healthz")
    assert (
        probe["status"] == 200
        and probe["method"] == "GET"
        and re.fullmatch(r"[0-9a-f]{32}", probe["request_id"])
    )
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    assert "secret-in-query" not in log


def _long_request_lines(site: Site, headers: dict[str, str]) -> None:
    """Request lines past gunicorn's default limit (4094 bytes) reach Django up to 8190:
    a query string over 4,096 bytes is the API's JSON 414 and the site's error page; more
    parameters than Django reads a 400 alike. Past 8190 bytes gunicorn answers itself."""
    long_query = "q=" + "a" * 7000
    status, response_headers, body = site.get(f"/api/v1/rankings/models?{long_query}", headers)
    assert status == 414 and response_headers["Content-Type"] == "application/json", body[:300]
    assert json.loads(body)["error"]["code"] == "uri_too_long"
    status, response_headers, body = site.get(f"/models/?{long_query}", headers)
    assert status == 414 and response_headers["Content-Type"].startswith("text/html")
    assert "Address too long" in body and 'role="search"' in body  # the site's page
    status, _, body = site.get("/api/v1/rankings/models?" + "&".join(["a"] * 1001), headers)
    assert status == 400 and json.loads(body)["error"]["code"] == "too_many_parameters"
    status, _, body = site.get("/api/v1/rankings/models?q=" + "a" * 8200, headers)
    assert status == 414 and "Request Line is too large" in body  # gunicorn's own (documented)


def _stop(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, 15)
    proc.wait(30)
    proc.log.close()
    return Path(proc.log.name).read_text()


def _ingest_through_the_worker_unit(site: Site, env: dict[str, str], headers: dict[str, str], tmp_path: Path):
    """An event sent through the site is counted by a worker started from its unit's line."""
    (command,) = exec_lines("tokenrank-worker@.service", instance="ingest")
    command = [env[arg[2:-1]] if re.fullmatch(r"\$\{\w+\}", arg) else arg for arg in command]
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        command, cwd=BASE, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    worker.log = log
    wait_for(lambda: "ready." in Path(log.name).read_text() or worker.poll() is not None, 60)
    assert worker.poll() is None, Path(log.name).read_text()[-3000:]
    key = manage(env, "ingest_key", "create", "deploy-test").stdout.strip()
    body = manage(env, "example_event").stdout
    status, _, answer = site.request(
        "POST",
        "/api/v1/events",
        {**headers, "Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        body,
    )
    assert (status, json.loads(answer)["accepted"]) == (202, 1), answer

    def counted() -> bool:
        return json.loads(site.get("/api/v1/rankings/apps?period=day", headers)[2])["count"] == 1

    wait_for(counted, 60)
    return worker


def test_compose_runs_the_release_step_once_behind_a_proxy():
    compose = yaml.safe_load((BASE / "compose.yaml").read_text())
    services = compose["services"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    for name in ("web", "worker", "maintenance-worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, (
            name
        )
        assert "migrate" not in " ".join(services[name]["command"]), name
    web = services["web"]
    assert "ports" not in web  # reached through the proxy only
    assert "http://127.0.0.1:8000/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["command"][:3] == ["gunicorn", "-c", "python:config.gunicorn"]
    proxy = services["proxy"]
    assert (
        proxy["image"].startswith("caddy")
        and "./docs/deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    )
    assert proxy["environment"]["TOKENRANK_UPSTREAM"] == "web:8000"
    known = environment_variables_read()
    assert set(web["environment"]) <= known, set(web["environment"]) - known
    assert {"DJANGO_ENV", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CSRF_TRUSTED_ORIGINS"} <= set(
        web["environment"]
    )
    # The proxy forwards where the systemd web unit listens.
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy {$TOKENRANK_UPSTREAM:127.0.0.1:8000}" in caddyfile
    assert "--bind 127.0.0.1:8000" in (DEPLOY / "tokenrank-web.service").read_text()
    assert "migrate" not in " ".join(" ".join(c) for c in exec_lines("tokenrank-web.service"))
    assert exec_lines("tokenrank-web.service", "ExecStartPre") == []


def test_gunicorn_access_lines_as_json_carry_fields_but_no_query_string():
    import logging

    from config.gunicorn import AccessJsonFormatter

    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(r)s", None, None)
    record.args = {
        "h": "10.0.0.1",
        "m": "GET",
        "U": "/api/v1/rankings/models",
        "q": "key=trk_secret",
        "r": "GET /api/v1/rankings/models?key=trk_secret HTTP/1.1",
        "s": "200",
        "B": 512,
        "M": 7,
        "a": "curl/8",
        "{x-request-id}o": "abc123",
    }
    line = AccessJsonFormatter().format(record)
    data = json.loads(line)
    assert (
        data["path"] == "/api/v1/rankings/models" and data["status"] == 200 and data["request_id"] == "abc123"
    )
    assert data["duration_ms"] == 7 and data["remote_addr"] == "10.0.0.1"
    assert "trk_secret" not in line


def test_every_unit_runs_as_the_documented_user_folder_and_env_file():
    units = list(DEPLOY.glob("tokenrank-*.service"))
    assert len(units) == 5
    for unit in units:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/tokenrank.env" in text, unit.name
        assert "User=tokenrank" in text and "WorkingDirectory=/srv/tokenrank" in text, unit.name
    wrapper = (DEPLOY / "tokenrank-manage").read_text()
    assert ". /etc/tokenrank.env" in wrapper and "runuser -u tokenrank" in wrapper
