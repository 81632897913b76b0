"""Unseal (docs/operations.md, "Unseal"): `coffer init --unseal-shares 5 --unseal-threshold 3`
prints five shares and writes no root key; the server starts sealed and answers 503 sealed to
every route but health, readiness, metrics, the OpenAPI document, the seal status and unseal;
three shares (through the API or `coffer operator unseal`) unseal it; a seal or a restart seals
it again; a wrong, mistyped or repeated share does not count."""
import hashlib
import os
import re
import subprocess
import uuid

import pytest

from conftest import (COFFER_BIN, KEY_RE, PG_URL, Caller, Server, Store, check_absent, expect,
                      expect_problem, pg_database_url, pg_sql, redact)

SHARE_RE = re.compile(r"^\s*(cfr_share_\d+_[0-9a-f]+)\s*$", re.M)
OPENAPI = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.yaml")
# Answered while sealed; every other route is 503 urn:coffer:problem:sealed.
OPEN_WHILE_SEALED = {("GET", "/v1/health"), ("GET", "/v1/ready"), ("GET", "/v1/sys/seal-status"),
                     ("POST", "/v1/sys/unseal"), ("GET", "/metrics"), ("GET", "/v1/openapi.yaml")}


class Split:
    """A data dir initialised with unseal shares; repr without them (pytest prints arguments)."""

    def __init__(self, data_dir, store, admin_key, shares):
        self.data_dir, self.store, self.admin_key, self.shares = data_dir, store, admin_key, shares

    def __repr__(self):
        return f"<Split {len(self.shares)} shares>"


@pytest.fixture
def split(store_kind, tmp_path):
    """`coffer init --unseal-shares 5 --unseal-threshold 3` on a fresh store of each kind."""
    data_dir = str(tmp_path / "data")
    store, name = Store("sqlite"), None
    args = []
    if store_kind == "postgres":
        if not PG_URL:
            pytest.skip("COFFER_TEST_PG_URL is not set (scripts/pg-cluster.sh start sets it)")
        name = "coffer_unseal_" + uuid.uuid4().hex[:16]
        pg_sql(f"CREATE DATABASE {name}")
        store = Store("postgres", pg_database_url(name), name)
        args = store.args
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir, *args,
                          "--unseal-shares", "5", "--unseal-threshold", "3"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    shares = SHARE_RE.findall(out.stdout)
    assert len(shares) == 5, "init printed no five shares"
    assert "you will not see" in out.stdout
    assert not os.path.exists(os.path.join(data_dir, "root.key"))
    assert os.path.exists(os.path.join(data_dir, "unseal.json"))
    check_absent(open(os.path.join(data_dir, "unseal.json")).read(), shares, "unseal.json")
    yield Split(data_dir, store, KEY_RE.search(out.stdout).group(1), shares)
    if name:
        pg_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sealed_server(split):
    """A server on `split`'s data dir, sealed as it starts."""
    srv = Server(split.data_dir, split.admin_key, store=split.store)
    yield srv
    srv.stop()


def documented_routes():
    """(method, path) of every operation of docs/openapi.yaml, parameters filled in."""
    routes, path = [], None
    for line in open(OPENAPI):
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = re.sub(r"\{[^}]+\}", "x", m.group(1))
            continue
        m = re.match(r"^    (get|put|post|patch|delete):", line)
        if m and path:
            routes.append((m.group(1).upper(), path))
    return routes


def forge_share(real, x):
    """A share of `real`'s split with index `x`, random digits and a valid check (the check
    catches typos, not forgery: the keyring does)."""
    digits = real.rsplit("_", 1)[1]
    split_id = bytes.fromhex(digits[:8])
    y = os.urandom(len(digits) // 2 - 8)
    check = hashlib.sha256(b"coffer-unseal-share-v1" + split_id + bytes([x]) + y).digest()[:4]
    return f"cfr_share_{x}_{(split_id + y + check).hex()}"


def unseal(caller, share):
    return caller.post("/sys/unseal", json={"share": share})


def status(caller):
    return expect(caller.get("/sys/seal-status"), 200).json()


def test_sealed_server_answers_only_health_and_unseal(split):
    srv = Server(split.data_dir, split.admin_key, store=split.store)
    try:
        anon, admin = Caller(srv), Caller(srv, srv.admin_key)
        assert status(anon) == {"sealed": True, "threshold": 3, "shares": 5, "progress": 0}
        assert expect(anon.get("/health"), 200).json()["status"] == "degraded"
        expect_problem(anon.get("/ready"), 503, "sealed")
        routes = documented_routes()
        assert len(routes) > 40
        for method, path in routes:
            if (method, path) in OPEN_WHILE_SEALED:
                continue
            r = admin.http.request(method, srv.url + path, json={}, timeout=30,
                                   headers={"Authorization": "Bearer " + srv.admin_key})
            body = expect_problem(r, 503)
            assert body["type"] == "urn:coffer:problem:sealed", (method, path)
        # Routes nobody documented are sealed too.
        assert expect_problem(anon.get("/no-such-route"), 503)["type"].endswith(":sealed")
        expect(anon.http.get(srv.url + "/metrics", timeout=30), 200)
    finally:
        srv.stop()
    check_absent(srv.read_log(), split.shares, "server log")


def test_unseal_through_the_api_then_seal_and_restart(split):
    srv = Server(split.data_dir, split.admin_key, store=split.store)
    try:
        anon, admin = Caller(srv), Caller(srv, srv.admin_key)
        # A mistyped share is refused and counts nothing.
        typo = split.shares[0][:-3] + ("0" if split.shares[0][-3] != "0" else "1") + split.shares[0][-2:]
        body = expect_problem(unseal(anon, typo), 400, "mistyped")
        check_absent(str(body), [typo] + split.shares)
        assert status(anon)["progress"] == 0
        expect(unseal(anon, split.shares[0]), 200)
        # The same share again does not count twice.
        expect_problem(unseal(anon, split.shares[0]), 400, "already given")
        assert status(anon)["progress"] == 1
        # Reset forgets it.
        assert expect(anon.post("/sys/unseal", json={"reset": True}), 200).json()["progress"] == 0
        expect(unseal(anon, split.shares[4]), 200)
        assert expect(unseal(anon, split.shares[1]), 200).json()["progress"] == 2
        done = expect(unseal(anon, split.shares[3]), 200).json()
        assert done["sealed"] is False
        expect(anon.get("/ready"), 200)
        r = expect(admin.post("/vaults", json={"name": "after-unseal"}), 201)
        vault_id = r.json()["id"]
        expect(admin.put(f"/vaults/{vault_id}/secrets/db/password",
                         json={"value": "s3cret", "type": "password"}), 201, 200)
        assert expect(admin.get(f"/vaults/{vault_id}/secrets/db/password"), 200).json()["value"] == "s3cret"
        # Unseal attempts made while sealed are in the audit log now.
        events = expect(admin.get("/audit", params={"action": "sys.unseal", "limit": 100}), 200).json()
        assert len(events["events"]) >= 5
        # Only an admin seals; anyone else is refused.
        expect_problem(anon.post("/sys/seal"), 401)
        expect(admin.post("/sys/seal"), 200)
        assert status(anon)["sealed"] is True
        assert expect_problem(admin.get("/vaults"), 503)["type"].endswith(":sealed")
        # A restart is sealed too, and the shares open it again; the secret is still there.
    finally:
        srv.stop()
    srv = Server(split.data_dir, split.admin_key, store=split.store)
    try:
        anon, admin = Caller(srv), Caller(srv, srv.admin_key)
        assert status(anon)["sealed"] is True
        for share in split.shares[2:]:
            expect(unseal(anon, share), 200)
        assert expect(admin.get(f"/vaults/{vault_id}/secrets/db/password"), 200).json()["value"] == "s3cret"
    finally:
        srv.stop()
    check_absent(srv.read_log(), split.shares, "server log")


def test_shares_of_another_store_do_not_open_it(split, tmp_path):
    other_dir = str(tmp_path / "other")
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", other_dir,
                          "--unseal-shares", "3", "--unseal-threshold", "2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    other = SHARE_RE.findall(out.stdout)
    srv = Server(split.data_dir, split.admin_key, store=split.store)
    try:
        anon = Caller(srv)
        expect_problem(unseal(anon, other[0]), 400, "another store")
        assert status(anon)["progress"] == 0
        # A share of this store's split id, but forged, is found out when the key is combined.
        share = split.shares[4]
        prefix, digits = share.rsplit("_", 1)
        forged_x = "cfr_share_4_" + digits  # another index with share 5's digits: check fails
        expect_problem(unseal(anon, forged_x), 400)
        # A share forged with this store's split id and a valid check passes every test a share
        # can pass alone; combined with two real ones it gives a key that does not open the
        # keyring: refused, progress reset, nothing changed.
        expect(unseal(anon, forge_share(split.shares[0], 5)), 200)
        expect(unseal(anon, split.shares[0]), 200)
        expect_problem(unseal(anon, split.shares[1]), 400, "the shares do not open this store")
        assert status(anon) == {"sealed": True, "threshold": 3, "shares": 5, "progress": 0}
        expect(unseal(anon, split.shares[0]), 200)
        expect(unseal(anon, split.shares[1]), 200)
        assert status(anon)["progress"] == 2
        expect(unseal(anon, split.shares[2]), 200)
        assert status(anon)["sealed"] is False
    finally:
        srv.stop()


def test_unseal_with_the_cli(split, sealed_server):
    srv = sealed_server
    env = dict(os.environ, COFFER_ADDR=srv.url)
    env.pop("COFFER_TOKEN", None)
    env["HOME"] = split.data_dir  # no login config

    def run(*args, env_token=None, **kw):
        call_env = dict(env, COFFER_TOKEN=env_token) if env_token else env
        return subprocess.run([COFFER_BIN, "operator", *args], env=call_env,
                              capture_output=True, text=True, timeout=60, **kw)
    out = run("seal-status", "--json")
    assert out.returncode == 0, redact(out.stderr)
    assert '"sealed":true' in out.stdout
    for share in split.shares[1:4]:
        out = run("unseal", input=share + "\n")
        assert out.returncode == 0, redact(out.stderr)
        check_absent(out.stdout + out.stderr, split.shares, "CLI output")
    assert "Sealed:    false" in out.stdout
    anon = Caller(srv)
    assert status(anon)["sealed"] is False
    out = run("seal", env_token=srv.admin_key)
    assert out.returncode == 0, redact(out.stderr)
    assert status(anon)["sealed"] is True


def test_unseal_attempts_are_rate_limited_per_address(split, sealed_server):
    srv = sealed_server
    anon = Caller(srv)
    for _ in range(30):
        expect_problem(unseal(anon, "cfr_share_1_00"), 400)
    body = expect_problem(unseal(anon, split.shares[0]), 429)
    check_absent(str(body), split.shares)
    assert status(anon)["progress"] == 0  # the refused share was not looked at
    metrics = anon.http.get(srv.url + "/metrics", timeout=30).text
    assert 'coffer_rate_limit_refusals_total{limit="unseal"} 1' in metrics
