"""Long polls (docs/watch.md): GET …/secrets/{path}?wait=&after_version= and the vault prefix
watch GET …/secrets?prefix=&wait=&since=, answered the moment a change is written (woken by the
store's change feed, across servers on PostgreSQL) or 304 when the wait runs out; and
`coffer run --watch` restarting its child within a second of a rotation. Both stores."""
import concurrent.futures
import signal
import time

import pytest

from cli_support import cli  # noqa: F401  (a fixture)
from conftest import (Caller, admin_caller, check_absent, create_agent, expect,
                      expect_problem, grant, put_secret)
from test_cli_run import CHILD, events, start_run, stop, wait_for
from test_postgres_multi import database, pair  # noqa: F401  (fixtures)

V1, V2, V3 = "watch-value-one", "watch-value-two", "watch-value-three"


def in_background(call):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def test_a_newer_version_answers_at_once_as_a_plain_read(server):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "db/password", value=V1)
    r = expect(admin.get(f"/vaults/{vault}/secrets/db/password",
                         params={"wait": 5, "after_version": 0}), 200)
    assert r.json()["version"] == 1
    assert r.json()["value"] == V1


def test_nothing_newer_answers_304_when_the_wait_runs_out(server):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "db/password", value=V1)
    start = time.monotonic()
    r = expect(admin.get(f"/vaults/{vault}/secrets/db/password",
                         params={"wait": 1, "after_version": 1}), 304)
    assert 0.9 <= time.monotonic() - start < 5
    assert r.text == ""
    # The wait is audited as secret.watch, never with a value.
    events_ = expect(admin.get("/audit/events", params={"action": "secret.watch"}), 200).text
    assert "secret.watch" in events_
    check_absent(events_, [V1], "audit events")


def test_a_write_wakes_the_waiting_request_at_once(server):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "db/password", value=V1)
    waiter = Caller(server, server.admin_key)
    future = in_background(lambda: waiter.get(f"/vaults/{vault}/secrets/db/password",
                                              params={"wait": 20, "after_version": 1}))
    time.sleep(0.3)  # let it start waiting; a write before it waits is answered at once anyway
    assert not future.done()
    # A write to another secret does not answer it.
    put_secret(admin, vault, "db/other", value=V3)
    time.sleep(0.2)
    assert not future.done()
    written = time.monotonic()
    put_secret(admin, vault, "db/password", value=V2)
    r = expect(future.result(timeout=10), 200)
    assert time.monotonic() - written < 1.0
    assert r.json()["version"] == 2 and r.json()["value"] == V2


def test_a_rollback_and_a_promote_wake_the_waiting_request(server):
    """What a plain read returns moves without a new version: the wait ends on any other version,
    an older one after a rollback included, so `coffer run --watch` follows a rollback too."""
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "k", value=V1)
    put_secret(admin, vault, "k", value=V2, stage="pending")
    waiter = Caller(server, server.admin_key)
    future = in_background(lambda: waiter.get(f"/vaults/{vault}/secrets/k",
                                              params={"wait": 20, "after_version": 1}))
    time.sleep(0.3)
    assert not future.done()  # the pending version is not what a plain read returns
    expect(admin.post(f"/vaults/{vault}/secret-promote/k"), 200)
    r = expect(future.result(timeout=10), 200)
    assert r.json()["version"] == 2 and r.json()["value"] == V2
    future = in_background(lambda: waiter.get(f"/vaults/{vault}/secrets/k",
                                              params={"wait": 20, "after_version": 2}))
    time.sleep(0.3)
    assert not future.done()
    expect(admin.post(f"/vaults/{vault}/secret-rollback/k"), 200)
    r = expect(future.result(timeout=10), 200)
    assert r.json()["version"] == 1 and r.json()["value"] == V1


def test_a_disable_that_leaves_nothing_newer_keeps_waiting(server):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "k", value=V1)
    put_secret(admin, vault, "k", value=V2)
    waiter = Caller(server, server.admin_key)
    future = in_background(lambda: waiter.get(f"/vaults/{vault}/secrets/k",
                                              params={"wait": 2, "after_version": 2}))
    time.sleep(0.3)
    expect(admin.post(f"/vaults/{vault}/secret-version/k/1/disable"), 200)
    assert expect(future.result(timeout=10), 304).text == ""


@pytest.mark.parametrize("query, parameter", [
    ({"wait": 0}, "wait"),
    ({"wait": 301}, "wait"),
    ({"wait": "soon"}, "wait"),
    ({"wait": ""}, "wait"),
    ({"wait": 5, "after_version": -1}, "after_version"),
    ({"wait": 5, "after_version": "x"}, "after_version"),
    ({"wait": 5, "version": 3}, "unknown query parameter"),
])
def test_bad_wait_parameters_are_400_naming_them(server, query, parameter):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "k", value=V1)
    expect_problem(admin.get(f"/vaults/{vault}/secrets/k", params=query), 400, parameter)
    expect_problem(admin.get(f"/vaults/{vault}/secrets", params={**query, "prefix": "k"}), 400,
                   parameter.replace("after_version", "unknown query parameter"))


def test_a_waiter_without_read_permission_is_refused_before_it_waits(server):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "k", value=V1)
    agent = create_agent(admin, "watcher")
    grant(admin, vault, agent["id"], "other/*", ["read"])
    caller = Caller(server, agent["api_key"])
    start = time.monotonic()
    expect(caller.get(f"/vaults/{vault}/secrets/k", params={"wait": 5, "after_version": 1}), 403)
    assert time.monotonic() - start < 2


def test_the_prefix_watch_answers_with_a_new_cursor_when_a_secret_under_it_changes(server):
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "app/a", value=V1)
    put_secret(admin, vault, "other/b", value=V1)
    first = expect(admin.get(f"/vaults/{vault}/secrets", params={"prefix": "app/", "wait": 5}),
                   200).json()
    cursor = first["cursor"]
    assert [s["path"] for s in first["secrets"]] == ["app/a"]
    check_absent(str(first), [V1], "listing")
    # Nothing changed under the prefix: 304 (a change elsewhere does not count).
    put_secret(admin, vault, "other/b", value=V2)
    expect(admin.get(f"/vaults/{vault}/secrets",
                     params={"prefix": "app/", "wait": 1, "since": cursor}), 304)
    waiter = Caller(server, server.admin_key)
    future = in_background(lambda: waiter.get(f"/vaults/{vault}/secrets",
                                              params={"prefix": "app/", "wait": 20,
                                                      "since": cursor}))
    time.sleep(0.3)
    assert not future.done()
    written = time.monotonic()
    put_secret(admin, vault, "app/c", value=V2)
    r = expect(future.result(timeout=10), 200).json()
    assert time.monotonic() - written < 1.0
    assert [s["path"] for s in r["secrets"]] == ["app/a", "app/c"]
    assert r["cursor"] != cursor
    # A deletion under the prefix answers too.
    future = in_background(lambda: waiter.get(f"/vaults/{vault}/secrets",
                                              params={"prefix": "app/", "wait": 20,
                                                      "since": r["cursor"]}))
    time.sleep(0.3)
    expect(admin.delete(f"/vaults/{vault}/secrets/app/a"), 204)
    after_delete = expect(future.result(timeout=10), 200).json()
    assert [s["path"] for s in after_delete["secrets"]] == ["app/c"]


def test_a_rotation_on_one_server_wakes_a_waiter_on_the_other(pair):  # noqa: F811
    vault = expect(pair.admin_a.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(pair.admin_a, vault, "db/password", value=V1)
    future = in_background(lambda: pair.admin_b.get(f"/vaults/{vault}/secrets/db/password",
                                                     params={"wait": 20, "after_version": 1}))
    time.sleep(0.5)
    assert not future.done()
    rotated = time.monotonic()
    expect(pair.admin_a.post(f"/vaults/{vault}/secret-rotate/db/password", json={}), 201)
    r = expect(future.result(timeout=10), 200)
    assert time.monotonic() - rotated < 1.0
    assert r.json()["version"] == 2


@pytest.fixture
def child(tmp_path):
    path = tmp_path / "child.py"
    path.write_text(CHILD)
    return str(path)


def test_run_watch_restarts_the_child_within_a_second_of_a_rotation(cli, child, tmp_path):  # noqa: F811
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "api-keys/openai", input=V1)
    out = str(tmp_path / "events")
    # The interval is long: only the long poll can restart the child in time.
    proc = start_run(cli, ["--watch", "--interval", "60", "--grace", "2", "--",
                           "/usr/bin/python3", child],
                     {"OUT": out, "NAMES": "OPENAI_API_KEY",
                      "OPENAI_API_KEY": "coffer://prod/api-keys/openai"})
    try:
        first = wait_for(out, lambda e: "env" in e, "the child to start")[0]
        time.sleep(0.5)  # the long poll is waiting at the server
        for value in (V2, V3):
            rotated = time.monotonic()
            cli.ok("secrets", "put", "prod", "api-keys/openai", input=value)
            restarted = wait_for(out, lambda e: "env" in e and
                                 e["env"]["OPENAI_API_KEY"] == value, "the restarted child",
                                 timeout=5)[0]
            assert time.monotonic() - rotated < 1.0
            assert restarted["pid"] != first["pid"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 42
    finally:
        stdout, stderr = stop(proc)
    assert "prod/api-keys/openai version 1 -> 2; restarting" in stderr
    check_absent(stdout + stderr, [V1, V2, V3], "coffer run output")


def test_cli_secrets_get_wait_prints_the_newer_value_or_exits_1(cli, tmp_path):  # noqa: F811
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "db/password", input=V1)
    r = cli.run("secrets", "get", "prod", "db/password", "--wait", "1", "--after-version", "1")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "no version of db/password newer than 1 became readable within 1 s" in r.stderr
    writer = in_background(lambda: (time.sleep(0.5),
                                    cli.ok("secrets", "put", "prod", "db/password", input=V2)))
    r = cli.run("secrets", "get", "prod", "db/password", "--wait", "20", "--after-version", "1")
    writer.result(timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout == V2
    r = cli.run("secrets", "get", "prod", "db/password", "--wait", "5", "--version", "1")
    assert r.returncode == 2


def test_many_waiting_requests_do_not_starve_other_requests(server):
    """More waiters than the server has handler threads (32): other requests are still answered
    at once, and one write answers every waiter."""
    admin = admin_caller(server)
    vault = expect(admin.post("/vaults", json={"name": "w"}), 201).json()["id"]
    put_secret(admin, vault, "shared/key", value=V1)
    waiters = 100
    pool = concurrent.futures.ThreadPoolExecutor(waiters)
    try:
        futures = [pool.submit(lambda c=Caller(server, server.admin_key): c.get(
            f"/vaults/{vault}/secrets/shared/key", params={"wait": 30, "after_version": 1}))
            for _ in range(waiters)]
        time.sleep(1.0)
        assert not any(f.done() for f in futures)
        start = time.monotonic()
        expect(admin.get(f"/vaults/{vault}/secrets/shared/key"), 200)
        expect(admin.get("/vaults"), 200)
        assert time.monotonic() - start < 1.0
        put_secret(admin, vault, "shared/key", value=V2)
        answers = [f.result(timeout=20) for f in futures]
        assert [r.status_code for r in answers] == [200] * waiters
        assert {r.json()["version"] for r in answers} == {2}
    finally:
        pool.shutdown(wait=False)
