"""Operator safety: no example secret in production, admin logins throttled, ingest health
for roles only, /metrics closed in production without a token, /readyz degraded after
failures, and no credential in the access log."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from config import processes
from config import settings as project_settings
from config.logging import redact_url
from config.network import parse_networks
from ingest.models import KEY_PREFIX, DeadLetter, InboxBatch
from tests.conftest import _test_database_url, wait_for
from tests.foundation.test_settings import _manage


def _env_example() -> dict[str, str]:
    lines = (django_settings.BASE_DIR / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


# --- secret key ---------------------------------------------------------------------------


def test_production_refuses_to_start_with_the_secret_key_of_env_example():
    example = _env_example()["SECRET_KEY"]
    result = _manage("check", DJANGO_ENV="production", SECRET_KEY=example, ALLOWED_HOSTS="tokenrank.example")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "example value" in result.stderr


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        ("insecure-development-key-do-not-use-in-production", True),
        ("change-me-" + "0123456789abcdef" * 4, True),
        ("django-insecure-" + "0123456789abcdef" * 4, True),
        ("short-but-random-Qx81", True),
        ("ab" * 40, True),  # long, but two characters
        ("Vd3_kq9ZP0m-Lr7aXc2WbN5tYs8HuE1oGf4jKi6lMn0pQr2StUv", False),
    ],
)
def test_weak_secret_keys_are_named(key, weak):
    assert (project_settings._weak_secret_key(key) is not None) is weak


# --- admin login --------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_login_is_locked_out_after_repeated_failures(client, settings):
    User.objects.create_superuser("root", password="right-password")
    login = reverse("admin:login")
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(login, {"username": "root", "password": "guess"}, **attacker)
        assert response.status_code == 200  # the form again, with its error
    locked = client.post(login, {"username": "root", "password": "guess"}, **attacker)
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    # Locked out: even the right password is refused from that address...
    again = client.post(login, {"username": "root", "password": "right-password"}, **attacker)
    assert again.status_code == 429 and "_auth_user_id" not in client.session
    # ...while the owner, elsewhere, logs in.
    owner = client.post(login, {"username": "root", "password": "right-password"}, REMOTE_ADDR="198.51.100.3")
    assert owner.status_code == 302 and client.session["_auth_user_id"] == str(User.objects.get().pk)


@pytest.mark.django_db
def test_admin_lockout_follows_the_real_client_behind_a_trusted_proxy(client, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "TRUSTED_PROXIES": parse_networks(["127.0.0.1/32"])}
    User.objects.create_superuser("root", password="right-password")
    login = reverse("admin:login")
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": "root", "password": "guess"}, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    refused = client.post(
        login, {"username": "root", "password": "right-password"}, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy
    )
    assert refused.status_code == 429
    # The proxy's other clients are not locked out by one attacker.
    other = client.post(
        login, {"username": "root", "password": "right-password"}, HTTP_X_FORWARDED_FOR="198.51.100.3", **proxy
    )
    assert other.status_code == 302


# --- ingest health needs a role -------------------------------------------------------------


@pytest.mark.django_db
def test_staff_without_a_role_sees_nothing_of_ingest_health(client):
    batch = InboxBatch.objects.create(
        events=[], event_count=3, status="failed", last_error="poisoned", processed_at=timezone.now()
    )
    client.force_login(User.objects.create_user("newcomer", password="x", is_staff=True))
    index = client.get("/admin/")
    assert index.status_code == 200 and "Ingest health" not in index.content.decode()
    for url in (
        reverse("admin:ingest_health"),
        reverse("admin:ingest_jobs"),
        reverse("admin:ingest_inboxbatch_changelist"),
        reverse("admin:ingest_inboxbatch_change", args=[batch.pk]),
        reverse("admin:ingest_maintenancejob_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "poisoned" not in response.content.decode()
    response = client.post(reverse("admin:ingest_batch_action", args=[batch.pk, "discard"]))
    assert response.status_code == 403
    assert InboxBatch.objects.get(pk=batch.pk).status == "failed"


# --- /metrics -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_in_production_need_the_token_even_from_loopback(client, settings):
    settings.PRODUCTION = True
    settings.TOKENRANK = {**settings.TOKENRANK, "METRICS_TOKEN": ""}
    for address in ("127.0.0.1", "::1", "203.0.113.9"):
        assert client.get("/metrics", REMOTE_ADDR=address).status_code == 404, address
    settings.TOKENRANK = {**settings.TOKENRANK, "METRICS_TOKEN": "s3cret-token"}
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 403
    scraped = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert scraped.status_code == 200 and b"tokenrank_inbox_pending_batches" in scraped.content


# --- /readyz ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_is_degraded_while_batches_failed_in_the_last_hour(client):
    now = timezone.now()
    InboxBatch.objects.create(events=[], event_count=1, status="failed", processed_at=now - timedelta(hours=2))
    assert client.get("/readyz").json() == {"status": "ready"}
    InboxBatch.objects.create(events=[], event_count=1, status="failed", processed_at=now - timedelta(minutes=5))
    InboxBatch.objects.create(events=[], event_count=1, status="failed", processed_at=now - timedelta(minutes=50))
    response = client.get("/readyz")
    assert response.status_code == 200  # still serving: a load balancer keeps it in rotation
    assert response.json() == {
        "status": "degraded",
        "reasons": ["ingest: 2 batches failed in the last hour (Admin → Ingest health)"],
    }
    batch = InboxBatch.objects.create(events=[], event_count=1, status="done")
    DeadLetter.objects.create(batch=batch, event_id="x", event="{}", error="DataError")
    assert client.get("/readyz").json()["reasons"] == [
        "ingest: 2 batches failed and 1 event dead-lettered in the last hour (Admin → Ingest health)"
    ]
    InboxBatch.objects.filter(status="failed").delete()
    DeadLetter.objects.update(requeued_at=now)  # requeued: dealt with
    assert client.get("/readyz").json() == {"status": "ready"}


# --- access log ---------------------------------------------------------------------------


def test_redact_url():
    key = KEY_PREFIX + "Zx9_secret-Value"
    assert redact_url(f"GET /api/v1/events?key={key}&page=2 HTTP/1.1") == (
        "GET /api/v1/events?key=[redacted]&page=2 HTTP/1.1"
    )
    assert redact_url("api_key=abc&Token=def&access_token=ghi&period=week") == (
        "api_key=[redacted]&Token=[redacted]&access_token=[redacted]&period=week"
    )
    assert redact_url(f"/somewhere/{key}/x?k={key}") == "/somewhere/[redacted]/x?k=[redacted]"
    assert redact_url("/api/v1/rankings/models?period=week&metric=tokens") == (
        "/api/v1/rankings/models?period=week&metric=tokens"
    )


@pytest.mark.django_db
def test_gunicorn_access_log_holds_no_key_sent_in_the_query_string(tmp_path):
    key = KEY_PREFIX + secrets.token_urlsafe(32)  # what a careless gateway puts in its URL
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = tmp_path / "access.log"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
    }
    log_file = log_path.open("w")
    web = subprocess.Popen(  # access lines go to standard output (config.gunicorn)
        processes.gunicorn(f"127.0.0.1:{port}", 1),
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def get(path: str, **headers: str) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0

        wait_for(lambda: get("/healthz") == 200, timeout=60, interval=0.2)
        assert get(f"/api/v1/events?key={key}") in (401, 405)
        get(f"/api/v1/rankings/models?period=week&api_key={key}&token=t0ken-value", Referer=f"https://x/?key={key}")
        get(f"/somewhere/{key}", **{"User-Agent": f"gateway {key}"})  # a key in the path and the agent
        wait_for(lambda: "/somewhere/" in log_path.read_text(), timeout=10)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(15)
        log_file.close()
    log = log_path.read_text()
    assert "/api/v1/events" in log and "/somewhere/[redacted]" in log
    assert key not in log and key[len(KEY_PREFIX) :] not in log and "t0ken-value" not in log
    assert "/api/v1/rankings/models" in log  # the path is kept, never the query string


def test_json_log_lines_never_carry_a_key_sent_in_the_query_string(rf):
    """Django logs 4xx answers with the request, whose text is the full path: the JSON line
    written for a log shipper must not hold the key (plain or percent-encoded)."""
    import logging

    from config.logging import JsonFormatter

    for path in ("/api/v1/events?key=trk_s3cretValue", "/api/v1/events?x=trk%5Fs3cretValue"):
        record = logging.makeLogRecord(
            {"name": "django.request", "msg": "Unauthorized: %s", "args": ("/api/v1/events",), "levelno": 30}
        )
        record.request = rf.post(path)
        line = JsonFormatter().format(record)
        assert "s3cretValue" not in line and "[redacted]" in line
