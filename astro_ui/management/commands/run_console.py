"""`make run`: every process of a local console under one Ctrl-C.

It is wiring, so it lives with the project's wiring: it may reach into the apps (the demo data, a
demo token) that no app should import from another only to start processes.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from astro_ui import embedded_redis
from astro_ui.celery import app as celery_app
from deployments.management.commands.seed_demo import generated_password, password_file
from deployments.models import Deployment
from tokens.models import AgentToken

DEMO_TOKEN = "demo agents"  # noqa: S105 - a token name, not a secret
ADMIN = "admin"
# Quiet by default: at idle nothing is worth a line (no beat ticks, no heartbeat requests), so
# the URL and the admin password stay on screen. LOG_LEVEL=INFO shows all of it.
DEFAULT_LOG_LEVEL = "WARNING"
READY_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Run everything for a local console: embedded Redis (unless REDIS_URL is set), "
        "web server, Celery worker and beat, and a demo agent fleet. Ctrl-C stops it all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("ADDR", "127.0.0.1:8000"))

    def handle(self, *args, addr: str, **options) -> None:
        redis_process = embedded_redis.ensure(settings.REDIS_URL)
        children: list[tuple[str, subprocess.Popen]] = []
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        env = {**os.environ, "LOG_LEVEL": os.environ.get("LOG_LEVEL") or DEFAULT_LOG_LEVEL}
        try:
            call_command("migrate", interactive=False, verbosity=0)
            # Its news (the password) is repeated below, after everything else has started.
            call_command("seed_demo", username=ADMIN, stdout=io.StringIO())
            for name, argv, quiet in self._servers(addr, env["LOG_LEVEL"]):
                children.append((name, self._start(argv, env, quiet)))
            # The URL is worth printing only once a click on it reaches the server.
            if not self._wait_until_listening(addr, children, lambda: stopping):
                return
            for name, argv in self._demo_fleet(addr):
                children.append((name, self._start(argv, env, quiet=True)))
            # The worker's start-up notices come before the password, which is printed last.
            self._wait_for_worker(lambda: stopping)
            self._announce(addr)
            while not stopping:
                for name, process in children:
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping")
                        stopping = True
                time.sleep(0.3)
        finally:
            self._stop(children)
            embedded_redis.stop(redis_process)
            self.stdout.write("Stopped.")

    def _start(self, argv: list[str], env: dict, quiet: bool) -> subprocess.Popen:
        # A session of their own: Ctrl-C reaches only us, and we stop them in order. A quiet
        # child's stdout carries only banners; its warnings and errors (stderr) still show.
        return subprocess.Popen(  # noqa: S603
            argv,
            cwd=settings.BASE_DIR,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL if quiet else None,
        )

    def _wait_until_listening(self, addr: str, children, stopping) -> bool:
        host, _, port = addr.rpartition(":")
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - where to connect to, not to bind
            host = "127.0.0.1" if host != "::" else "::1"
        deadline = time.monotonic() + READY_SECONDS
        while not stopping():
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return True
            except OSError:
                pass
            for name, process in children:
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with {process.returncode}; stopping")
                    return False
            if time.monotonic() > deadline:
                raise CommandError(f"The web server did not listen on {addr} within 60 s.")
            time.sleep(0.1)
        return False

    def _wait_for_worker(self, stopping) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while not stopping() and time.monotonic() < deadline:
            try:
                if celery_app.control.ping(timeout=0.5):
                    return
            except OSError:
                time.sleep(0.5)

    def _announce(self, addr: str) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"\nConsole running at http://{addr}/  (Ctrl-C stops everything)")
        )
        password = generated_password(ADMIN)
        if password:
            self.stdout.write(
                f"Log in as {ADMIN} with the password below; it is also in "
                f"{password_file(ADMIN)} until you change it "
                f"(.venv/bin/python manage.py changepassword {ADMIN}).\n"
                f"    username: {ADMIN}\n    password: {password}"
            )
        else:
            self.stdout.write(f"Log in as {ADMIN} with the password you set.")

    def _stop(self, children: list[tuple[str, subprocess.Popen]]) -> None:
        for _, process in reversed(children):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for _, process in children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _demo_fleet(self, addr: str) -> list[tuple[str, list[str]]]:
        """Three agents (worker, DAG processor, triggerer) so the dashboard is alive at once.

        Token values are never stored, so each run replaces the demo token with a fresh one.
        """
        if os.environ.get("DEMO_AGENTS", "1") == "0":
            return []
        deployment = Deployment.objects.filter(name="production-etl").first()
        if deployment is None:
            return []
        for old in AgentToken.objects.live().filter(deployment=deployment, name=DEMO_TOKEN):
            old.revoke()
        _, value = AgentToken.objects.issue(
            deployment,
            name=DEMO_TOKEN,
            description="For the demo agents of make run; DEMO_AGENTS=0 turns them off",
            expires_in_days=1,
        )
        token_file = Path(settings.VAR_DIR) / "demo-agent-token"
        token_file.write_text(value)
        token_file.chmod(0o600)
        url = f"http://{addr}{deployment.agent_api_path}"
        argv = [
            sys.executable,
            "manage.py",
            "run_agent",
            "--url",
            url,
            "--token-file",
            str(token_file),
            "--name",
            "demo",
            "--component",
            "worker,dag-processor,triggerer",
        ]
        return [("demo-agents", argv)]

    def _servers(self, addr: str, log_level: str) -> list[tuple[str, list[str], bool]]:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "astro_ui", "--quiet"]
        return [
            ("web", [python, "manage.py", "runserver", addr, "--noreload"], True),
            (
                "worker",
                [
                    *celery,
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    log_level,
                    "--without-gossip",
                    "--without-mingle",
                ],
                False,
            ),
            ("beat", [*celery, "beat", "--loglevel", log_level], False),
        ]
