"""Redis servers of a test's own, on loopback ports, with the binary the console already uses
(astro_ui.embedded_redis.binary()): a single server to misbehave, or a 3-node cluster."""

import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager

import redis

from astro_ui import embedded_redis


def _wait(port: int) -> None:
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    for _ in range(100):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"redis-server on port {port} did not start")


@contextmanager
def redis_servers(ports: list[int], *extra: str):
    folder = tempfile.mkdtemp(prefix="ra-redis-")
    processes = []
    try:
        for port in ports:
            command = [
                embedded_redis.binary(),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", folder,
                "--dbfilename", f"{port}.rdb",
                *(arg.format(port=port) for arg in extra),
            ]  # fmt: skip
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        for port in ports:
            _wait(port)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_cluster(ports: list[int]):
    """Three masters on loopback, every slot assigned, ready for commands."""
    cluster = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes-{port}.conf")
    with redis_servers(ports, *cluster):
        yield _form_cluster(ports)


def _form_cluster(ports: list[int]) -> list[int]:
    clients = [redis.Redis(port=p) for p in ports]
    per = 16384 // len(ports)
    for i, client in enumerate(clients):
        last = 16383 if i == len(ports) - 1 else (i + 1) * per - 1
        client.execute_command("CLUSTER ADDSLOTS", *range(i * per, last + 1))
    for client in clients[1:]:
        client.execute_command("CLUSTER MEET", "127.0.0.1", ports[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        infos = [c.cluster("INFO") for c in clients]
        if all(
            i["cluster_state"] == "ok" and int(i["cluster_known_nodes"]) == len(ports)
            for i in infos
        ):
            return ports
        time.sleep(0.1)
    raise AssertionError(f"the cluster did not form: {infos}")
