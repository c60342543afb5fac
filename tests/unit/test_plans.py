"""Plans: built once, handed whole to a child, read back the same."""

from __future__ import annotations

import pytest

from arbitrex.errors import ConfigError
from arbitrex.plans import ArchivePlan, CollectPlan, ServePlan, from_json, to_json


def test_a_plan_reads_back_as_it_was_written():
    plan = CollectPlan(source="sim", symbols="EURUSD,XAUUSD", venues=("icm", "pepper"),
                       rate=200.0, seed=7, poll_interval=0.02, store="redis",
                       env_file="my.env", started_ns=123, role="up")
    assert from_json(CollectPlan, to_json(plan)) == plan
    serve = ServePlan("127.0.0.1", 8001, store="redis")
    assert from_json(ServePlan, to_json(serve)) == serve
    assert from_json(ArchivePlan, to_json(ArchivePlan(30))) == ArchivePlan(30)


def test_a_worker_gets_its_parents_plan_for_one_venue():
    parent = CollectPlan(source="sim", venues=("icm", "pepper"), metrics_port=9100,
                         started_ns=42)
    worker = parent.worker("pepper", board=True)
    assert (worker.venue, worker.role, worker.board, worker.metrics_port) == \
        ("pepper", "worker", True, None)
    assert worker.started_ns == 42 and worker.venues == parent.venues  # one common path
    assert not worker.archives and parent.archives
    command = worker.command()
    assert command[-3:-1] == ["collect", "--plan"]
    assert from_json(CollectPlan, command[-1]) == worker


@pytest.mark.parametrize("text", ["", "[]", '{"sauce": 1}', "{"])
def test_a_bad_plan_is_a_configuration_error(text):
    with pytest.raises(ConfigError, match="plan: not a CollectPlan"):
        from_json(CollectPlan, text)
