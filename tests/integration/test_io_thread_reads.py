"""Reads answered on the server's I/O threads (SQLite store): a plain read is answered there; one
that must wait for the writer (a counted read, a refused credential's audit event) is run again
on the worker pool. Either way a request leaves exactly one audit event, and no attempt that was
thrown away shows anywhere."""
import concurrent.futures
import re

import requests

from conftest import (Caller, admin_caller, audit_pages, create_vault, expect, expect_problem,
                      put_secret)


def events_of(admin, request_id):
    events, _ = audit_pages(admin, limit=500)
    return [e for e in events if e.get("request_id") == request_id]


def read(caller, vault, path, request_id):
    return caller.get(f"/vaults/{vault}/secrets/{path}", headers={"X-Request-Id": request_id})


def test_a_plain_read_leaves_one_event(server):
    admin = admin_caller(server)
    vault = create_vault(admin, "io-plain")
    put_secret(admin, vault, "api-keys/a", value="plain-value")
    r = expect(read(admin, vault, "api-keys/a", "ioplain0001"), 200)
    assert r.json()["value"] == "plain-value"
    events = events_of(admin, "ioplain0001")
    assert [(e["action"], e["outcome"]) for e in events] == [("secret.read", "success")]


def test_a_counted_read_runs_once_and_counts_once(server):
    admin = admin_caller(server)
    vault = create_vault(admin, "io-counted")
    put_secret(admin, vault, "db/once", value="counted-value", max_access_count=2)
    for i in range(2):
        r = expect(read(admin, vault, "db/once", f"iocounted{i:04d}"), 200)
        assert r.json()["value"] == "counted-value"
    expect_problem(read(admin, vault, "db/once", "iocounted0002"), 410)
    for i in range(3):
        events = events_of(admin, f"iocounted{i:04d}")
        assert len(events) == 1, f"request {i} left {len(events)} audit events"
        assert events[0]["action"] == "secret.read"
    assert events_of(admin, "iocounted0000")[0]["outcome"] == "success"
    assert events_of(admin, "iocounted0002")[0]["outcome"] == "failure"


def test_many_concurrent_counted_reads_hand_out_exactly_the_limit(server):
    admin = admin_caller(server)
    vault = create_vault(admin, "io-race")
    put_secret(admin, vault, "db/limited", value="limited-value", max_access_count=7)

    def one(i):
        return read(Caller(server, admin.token), vault, "db/limited", f"iorace{i:06d}").status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(24)))
    assert statuses.count(200) == 7, statuses
    assert statuses.count(410) == 17, statuses
    for i in range(24):
        assert len(events_of(admin, f"iorace{i:06d}")) == 1


def test_a_refused_credential_leaves_one_event_and_no_write_failure(server):
    admin = admin_caller(server)
    vault = create_vault(admin, "io-refused")
    put_secret(admin, vault, "api-keys/a", value="refused-value")
    r = read(Caller(server, "cfr_key_notarealkey"), vault, "api-keys/a", "iorefused001")
    expect_problem(r, 401)
    assert "refused-value" not in r.text
    events = events_of(admin, "iorefused001")
    assert [(e["action"], e["outcome"]) for e in events] == [("auth.failed", "denied")]
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    failures = re.search(r"^coffer_audit_write_failures_total (\S+)", metrics, re.M)
    assert failures is None or float(failures.group(1)) == 0, "a thrown-away attempt was counted"


def test_reads_of_vaults_and_me_are_answered(server):
    admin = admin_caller(server)
    vault = create_vault(admin, "io-vault")
    assert expect(admin.get(f"/vaults/{vault}"), 200).json()["id"] == vault
    assert expect(admin.me(), 200).json()["is_admin"] is True
    expect_problem(admin.get("/vaults/00000000-0000-4000-8000-000000000000"), 404)
