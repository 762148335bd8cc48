"""The agent client against a live server: flags, values files, errors, proxies."""

import os
import threading
import time

import pytest
import yaml
from django.core.management import CommandError, call_command

from agents.client import AgentSpec, run_fleet
from agents.models import Agent
from tests.onboarding.vendor_format import VENDOR_LIKE_FILE
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
        "astroDeploymentAPIURL": "http://127.0.0.1:1/",
        "resourceNamePrefix": "acme",
        "agentTokenSecretName": None,
        "agentToken": None,
        "workers": [{"name": "default", "replicas": 2, "queues": "default", "syncSlots": 8}],
        "triggerer": {"replicas": 1, "asyncSlots": 500},
        "commonEnv": [{"name": "NO_PROXY", "value": "127.0.0.1,localhost"}],
    }
    values.update(overrides)
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _read(path, **opts):
    from agents.management.commands.run_agent import Command

    return Command()._from_values(path, {"token": None, "token_file": None, **opts})


def test_a_values_file_describes_the_fleet(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("AGENT_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("ragt_secret\n")
    url, token, specs = _read(_values(tmp_path, agentTokenFile=str(token_file)))
    assert (url, token) == ("http://127.0.0.1:1/", "ragt_secret")
    assert [(s.name, s.component, s.queues, s.slots_total) for s in specs] == [
        ("acme-worker-default-0", "worker", ["default"], 8),
        ("acme-worker-default-1", "worker", ["default"], 8),
        ("acme-dag-processor", "dag-processor", [], 0),
        ("acme-triggerer", "triggerer", [], 500),
    ]
    assert os.environ["NO_PROXY"] == "127.0.0.1,localhost"


def test_a_token_in_a_kubernetes_secret_comes_from_the_token_file_flag(tmp_path):
    token_file = tmp_path / "t"
    token_file.write_text("ragt_from_file\n")
    path = _values(tmp_path, agentTokenSecretName="agent-token")
    _, token, specs = _read(path, token_file=token_file)
    assert token == "ragt_from_file"
    assert len(specs) == 4  # the file's layout, not one agent from the flags


def test_a_token_in_a_kubernetes_secret_comes_from_agent_token(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_TOKEN", " ragt_from_env \n")
    _, token, _ = _read(_values(tmp_path, agentTokenSecretName="agent-token"))
    assert token == "ragt_from_env"


def test_a_values_file_with_a_kubernetes_secret_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENT_TOKEN", raising=False)
    path = _values(tmp_path, agentTokenSecretName="agent-token")
    with pytest.raises(CommandError, match=r"'agent-token'.*--token-file FILE or in AGENT_TOKEN"):
        call_command("run_agent", "--values", str(path))


def test_it_still_reads_the_url_key_of_older_files(tmp_path):
    path = _values(tmp_path, agentApiUrl="http://old.example/", astroDeploymentAPIURL=None)
    assert _read(path, token="ragt_x")[0] == "http://old.example/"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"astroDeploymentAPIURL": None}, "has no astroDeploymentAPIURL"),
        ({"astroDeploymentAPIURL": "<your-astro-deployment-api-url>"}, "fill in"),
        ({"workers": [["not", "a", "mapping"]]}, r"workers\[0\] is not a mapping"),
        ({"workers": [{"name": "w", "replicas": "many"}]}, "many"),
        ({"triggerer": ["x"]}, "values.yaml"),
    ],
)
def test_a_broken_values_file_gets_a_clear_error(tmp_path, changes, message):
    with pytest.raises(CommandError, match=message):
        _read(_values(tmp_path, **changes), token="ragt_x")


def test_it_reads_the_vendor_consoles_file_and_runs_its_fleet(
    tmp_path, agent_url, token, deployment, monkeypatch
):
    monkeypatch.delenv("NO_PROXY", raising=False)
    path = tmp_path / "values.yaml"
    path.write_text(VENDOR_LIKE_FILE.replace("<api-url>", agent_url))
    token_file = tmp_path / "token"
    token_file.write_text(token)
    url, read_token, specs = _read(path, token_file=token_file)
    assert (url, read_token) == (agent_url, token)
    assert [(s.name, s.queues, s.slots_total) for s in specs] == [
        ("acme-agents-worker-default-worker-0", ["default"], 20),
        ("acme-agents-worker-default-worker-1", ["default"], 20),
        ("acme-agents-worker-ml-0", ["gpu", "ml-batch"], 4),
        ("acme-agents-dag-processor", [], 0),
        ("acme-agents-triggerer", [], 1000),
    ]
    _run_until(lambda: deployment.agents.count() == 5, url, read_token, specs)
    ml = Agent.objects.get(deployment=deployment, name="acme-agents-worker-ml-0")
    assert (ml.queues, ml.slots_total) == (["gpu", "ml-batch"], 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "x"], "--url"),
        (["--url", "http://x/"], "--token-file, --token or AGENT_TOKEN"),
        (["--url", "http://x/", "--token", "x", "--token-file", "/t"], "only one of"),
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
