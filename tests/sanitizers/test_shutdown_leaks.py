"""Leak check on the server's shutdown path: an AddressSanitizer build of `coffer server`, exercised
over every kind of request and then stopped with SIGTERM, exits 0 with LeakSanitizer on and no
report, on each store (COFFER_TEST_STORES). Runs only under scripts/test-sanitizers.sh asan
(COFFER_SANITIZER=asan)."""
import concurrent.futures
import os
import signal
import subprocess
import sys

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from conftest import (STORES, Caller, Server, admin_caller, create_agent,  # noqa: E402
                      create_user, create_vault, exchange, expect, grant, init_data_dir,
                      new_store, put_secret, sanitizer_reports, self_rotate)

pytestmark = pytest.mark.skipif(os.environ.get("COFFER_SANITIZER") != "asan",
                                reason="needs the ASan build (scripts/test-sanitizers.sh asan)")

LEAK_OPTIONS = "detect_leaks=1:halt_on_error=1:exitcode=66"


def _exercise(server):
    """Every layer the server has: users, vaults, secrets (versions, counted reads, rotation),
    agents with a policy and a JWT, self-rotation, audit, metrics, errors; some in parallel."""
    admin = admin_caller(server)
    _, alice = create_user(server, "alice")
    vault = create_vault(alice, "leaks")
    for i in range(20):
        put_secret(alice, vault, f"app/key{i}", value=f"value-{i}")
    put_secret(alice, vault, "once", value="otp", max_access_count=1)
    expect(alice.get(f"/vaults/{vault}/secrets/once"), 200)
    expect(alice.get(f"/vaults/{vault}/secrets/once"), 410)
    expect(alice.post(f"/vaults/{vault}/secret-rotate/app/key1", json={"length": 16}), 201)
    expect(alice.get(f"/vaults/{vault}/secret-versions/app/key1"), 200)
    expect(alice.get(f"/vaults/{vault}/secrets", params={"prefix": "app/"}), 200)
    expect(alice.delete(f"/vaults/{vault}/secrets/app/key2"), 204)
    expect(alice.get(f"/vaults/{vault}/secrets/missing"), 404)
    expect(alice.put(f"/vaults/{vault}/secrets/bad", data=b"{not json",
                     headers={"Content-Type": "application/json"}), 400)

    agent = create_agent(alice, "worker")
    grant(alice, vault, agent["id"], "app/*", ["read"])
    token = exchange(server, agent["api_key"])
    bot = Caller(server, token)
    expect(bot.get(f"/vaults/{vault}/secrets/app/key3"), 200)
    expect(bot.get(f"/vaults/{vault}/secrets/once"), 403, 404)
    expect(self_rotate(server, agent["api_key"], agent["rotation_secret"]), 200, 201)
    expect(Caller(server, "cfr_key_bogus").get("/me"), 401)

    def read(i):
        return alice.get(f"/vaults/{vault}/secrets/app/key{i % 20 if i % 20 != 2 else 0}")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for r in pool.map(read, range(80)):
            expect(r, 200)

    expect(admin.get("/audit", params={"limit": 50}), 200)
    expect(admin.get("/audit/verify"), 200)
    expect(Caller(server).get("/health"), 200)
    expect(Caller(server).get("/ready"), 200)
    expect(Caller(server).get("/openapi.yaml"), 200)
    expect(requests.get(server.url + "/metrics", timeout=30), 200)


@pytest.mark.parametrize("kind", STORES)
def test_server_shutdown_is_leak_free(kind, tmp_path):
    store = new_store(kind)  # SQLite or a PostgreSQL database (its libpq connections included)
    try:
        data = str(tmp_path / "data")
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":" + LEAK_OPTIONS}
        srv = Server(data, init_data_dir(data, store), env=env, store=store)
        try:
            _exercise(srv)
        finally:
            pid = srv.proc.pid
            srv.proc.send_signal(signal.SIGTERM)
            try:
                code = srv.proc.wait(60)
            except subprocess.TimeoutExpired:
                srv.kill()
                pytest.fail("the server did not stop within 60 s of SIGTERM")
            srv.stop()
    finally:
        store.close()
    reports = sanitizer_reports(pid)
    log = srv.read_log()
    assert "LeakSanitizer" not in log and "AddressSanitizer" not in log, log[-4000:]
    assert not reports, "sanitizer report(s): " + ", ".join(map(os.path.basename, reports))
    assert code == 0, f"the server exited {code} after SIGTERM: {log[-2000:]}"
