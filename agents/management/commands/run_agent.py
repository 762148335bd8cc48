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
TOKEN_VARIABLE = "AGENT_TOKEN"  # noqa: S105 - the variable's name, not a token


class Command(BaseCommand):
    help = (
        "Run a remote agent (or a simulated fleet) that heartbeats to a deployment's agent API. "
        "Use --values with a values.yaml (from 'Register a Remote Agent' or the vendor console), "
        "or --url; the token comes from the file, --token-file, --token or AGENT_TOKEN."
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

    def handle(self, *args, **opts) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        if opts["values"]:
            url, token, specs = self._from_values(opts["values"], opts)
        else:
            url, token, specs = self._from_flags(opts)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Running {len(specs)} agent(s) against {url} (Ctrl-C stops)")
        run_fleet(url, token, specs, stop)
        self.stdout.write("Stopped.")

    def _token(self, token: str | None, token_file: Path | None) -> str:
        if token and token_file:
            raise CommandError("Give only one of --token and --token-file.")
        if token_file:
            try:
                token = token_file.read_text().strip()
            except OSError as exc:
                raise CommandError(
                    f"Cannot read the token file {token_file}: {exc.strerror}"
                ) from None
            if not token:
                raise CommandError(f"The token file {token_file} is empty.")
        return token or os.environ.get(TOKEN_VARIABLE, "").strip()

    def _from_flags(self, opts) -> tuple[str, str, list[AgentSpec]]:
        if not opts["url"]:
            raise CommandError("Give --url (the deployment's agent API URL) or --values.")
        token = self._token(opts["token"], opts["token_file"])
        if not token:
            raise CommandError(f"Give the agent token: --token-file, --token or {TOKEN_VARIABLE}.")
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
        return opts["url"], token, specs

    def _proxy_env(self, common_env: list) -> None:
        """Agents in the cluster get commonEnv; the proxy variables matter to this client too.
        Variables already set in this shell win."""
        for item in common_env:
            if not isinstance(item, dict):
                continue
            name = str(item.get("name", ""))
            if name.upper() in PROXY_VARIABLES and name not in os.environ:
                os.environ[name] = str(item.get("value", ""))

    def _from_values(self, path: Path, opts) -> tuple[str, str, list[AgentSpec]]:
        """A values file from the wizard or the vendor console: its URL, its token (unless the
        token lives in a Kubernetes secret, when flags or AGENT_TOKEN give it) and its layout."""
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        if not isinstance(values, dict):
            raise CommandError(f"{path} is not a values file (expected keys at the top level).")
        # agentApiUrl: what this console wrote before it spoke the chart's format.
        url = values.get("astroDeploymentAPIURL") or values.get("agentApiUrl")
        if not isinstance(url, str) or not url.strip():
            raise CommandError(
                f"{path} has no astroDeploymentAPIURL; download it from 'Register a Remote Agent'."
            )
        if "<" in url or not url.startswith(("http://", "https://")):
            raise CommandError(
                f"astroDeploymentAPIURL in {path} is {url!r}; fill in the deployment's agent API "
                "URL."
            )
        token = self._values_token(path, values, opts)
        self._proxy_env(values.get("commonEnv") or [])
        try:
            specs = self._specs(values)
        except (TypeError, ValueError, AttributeError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        return url, token, specs

    def _values_token(self, path: Path, values: dict, opts) -> str:
        if opts.get("token") or opts.get("token_file"):
            return self._token(opts.get("token"), opts.get("token_file"))
        if values.get("agentToken"):
            return str(values["agentToken"])
        if env_token := os.environ.get(TOKEN_VARIABLE, "").strip():
            return env_token
        if values.get("agentTokenFile"):
            return self._token(None, Path(str(values["agentTokenFile"])))
        secret = values.get("agentTokenSecretName")
        where = f"the Kubernetes secret {secret!r}" if secret else "no token setting"
        raise CommandError(
            f"{path} has {where}, which this client cannot read; give the same token with "
            f"--token-file FILE or in {TOKEN_VARIABLE}."
        )

    def _specs(self, values: dict) -> list[AgentSpec]:
        """One agent per worker replica, the DAG processor and each triggerer replica, named as
        the chart names their Deployments."""
        prefix = str(values.get("resourceNamePrefix") or "agent")
        specs = []
        for n, worker in enumerate(values.get("workers") or []):
            if not isinstance(worker, dict):
                raise ValueError(f"workers[{n}] is not a mapping")
            queues = worker.get("queues") or "default"
            if isinstance(queues, str):
                queues = queues.split(",")
            for i in range(int(worker.get("replicas", 1))):
                specs.append(
                    AgentSpec(
                        name=f"{prefix}-worker-{worker.get('name', 'default')}-{i}",
                        component="worker",
                        queues=[str(q).strip() for q in queues if str(q).strip()],
                        slots_total=int(worker.get("syncSlots", 20)),
                    )
                )
        specs.append(
            AgentSpec(
                name=f"{prefix}-dag-processor", component="dag-processor", queues=[], slots_total=0
            )
        )
        triggerer = values.get("triggerer") or {}
        replicas = int(triggerer.get("replicas", 1))
        for i in range(replicas):
            specs.append(
                AgentSpec(
                    name=f"{prefix}-triggerer" + (f"-{i}" if replicas > 1 else ""),
                    component="triggerer",
                    queues=[],
                    slots_total=int(triggerer.get("asyncSlots", 1000)),
                )
            )
        return specs
