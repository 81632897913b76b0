"""Verifiable access tokens: tokens are EdDSA (Ed25519) JWTs with a `kid`, verified here with npm
`jose` (tests/jose, installed with `npm ci` by scripts/test.sh, or here when it has not been)
against /.well-known/jwks.json; /v1/auth/jwt-public-key and /.well-known/openid-configuration
describe the same key. `coffer keys rotate-token-key` while servers run: tokens signed before
stay accepted, new ones carry the new kid, the JWKS lists both, and a second server on the same
PostgreSQL database sees the rotation. Tokens that are unsigned, HS256 (keyed with the public
key) or of another algorithm are refused."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import (KEY_RE, Caller, admin_caller, audit_pages, exchange,
                      expect, init_data_dir, keys_command, redact, two_servers, wait_for)

JOSE_DIR = os.path.join(os.path.dirname(__file__), "..", "jose")
PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")


def ensure_jose():
    if os.path.isdir(os.path.join(JOSE_DIR, "node_modules", "jose")):
        return
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the jose verifier (COFFER_WITH_TEST_TOOLS=1 "
                    "scripts/install-deps.sh installs it)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JOSE_DIR,
                   check=True, timeout=600)


def jose_verify(server, token):
    """What jose makes of `token` against the server's JWKS: {"header", "payload"} or
    {"error"}."""
    ensure_jose()
    out = subprocess.run(["node", "verify_token.mjs"], cwd=JOSE_DIR, input=token,
                         env=dict(os.environ, COFFER_ADDR=server.url), capture_output=True,
                         text=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    if not lines:
        pytest.fail("the jose verifier printed nothing: " + redact(out.stderr))
    return json.loads(lines[-1])


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def header_of(token):
    return json.loads(b64url_decode(token.split(".")[0]))


def get(server, path):
    return Caller(server).http.get(server.url + path, timeout=30)


def jwks(server):
    r = get(server, "/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    return r.json()["keys"]


def test_a_token_verifies_with_jose_against_the_published_keys(server):
    token = exchange(server, server.admin_key)
    header = header_of(token)
    assert header["alg"] == "EdDSA" and header["kid"]

    keys = jwks(server)
    assert len(keys) == 1
    key = keys[0]
    assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA"}
    assert key["kid"] == header["kid"]
    assert "d" not in key, "the private key is never published"
    # The kid is the RFC 7638 thumbprint of the key.
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": key["x"]}, separators=(",", ":"))
    assert key["kid"] == b64url(hashlib.sha256(canonical.encode()).digest())

    verified = jose_verify(server, token)
    assert "error" not in verified, verified
    assert verified["header"]["kid"] == key["kid"]
    assert verified["payload"]["iss"] == "coffer"
    assert verified["payload"]["sub"].startswith("user:")

    # The same key, as 1claw's /v1/auth/jwt-public-key describes it.
    r = get(server, "/v1/auth/jwt-public-key")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["alg"] == "EdDSA"
    assert base64.b64decode(body["public_key_base64"]) == b64url_decode(key["x"])
    assert "max-age" in r.headers.get("Cache-Control", "")

    r = get(server, "/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    discovery = r.json()
    assert discovery["issuer"] == "coffer"
    assert discovery["jwks_uri"].endswith("/.well-known/jwks.json")
    assert discovery["id_token_signing_alg_values_supported"] == ["EdDSA"]

    # A token changed by one character is refused by jose as by Coffer.
    head, payload, sig = token.split(".")
    forged_payload = json.loads(b64url_decode(payload))
    forged_payload["sub"] = "user:someone-else"
    forged = head + "." + b64url(json.dumps(forged_payload).encode()) + "." + sig
    assert "error" in jose_verify(server, forged)
    expect(Caller(server, forged).me(), 401)


def test_unsigned_hs256_and_other_algorithms_are_refused(server):
    token = exchange(server, server.admin_key)
    kid = header_of(token)["kid"]
    payload = token.split(".")[1]
    public_key = b64url_decode(jwks(server)[0]["x"])

    def craft(header, key=None, digest=hashlib.sha256):
        signing_input = b64url(json.dumps(header).encode()) + "." + payload
        sig = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
        return signing_input + "." + b64url(sig)

    forged = [
        craft({"alg": "none", "kid": kid}),
        craft({"alg": "none"}),
        # HS256 keyed with the (public) verification key: the classic confusion.
        craft({"alg": "HS256", "kid": kid}, public_key),
        craft({"alg": "HS512", "kid": kid}, public_key, hashlib.sha512),
        craft({"alg": "EdDSA", "kid": kid}, public_key),
        craft({"alg": "RS256", "kid": kid}, public_key),
        # A real signature under a header naming another alg.
        b64url(json.dumps({"alg": "HS256", "kid": kid}).encode()) + "." + payload + "." +
        token.split(".")[2],
    ]
    for t in forged:
        r = Caller(server, t).me()
        expect(r, 401)
        assert t not in r.text
    expect(Caller(server, token).me(), 200)


def test_rotate_token_key_while_the_server_runs(server):
    admin = admin_caller(server)
    old_token = exchange(server, server.admin_key)
    old_kid = header_of(old_token)["kid"]

    out = keys_command(server, "rotate-token-key")
    assert "now signs new tokens" in out.stdout

    # The server picks the new key up within its keyring refresh interval.
    keys = wait_for(lambda: (lambda k: k if len(k) == 2 else None)(jwks(server)),
                    "the JWKS to list the new key")
    new_token = wait_for(lambda: (lambda t: t if header_of(t)["kid"] != old_kid else None)(
        exchange(server, server.admin_key)), "a token signed by the new key")
    new_kid = header_of(new_token)["kid"]
    assert [k["kid"] for k in keys] == [new_kid, old_kid], "current key first"

    # Both tokens are accepted by Coffer and by jose.
    expect(Caller(server, old_token).me(), 200)
    expect(Caller(server, new_token).me(), 200)
    assert "error" not in jose_verify(server, old_token)
    assert "error" not in jose_verify(server, new_token)
    r = get(server, "/v1/auth/jwt-public-key")
    assert base64.b64decode(r.json()["public_key_base64"]) == b64url_decode(keys[0]["x"])

    events, _ = audit_pages(admin)
    rotations = [e for e in events if e["action"] == "keys.rotate_token_key"]
    assert len(rotations) == 1 and rotations[0]["path"].startswith("keyring/jwt-ed25519/")
    assert expect(admin.get("/audit/verify"), 200).json()["ok"] is True


def test_a_store_without_a_token_key_gets_one_when_the_server_starts(server):
    """A store from before Ed25519 tokens (emulated by removing the key) gets a signing key at
    start, without re-init."""
    server.stop()
    server.sql("DELETE FROM keys WHERE purpose = 'jwt-ed25519'")
    server.start()
    token = exchange(server, server.admin_key)
    expect(Caller(server, token).me(), 200)
    assert len(jwks(server)) == 1
    assert "error" not in jose_verify(server, token)
    assert len(server.sql("SELECT id FROM keys WHERE purpose = 'jwt-ed25519'")) == 1


def test_a_wrong_root_key_adds_no_token_key(server):
    """A server started with another root key on a store from before Ed25519 tokens refuses to
    start and leaves nothing behind that the right root key could not open."""
    server.stop()
    server.sql("DELETE FROM keys WHERE purpose = 'jwt-ed25519'")
    key_file = os.path.join(server.data_dir, "root.key")
    with tempfile.TemporaryDirectory(prefix="coffer-other-") as other:
        init_data_dir(os.path.join(other, "d"))
        shutil.copy2(key_file, os.path.join(other, "right.key"))
        shutil.copy2(os.path.join(other, "d", "root.key"), key_file)
        with pytest.raises(RuntimeError):
            server.start()
        assert server.sql("SELECT id FROM keys WHERE purpose = 'jwt-ed25519'") == []
        shutil.copy2(os.path.join(other, "right.key"), key_file)
    server.start()
    expect(Caller(server, exchange(server, server.admin_key)).me(), 200)
    assert len(server.sql("SELECT id FROM keys WHERE purpose = 'jwt-ed25519'")) == 1


@pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set")
def test_two_servers_on_one_postgres_database_see_a_token_key_rotation(store):
    if store.kind != "postgres":
        pytest.skip("two servers share one PostgreSQL database")
    with two_servers(store) as (a, b, admin_key):
        old_token = exchange(a, admin_key)
        old_kid = header_of(old_token)["kid"]
        expect(Caller(b, old_token).me(), 200)
        keys_command(a, "rotate-token-key")
        for srv in (a, b):
            wait_for(lambda: len(jwks(srv)) == 2, "both servers to list both keys")
        new_token = exchange(b, admin_key)
        assert header_of(new_token)["kid"] != old_kid
        for srv in (a, b):
            expect(Caller(srv, old_token).me(), 200)
            expect(Caller(srv, new_token).me(), 200)
        assert "error" not in jose_verify(a, new_token)
