"""The store fixtures themselves (conftest.py, "Stores"): a PostgreSQL database a test gave back
is handed to the next one only in the state `coffer init` left, one whose schema a test changed is
never handed out again, and a run that must cover PostgreSQL (COFFER_TEST_STORES names it, or
COFFER_WITH_TEST_TOOLS: CI) stops when there is no cluster."""
import os
import subprocess

import pytest

import conftest
from conftest import (PG_URL, STORES, Server, admin_caller, audit_pages, create_agent,
                      create_vault, expect, grant, init_data_dir, new_store, put_secret)

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def own_pool():
    """An empty pool of reset databases for the test; the databases it gives back join the
    process's pool afterwards (and are dropped at the end of the session like the others)."""
    if "postgres" not in STORES:
        pytest.skip("COFFER_TEST_STORES leaves postgres out")
    if not PG_URL:
        pytest.skip("COFFER_TEST_PG_URL is not set (scripts/pg-cluster.sh start sets it)")
    saved = conftest._pool[:]
    del conftest._pool[:]
    yield
    conftest._pool.extend(saved)


def serve(store, data_dir):
    return Server(data_dir, init_data_dir(data_dir, store), store=store)


def test_a_database_given_back_is_reset_to_what_init_left(own_pool, tmp_path):
    first = new_store("postgres")
    srv = serve(first, str(tmp_path / "a"))
    try:
        admin = admin_caller(srv)
        vault = create_vault(admin, "used")
        put_secret(admin, vault, "app/db", "used-value")
        agent = create_agent(admin, "used-bot")
        grant(admin, vault, agent["id"], "app/*", ["read"])
        expect(admin.post("/users", json={"name": "used-user"}), 201)
    finally:
        srv.stop()
    name = first.database
    first.close()

    second = new_store("postgres")
    try:
        # The only database in the pool, reset (conftest checked its rows and sequences against
        # the template's before handing it out).
        assert second.database == name
        srv = serve(second, str(tmp_path / "b"))
        try:
            admin = admin_caller(srv)
            assert expect(admin.get("/vaults"), 200).json()["vaults"] == []
            assert expect(admin.get("/agents"), 200).json()["agents"] == []
            users = expect(admin.get("/users"), 200).json()["users"]
            assert [u["name"] for u in users] == ["admin"]
            events, _ = audit_pages(admin)
            assert {e["action"] for e in events} <= {"vault.list", "agent.list", "user.list",
                                                     "audit.read"}
            vault = create_vault(admin, "used")
            assert put_secret(admin, vault, "app/db", "again")["version"] == 1
            assert expect(admin.get("/audit/verify"), 200).json()["ok"] is True
        finally:
            srv.stop()
        # A schema change (here a table) is not undone by a reset: that database is dropped.
        srv.sql("CREATE TABLE scratch (a int)")
    finally:
        second.close()
    third = new_store("postgres")
    try:
        assert third.database != name
    finally:
        third.close()


@pytest.mark.parametrize("stores_env, pg_url, ci, problem", [
    (None, "postgres://h/db", None, None),
    (None, "", None, None),  # by hand, no cluster: the [postgres] variants skip, saying why
    (None, "", "1", "COFFER_WITH_TEST_TOOLS is set but COFFER_TEST_PG_URL is not set"),
    ("sqlite", "", "1", None),
    ("postgres", "", None, "COFFER_TEST_STORES names postgres but COFFER_TEST_PG_URL is not set"),
    ("sqlite,postgres", "postgres://h/db", "1", None),
    ("sqlite,mysql", "postgres://h/db", None, "COFFER_TEST_STORES='sqlite,mysql': a comma-"),
    (" , ", "postgres://h/db", None, "COFFER_TEST_STORES=' , ': a comma-"),
])
def test_which_settings_stop_a_run(stores_env, pg_url, ci, problem):
    got = conftest.stores_problem(stores_env, pg_url, ci)
    assert (got is None) == (problem is None) and (problem is None or got.startswith(problem)), got


def test_coffer_test_stores_chooses_the_stores_and_a_problem_stops_the_run():
    """End to end, in a pytest of its own: COFFER_TEST_STORES=sqlite collects no [postgres]
    variant, and a problem (here CI without a cluster) is pytest's usage error (exit 4), not a
    run of skipped tests."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("COFFER_TEST_STORES", "COFFER_WITH_TEST_TOOLS")}

    def collect(**extra):
        return subprocess.run(
            ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--collect-only", os.path.join(HERE, "test_auth_and_vaults.py")],
            capture_output=True, text=True, timeout=120, env=dict(env, **extra), cwd=HERE)

    out = collect(COFFER_TEST_STORES="sqlite")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[sqlite]" in out.stdout and "[postgres]" not in out.stdout
    out = collect(COFFER_WITH_TEST_TOOLS="1", COFFER_TEST_PG_URL="")
    assert out.returncode == 4, out.stdout + out.stderr
    assert "COFFER_TEST_PG_URL is not set" in out.stderr
