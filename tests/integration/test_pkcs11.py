"""The root key in a PKCS#11 token (SoftHSM2, a token initialised here in a temp dir): `coffer
init --root-key-uri pkcs11:…` generates the key in the token and secrets work across a restart;
`coffer keys migrate-root` moves a key-file deployment into the token and back while a server
runs; `coffer keys rotate-token-key` seals the new token signing key in the token and a running
server takes it up; and a token that cannot be reached answers 503 key-provider-unavailable to
reads that need it, shows in /v1/ready and /metrics, and the server recovers by itself when it
is back."""
import os
import shutil
import subprocess
import time

import pytest
import requests

from conftest import (COFFER_BIN, KEY_RE, Server, admin_caller, create_vault, expect, put_secret,
                      redact)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"


class Token:
    """A SoftHSM2 token in its own directory; .env is what a coffer process needs to see it."""

    def __init__(self, root, label="coffer-test"):
        self.root = root
        self.tokens = os.path.join(root, "tokens")
        os.makedirs(self.tokens)
        self.conf = os.path.join(root, "softhsm2.conf")
        self.write_conf(self.conf, self.tokens)
        self.pin_file = os.path.join(root, "pin")
        fd = os.open(self.pin_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (PIN + "\n").encode())
        os.close(fd)
        self.env = {"SOFTHSM2_CONF": self.conf}
        self.label = label
        out = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                              "--pin", PIN, "--so-pin", "13579111"],
                             capture_output=True, text=True, env={**os.environ, **self.env})
        assert out.returncode == 0, out.stderr

    @staticmethod
    def write_conf(path, tokens):
        with open(path, "w") as f:
            f.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")

    def uri(self, obj="coffer-root"):
        return (f"pkcs11:token={self.label};object={obj}?module-path={MODULE}"
                f"&pin-source=file:{self.pin_file}")

    def copy_conf(self):
        """A second view of the same token (a copy of its files), for a CLI run while the
        server's own view is broken."""
        tokens = os.path.join(self.root, "tokens-copy")
        shutil.copytree(self.tokens, tokens)
        conf = os.path.join(self.root, "softhsm2-copy.conf")
        self.write_conf(conf, tokens)
        return {"SOFTHSM2_CONF": conf}

    def break_(self):
        """Makes the token's store unreadable: mode 000, or (as root, whom a mode does not stop)
        moved away."""
        if os.geteuid() == 0:
            os.rename(self.tokens, self.tokens + ".away")
        else:
            os.chmod(self.tokens, 0)

    def repair(self):
        if os.geteuid() == 0:
            os.rename(self.tokens + ".away", self.tokens)
        else:
            os.chmod(self.tokens, 0o700)


@pytest.fixture
def token(tmp_path):
    return Token(str(tmp_path / "hsm"))


def coffer(*args, env=None, timeout=120):
    return subprocess.run([COFFER_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def ok(out):
    __tracebackhide__ = True
    if out.returncode != 0:
        pytest.fail(f"coffer failed ({out.returncode}): {redact(out.stderr)}")
    return out


def read(caller, vault, path):
    return expect(caller.get(f"/vaults/{vault}/secrets/{path}"), 200).json()["value"]


def test_pin_value_is_refused_and_never_echoed(token, data_dir):
    uri = f"pkcs11:token={token.label};object=o?module-path={MODULE}&pin-value={PIN}"
    out = coffer("init", "--data-dir", data_dir, "--root-key-uri", uri, env=token.env)
    assert out.returncode != 0
    assert "pin-value is refused" in out.stderr
    assert PIN not in out.stderr + out.stdout


def test_init_in_the_token_and_secrets_survive_a_restart(token, data_dir):
    out = ok(coffer("init", "--data-dir", data_dir, "--root-key-uri", token.uri(), env=token.env))
    assert "generated in the token" in out.stdout
    assert not os.path.exists(os.path.join(data_dir, "root.key"))
    admin_key = KEY_RE.search(out.stdout).group(1)
    args = ["--root-key-uri", token.uri()]
    srv = Server(data_dir, admin_key, extra_args=args, env=token.env)
    try:
        admin = admin_caller(srv)
        vault = create_vault(admin, "hsm")
        put_secret(admin, vault, "db/password", value="in-the-token")
        srv.stop()
        srv = Server(data_dir, admin_key, extra_args=args, env=token.env)
        admin = admin_caller(srv)
        assert read(admin, vault, "db/password") == "in-the-token"
        # Without the token the keyring does not open: the key is nowhere else.
        srv.stop()
        out = coffer("keys", "rotate", "--data-dir", data_dir)
        assert out.returncode != 0
        # A second init on the same object uses the key already there.
        ok(coffer("keys", "rotate", "--data-dir", data_dir, *args, env=token.env))
        srv = Server(data_dir, admin_key, extra_args=args, env=token.env)
        admin = admin_caller(srv)
        put_secret(admin, vault, "db/password", value="after-rotation")
        assert read(admin, vault, "db/password") == "after-rotation"
    finally:
        srv.stop()
    assert PIN not in srv.read_log()


def test_migrate_root_file_to_token_and_back_while_a_server_runs(token, server):
    admin = admin_caller(server)
    vault = create_vault(admin, "migrating")
    put_secret(admin, vault, "a", value="before")
    store = ["--store", server.store.url] if server.store.url else []
    data = ["--data-dir", server.data_dir, *store]
    out = ok(coffer("keys", "migrate-root", *data, "--to", token.uri(), env=token.env))
    assert "is now sealed by PKCS#11 token" in out.stdout
    # The running server keeps serving with the keys it holds.
    assert read(admin, vault, "a") == "before"
    put_secret(admin, vault, "b", value="during")
    # Resumable: a second run finds every key sealed by the token already.
    out = ok(coffer("keys", "migrate-root", *data, "--to", token.uri(), env=token.env))
    assert "0 keys sealed anew" in out.stdout
    # The key file no longer opens the keyring.
    assert coffer("keys", "rotate", *data).returncode != 0
    server.stop()
    args = ["--root-key-uri", token.uri()]
    srv = Server(server.data_dir, server.admin_key, extra_args=args, env=token.env,
                 store=server.store)
    try:
        admin = admin_caller(srv)
        assert read(admin, vault, "a") == "before"
        assert read(admin, vault, "b") == "during"
        # And back to the key file, with the server running.
        key_file = os.path.join(server.data_dir, "root.key")
        ok(coffer("keys", "migrate-root", *data, *args, "--to", f"file:{key_file}",
                  env=token.env))
        assert read(admin, vault, "a") == "before"
    finally:
        srv.stop()
    srv = Server(server.data_dir, server.admin_key, store=server.store)
    try:
        admin = admin_caller(srv)
        assert read(admin, vault, "b") == "during"
    finally:
        srv.stop()


def wait_for(predicate, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_an_unreachable_token_is_a_503_and_the_server_recovers(token, data_dir):
    out = ok(coffer("init", "--data-dir", data_dir, "--root-key-uri", token.uri(), env=token.env))
    admin_key = KEY_RE.search(out.stdout).group(1)
    args = ["--root-key-uri", token.uri()]
    srv = Server(data_dir, admin_key, extra_args=args, env=token.env)
    try:
        admin = admin_caller(srv)
        vault = create_vault(admin, "fragile")
        put_secret(admin, vault, "held", value="held-key")
        copy = token.copy_conf()
        token.break_()
        try:
            # /v1/ready says why, /metrics counts it.
            def not_ready():
                r = admin.get("/ready")
                return r.status_code == 503 and "cannot be reached" in r.text
            assert wait_for(not_ready), admin.get("/ready").text
            assert "PKCS#11 token" in admin.get("/ready").json()["detail"]
            m = requests.get(srv.url + "/metrics", timeout=10).text
            line = [x for x in m.splitlines()
                    if x.startswith("coffer_key_provider_failures_total ")]
            assert line and float(line[0].split()[1]) > 0, line
            # Values under keys the server holds are still served: the token is not on the
            # per-request path.
            assert read(admin, vault, "held") == "held-key"
            # A value under a data key the server does not hold yet (rotated and re-encrypted by
            # the CLI on another view of the token) needs the token: 503, nothing lost.
            ok(coffer("keys", "rotate", "--data-dir", data_dir, *args, env=copy))
            ok(coffer("keys", "reencrypt", "--data-dir", data_dir, *args, env=copy))
            r = admin.get(f"/vaults/{vault}/secrets/held")
            assert r.status_code == 503, r.text
            assert r.json()["type"] == "urn:coffer:problem:key-provider-unavailable"
            assert PIN not in r.text
        finally:
            token.repair()
        # Back by itself: the next check re-opens the session.
        assert wait_for(lambda: admin.get("/ready").status_code == 200)
        assert wait_for(lambda: admin.get(f"/vaults/{vault}/secrets/held").status_code == 200)
        assert read(admin, vault, "held") == "held-key"
    finally:
        srv.stop()
    assert PIN not in srv.read_log()


def test_rotate_token_key_with_the_root_key_in_the_token(token, data_dir):
    out = ok(coffer("init", "--data-dir", data_dir, "--root-key-uri", token.uri(), env=token.env))
    admin_key = KEY_RE.search(out.stdout).group(1)
    args = ["--root-key-uri", token.uri()]
    srv = Server(data_dir, admin_key, extra_args=args, env=token.env)
    try:
        def jwks():
            return expect(requests.get(srv.url + "/.well-known/jwks.json", timeout=30),
                          200).json()["keys"]
        assert len(jwks()) == 1
        # The new signing key is sealed in the token; the running server unwraps it there.
        ok(coffer("keys", "rotate-token-key", "--data-dir", data_dir, *args, env=token.env))
        end = time.time() + 15
        while len(jwks()) != 2 and time.time() < end:
            time.sleep(0.2)
        assert len(jwks()) == 2
        admin = admin_caller(srv)
        create_vault(admin, "after-token-key-rotation")
    finally:
        srv.stop()
