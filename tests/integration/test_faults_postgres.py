"""A PostgreSQL store that stops accepting writes: the database is switched to
read-only transactions (as a demoted primary or a hot standby would be) and its sessions are
cut. Writes answer 503 urn:coffer:problem:storage-read-only (SQLSTATE 25006), never 201 or
500; reads go on, their audit events in the server log while the database refuses them; nothing
refused is kept; once the database accepts writes again the same server recovers without a
restart.
Skipped unless COFFER_TEST_PG_URL is set (scripts/test.sh starts a throwaway cluster)."""
import os
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import (COFFER_BIN, KEY_RE, Server, admin_caller, create_vault, expect,
                      expect_problem, put_secret, redact)

PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not PG_URL, reason="COFFER_TEST_PG_URL is not set (scripts/test.sh starts a PostgreSQL "
                       "cluster and sets it)")
CANARY = "canary-pg-3b0e5a41-must-not-leak"


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", PG_URL, "-c",
                          sql], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    return out.stdout.strip()


def cut_sessions(name):
    psql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'")


@pytest.fixture
def pg_server():
    name = "coffer_fault_" + uuid.uuid4().hex[:16]
    psql(f"CREATE DATABASE {name}")
    url = PG_URL.partition("?")[0].rsplit("/", 1)[0] + "/" + name
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="coffer-fault-pg-") as d:
            data_dir = os.path.join(d, "data")
            out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir, "--store", url],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, redact(out.stderr)
            server = Server(data_dir, KEY_RE.search(out.stdout).group(1),
                            env={"COFFER_STORE": url})
            yield server, name
    finally:
        if server is not None:
            server.stop()
        psql(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def until(call, done, seconds=15):
    """Calls `call` until `done(response)`; returns (response, answers seen before it)."""
    seen = []
    deadline = time.time() + seconds
    while True:
        r = call()
        if done(r) or time.time() > deadline:
            return r, seen
        seen.append(r)
        time.sleep(0.05)


def test_read_only_database_gives_503_and_the_server_recovers(pg_server):
    server, name = pg_server
    admin = admin_caller(server)
    vault = create_vault(admin, "pg-faults")
    put_secret(admin, vault, "keep", value=CANARY)

    psql(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    cut_sessions(name)

    def put():
        return admin.put(f"/vaults/{vault}/secrets/refused",
                         json={"type": "password", "value": CANARY})

    def is_read_only(r):
        return r.status_code == 503 and r.json().get("type") == \
            "urn:coffer:problem:storage-read-only"

    r, before = until(put, is_read_only)
    body = expect_problem(r, 503)
    assert body["type"] == "urn:coffer:problem:storage-read-only", redact(r.text)
    # Until then only connections cut under the server may fail, with a plain 503.
    for early in before:
        expect_problem(early, 503)
    for _ in range(3):
        assert is_read_only(put())
    # A read goes on: its audit event cannot be written to the database, so it goes to the log.
    r = admin.get(f"/vaults/{vault}/secrets/keep")
    assert r.status_code == 200 and r.json()["value"] == CANARY, r.status_code
    assert '"audit_event_not_in_store"' in server.read_log()

    psql(f"ALTER DATABASE {name} RESET default_transaction_read_only")
    cut_sessions(name)
    r, before = until(lambda: admin.put(f"/vaults/{vault}/secrets/after",
                                        json={"type": "note", "value": "a"}),
                      lambda r: r.status_code == 201)
    expect(r, 201)
    for early in before:
        expect_problem(early, 503)
    assert server.proc.poll() is None
    assert expect(admin.get(f"/vaults/{vault}/secrets/keep"), 200).json()["value"] == CANARY
    expect_problem(admin.get(f"/vaults/{vault}/secrets/refused"), 404)
    verified = expect(admin.get("/audit/verify"), 200).json()
    assert verified["ok"] is True, verified.get("reason")
    assert CANARY not in server.read_log()
