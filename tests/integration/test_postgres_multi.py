"""Two real `coffer server` processes on one PostgreSQL database: counted reads,
versions, the self-rotation rate limit, credential rotation and revocation, policies and the audit
chain must behave as one deployment however requests are spread. Skipped unless
COFFER_TEST_PG_URL names a database whose user may create databases (scripts/test.sh starts a
throwaway cluster and sets it). Each test gets a database of its own, dropped afterwards."""
import concurrent.futures
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import (COFFER_BIN, KEY_RE, Bag, Caller, Server, create_agent, expect,
                      expect_problem, grant, public_id, put_secret, redact)

PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not PG_URL, reason="COFFER_TEST_PG_URL is not set (scripts/test.sh starts a PostgreSQL "
                       "cluster and sets it)")


def psql(sql, url=PG_URL):
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def database_url(name):
    head, _, _ = PG_URL.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def database():
    """A fresh, empty database; its URL."""
    name = "coffer_it_" + uuid.uuid4().hex[:16]
    psql(f"CREATE DATABASE {name}")
    yield database_url(name)
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def coffer_init(data_dir, store_url):
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir, "--store", store_url],
                         capture_output=True, text=True, timeout=60)
    return out


@pytest.fixture
def pair(database):
    """Servers A and B on one database, each with its own data dir holding the same root key
    (as two machines would have it), and the admin key `coffer init` printed."""
    with tempfile.TemporaryDirectory(prefix="coffer-pg-") as d:
        a_dir, b_dir = os.path.join(d, "a"), os.path.join(d, "b")
        out = coffer_init(a_dir, database)
        assert out.returncode == 0, redact(out.stderr)
        admin_key = KEY_RE.search(out.stdout).group(1)
        os.makedirs(b_dir, mode=0o700)
        shutil.copy2(os.path.join(a_dir, "root.key"), os.path.join(b_dir, "root.key"))
        # A reads the store URL from a TOML file, B from COFFER_STORE (init used --store).
        toml = os.path.join(d, "coffer.toml")
        with open(toml, "w") as f:
            f.write(f'store = "{database}"\n')
        servers = []
        try:
            servers.append(Server(a_dir, admin_key, extra_args=["--config", toml]))
            servers.append(Server(b_dir, admin_key, env={"COFFER_STORE": database}))
            yield Bag(a=servers[0], b=servers[1], url=database,
                      admin_a=Caller(servers[0], admin_key), admin_b=Caller(servers[1], admin_key))
        finally:
            for s in servers:
                s.stop()


def run_concurrently(calls, workers=16):
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def new_vault(caller, name="shared"):
    return expect(caller.post("/vaults", json={"name": name}), 201).json()["id"]


def test_max_access_count_gives_exactly_k_reads_spread_over_both_servers(pair):
    vault = new_vault(pair.admin_a)
    put_secret(pair.admin_a, vault, "once/token", value="only-seven-times", max_access_count=7)
    callers = [pair.admin_a, pair.admin_b]
    path = f"/vaults/{vault}/secrets/once/token"
    # One read through each server first, so both hand out reads whichever answers faster
    # below; then the rest race through both at once.
    first = [expect(c.get(path), 200) for c in callers]
    responses = run_concurrently([lambda c=callers[i % 2]: c.get(path) for i in range(38)])
    ok = [r for r in responses if r.status_code == 200]
    gone = [r for r in responses if r.status_code == 410]
    assert len(ok) == 5, [r.status_code for r in responses]
    assert len(gone) == 33
    assert sorted(r.json()["access_count"] for r in first + ok) == list(range(1, 8))
    assert all(r.json()["value"] == "only-seven-times" for r in first + ok)


def test_concurrent_puts_through_both_servers_get_dense_unique_versions(pair):
    vault = new_vault(pair.admin_a)
    callers = [pair.admin_a, pair.admin_b]
    responses = run_concurrently([
        lambda i=i: callers[i % 2].put(f"/vaults/{vault}/secrets/hot/path",
                                       json={"type": "password", "value": f"v{i}"})
        for i in range(60)])
    assert [r.status_code for r in responses] == [201] * 60
    assert sorted(r.json()["version"] for r in responses) == list(range(1, 61))
    versions = expect(pair.admin_b.get(f"/vaults/{vault}/secret-versions/hot/path"), 200).json()
    listed = versions["versions"] if isinstance(versions, dict) else versions
    assert [v["version"] for v in listed] == list(range(60, 0, -1))


def test_self_rotation_limit_is_one_budget_per_ip_across_servers(pair):
    agent = create_agent(pair.admin_a, "limited")
    wrong = {"rotationSecret": "cfr_rot_" + "x" * 12 + "_" + "y" * 43 + "_" + "z" * 6}
    # Three attempts (wrong secret: refused, but counted) spread over both servers …
    for server in (pair.a, pair.b, pair.a):
        r = Caller(server, agent["api_key"]).post("/agents/self/rotate-key", json=wrong)
        expect(r, 401)
    # … use up the budget of 127.0.0.1 on both: the right secret is now refused on either.
    for server in (pair.b, pair.a):
        r = Caller(server, agent["api_key"]).post(
            "/agents/self/rotate-key", json={"rotationSecret": agent["rotation_secret"]})
        expect_problem(r, 429)
        assert r.headers.get("Retry-After", "").isdigit()
    expect(Caller(pair.b, agent["api_key"]).me(), 200)  # nothing was rotated


# How long a change made through one server may still go unenforced on another: each server
# keeps credentials, vaults and policies in memory and hears of the others' changes through
# PostgreSQL LISTEN/NOTIFY (docs/multi-node.md).
ENFORCED_WITHIN = 1.0


def enforced_within(check, deadline=ENFORCED_WITHIN):
    """Polls `check` (True once the change is enforced) from now until `deadline` seconds have
    passed; returns the seconds it took, or fails."""
    __tracebackhide__ = True
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > deadline:
            pytest.fail(f"not enforced within {deadline} s")
        time.sleep(0.005)


def reader_of_a_secret(admin):
    """A new vault holding db/password, and an agent (with its API key) that may read it."""
    vault = new_vault(admin)
    put_secret(admin, vault, "db/password", value="pw")
    agent = create_agent(admin, "worker")
    grant(admin, vault, agent["id"], "db/**", ["read"])
    return vault, agent


def test_a_rotated_or_revoked_credential_is_refused_by_the_other_server_within_a_second(pair):
    vault, agent = reader_of_a_secret(pair.admin_a)
    old_key = agent["api_key"]
    # Warm B: the key and a JWT exchanged for it work there (and are now in its memory).
    expect(Caller(pair.b, old_key).get(f"/vaults/{vault}/secrets/db/password"), 200)
    jwt = expect(Caller(pair.b).post("/auth/token", json={"api_key": old_key}), 200).json()[
        "access_token"]
    expect(Caller(pair.b, jwt).me(), 200)

    # The owner rotates the key through A; B refuses the old key and its JWT within a second.
    rotated = expect(pair.admin_a.post(f"/agents/{agent['id']}/rotate-key"), 200).json()
    new_key = rotated.get("api_key") or rotated.get("apiKey")
    new_rot = rotated.get("rotation_secret") or rotated.get("rotationSecret")
    enforced_within(lambda: Caller(pair.b, old_key).get(
        f"/vaults/{vault}/secrets/db/password").status_code == 401)
    enforced_within(lambda: Caller(pair.b, jwt).me().status_code == 401)
    expect_problem(Caller(pair.b, old_key).get(f"/vaults/{vault}/secrets/db/password"), 401)
    expect(Caller(pair.b, new_key).get(f"/vaults/{vault}/secrets/db/password"), 200)

    # The agent rotates itself through B; A refuses what B replaced.
    expect(Caller(pair.a, new_key).me(), 200)
    r = Caller(pair.b, new_key).post("/agents/self/rotate-key", json={"rotationSecret": new_rot})
    third_key = expect(r, 200).json()["apiKey"]
    enforced_within(lambda: Caller(pair.a, new_key).me().status_code == 401)
    expect(Caller(pair.a, third_key).me(), 200)

    # A policy deleted through B stops granting on A.
    policies = expect(pair.admin_a.get(f"/vaults/{vault}/policies"), 200).json()["policies"]
    expect(Caller(pair.a, third_key).get(f"/vaults/{vault}/secrets/db/password"), 200)
    expect(pair.admin_b.delete(f"/vaults/{vault}/policies/{policies[0]['id']}"), 204)
    enforced_within(lambda: Caller(pair.a, third_key).get(
        f"/vaults/{vault}/secrets/db/password").status_code in (403, 404))

    # Revoked through B: A says 403 (a revoked agent), never 200.
    expect(pair.admin_b.delete(f"/agents/{agent['id']}"), 204)
    enforced_within(lambda: Caller(pair.a, third_key).me().status_code == 403)
    expect_problem(Caller(pair.a, third_key).me(), 403)


def test_a_revoked_agent_is_refused_by_the_other_server_within_a_second(pair):
    """Its API key, a JWT it already holds, and a new JWT exchange."""
    vault, agent = reader_of_a_secret(pair.admin_a)
    key = agent["api_key"]
    jwt = expect(Caller(pair.b).post("/auth/token", json={"api_key": key}), 200).json()[
        "access_token"]
    for token in (key, jwt):
        expect(Caller(pair.b, token).get(f"/vaults/{vault}/secrets/db/password"), 200)
    expect(pair.admin_a.delete(f"/agents/{agent['id']}"), 204)
    enforced_within(lambda: Caller(pair.b, key).get(
        f"/vaults/{vault}/secrets/db/password").status_code == 403)
    # A JWT of a revoked agent is refused as one of a revoked credential.
    enforced_within(lambda: Caller(pair.b, jwt).get(
        f"/vaults/{vault}/secrets/db/password").status_code == 401)
    expect_problem(Caller(pair.b).post("/auth/token", json={"api_key": key}), 403)


def test_a_revoked_user_key_is_refused_by_the_other_server_within_a_second(pair):
    user = expect(pair.admin_a.post("/users", json={"name": "alice"}), 201).json()
    key = expect(pair.admin_a.post(f"/users/{user['id']}/api-keys", json={"name": "k"}), 201).json()
    expect(Caller(pair.b, key["api_key"]).me(), 200)
    jwt = expect(Caller(pair.b).post("/auth/token", json={"api_key": key["api_key"]}), 200).json()[
        "access_token"]
    expect(pair.admin_a.delete(f"/users/{user['id']}/api-keys/{public_id(key['api_key'])}"),
           204)
    enforced_within(lambda: Caller(pair.b, key["api_key"]).me().status_code == 401)
    enforced_within(lambda: Caller(pair.b, jwt).me().status_code == 401)
    expect_problem(Caller(pair.b).post("/auth/token", json={"api_key": key["api_key"]}), 401)


def test_policies_added_and_removed_and_a_vault_deleted_on_one_server_hold_on_the_other(pair):
    vault = new_vault(pair.admin_a)
    put_secret(pair.admin_a, vault, "app/token", value="t")
    agent = create_agent(pair.admin_a, "reader")
    reader = Caller(pair.b, agent["api_key"])
    route = f"/vaults/{vault}/secrets/app/token"
    assert reader.get(route).status_code in (403, 404)  # B now holds "no policy" in memory
    policy = grant(pair.admin_a, vault, agent["id"], "app/*", ["read"])
    enforced_within(lambda: reader.get(route).status_code == 200)
    expect(pair.admin_a.delete(f"/vaults/{vault}/policies/{policy['id']}"), 204)
    enforced_within(lambda: reader.get(route).status_code in (403, 404))
    # The vault, as B holds it in memory, goes with its deletion through A.
    expect(pair.admin_b.get(f"/vaults/{vault}"), 200)
    expect(pair.admin_a.delete(f"/vaults/{vault}"), 204)
    enforced_within(lambda: pair.admin_b.get(f"/vaults/{vault}").status_code == 404)


def test_a_policy_updated_on_one_server_holds_on_the_other(pair):
    """PUT of a policy through A: B, which holds the vault's policies in memory, enforces the
    update (here a turn to deny, then an allow list that excludes the caller) within a second."""
    vault = new_vault(pair.admin_a)
    put_secret(pair.admin_a, vault, "app/token", value="t")
    agent = create_agent(pair.admin_a, "reader")
    reader = Caller(pair.b, agent["api_key"])
    route = f"/vaults/{vault}/secrets/app/token"
    policy = grant(pair.admin_a, vault, agent["id"], "app/*", ["read"])
    enforced_within(lambda: reader.get(route).status_code == 200)
    policy_route = f"/vaults/{vault}/policies/{policy['id']}"
    expect(pair.admin_a.put(policy_route, json={"effect": "deny"}), 200)
    enforced_within(lambda: reader.get(route).status_code == 403)
    expect(pair.admin_a.put(policy_route, json={"effect": "allow"}), 200)
    enforced_within(lambda: reader.get(route).status_code == 200)
    expect(pair.admin_a.put(policy_route, json={"conditions": {"ip_allowlist": ["10.0.0.0/8"]}}),
           200)
    enforced_within(lambda: reader.get(route).status_code == 403)
    assert expect(pair.admin_b.get(policy_route), 200).json()["conditions"] == {
        "ip_allowlist": ["10.0.0.0/8"]}


def test_a_lost_change_feed_connection_never_lets_a_revoked_key_through(pair):
    """B's LISTEN connection is closed by the database; a revocation through A meanwhile is
    still enforced on B within a second (B reads the store until it listens again), and B
    recovers."""
    agent = create_agent(pair.admin_a, "worker")
    key = agent["api_key"]
    expect(Caller(pair.b, key).me(), 200)
    terminated = psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                      " WHERE application_name = 'coffer-change-feed'"
                      " AND datname = current_database()", pair.url)
    assert int(terminated) == 2  # one per server
    expect(pair.admin_a.delete(f"/agents/{agent['id']}"), 204)
    enforced_within(lambda: Caller(pair.b, key).me().status_code == 403)
    other = create_agent(pair.admin_a, "after")
    expect(Caller(pair.b, other["api_key"]).me(), 200)
    enforced_within(lambda: psql("SELECT count(*) FROM pg_stat_activity"
                                 " WHERE application_name = 'coffer-change-feed'"
                                 " AND datname = current_database()", pair.url) == "2",
                    deadline=10)
    expect(pair.admin_a.delete(f"/agents/{other['id']}"), 204)
    enforced_within(lambda: Caller(pair.b, other["api_key"]).me().status_code == 403)


def test_time_to_enforcement_on_the_other_server(pair):
    """20 revocations through A, each of an agent whose key B holds in memory: how long after
    A's answer B first refuses the key. Printed (pytest -s) and bounded by ENFORCED_WITHIN."""
    vault = new_vault(pair.admin_a)
    put_secret(pair.admin_a, vault, "db/password", value="pw")
    took = []
    for i in range(20):
        agent = create_agent(pair.admin_a, f"timed-{i}")
        grant(pair.admin_a, vault, agent["id"], "db/**", ["read"])
        on_b = Caller(pair.b, agent["api_key"])
        route = f"/vaults/{vault}/secrets/db/password"
        enforced_within(lambda: on_b.get(route).status_code == 200)
        expect(on_b.get(route), 200)
        expect(pair.admin_a.delete(f"/agents/{agent['id']}"), 204)
        took.append(enforced_within(lambda: on_b.get(route).status_code == 403))
    took.sort()
    print(f"\ntime to enforcement on the other server over {len(took)} revocations: "
          f"median {statistics.median(took) * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms")
    assert took[-1] < ENFORCED_WITHIN


def test_the_audit_chain_verifies_after_mixed_traffic_through_both(pair):
    vault = new_vault(pair.admin_a)
    callers = [pair.admin_a, pair.admin_b]
    anonymous = [Caller(pair.a, "cfr_key_bogus"), Caller(pair.b)]

    def traffic(i):
        c = callers[i % 2]
        if i % 5 == 0:
            return anonymous[i % 2].get(f"/vaults/{vault}/secrets/s{i % 3}")
        if i % 5 == 1:
            return c.get(f"/vaults/{vault}/secrets/s{i % 3}")
        if i % 5 == 2:
            return c.get(f"/vaults/{vault}/secrets")
        return c.put(f"/vaults/{vault}/secrets/s{i % 3}", json={"type": "note", "value": f"{i}"})

    run_concurrently([lambda i=i: traffic(i) for i in range(120)])
    for admin in callers:
        body = expect(admin.get("/audit/verify"), 200).json()
        assert body["ok"] is True, body
        assert body["first_broken_seq"] is None
    a = expect(pair.admin_a.get("/audit/verify"), 200).json()
    b = expect(pair.admin_b.get("/audit/verify"), 200).json()
    assert b["events_checked"] >= a["events_checked"] > 120
    seqs = [int(s) for s in psql("SELECT seq FROM audit_events ORDER BY seq", pair.url).split()]
    assert seqs == list(range(1, len(seqs) + 1)), "seq is dense across both servers"


def test_two_inits_racing_on_a_fresh_database_initialize_it_once(database):
    with tempfile.TemporaryDirectory(prefix="coffer-pg-") as d:
        dirs = [os.path.join(d, name) for name in ("a", "b", "c")]
        outs = run_concurrently([lambda p=p: coffer_init(p, database) for p in dirs], workers=3)
    codes = sorted(o.returncode for o in outs)
    assert codes[0] == 0 and codes.count(0) == 1, [redact(o.stderr) for o in outs]
    assert psql("SELECT count(*) = max(version) FROM schema_migrations", database) == "t"
    assert psql("SELECT count(*) FROM users", database) == "1"
    for o in outs:
        if o.returncode != 0:
            assert "error:" in o.stderr and "cfr_key_" not in o.stdout


def test_expiry_is_judged_on_the_database_clock_by_both_servers(pair):
    """A secret that expires two seconds from now by the database's clock is readable on both
    servers until then and gone on both after (their rule clock is the database's)."""
    vault = new_vault(pair.admin_a)
    soon = psql("SELECT to_char((now() + interval '2 seconds') AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", pair.url)
    put_secret(pair.admin_a, vault, "short/lived", value="tmp", expires_at=soon)
    expect(pair.admin_b.get(f"/vaults/{vault}/secrets/short/lived"), 200)
    psql("SELECT pg_sleep(2.2)", pair.url)
    for admin in (pair.admin_a, pair.admin_b):
        expect_problem(admin.get(f"/vaults/{vault}/secrets/short/lived"), 410, "expired")
