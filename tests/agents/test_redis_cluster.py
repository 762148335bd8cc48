"""The agent API's data on a real 3-node Redis Cluster (AGENT_REDIS_URL=redis+cluster://…)."""

import pytest
from redis.cluster import RedisCluster

from agents import store
from agents.models import Agent, Health
from astro_ui import keys
from tests.redis_servers import redis_cluster

pytestmark = pytest.mark.django_db

PORTS = [18250, 18251, 18252]


@pytest.fixture(scope="module")
def cluster():
    with redis_cluster(PORTS):
        yield RedisCluster(host="127.0.0.1", port=PORTS[0])


@pytest.fixture
def on_cluster(cluster, settings):
    cluster.flushall()  # this test's own servers
    settings.AGENT_REDIS_URL = f"redis+cluster://127.0.0.1:{PORTS[0]}"
    return cluster


def test_heartbeats_cordon_delete_flush_and_sweep_run_on_a_cluster(
    on_cluster, beat, deployment, admin, age_heartbeat, django_capture_on_commit_callbacks
):
    first = beat(name="worker-0").json()
    beat(name="worker-1", slots={"used": 3, "total": 20})
    assert beat(name="worker-0").status_code == 200
    agents = {a.name: a for a in Agent.objects.all()}
    assert set(agents) == {"worker-0", "worker-1"}
    # The deployment's keys share one slot; other deployments' land elsewhere.
    assert len({on_cluster.keyslot(k) for k in keys.heartbeat_keys(deployment.pk, "d", "ip")}) == 1
    assert on_cluster.zcard(keys.seen(deployment.pk)) == 2

    assert Agent.objects.flush_heartbeats() == 0  # registration stored the bodies already
    beat(name="worker-1", slots={"used": 7, "total": 20})
    assert Agent.objects.flush_heartbeats() == 1
    assert Agent.objects.get(name="worker-1").slots_used == 7

    with django_capture_on_commit_callbacks(execute=True):
        agents["worker-0"].cordon(by=admin, reason="drain")
    assert beat(name="worker-0").json()["cordoned"] is True

    store.client().set(store.EPOCH, store.now() - 3600)
    age_heartbeat(agents["worker-1"], 120)
    assert Agent.objects.sweep() == 1
    assert Agent.objects.get(name="worker-1").health == Health.UNHEALTHY

    with django_capture_on_commit_callbacks(execute=True):
        agents["worker-0"].terminate(by=admin)
    again = beat(name="worker-0").json()
    assert again["agent_id"] != first["agent_id"]
    assert store.version(deployment.pk)


def test_refusals_and_the_throttle_work_on_a_cluster(on_cluster, beat, deployment):
    assert beat(token="ragt_nope").json()["error"] == "token_malformed"
    assert on_cluster.hget(keys.stats(deployment.pk), "refused:token_malformed") == b"1"
