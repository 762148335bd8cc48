"""The agent client against a live server: flags, values files, errors, proxies."""

import os
import threading
import time

import pytest
import yaml
from django.core.management import CommandError, call_command

from agents.client import AgentSpec, run_fleet
from agents.models import Agent
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent_url(live_server, deployment):
    return live_server.url + deployment.agent_api_path


@pytest.fixture
def token(deployment):
    return AgentToken.objects.issue(deployment, name="client", expires_in_days=None)[1]


def _run_until(predicate, url, token, specs, timeout=15):
    stop = threading.Event()
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("agents", run_fleet(url, token, specs, stop))
    )
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not predicate():
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=20)
    return result["agents"]


def test_a_simulated_fleet_registers_every_agent(agent_url, token, deployment):
    specs = [AgentSpec(f"sim-{i}", "worker") for i in range(3)] + [
        AgentSpec("sim-trig", "triggerer")
    ]
    agents = _run_until(
        lambda: Agent.objects.filter(deployment=deployment).count() == 4, agent_url, token, specs
    )
    assert Agent.objects.filter(deployment=deployment).count() == 4
    assert all(a.last_status == 200 for a in agents)


def test_it_backs_off_on_a_refused_token(agent_url, deployment):
    bad = "ragt_" + "A" * 32 + "000000"
    agents = _run_until(lambda: False, agent_url, bad, [AgentSpec("nope", "worker")], timeout=1.5)
    assert agents[0].last_status == 401
    assert agents[0].failures >= 1
    assert not Agent.objects.exists()


def test_backoff_grows_with_jitter_and_honours_retry_after():
    from agents.client import Agent as ClientAgent

    agent = ClientAgent(
        url="http://x/", token="t", spec=AgentSpec("a", "worker"), stop=threading.Event(), http=None
    )
    waits = [agent.backoff() for _ in range(8)]
    assert waits[0] <= 2 and waits[-1] >= 30
    assert len({round(w, 3) for w in waits}) == len(waits)  # jittered, not lockstep
    assert agent.backoff(at_least=90) == 90


def _values(tmp_path, **overrides):
    values = {
        "agentApiUrl": "http://127.0.0.1:1/",
        "resourceNamePrefix": "acme",
        "workers": [{"name": "default", "replicas": 2, "queues": ["default"], "syncSlots": 8}],
        "dagProcessor": {"enabled": True},
        "triggerer": {"enabled": False},
        "commonEnv": [{"name": "NO_PROXY", "value": "127.0.0.1,localhost"}],
    }
    values.update(overrides)
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_a_values_file_describes_the_fleet(tmp_path, monkeypatch):
    from agents.management.commands.run_agent import Command

    monkeypatch.delenv("NO_PROXY", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("ragt_secret\n")
    url, token, specs = Command()._from_values(_values(tmp_path, agentTokenFile=str(token_file)))
    assert (url, token) == ("http://127.0.0.1:1/", "ragt_secret")
    assert [s.name for s in specs] == [
        "acme-worker-default-0",
        "acme-worker-default-1",
        "acme-dag-processor",
    ]
    assert specs[0].slots_total == 8
    assert os.environ["NO_PROXY"] == "127.0.0.1,localhost"


def test_a_values_file_with_a_kubernetes_secret_says_what_to_do(tmp_path):
    with pytest.raises(CommandError, match="--token-file"):
        call_command(
            "run_agent", "--values", str(_values(tmp_path, agentTokenSecretName="agent-token"))
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "x"], "--url"),
        (["--url", "http://x/"], "exactly one of --token or --token-file"),
        (["--url", "http://x/", "--token", "x", "--component", "scheduler"], "Unknown component"),
        (["--url", "http://x/", "--token", "x", "--count", "0"], "at least 1"),
        (
            ["--url", "http://x/", "--token-file", "/nonexistent/token"],
            "Cannot read the token file",
        ),
        (["--values", "/nonexistent/values.yaml"], "Cannot read"),
    ],
)
def test_bad_flags_get_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_agent", *args)


@pytest.fixture
def proxy():
    """A small forward proxy on loopback that records what passed through it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("authorization", "content-type")
            }
            upstream = httpx.post(self.path, content=body, headers=headers, trust_env=False)
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def test_it_goes_through_http_proxy(agent_url, token, deployment, proxy, monkeypatch):
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    _run_until(lambda: Agent.objects.exists(), agent_url, token, [AgentSpec("via-proxy", "worker")])
    assert Agent.objects.filter(name="via-proxy").exists()
    assert seen and seen[0] == agent_url + "heartbeat"


def test_no_proxy_bypasses_it(agent_url, token, deployment, proxy, monkeypatch):
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _run_until(lambda: Agent.objects.exists(), agent_url, token, [AgentSpec("direct", "worker")])
    assert Agent.objects.filter(name="direct").exists()
    assert seen == []


def test_it_logs_each_cordon_change_reason_and_re_registration_once(
    agent_url, token, deployment, admin, settings, caplog
):
    settings.HEARTBEAT_INTERVAL_SECONDS = 0.2
    caplog.set_level("INFO", logger="agent")
    stop = threading.Event()
    thread = threading.Thread(
        target=run_fleet, args=(agent_url, token, [AgentSpec("logger", "worker")], stop)
    )
    thread.start()

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 10
        while text not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert text in caplog.text

    try:
        wait_for("logger: registered as")
        agent = Agent.objects.get(deployment=deployment, name="logger")
        agent.cordon(by=admin)
        wait_for("logger: cordoned (no reason given)")
        agent.cordon(by=admin, reason="node pool upgrade")
        wait_for("logger: cordon reason changed (node pool upgrade)")
        agent.terminate(by=admin)
        wait_for("logger: registered again as")
        time.sleep(1)  # a few more heartbeats: nothing new to say
    finally:
        stop.set()
        thread.join(timeout=20)
    messages = [r.getMessage() for r in caplog.records if r.name == "agent"]
    new = Agent.objects.get(deployment=deployment, name="logger", deleted_at__isnull=True)
    assert messages == [
        f"logger: registered as {agent.pk}; heartbeat every 0.2s",
        "logger: cordoned (no reason given): taking no new work",
        "logger: cordon reason changed (node pool upgrade): taking no new work",
        f"logger: registered again as {new.pk} (was {agent.pk}): the console deleted the old agent",
        "logger: uncordoned: taking work again",
    ]
