"""A small agent: heartbeats to the agent API at the interval the server asks for.

It is what `manage.py run_agent` runs, for one agent or a simulated fleet. httpx reads
HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment, as agents behind a proxy need.
"""

import logging
import platform
import random
import socket
import threading
from dataclasses import dataclass, field

import httpx

log = logging.getLogger("agent")

VERSION = "1.3.2"
MAX_BACKOFF = 60.0


@dataclass
class AgentSpec:
    name: str
    component: str
    queues: list[str] = field(default_factory=lambda: ["default"])
    slots_total: int = 20


@dataclass
class Agent:
    url: str  # the deployment's agent API URL, ending in /
    token: str
    spec: AgentSpec
    stop: threading.Event
    http: httpx.Client
    interval: float = 15.0
    cordoned: bool | None = None
    cordon_reason: str = ""
    agent_id: str | None = None
    failures: int = 0
    last_status: int | None = None

    def body(self) -> dict:
        return {
            "name": self.spec.name,
            "component": self.spec.component,
            "version": VERSION,
            "queues": self.spec.queues,
            "slots": {"used": 0, "total": self.spec.slots_total},
            "hostname": socket.gethostname(),
            "python_version": platform.python_version(),
        }

    def beat_once(self) -> float:
        """Send one heartbeat; returns how long to wait before the next."""
        try:
            response = self.http.post(
                self.url + "heartbeat",
                json=self.body(),
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.HTTPError as exc:
            log.warning("%s: cannot reach %s: %s", self.spec.name, self.url, exc)
            return self.backoff()
        self.last_status = response.status_code
        if response.status_code != 200:
            log.error(
                "%s: heartbeat refused (%s): %s",
                self.spec.name,
                response.status_code,
                _detail(response),
            )
            return self.backoff(_retry_after(response))
        data = response.json()
        self.failures = 0
        self.interval = float(data.get("heartbeat_interval_seconds", self.interval))
        self.note(data)
        return self.interval

    def note(self, data: dict) -> None:
        """Log what changed since the last answer, once: a (re-)registration, a cordon, an
        uncordon, or a new cordon reason."""
        name, agent_id = self.spec.name, data.get("agent_id")
        cordoned, reason = bool(data.get("cordoned")), data.get("cordon_reason") or ""
        if agent_id != self.agent_id:
            if self.agent_id is None:
                log.info("%s: registered as %s; heartbeat every %ss", name, agent_id, self.interval)
            else:
                log.warning(
                    "%s: registered again as %s (was %s): the console deleted the old agent",
                    name,
                    agent_id,
                    self.agent_id,
                )
            self.agent_id = agent_id
        if cordoned and (not self.cordoned or reason != self.cordon_reason):
            log.warning(
                "%s: %s (%s): taking no new work",
                name,
                "cordon reason changed" if self.cordoned else "cordoned",
                reason or "no reason given",
            )
        elif not cordoned and self.cordoned:
            log.info("%s: uncordoned: taking work again", name)
        self.cordoned, self.cordon_reason = cordoned, reason

    def backoff(self, at_least: float = 0.0) -> float:
        """Exponential backoff with full jitter, so a fleet does not retry in lockstep."""
        self.failures += 1
        ceiling = min(MAX_BACKOFF, 2 ** min(self.failures, 6))
        return max(at_least, random.uniform(ceiling / 2, ceiling))

    def run(self) -> None:
        while not self.stop.is_set():
            wait = self.beat_once()
            self.stop.wait(wait)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
        return f"{data.get('error')}: {data.get('detail')}"
    except ValueError:
        return response.text[:200]


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0


def run_fleet(url: str, token: str, specs: list[AgentSpec], stop: threading.Event) -> list[Agent]:
    """Run every agent in its own thread until `stop` is set; returns them when they are done."""
    if not url.endswith("/"):
        url += "/"
    http = httpx.Client(timeout=10.0, trust_env=True)
    agents = [Agent(url=url, token=token, spec=s, stop=stop, http=http) for s in specs]
    threads = [threading.Thread(target=a.run, name=a.spec.name, daemon=True) for a in agents]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        http.close()
    return agents
