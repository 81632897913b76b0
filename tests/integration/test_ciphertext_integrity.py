"""Ciphertext integrity end to end: stored blobs are damaged directly in the store (a second
connection to the live SQLite file or PostgreSQL database, or with the server stopped) and each
read must fail with a 5xx problem+json that holds no plaintext (neither the row's nor another
secret's), the server must keep serving the other secrets, and the log must carry one ALERT line
(event ciphertext_integrity_failure) naming vault, path, version and key id, never a value.

Blob layout (src/crypto/aead.h): format(1) | key_id(4) | nonce(12) | ciphertext | tag(16)."""
import json
import secrets
import subprocess

import pytest

from conftest import (COFFER_BIN, Server, check_absent, create_vault, admin_caller, expect,
                      expect_problem, init_data_dir, put_secret)

HEADER, NONCE, TAG = 5, 12, 16


def read_blob(server, vault, path, version):
    hexed = "hex(v.ciphertext)" if server.store.kind == "sqlite" else "encode(v.ciphertext, 'hex')"
    rows = server.sql(
        f"SELECT {hexed} FROM secret_versions v JOIN secrets s ON s.id = v.secret_id"
        f" WHERE s.vault_id = '{vault}' AND s.path = '{path}' AND v.version = {version}")
    assert rows, f"no row for {path} v{version}"
    return bytes.fromhex(rows[0][0])


def write_blob(server, vault, path, version, blob):
    literal = f"X'{blob.hex()}'" if server.store.kind == "sqlite" else f"'\\x{blob.hex()}'::bytea"
    rows = server.sql(
        f"UPDATE secret_versions SET ciphertext = {literal} WHERE version = {version} AND"
        f" secret_id = (SELECT id FROM secrets WHERE vault_id = '{vault}' AND path = '{path}')"
        " RETURNING 1")
    assert len(rows) == 1


def alerts(server):
    out = []
    for line in server.read_log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "ciphertext_integrity_failure":
            out.append(entry)
    return out


class World:
    """A server with two vaults and three secrets of known (random) values."""

    def __init__(self, server):
        self.server = server
        self.admin = admin_caller(server)
        self.a = create_vault(self.admin, "vault-a")
        self.b = create_vault(self.admin, "vault-b")
        self.values = {name: "canary-" + secrets.token_hex(12) for name in ("x", "y", "z")}
        put_secret(self.admin, self.a, "x", self.values["x"])
        put_secret(self.admin, self.a, "y", self.values["y"])
        put_secret(self.admin, self.b, "z", self.values["z"])

    def __repr__(self):  # pytest prints fixtures in tracebacks: never the values
        return "<World>"

    def get(self, vault, path):
        return self.admin.get(f"/vaults/{vault}/secrets/{path}")

    def value(self, vault, path):
        return expect(self.get(vault, path), 200).json()["value"]

    def check_refused(self, path="x", vault=None, version=1, key_id=None):
        """GET of the damaged secret fails cleanly, others still work, one alert is logged."""
        __tracebackhide__ = True
        vault = vault or self.a
        before = len(alerts(self.server))
        for r in (self.get(vault, path),
                  self.admin.get(f"/vaults/{vault}/secret-version/{path}/{version}")):
            if not 500 <= r.status_code < 600:
                pytest.fail(f"expected a 5xx, got {r.status_code}")
            body = expect_problem(r, r.status_code)
            if body["type"] != "urn:coffer:problem:data-integrity":
                pytest.fail(f"unexpected problem type {body['type']}")
            check_absent(r.text, list(self.values.values()), "error body")
        # The other secrets are still served, with their own values.
        if self.value(self.a, "y") != self.values["y"] or \
                self.value(self.b, "z") != self.values["z"]:
            pytest.fail("another secret's value changed")
        found = alerts(self.server)[before:]
        if len(found) != 2:
            pytest.fail(f"expected 2 alert lines (one per read), got {len(found)}")
        for alert in found:
            if alert.get("level") != "critical" or alert.get("msg") != "ALERT":
                pytest.fail(f"alert line not at critical/ALERT: {alert.get('level')}")
            if (alert.get("vault_id"), alert.get("path"), alert.get("version")) != \
                    (vault, path, version):
                pytest.fail(f"alert names the wrong row: {alert.get('path')} "
                            f"v{alert.get('version')}")
            if key_id is not None and alert.get("key_id") != key_id:
                pytest.fail(f"alert names key {alert.get('key_id')}, expected {key_id}")
        check_absent(self.server.read_log(), list(self.values.values()), "server log")


@pytest.fixture
def world(server):
    return World(server)


def test_blob_copied_from_another_row_of_the_same_vault_is_refused(world):
    write_blob(world.server, world.a, "x", 1, read_blob(world.server, world.a, "y", 1))
    world.check_refused(key_id=1)


def test_blob_copied_from_another_vault_is_refused(world):
    write_blob(world.server, world.a, "x", 1, read_blob(world.server, world.b, "z", 1))
    world.check_refused(key_id=1)


def test_blob_copied_from_an_older_version_of_the_same_secret_is_refused(world):
    put_secret(world.admin, world.a, "x", "canary-" + secrets.token_hex(12))
    write_blob(world.server, world.a, "x", 2, read_blob(world.server, world.a, "x", 1))
    world.check_refused(version=2, key_id=1)


@pytest.mark.parametrize("where", [
    "format", "key_id_high", "key_id_low", "nonce_first", "nonce_last", "ciphertext_first",
    "ciphertext_last", "tag_first", "tag_last"])
def test_any_flipped_byte_is_refused(world, where):
    blob = bytearray(read_blob(world.server, world.a, "x", 1))
    offset = {
        "format": 0, "key_id_high": 1, "key_id_low": 4, "nonce_first": HEADER,
        "nonce_last": HEADER + NONCE - 1, "ciphertext_first": HEADER + NONCE,
        "ciphertext_last": len(blob) - TAG - 1, "tag_first": len(blob) - TAG,
        "tag_last": len(blob) - 1}[where]
    blob[offset] ^= 0x01
    write_blob(world.server, world.a, "x", 1, bytes(blob))
    # A flipped low key-id bit names key 0 (the root key's id, never a data key).
    world.check_refused(key_id={"key_id_low": 0, "key_id_high": 1 + (1 << 24)}.get(where, None))


@pytest.mark.parametrize("keep", [0, 1, 4, 5, 17, HEADER + NONCE + TAG - 1, -1, -TAG])
def test_truncated_blob_is_refused(world, keep):
    blob = read_blob(world.server, world.a, "x", 1)
    write_blob(world.server, world.a, "x", 1, blob[:keep] if keep >= 0 else blob[:len(blob) + keep])
    world.check_refused()


def test_key_id_that_does_not_exist_is_refused(world):
    blob = bytearray(read_blob(world.server, world.a, "x", 1))
    blob[1:5] = (99).to_bytes(4, "big")
    write_blob(world.server, world.a, "x", 1, bytes(blob))
    world.check_refused(key_id=99)
    alert = alerts(world.server)[-1]
    assert alert.get("key_held") is False


def test_key_id_that_exists_but_is_not_the_one_used_is_refused(world):
    # A second data key (4) exists after a rotation; the blob still names key 1's ciphertext.
    out = subprocess.run([COFFER_BIN, "keys", "rotate", "--data-dir", world.server.data_dir,
                          *world.server.store.args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    blob = bytearray(read_blob(world.server, world.a, "x", 1))
    blob[1:5] = (4).to_bytes(4, "big")
    write_blob(world.server, world.a, "x", 1, bytes(blob))
    world.check_refused(key_id=4)
    assert alerts(world.server)[-1].get("key_held") is True


def test_a_counted_read_of_a_damaged_value_spends_nothing(world):
    put_secret(world.admin, world.a, "once", "canary-" + secrets.token_hex(8),
               max_access_count=1)
    blob = bytearray(read_blob(world.server, world.a, "once", 1))
    good = bytes(blob)
    blob[-1] ^= 0x80
    write_blob(world.server, world.a, "once", 1, bytes(blob))
    r = world.get(world.a, "once")
    assert 500 <= r.status_code < 600
    # Repaired, the one read is still there.
    write_blob(world.server, world.a, "once", 1, good)
    expect(world.get(world.a, "once"), 200)
    expect(world.get(world.a, "once"), 410)


def test_damage_done_while_the_server_is_stopped_is_refused_after_restart(data_dir):
    key = init_data_dir(data_dir)
    server = Server(data_dir, key)
    try:
        world = World(server)
        server.stop()
        write_blob(server, world.a, "x", 1, read_blob(server, world.b, "z", 1))
        server.start()
        world.check_refused(key_id=1)
    finally:
        server.stop()
