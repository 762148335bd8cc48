"""Every Redis key the agent API's heartbeat touches, and the counters it keeps.

One heartbeat runs one Lua script (agents/heartbeat.lua) over the keys of one deployment. They all
carry the deployment's hash tag, `ra:{<deployment id>}:…`, so on a Redis Cluster they live in one
slot and the script runs there unchanged. The modules that own each cache (tokens/cache.py,
deployments/cache.py, agents/store.py) build their keys here; nothing else spells them.

Per deployment (`{dep}` is the deployment id):
- `ra:{dep}:conf`        hash: `enabled` ("1"/"0": remote execution switch), `ranges` (the allowed
                         IP ranges as JSON) and `rv` (their version). Filled from the database on
                         a miss, rewritten when a change commits, deleted when that write fails.
- `ra:{dep}:tok:<sha256>` the cached state of one agent token as seen from this deployment:
                         JSON {"id", "name", "exp", "revoked"}, {"wrong": <its deployment>} for a
                         token of another deployment, "{}" for an unknown digest, "stale" after a
                         revoke.
- `ra:{dep}:agents`      hash name -> {"id", "cordon"}: registered agents and their cordon state.
- `ra:{dep}:seen`        zset agent id -> time of its last heartbeat (the source of health).
- `ra:{dep}:hb`          hash agent id -> the last heartbeat body, waiting for the flush.
- `ra:{dep}:dirty`       marker: this deployment is already announced in `ra:dirty` (expires).
- `ra:{dep}:ver`         counter: changes whenever what the Agents table shows changes.
- `ra:{dep}:guess:<ip>`  failed token attempts from one address (expires; see the throttle).
- `ra:{dep}:runs`        hash test run id -> {"queue", "agent"}: runs no agent has taken yet
                         (agents/run_queue.py). Read by every heartbeat, empty almost always.
- `ra:{dep}:stats`       hash of counters for metrics: `heartbeats` (accepted heartbeats) and
                         `refused:<error code>` (refused agent API requests, by their `error`).
Global (never touched by the script, each command on one key):
- `ra:stats:refused`     hash <error code> -> count, for requests whose deployment is unknown or
                         whose id is malformed.
- `ra:guess:<ip>`        failed look-ups of unknown deployments or tokens from one address.
- `ra:dirty`             set of deployments with heartbeats waiting for the flush.
- `ra:epoch`             when this Redis first held our data.
"""

DIRTY = "ra:dirty"
EPOCH = "ra:epoch"
REFUSED = "ra:stats:refused"


def deployment(dep) -> str:
    """The prefix of every key of one deployment: its hash tag keeps them in one cluster slot."""
    return f"ra:{{{dep}}}"


def conf(dep) -> str:
    return f"{deployment(dep)}:conf"


def token(dep, digest: str) -> str:
    return f"{deployment(dep)}:tok:{digest}"


def agents(dep) -> str:
    return f"{deployment(dep)}:agents"


def seen(dep) -> str:
    return f"{deployment(dep)}:seen"


def hb(dep) -> str:
    return f"{deployment(dep)}:hb"


def dirty(dep) -> str:
    return f"{deployment(dep)}:dirty"


def ver(dep) -> str:
    return f"{deployment(dep)}:ver"


def guess(dep, ip: str) -> str:
    return f"{deployment(dep)}:guess:{ip}"


def stats(dep) -> str:
    return f"{deployment(dep)}:stats"


def global_guess(ip: str) -> str:
    return f"ra:guess:{ip}"


def runs(dep) -> str:
    return f"{deployment(dep)}:runs"


def heartbeat_keys(dep, digest: str, ip: str) -> list[str]:
    """KEYS of agents/heartbeat.lua, in its order."""
    return [
        conf(dep),
        token(dep, digest),
        agents(dep),
        seen(dep),
        hb(dep),
        dirty(dep),
        stats(dep),
        guess(dep, ip),
        runs(dep),
    ]
