"""`coffer migrate` moves an embedded (SQLite) deployment onto PostgreSQL: afterwards a server on
PostgreSQL with the same root key serves the same secrets, agents, policies and audit chain.
Skipped unless COFFER_TEST_PG_URL is set (scripts/test.sh sets it)."""
import os
import re
import subprocess

import pytest

from conftest import (COFFER_BIN, Caller, Server, create_agent, expect, expect_problem, grant,
                      init_data_dir, put_secret, redact)
from test_postgres_multi import PG_URL, database  # noqa: F401  (the fixture)

pytestmark = pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set")


def migrate(source, target):
    return subprocess.run([COFFER_BIN, "migrate", "--from", source, "--to", target],
                          capture_output=True, text=True, timeout=120)


def test_migrate_sqlite_to_postgres_keeps_everything(data_dir, database):  # noqa: F811
    admin_key = init_data_dir(data_dir)
    embedded = Server(data_dir, admin_key)
    try:
        admin = Caller(embedded, admin_key)
        vault = expect(admin.post("/vaults", json={"name": "prod"}), 201).json()["id"]
        put_secret(admin, vault, "db/password", value="first")
        put_secret(admin, vault, "db/password", value="second")
        expect(admin.post(f"/vaults/{vault}/secret-version/db/password/2/disable"), 200)
        put_secret(admin, vault, "once", value="three-reads", max_access_count=3)
        expect(admin.get(f"/vaults/{vault}/secrets/once"), 200)
        agent = create_agent(admin, "worker")
        grant(admin, vault, agent["id"], "db/**", ["read"])
        before = expect(admin.get("/audit/verify"), 200).json()
    finally:
        embedded.stop()

    out = migrate("sqlite:" + os.path.join(data_dir, "coffer.db"), database)
    assert out.returncode == 0, redact(out.stderr)
    assert "verified" in out.stdout and "ciphertexts identical" in out.stdout
    copied = int(re.search(r"(\d+) audit events \(chain intact", out.stdout).group(1))
    assert copied > before["events_checked"]  # the verify call itself was audited too

    on_pg = Server(data_dir, admin_key, extra_args=["--store", database])
    try:
        admin = Caller(on_pg, admin_key)
        # The disabled version 2 stays disabled: the latest readable value is version 1's.
        got = expect(admin.get(f"/vaults/{vault}/secrets/db/password"), 200).json()
        assert got["value"] == "first" and got["version"] == 1
        expect(admin.get(f"/vaults/{vault}/secret-version/db/password/2"), 410)
        # Two reads were left of three; they stay two.
        assert expect(admin.get(f"/vaults/{vault}/secrets/once"), 200).json()["access_count"] == 2
        expect(admin.get(f"/vaults/{vault}/secrets/once"), 200)
        expect(admin.get(f"/vaults/{vault}/secrets/once"), 410)
        # The agent's key and policy came along.
        got = expect(Caller(on_pg, agent["api_key"]).get(f"/vaults/{vault}/secrets/db/password"),
                     200).json()
        assert got["value"] == "first"
        after = expect(admin.get("/audit/verify"), 200).json()
        assert after["ok"] is True
        assert after["events_checked"] > before["events_checked"]
    finally:
        on_pg.stop()

    again = migrate("sqlite:" + os.path.join(data_dir, "coffer.db"), database)
    assert again.returncode == 1 and "not empty" in again.stderr


def test_migrate_refuses_a_missing_source(database, tmp_path):  # noqa: F811
    out = migrate("sqlite:" + str(tmp_path / "absent.db"), database)
    assert out.returncode == 2 and "does not exist" in out.stderr
