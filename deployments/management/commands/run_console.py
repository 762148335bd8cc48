import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from astro_ui import embedded_redis
from deployments.models import Deployment
from tokens.models import AgentToken

DEMO_TOKEN = "demo agents"  # noqa: S105 - a token name, not a secret


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
        try:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo")
            for name, argv in self._commands(addr):
                # A session of their own: Ctrl-C reaches only us, and we stop them in order.
                process = subprocess.Popen(argv, cwd=settings.BASE_DIR, start_new_session=True)  # noqa: S603
                children.append((name, process))
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nConsole running at http://{addr}/  (Ctrl-C stops everything)\n"
                )
            )
            while not stopping:
                for name, process in children:
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping")
                        stopping = True
                time.sleep(0.3)
        finally:
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
            embedded_redis.stop(redis_process)
            self.stdout.write("Stopped.")

    def _commands(self, addr: str) -> list[tuple[str, list[str]]]:
        python = sys.executable
        demo = [] if os.environ.get("DEMO_AGENTS", "1") == "0" else self._demo_fleet(addr)
        return [*self._servers(addr, python), *demo]

    def _demo_fleet(self, addr: str) -> list[tuple[str, list[str]]]:
        """Three agents (worker, DAG processor, triggerer) so the dashboard is alive at once.

        Token values are never stored, so each run replaces the demo token with a fresh one.
        """
        deployment = Deployment.objects.filter(name="production-etl").first()
        if deployment is None:
            return []
        for old in AgentToken.objects.live().filter(deployment=deployment, name=DEMO_TOKEN):
            old.revoke()
        _, value = AgentToken.objects.issue(
            deployment,
            name=DEMO_TOKEN,
            description="For the demo agents of `make run`; DEMO_AGENTS=0 turns them off",
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

    def _servers(self, addr: str, python: str) -> list[tuple[str, list[str]]]:
        return [
            ("web", [python, "manage.py", "runserver", addr, "--noreload"]),
            (
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "astro_ui",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
            ),
            ("beat", [python, "-m", "celery", "-A", "astro_ui", "beat", "--loglevel", "INFO"]),
        ]
