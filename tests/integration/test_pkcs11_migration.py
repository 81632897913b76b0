"""Running servers follow a root key migration without a restart: two servers on one PostgreSQL
database, started with the key file and --next-root-key-uri naming a SoftHSM2 token, keep serving
while `coffer keys migrate-root` moves the keyring into the token, take up a data key sealed by the
token after it (a `coffer keys rotate`), and the same the other way back to the key file."""
import os
import shutil

import pytest

from conftest import Caller, Server, create_vault, expect, new_store, put_secret
from test_pkcs11 import PIN, coffer, ok, token, wait_for  # noqa: F401 (token: a fixture)


@pytest.fixture
def pg_store():
    store = new_store("postgres")  # skips without COFFER_TEST_PG_URL
    yield store
    store.close()


def test_two_servers_follow_migrate_root_to_the_token_and_back(token, pg_store, tmp_path):
    a_dir, b_dir = str(tmp_path / "a"), str(tmp_path / "b")
    admin_key = pg_store.init(a_dir)
    os.makedirs(b_dir, mode=0o700)
    shutil.copy2(os.path.join(a_dir, "root.key"), os.path.join(b_dir, "root.key"))
    follow = ["--next-root-key-uri", token.uri()]
    servers = [Server(d, admin_key, extra_args=follow, env=token.env, store=pg_store)
               for d in (a_dir, b_dir)]
    try:
        a, b = (Caller(s, admin_key) for s in servers)
        vault = create_vault(a, "migrating")
        put_secret(a, vault, "before", value="v-before")

        def read(caller, path):
            return expect(caller.get(f"/vaults/{vault}/secrets/{path}"), 200).json()["value"]

        def key_id(path):
            rows = pg_store.sql(a_dir, "SELECT encode(substring(v.ciphertext from 2 for 4), 'hex') "
                                       "FROM secret_versions v JOIN secrets s ON s.id = v.secret_id "
                                       f"WHERE s.path = '{path}' ORDER BY v.version DESC LIMIT 1")
            return int(rows[0][0], 16)

        def written_and_read(writer, reader, path, value, want_key):
            put_secret(writer, vault, path, value=value)
            return key_id(path) == want_key and read(reader, path) == value

        store = ["--data-dir", a_dir, *pg_store.args]
        to_token = ["--root-key-uri", token.uri()]
        # Into the token. The servers keep serving with the keys they hold ...
        ok(coffer("keys", "migrate-root", *store, "--to", token.uri(), env=token.env))
        assert read(b, "before") == "v-before"
        # ... and a data key made after the migration, sealed by the token, is taken up by both:
        # A writes with it once it has refreshed, B unwraps it in the token to read it.
        def active_data_key():
            return int(pg_store.sql(a_dir, "SELECT max(id) FROM keys WHERE purpose = 'data' "
                                           "AND active")[0][0])

        ok(coffer("keys", "rotate", *store, *to_token, env=token.env))
        want = active_data_key()
        assert wait_for(lambda: written_and_read(a, b, "in-token", "v-token", want)), key_id(
            "in-token")
        assert wait_for(lambda: written_and_read(b, a, "in-token-b", "v-token-b", want))
        # And back to the key file, the servers still running.
        key_file = os.path.join(a_dir, "root.key")
        ok(coffer("keys", "migrate-root", *store, *to_token, "--to", f"file:{key_file}",
                  env=token.env))
        ok(coffer("keys", "rotate", *store))
        want = active_data_key()
        assert wait_for(lambda: written_and_read(b, a, "back", "v-back", want))
        assert wait_for(lambda: written_and_read(a, b, "back-a", "v-back-a", want))
        for caller in (a, b):
            assert read(caller, "before") == "v-before"
            assert read(caller, "in-token") == "v-token"
            assert expect(caller.get("/ready"), 200)
    finally:
        for s in servers:
            s.stop()
    for s in servers:
        assert PIN not in s.read_log()


def test_without_the_next_root_key_a_server_keeps_what_it_holds(token, pg_store, tmp_path):
    """A server not told the next root key still serves every key it held before the migration,
    and says why it cannot take up one sealed after it (never guessing a module path from the
    store)."""
    a_dir = str(tmp_path / "a")
    admin_key = pg_store.init(a_dir)
    srv = Server(a_dir, admin_key, env=token.env, store=pg_store)
    try:
        a = Caller(srv, admin_key)
        vault = create_vault(a, "kept")
        put_secret(a, vault, "held", value="v-held")
        store = ["--data-dir", a_dir, *pg_store.args]
        ok(coffer("keys", "migrate-root", *store, "--to", token.uri(), env=token.env))
        ok(coffer("keys", "rotate", *store, "--root-key-uri", token.uri(), env=token.env))
        ok(coffer("keys", "reencrypt", *store, "--root-key-uri", token.uri(), env=token.env))
        r = a.get(f"/vaults/{vault}/secrets/held")
        assert r.status_code == 503, r.text
        assert r.json()["type"] == "urn:coffer:problem:key-provider-unavailable"
        ready = a.get("/ready")
        assert ready.status_code == 503 and "--next-root-key-uri" in ready.text, ready.text
    finally:
        srv.stop()
