"""Rotation the server runs (docs/rotation.md), against the real binary on both stores: policies
validated with the field named, schedules set and removed without a new version, due secrets
rotated by the server with a system actor, `notify`, exactly once per due time with two servers
on one PostgreSQL database, and a due time missed while down caught up once after a restart.
Due times are moved into the past in the store rather than waited for, so no test waits more
than a few seconds."""
import json
import os
import tempfile
import time

import pytest

from cli_support import EXIT_USAGE, cli, table_rows  # noqa: F401  (cli is a fixture)
from conftest import Caller, Server, expect, expect_problem, put_secret, when

FAST = ["--scheduler-interval-ms", "100", "--rotation-min-interval-seconds", "1"]


@pytest.fixture
def fast(data_dir, store):
    """A server whose scheduler looks every 100 ms and allows 1 s intervals; its admin Caller."""
    srv = Server(data_dir, store.init(data_dir), store=store, extra_args=FAST)
    yield srv, Caller(srv, srv.admin_key)
    srv.stop()


def vault_of(admin):
    return expect(admin.post("/vaults", json={"name": "rot"}), 201).json()["id"]


def versions(admin, vault, path):
    return expect(admin.get(f"/vaults/{vault}/secret-versions/{path}"), 200).json()["versions"]


def events(admin, action):
    r = expect(admin.get("/audit", params={"action": action, "limit": 1000}), 200).json()
    return r.get("events", r.get("items", r)) if isinstance(r, dict) else r


def wait_until(check, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def make_due(srv, secret_id):
    """Moves the secret's next due time an hour into the past, as if it had come."""
    past = int((time.time() - 3600) * 1_000_000)
    srv.sql(f"UPDATE secret_schedules SET next_rotation_at = {past} WHERE secret_id = '{secret_id}'")


REFUSALS = [
    ({"interval": "10s"}, None),  # allowed here: 1 s minimum
    ({}, "rotation_policy.interval"),
    ({"interval": "1h", "cron": "0 3 * * *"}, "exactly one"),
    ({"interval": "0s"}, "rotation_policy.interval"),
    ({"cron": "99 * * * *"}, "rotation_policy.cron"),
    ({"interval": "1h", "generate": {"length": 2}}, "rotation_policy.generate.length"),
    ({"interval": "1h", "generate": {"charset": "emoji"}}, "rotation_policy.generate.charset"),
    ({"interval": "1h", "previous": {"action": "shred"}}, "rotation_policy.previous.action"),
    ({"interval": "1h", "stage": "later"}, "rotation_policy.stage"),
    ({"interval": "1h", "every": 3}, "rotation_policy.every"),
]


@pytest.mark.parametrize("policy,field", REFUSALS)
def test_schedule_refusals_name_the_field(fast, policy, field):
    srv, admin = fast
    vault = vault_of(admin)
    put_secret(admin, vault, "db/main", "initial")
    r = admin.put(f"/vaults/{vault}/secret-schedule/db/main", json=policy)
    if field is None:
        assert expect(r, 200).json()["rotation_policy"]["interval"] == 10
        return
    expect_problem(r, 400, field)
    if not policy:
        return  # on a write, {} is no policy (the secret stays unscheduled)
    # The same policy on a write is refused too, and writes nothing.
    r = admin.put(f"/vaults/{vault}/secrets/db/main",
                  json={"type": "password", "value": "x", "rotation_policy": policy})
    expect_problem(r, 400, field)
    assert len(versions(admin, vault, "db/main")) == 1


def test_the_server_rotates_a_due_secret_once_as_the_system(fast):
    srv, admin = fast
    vault = vault_of(admin)
    meta = put_secret(admin, vault, "db/main", "initial",
                      rotation_policy={"interval": "1h", "generate": {"length": 24,
                                                                      "charset": "alphanumeric"}})
    assert "next_rotation_at" in meta
    make_due(srv, meta["id"])
    assert wait_until(lambda: len(versions(admin, vault, "db/main")) == 2)
    time.sleep(0.5)  # several more scheduler passes: still one rotation
    assert len(versions(admin, vault, "db/main")) == 2
    got = expect(admin.get(f"/vaults/{vault}/secrets/db/main"), 200).json()
    assert got["version"] == 2 and len(got["value"]) == 24 and got["value"].isalnum()
    assert got["created_by"] == "rotation-scheduler"
    # The next due time is a whole interval past the due time just taken, so after the rotation
    # (both times are the server's; the test's own clock may differ from it by a little).
    assert when(got["next_rotation_at"]) > when(got["created_at"])
    rotations = [e for e in events(admin, "secret.rotate") if e.get("path") == "db/main"]
    assert len(rotations) == 1
    assert rotations[0]["actor_type"] == "system"
    assert rotations[0]["actor_id"] == "rotation-scheduler"
    assert "initial" not in srv.read_log()


def test_a_scheduled_rotation_into_pending_waits_for_a_promote(fast):
    srv, admin = fast
    vault = vault_of(admin)
    meta = put_secret(admin, vault, "db/staged", "initial",
                      rotation_policy={"interval": "1h", "stage": "pending"})
    make_due(srv, meta["id"])
    assert wait_until(lambda: len(versions(admin, vault, "db/staged")) == 2)
    got = expect(admin.get(f"/vaults/{vault}/secrets/db/staged"), 200).json()
    assert got["version"] == 1 and got["value"] == "initial"
    assert got["aliases"] == {"current": 1, "pending": 2}
    expect(admin.post(f"/vaults/{vault}/secret-promote/db/staged"), 200)
    got = expect(admin.get(f"/vaults/{vault}/secrets/db/staged"), 200).json()
    assert got["version"] == 2 and got["value"] != "initial"
    assert got["aliases"] == {"current": 2, "previous": 1}


def test_schedule_route_sets_and_unschedule_stops_it(fast):
    srv, admin = fast
    vault = vault_of(admin)
    meta = put_secret(admin, vault, "svc/key", "k1")
    assert "next_rotation_at" not in meta
    sched = expect(admin.put(f"/vaults/{vault}/secret-schedule/svc/key",
                             json={"cron": "0 3 * * 1", "action": "notify"}), 200).json()
    assert sched["rotation_policy"] == {"cron": "0 3 * * 1", "action": "notify"}
    assert sched["path"] == "svc/key" and sched["next_rotation_at"]
    assert len(versions(admin, vault, "svc/key")) == 1  # no version written
    got = expect(admin.get(f"/vaults/{vault}/secrets/svc/key"), 200).json()
    assert got["next_rotation_at"] == sched["next_rotation_at"]

    # notify: an event when due, no new version.
    make_due(srv, meta["id"])
    assert wait_until(lambda: any(e.get("path") == "svc/key"
                                  for e in events(admin, "secret.rotation_due")))
    time.sleep(0.5)
    due = [e for e in events(admin, "secret.rotation_due") if e.get("path") == "svc/key"]
    assert len(due) == 1 and due[0]["actor_type"] == "system"
    assert len(versions(admin, vault, "svc/key")) == 1

    expect(admin.delete(f"/vaults/{vault}/secret-schedule/svc/key"), 204)
    expect(admin.delete(f"/vaults/{vault}/secret-schedule/svc/key"), 204)
    got = expect(admin.get(f"/vaults/{vault}/secrets/svc/key"), 200).json()
    assert "next_rotation_at" not in got
    expect_problem(admin.delete(f"/vaults/{vault}/secret-schedule/nothing/here"), 404)
    expect_problem(admin.put(f"/vaults/{vault}/secret-schedule/nothing/here",
                             json={"interval": "1h"}), 404)


def test_a_due_time_missed_while_down_is_caught_up_once(fast, store):
    srv, admin = fast
    vault = vault_of(admin)
    meta = put_secret(admin, vault, "db/main", "initial", rotation_policy={"interval": "1h"})
    srv.stop()
    # Ten intervals pass while no server runs.
    past = int((time.time() - 10 * 3600 - 60) * 1_000_000)
    srv.sql(f"UPDATE secret_schedules SET next_rotation_at = {past}")
    srv.start()
    admin = Caller(srv, srv.admin_key)
    assert wait_until(lambda: len(versions(admin, vault, "db/main")) == 2)
    time.sleep(0.5)
    assert len(versions(admin, vault, "db/main")) == 2
    got = expect(admin.get(f"/vaults/{vault}/secrets/db/main"), 200).json()
    # The next due time is the first one on the hour grid after now.
    next_at = int(srv.sql(f"SELECT next_rotation_at FROM secret_schedules "
                          f"WHERE secret_id = '{meta['id']}'")[0][0])
    now = time.time() * 1_000_000
    assert now < next_at <= now + 3600 * 1_000_000
    assert got["version"] == 2


def test_two_servers_rotate_each_due_time_exactly_once(store):
    if store.kind != "postgres":
        pytest.skip("two servers share a store only on PostgreSQL")
    with tempfile.TemporaryDirectory(prefix="coffer-rot-") as d:
        a_dir, b_dir = os.path.join(d, "a"), os.path.join(d, "b")
        admin_key = store.init(a_dir)
        store.init(b_dir)
        servers = []
        try:
            servers.append(Server(a_dir, admin_key, store=store, extra_args=FAST))
            servers.append(Server(b_dir, admin_key, store=store, extra_args=FAST))
            a, b = (Caller(s, admin_key) for s in servers)
            vault = vault_of(a)
            meta = put_secret(a, vault, "db/main", "initial",
                              rotation_policy={"interval": "1h",
                                               "previous": {"action": "disable",
                                                            "grace_seconds": 0}})
            rounds = 5
            for i in range(rounds):
                make_due(servers[0], meta["id"])
                assert wait_until(lambda: len(versions(b, vault, "db/main")) == i + 2)
                time.sleep(0.3)  # both schedulers pass several times over the same due time
                assert len(versions(a, vault, "db/main")) == i + 2
            rotations = [e for e in events(a, "secret.rotate") if e.get("path") == "db/main"]
            assert sorted(e["version"] for e in rotations) == list(range(2, rounds + 2))
            # Each superseded version is disabled once (grace 0), by one server.
            assert wait_until(lambda: sum(v["is_disabled"]
                                          for v in versions(a, vault, "db/main")) == rounds)
            time.sleep(0.3)
            disabled = [e for e in events(a, "secret.disable_version")
                        if e.get("path") == "db/main"]
            assert sorted(e["version"] for e in disabled) == list(range(1, rounds + 1))
        finally:
            for s in servers:
                s.stop()


def test_cli_schedule_and_unschedule(cli):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "db/password", input="pw")
    out = cli.ok("secrets", "schedule", "prod", "db/password", "--every", "30d", "--length", "40",
                 "--charset", "alphanumeric", "--disable-previous-after", "1h")
    assert out.startswith("Scheduled db/password: rotation next at ")
    s = json.loads(cli.ok("secrets", "schedule", "prod", "db/password", "--cron", "0 3 * * 1",
                          "--notify", "--json"))
    assert s["rotation_policy"] == {"cron": "0 3 * * 1", "action": "notify"}
    meta = json.loads(cli.ok("secrets", "get", "prod", "db/password", "--json"))
    assert meta["next_rotation_at"] == s["next_rotation_at"]
    bad = cli.fails(EXIT_USAGE, "secrets", "schedule", "prod", "db/password", "--every", "1s")
    assert "rotation_policy.interval" in bad.stderr
    cli.fails(EXIT_USAGE, "secrets", "schedule", "prod", "db/password")  # neither flag
    assert cli.ok("secrets", "unschedule", "prod", "db/password").strip() == \
        "Unscheduled db/password"
    meta = json.loads(cli.ok("secrets", "get", "prod", "db/password", "--json"))
    assert "next_rotation_at" not in meta
    assert len(table_rows(cli.ok("secrets", "versions", "prod", "db/password"))) == 2
