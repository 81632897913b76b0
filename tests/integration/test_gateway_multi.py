"""The gateway on two `coffer server` processes sharing one PostgreSQL database: the kill switch
reaches a call in flight on the other server within a second, and rate limits are one budget
for the deployment however calls are spread. Skipped unless COFFER_TEST_PG_URL is set
(scripts/test.sh starts a throwaway cluster and sets it)."""
import os
import shutil
import tempfile
import time

import pytest

from conftest import KEY_RE, Bag, Caller, Server, expect, expect_problem, redact
from fake_llm import FakeLLM
from gateway_support import KILL_WITHIN_S, LOOPBACK_ALLOW, create_binding, make_world, proxy
from test_gateway_attacks import StreamReader
from test_postgres_multi import PG_URL, coffer_init, database  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="COFFER_TEST_PG_URL is not set (scripts/test.sh starts a PostgreSQL "
                       "cluster and sets it)")


@pytest.fixture
def pair(database):  # noqa: F811 (the imported fixture)
    """Servers A and B on one database, both allowed to reach 127.0.0.1, and a fake upstream."""
    with tempfile.TemporaryDirectory(prefix="coffer-gw-pg-") as d, FakeLLM() as fake:
        a_dir, b_dir = os.path.join(d, "a"), os.path.join(d, "b")
        out = coffer_init(a_dir, database)
        assert out.returncode == 0, redact(out.stderr)
        admin_key = KEY_RE.search(out.stdout).group(1)
        os.makedirs(b_dir, mode=0o700)
        shutil.copy2(os.path.join(a_dir, "root.key"), os.path.join(b_dir, "root.key"))
        servers = []
        try:
            for data_dir in (a_dir, b_dir):
                servers.append(Server(data_dir, admin_key,
                                      extra_args=["--store", database, *LOOPBACK_ALLOW]))
            w = make_world(servers[0], fake)
            yield Bag(a=servers[0], b=servers[1], fake=fake, w=w,
                      admin_b=Caller(servers[1], admin_key))
        finally:
            for s in servers:
                s.stop()


def test_deactivating_an_agent_on_one_server_stops_its_stream_on_the_other(pair):
    w, fake = pair.w, pair.fake
    fake.slow_interval, fake.slow_events = 0.05, 1200
    create_binding(w.admin, w.agent_id, "slow", fake.url + "/slow", w.vault, "llm/openai")
    reader = StreamReader(pair.b, "slow", w.agent_key)
    assert reader.status == 200, reader.status
    reader.start()
    assert reader.first.wait(10), "no streamed bytes"
    time.sleep(0.3)
    assert reader.ended_at is None
    expect(w.admin.request("PATCH", f"/agents/{w.agent_id}", json={"is_active": False}), 200)
    t0 = time.monotonic()
    reader.join(10)
    reader.conn.close()
    assert reader.ended_at is not None, "the stream on the other server went on"
    took = reader.ended_at - t0
    assert took <= KILL_WITHIN_S, f"the other server's stream ran {took:.2f} s after deactivation"
    r = proxy(pair.b, "slow", "events", key=w.agent_key)
    assert r.status_code in (401, 403), r.status_code


def test_a_binding_deleted_on_one_server_stops_its_stream_on_the_other(pair):
    w, fake = pair.w, pair.fake
    fake.slow_interval, fake.slow_events = 0.05, 1200
    b = create_binding(w.admin, w.agent_id, "slow", fake.url + "/slow", w.vault,
                       "llm/openai").json()
    reader = StreamReader(pair.b, "slow", w.agent_key)
    assert reader.status == 200, reader.status
    reader.start()
    assert reader.first.wait(10), "no streamed bytes"
    expect(w.admin.delete(f"/agents/{w.agent_id}/bindings/{b['id']}"), 204)
    t0 = time.monotonic()
    reader.join(10)
    reader.conn.close()
    assert reader.ended_at is not None, "the stream on the other server went on"
    took = reader.ended_at - t0
    assert took <= KILL_WITHIN_S, f"the other server's stream ran {took:.2f} s after the delete"
    expect_problem(proxy(pair.b, "slow", "events", key=w.agent_key), 404)


def test_a_binding_rate_limit_is_shared_by_both_servers(pair):
    w = pair.w
    create_binding(w.admin, w.agent_id, "limited", pair.fake.url, w.vault, "llm/openai",
                   guardrails={"max_requests_per_minute": 4})
    answers = [proxy(server, "limited", "v1/models", key=w.agent_key).status_code
               for server in (pair.a, pair.b, pair.a, pair.b, pair.a, pair.b)]
    assert answers == [200, 200, 200, 200, 429, 429], answers
    assert len(pair.fake.calls("/v1/models")) == 4
