"""``make run``: the whole stack in one terminal, stopped cleanly by Ctrl-C.

Runs with the embedded PostgreSQL and Redis when no URLs are set (``manage.py`` starts
them, see :func:`config.embedded.ensure_started`; Ctrl-C stops them), migrates, makes a
demo admin account on first run, then runs gunicorn, a Celery worker and Celery beat as
child processes; with an empty database it fills a year of demo traffic in the background.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config import embedded, processes
from ingest.rollups.read import has_usage


class Command(BaseCommand):
    help = "Run web (gunicorn), Celery worker and beat; Ctrl-C stops everything."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=settings.SERVE["PORT"],
            help="port (default: $PORT or 8000)",
        )
        parser.add_argument(
            "--host",
            default=settings.SERVE["HOST"],
            help="address (default: $HOST or 127.0.0.1)",
        )
        parser.add_argument("--no-demo", action="store_true", help="do not simulate demo data")

    def handle(self, *args, port: int, host: str, no_demo: bool, **options):
        embedded.ensure_started()  # already done by manage.py; here too for call_command("serve")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("load_catalog", verbosity=0)
        self._ensure_admin()
        env = {
            **os.environ,
            "DATABASE_URL": settings.DATABASE_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
        }
        python = sys.executable
        children = {
            "web": processes.gunicorn(
                f"{host}:{port}",
                settings.SERVE["WEB_CONCURRENCY"],
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ),
            "worker": processes.celery_worker(
                "ingest,maintenance", settings.SERVE["CELERY_CONCURRENCY"], "--loglevel", "INFO"
            ),
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in children.items():
                # Own session: Ctrl-C reaches only this process, which stops the children
                # in order and takes their whole process groups (Celery's pool) with them.
                procs[name] = subprocess.Popen(command, env=env, start_new_session=True)
            url = f"http://{host}:{port}/"
            self._wait_healthy(url + "healthz", procs)
            self.stdout.write(self.style.SUCCESS(f"\nTokenrank is running at {url}  (Ctrl-C stops it)\n"))
            if not no_demo and not has_usage():
                self.stdout.write("Empty database: simulating a year of demo traffic in the background…")
                procs["demo"] = subprocess.Popen(
                    [python, "manage.py", "simulate", "--scale", "demo", "--quiet"],
                    env=env,
                    start_new_session=True,
                    cwd=settings.BASE_DIR,
                )
            while not stopping:
                for name, proc in list(procs.items()):
                    if proc.poll() is not None:
                        if name == "demo":
                            del procs[name]
                            self.stdout.write("Demo data loaded.")
                        else:
                            self.stderr.write(f"{name} exited with {proc.returncode}; stopping.")
                            stopping = True
                time.sleep(0.5)
        finally:
            self.stdout.write("\nStopping…")
            self._stop(procs)
            if settings.EMBEDDED_POSTGRES or settings.EMBEDDED_REDIS:
                embedded.stop_all(settings.DATA_DIR)
            self.stdout.write("Stopped.")

    def _ensure_admin(self) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@localhost", password)
        self.stdout.write(
            self.style.WARNING(f"Created the admin account (shown once): user 'admin', password '{password}'")
        )

    def _wait_healthy(self, url: str, procs: dict[str, subprocess.Popen]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs.values()):
                raise SystemExit("a process exited during start-up; see the log above")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"{url} did not answer 200 within 60 s")

    @staticmethod
    def _stop(procs: dict[str, subprocess.Popen]) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
