"""Usage (docs/usage.md) and key grace windows (docs/identity-and-access.md) against the real
binary, on both stores. The server flushes usage every 100 ms here (--usage-flush-interval-ms),
so reads show up in listings without waiting long; grace windows are 3 seconds."""
import json
import time

import pytest

from cli_support import Cli
from conftest import (Caller, admin_caller, create_agent, create_user, create_vault, expect,
                      expect_problem, put_secret)

FLUSH_MS = 100


@pytest.fixture
def fast(make_server):
    """A server that flushes usage counts every 100 ms."""
    return make_server(extra_args=["--usage-flush-interval-ms", str(FLUSH_MS)])


def eventually(check, timeout=5.0):
    """Calls check() until it returns a truthy value (or `timeout` seconds pass); returns it."""
    __tracebackhide__ = True
    deadline = time.time() + timeout
    while True:
        got = check()
        if got or time.time() > deadline:
            return got
        time.sleep(0.05)


def listed(caller, vault, **params):
    r = expect(caller.get(f"/vaults/{vault}/secrets", params=params), 200)
    return {s["path"]: s for s in r.json()["secrets"]}


# --- usage -------------------------------------------------------------------------------------


def test_reads_show_up_in_listings_metadata_and_versions_after_a_flush(fast):
    admin = admin_caller(fast)
    vault = create_vault(admin, "usage")
    put_secret(admin, vault, "db/password", value="v1")
    put_secret(admin, vault, "db/password", value="v2")
    put_secret(admin, vault, "idle/key")
    agent = create_agent(admin, "reader")
    expect(admin.post(f"/vaults/{vault}/policies",
                      json={"principal_type": "agent", "principal_id": agent["agent"]["id"],
                            "secret_path_pattern": "db/*", "permissions": ["read"]}), 201)
    bot = Caller(fast, agent["api_key"])
    for _ in range(3):
        expect(bot.get(f"/vaults/{vault}/secrets/db/password"), 200)
    expect(bot.get(f"/vaults/{vault}/secret-version/db/password/1"), 200)

    def counted():
        s = listed(admin, vault)["db/password"]
        return s if s["secret_usage"]["access_count"] == 4 else None
    s = eventually(counted)
    assert s, listed(admin, vault)["db/password"]["secret_usage"]
    assert s["secret_usage"]["last_read_by"] == agent["agent"]["id"]
    assert s["secret_usage"]["last_read_at"] is not None
    assert s["access_count"] == 3 and s["last_read_by"] == agent["agent"]["id"]
    idle = listed(admin, vault)["idle/key"]
    assert idle["secret_usage"] == {"access_count": 0, "last_read_at": None, "last_read_by": None}
    assert idle["last_read_at"] is None

    versions = expect(admin.get(f"/vaults/{vault}/secret-versions/db/password"), 200).json()
    by_number = {v["version"]: v for v in versions["versions"]}
    assert by_number[2]["access_count"] == 3
    assert by_number[1]["access_count"] == 1
    assert by_number[1]["last_read_by"] == agent["agent"]["id"]

    # The agent's own requests set its last use.
    got = expect(admin.get(f"/agents/{agent['agent']['id']}"), 200).json()
    assert got["last_used_at"] is not None


def test_counted_reads_stay_exact(fast):
    admin = admin_caller(fast)
    vault = create_vault(admin, "counted")
    put_secret(admin, vault, "once", max_access_count=2)
    expect(admin.get(f"/vaults/{vault}/secrets/once"), 200)
    # Durable at once, as before: no flush needed.
    assert listed(admin, vault)["once"]["access_count"] == 1
    expect(admin.get(f"/vaults/{vault}/secrets/once"), 200)
    expect(admin.get(f"/vaults/{vault}/secrets/once"), 410)
    s = eventually(lambda: (lambda x: x if x["secret_usage"]["access_count"] == 2 else None)(
        listed(admin, vault)["once"]))
    assert s and s["access_count"] == 2


def test_unused_since_lists_unread_and_never_read_secrets(fast):
    admin = admin_caller(fast)
    vault = create_vault(admin, "unused")
    for path in ("read/a", "never/b", "never/c"):
        put_secret(admin, vault, path)
    expect(admin.get(f"/vaults/{vault}/secrets/read/a"), 200)
    assert eventually(lambda: listed(admin, vault)["read/a"]["secret_usage"]["last_read_at"])
    since = "2000-01-01T00:00:00Z"
    assert sorted(listed(admin, vault, unused_since=since)) == ["never/b", "never/c"]
    # Since a time after every read: all three.
    assert sorted(listed(admin, vault, unused_since="2999-01-01T00:00:00Z")) == [
        "never/b", "never/c", "read/a"]
    expect_problem(admin.get(f"/vaults/{vault}/secrets", params={"unused_since": "last week"}),
                   400, "unused_since")


def test_cli_secrets_unused(fast, tmp_path):
    admin = admin_caller(fast)
    vault = create_vault(admin, "cli-unused")
    put_secret(admin, vault, "used/one")
    put_secret(admin, vault, "stale/two")
    expect(admin.get(f"/vaults/{vault}/secrets/used/one"), 200)
    assert eventually(lambda: listed(admin, vault)["used/one"]["secret_usage"]["last_read_at"])
    cli = Cli(fast, fast.admin_key, str(tmp_path))
    out = json.loads(cli.ok("secrets", "unused", "--since", "30d", "--vault", "cli-unused",
                            "--json"))
    assert [s["path"] for s in out["secrets"]] == ["stale/two"]
    table = cli.ok("secrets", "unused", "--since", "1h")
    assert "stale/two" in table and "never" in table and "used/one" not in table
    cli.fails(2, "secrets", "unused", "--since", "soon")


# --- key grace windows -------------------------------------------------------------------------

GRACE = 3


def audit(server, action):
    r = expect(admin_caller(server).get("/audit", params={"action": action, "limit": 100}), 200)
    return r.json()["events"]


def test_agent_key_grace_window(server):
    admin = admin_caller(server)
    agent = create_agent(admin, "graceful")
    agent_id = agent["agent"]["id"]
    old = Caller(server, agent["api_key"])
    expect(old.get("/me"), 200)
    rotated = expect(admin.post(f"/agents/{agent_id}/rotate-key",
                                json={"grace_seconds": GRACE}), 200).json()
    new = Caller(server, rotated["api_key"])
    start = time.time()
    expect(old.get("/me"), 200)  # during the grace window
    expect(new.get("/me"), 200)
    # The rotation's event records the window.
    events = audit(server, "agent.rotate_key")
    assert any(f"grace_seconds={GRACE}" in (e.get("path") or "") for e in events), events
    time.sleep(max(0, GRACE + 0.3 - (time.time() - start)))
    expect(old.get("/me"), 401)
    expect(new.get("/me"), 200)
    ended = eventually(lambda: audit(server, "agent.key_grace_ended"))
    assert len(ended) == 1, ended
    assert ended[0]["actor_type"] == "system"
    assert agent_id in ended[0]["path"]
    time.sleep(1.2)  # another sweep: still exactly one event
    assert len(audit(server, "agent.key_grace_ended")) == 1


def test_agent_key_without_grace_dies_at_once(server):
    admin = admin_caller(server)
    agent = create_agent(admin, "strict")
    old = Caller(server, agent["api_key"])
    expect(admin.post(f"/agents/{agent['agent']['id']}/rotate-key"), 200)
    expect(old.get("/me"), 401)
    expect(admin.post(f"/agents/{agent['agent']['id']}/rotate-key", json={"grace_seconds": 0}),
           200)


@pytest.mark.parametrize("grace", [-1, 604801, "60", 1.5])
def test_out_of_range_grace_is_400_naming_it(server, grace):
    admin = admin_caller(server)
    agent = create_agent(admin, "bounded")
    old = Caller(server, agent["api_key"])
    expect_problem(admin.post(f"/agents/{agent['agent']['id']}/rotate-key",
                              json={"grace_seconds": grace}), 400, "grace_seconds")
    expect(old.get("/me"), 200)  # nothing rotated


def test_self_rotation_refuses_a_grace(server):
    admin = admin_caller(server)
    agent = create_agent(admin, "selfish")
    r = Caller(server, agent["api_key"]).post(
        "/agents/self/rotate-key",
        json={"rotationSecret": agent["rotation_secret"], "grace_seconds": 60})
    expect_problem(r, 400, "grace_seconds")
    expect(Caller(server, agent["api_key"]).get("/me"), 200)


def test_user_api_key_rotation_with_grace(server):
    user, caller = create_user(server, "rotator")
    keys = expect(caller.get(f"/users/{user['id']}/api-keys"), 200).json()["api_keys"]
    old_id = keys[0]["id"]
    r = expect(caller.post(f"/users/{user['id']}/api-keys/{old_id}/rotate",
                           json={"grace_seconds": GRACE}), 200).json()
    assert r["replaces"] == old_id and r["name"] == keys[0]["name"]
    new = Caller(server, r["api_key"])
    start = time.time()
    expect(caller.get("/me"), 200)
    expect(new.get("/me"), 200)
    listed_keys = {k["id"]: k for k in expect(new.get(f"/users/{user['id']}/api-keys"),
                                              200).json()["api_keys"]}
    assert listed_keys[old_id]["revoked_at"] is not None  # the window's end, in the future
    # Rotating a key already in its window is refused.
    expect(new.post(f"/users/{user['id']}/api-keys/{old_id}/rotate"), 409)
    time.sleep(max(0, GRACE + 0.3 - (time.time() - start)))
    expect(caller.get("/me"), 401)
    expect(new.get("/me"), 200)
    ended = eventually(lambda: audit(server, "user.key_grace_ended"))
    assert len(ended) == 1 and old_id in ended[0]["path"]
    assert audit(server, "apikey.rotate")


def test_user_api_key_rotation_without_grace_and_by_others(server):
    user, caller = create_user(server, "instant")
    _, other = create_user(server, "stranger")
    old_id = expect(caller.get(f"/users/{user['id']}/api-keys"), 200).json()["api_keys"][0]["id"]
    expect(other.post(f"/users/{user['id']}/api-keys/{old_id}/rotate"), 403)
    r = expect(admin_caller(server).post(f"/users/{user['id']}/api-keys/{old_id}/rotate"),
               200).json()
    expect(caller.get("/me"), 401)
    expect(Caller(server, r["api_key"]).get("/me"), 200)


def test_counts_pending_at_shutdown_are_flushed(make_server):
    srv = make_server(extra_args=["--usage-flush-interval-ms", "3600000"])
    admin = admin_caller(srv)
    vault = create_vault(admin, "shutdown")
    put_secret(admin, vault, "kept")
    for _ in range(5):
        expect(admin.get(f"/vaults/{vault}/secrets/kept"), 200)
    assert listed(admin, vault)["kept"]["secret_usage"]["access_count"] == 0  # not flushed yet
    srv.stop()  # SIGTERM: the pending counts go to the store
    srv.start()
    assert listed(admin_caller(srv), vault)["kept"]["secret_usage"]["access_count"] == 5
