import logging
import os
import signal
import socket
import threading
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from agents.client import AgentSpec, run_fleet
from agents.models import Component

PROXY_VARIABLES = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}


class Command(BaseCommand):
    help = (
        "Run a remote agent (or a simulated fleet) that heartbeats to a deployment's agent API. "
        "Use --values with a generated values.yaml, or --url and --token/--token-file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--values", type=Path, help="values.yaml from 'Register a Remote Agent'"
        )
        parser.add_argument("--url", help="the deployment's agent API URL")
        parser.add_argument("--token", help="the agent token (prefer --token-file)")
        parser.add_argument("--token-file", type=Path, help="a file holding the agent token")
        parser.add_argument(
            "--name", default=socket.gethostname(), help="agent name (default: host name)"
        )
        parser.add_argument(
            "--component",
            default="worker",
            help="worker, dag-processor or triggerer; a comma-separated list runs one of each",
        )
        parser.add_argument("--count", type=int, default=1, help="how many agents per component")
        parser.add_argument("--queues", default="default", help="comma-separated worker queues")
        parser.add_argument(
            "--simulate-work",
            action="store_true",
            help="demo: keep worker slots busy with simulated tasks of random length, so "
            "cordoned agents can be seen draining",
        )

    def handle(self, *args, **opts) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        if opts["values"]:
            url, token, specs = self._from_values(opts["values"])
        else:
            url, token, specs = self._from_flags(opts)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Running {len(specs)} agent(s) against {url} (Ctrl-C stops)")
        run_fleet(url, token, specs, stop, simulate_work=opts["simulate_work"])
        self.stdout.write("Stopped.")

    def _token(self, token: str | None, token_file: Path | None) -> str:
        if bool(token) == bool(token_file):
            raise CommandError("Give exactly one of --token or --token-file.")
        if token_file:
            try:
                token = token_file.read_text().strip()
            except OSError as exc:
                raise CommandError(
                    f"Cannot read the token file {token_file}: {exc.strerror}"
                ) from None
        return token or ""

    def _from_flags(self, opts) -> tuple[str, str, list[AgentSpec]]:
        if not opts["url"]:
            raise CommandError("Give --url (the deployment's agent API URL) or --values.")
        components = [c.strip() for c in opts["component"].split(",") if c.strip()]
        for c in components:
            if c not in Component.values:
                raise CommandError(
                    f"Unknown component {c!r}; use one of {', '.join(Component.values)}."
                )
        if opts["count"] < 1:
            raise CommandError("--count must be at least 1.")
        queues = [q.strip() for q in opts["queues"].split(",") if q.strip()] or ["default"]
        specs = []
        for c in components:
            for i in range(opts["count"]):
                name = opts["name"]
                if len(components) > 1:
                    name = f"{name}-{c}"
                if opts["count"] > 1:
                    name = f"{name}-{i}"
                if c == "worker":
                    specs.append(AgentSpec(name=name, component=c, queues=queues))
                else:
                    slots = 1000 if c == "triggerer" else 0
                    specs.append(AgentSpec(name=name, component=c, queues=[], slots_total=slots))
        return opts["url"], self._token(opts["token"], opts["token_file"]), specs

    def _proxy_env(self, common_env: list) -> None:
        """Agents in the cluster get commonEnv; the proxy variables matter to this client too.
        Variables already set in this shell win."""
        for item in common_env:
            name = str((item or {}).get("name", ""))
            if name.upper() in PROXY_VARIABLES and name not in os.environ:
                os.environ[name] = str(item.get("value", ""))

    def _from_values(self, path: Path) -> tuple[str, str, list[AgentSpec]]:
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        if not isinstance(values, dict) or not values.get("agentApiUrl"):
            raise CommandError(
                f"{path} has no agentApiUrl; generate it with 'Register a Remote Agent'."
            )
        if values.get("agentToken"):
            token = str(values["agentToken"])
        elif values.get("agentTokenFile"):
            token = self._token(None, Path(values["agentTokenFile"]))
        else:
            raise CommandError(
                f"{path} keeps the token in the Kubernetes secret "
                f"{values.get('agentTokenSecretName')!r}, which this client cannot read; "
                "use --url with --token-file instead."
            )
        self._proxy_env(values.get("commonEnv") or [])
        prefix = values.get("resourceNamePrefix") or "agent"
        specs = []
        for worker in values.get("workers") or []:
            for i in range(int(worker.get("replicas", 1))):
                specs.append(
                    AgentSpec(
                        name=f"{prefix}-worker-{worker.get('name', 'default')}-{i}",
                        component="worker",
                        queues=list(worker.get("queues") or ["default"]),
                        slots_total=int(worker.get("syncSlots", 20)),
                    )
                )
        if (values.get("dagProcessor") or {}).get("enabled", True):
            specs.append(
                AgentSpec(
                    name=f"{prefix}-dag-processor",
                    component="dag-processor",
                    queues=[],
                    slots_total=0,
                )
            )
        triggerer = values.get("triggerer") or {}
        if triggerer.get("enabled", True):
            specs.append(
                AgentSpec(
                    name=f"{prefix}-triggerer",
                    component="triggerer",
                    queues=[],
                    slots_total=int(triggerer.get("asyncSlots", 1000)),
                )
            )
        return str(values["agentApiUrl"]), token, specs
