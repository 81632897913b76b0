"""Authentication (admin API key, JWT exchange) and vaults against the real binary."""
import re

import requests


def assert_problem(r, status, detail_re=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"].startswith("urn:coffer:problem:")
    if detail_re:
        assert re.search(detail_re, body["detail"]), body["detail"]
    return body


def test_admin_key_format(server):
    assert re.fullmatch(r"cfr_key_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}", server.admin_key)


def test_missing_and_invalid_credentials_are_401(server):
    r = requests.get(server.url + "/v1/vaults")
    body = assert_problem(r, 401, "Authorization")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    for token in ["garbage", server.admin_key[:-1] + ("A" if server.admin_key[-1] != "A" else "B"),
                  "cfr_key_AAAAAAAAAAAA_" + "A" * 43 + "_AAAAAA", "eyJhbGciOiJub25lIn0.e30."]:
        r = requests.get(server.url + "/v1/vaults", headers={"Authorization": "Bearer " + token})
        body = assert_problem(r, 401)
        assert token not in r.text
    r = requests.get(server.url + "/v1/vaults", headers={"Authorization": "Basic abc"})
    assert_problem(r, 401, "Bearer")


def test_jwt_exchange_and_use(server):
    r = requests.post(server.url + "/v1/auth/token", json={"api_key": server.admin_key})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    jwt = body["access_token"]
    assert jwt.count(".") == 2
    r = requests.get(server.url + "/v1/vaults", headers={"Authorization": "Bearer " + jwt})
    assert r.status_code == 200
    # Tampered token refused.
    head, payload, sig = jwt.split(".")
    bad = ".".join([head, payload, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")])
    assert_problem(requests.get(server.url + "/v1/vaults",
                                headers={"Authorization": "Bearer " + bad}), 401)
    # Exchange via the Bearer header too.
    r = requests.post(server.url + "/v1/auth/token",
                      headers={"Authorization": "Bearer " + server.admin_key})
    assert r.status_code == 200
    assert_problem(requests.post(server.url + "/v1/auth/token", json={"api_key": "nope"}), 401)
    assert_problem(requests.post(server.url + "/v1/auth/token", json={}), 401)


def test_vault_crud(api):
    r = api.post(api.base + "/v1/vaults", json={"name": "prod", "description": "Production"})
    assert r.status_code == 201, r.text
    v = r.json()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", v["id"])
    assert v["name"] == "prod" and v["description"] == "Production" and v["created_at"]
    assert_problem(api.post(api.base + "/v1/vaults", json={"name": "prod"}), 409, "already exists")
    assert api.get(api.base + "/v1/vaults/" + v["id"]).json()["name"] == "prod"
    names = [x["name"] for x in api.get(api.base + "/v1/vaults").json()["vaults"]]
    assert "prod" in names
    api.put(f"{api.base}/v1/vaults/{v['id']}/secrets/a", json={"type": "note", "value": "n"})
    assert api.delete(api.base + "/v1/vaults/" + v["id"]).status_code == 204
    assert_problem(api.get(api.base + "/v1/vaults/" + v["id"]), 404)
    assert_problem(api.get(f"{api.base}/v1/vaults/{v['id']}/secrets/a"), 404, "vault")
    assert_problem(api.delete(api.base + "/v1/vaults/" + v["id"]), 404)
    assert_problem(api.get(api.base + "/v1/vaults/xyz"), 400, "UUID")


def test_vault_bad_input(api):
    assert_problem(api.post(api.base + "/v1/vaults", json={}), 400, "name is required")
    assert_problem(api.post(api.base + "/v1/vaults", json={"name": ""}), 400, "name")
    assert_problem(api.post(api.base + "/v1/vaults", json={"name": "a b"}), 400, "name")
    assert_problem(api.post(api.base + "/v1/vaults", json={"name": "x" * 65}), 400, "name")
    assert_problem(api.post(api.base + "/v1/vaults", json={"name": 3}), 400, "string")
    assert_problem(api.post(api.base + "/v1/vaults", json={"name": "ok", "owner": "x"}), 400,
                   "unknown field")


def test_request_id_and_security_headers(api):
    r = api.get(api.base + "/v1/vaults")
    assert re.fullmatch(r"[0-9a-f]{16}", r.headers["X-Request-Id"])
    assert r.headers["Cache-Control"] == "no-store"
    r = api.get(api.base + "/v1/vaults", headers={"X-Request-Id": "trace-123"})
    assert r.headers["X-Request-Id"] == "trace-123"


def test_health_is_public(server):
    r = requests.get(server.url + "/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "healthy"
