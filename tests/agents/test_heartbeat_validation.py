"""The hot path validates heartbeats with a lean function; HeartbeatSerializer is the documented
contract. The function must never accept what the contract rejects."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from agents.api import HeartbeatSerializer, validate_heartbeat

text = st.one_of(
    st.sampled_from(["worker-0", "w.1_a", "1.3.2", "1.3.2-rc.1", "", " ", "bad name", "latest"]),
    st.text(max_size=300),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)
count = st.one_of(st.integers(min_value=-5, max_value=1_000_005), st.text(max_size=3), st.none())
body = st.fixed_dictionaries(
    {},
    optional={
        "name": text,
        "component": st.sampled_from(["worker", "dag-processor", "triggerer", "scheduler", 3]),
        "version": text,
        "queues": st.one_of(st.lists(text, max_size=4), text),
        "slots": st.one_of(st.fixed_dictionaries({"used": count, "total": count}), text),
        "hostname": text,
        "airflow_version": text,
        "python_version": text,
        "running_tasks": count,
    },
)


def _lean(data):
    try:
        validate_heartbeat(data)
    except ValidationError as exc:
        return set(exc.detail)
    return set()


@settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(body)
def test_the_lean_validator_is_at_least_as_strict_as_the_contract(data):
    contract = HeartbeatSerializer(data=data)
    contract_ok = contract.is_valid()
    lean_errors = _lean(data)
    if not contract_ok:
        assert lean_errors, f"accepted what the contract rejects: {contract.errors}"


def test_a_well_formed_body_passes_both():
    data = {
        "name": "worker-0",
        "component": "worker",
        "version": "1.3.2",
        "queues": ["default", "gpu"],
        "slots": {"used": 2, "total": 20},
        "hostname": "worker-0.agents",
        "running_tasks": 2,
    }
    assert HeartbeatSerializer(data=data).is_valid()
    assert validate_heartbeat(data) == data
