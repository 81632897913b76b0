"""The secrets API end to end against the real binary (seeds 000-002)."""
import datetime
import re
import string

import pytest
import requests

from conftest import raw_request

PROBLEM = "application/problem+json"


def url(api, vault, kind, path=""):
    return f"{api.base}/v1/vaults/{vault}/{kind}" + (f"/{path}" if path else "")


def put(api, vault, path, value="sk-test-1", type_="api_key", **extra):
    body = {"type": type_, "value": value, **extra}
    return api.put(url(api, vault, "secrets", path), json=body)


def assert_problem(r, status, detail_re=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:coffer:problem:")
    assert body["title"]
    if detail_re:
        assert re.search(detail_re, body["detail"]), body["detail"]
    return body


def future(days=30):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_put_returns_metadata_only_and_versions_increment(api, vault):
    r = put(api, vault, "api-keys/openai", "sk-proj-AAA",
            metadata={"tags": ["openai", "production"], "description": "OpenAI key"},
            expires_at="2099-12-31T23:59:59Z")
    assert r.status_code == 201, r.text
    body = r.json()
    assert "value" not in body and "sk-proj-AAA" not in r.text
    assert body["path"] == "api-keys/openai"
    assert body["type"] == "api_key"
    assert body["version"] == 1
    assert body["metadata"] == {"tags": ["openai", "production"], "description": "OpenAI key"}
    assert body["expires_at"] == "2099-12-31T23:59:59Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["created_at"])
    secret_id = body["id"]

    r = put(api, vault, "api-keys/openai", "sk-proj-BBB")
    assert r.status_code == 201
    assert r.json()["version"] == 2
    assert r.json()["id"] == secret_id

    r = api.get(url(api, vault, "secrets", "api-keys/openai"))
    assert r.status_code == 200
    assert r.json()["value"] == "sk-proj-BBB"
    assert r.json()["version"] == 2


def test_percent_encoded_and_raw_paths_are_the_same_secret(api, vault):
    assert put(api, vault, "api-keys%2Fdb-password", "pw1").status_code == 201
    r = api.get(url(api, vault, "secrets", "api-keys/db-password"))
    assert r.status_code == 200 and r.json()["value"] == "pw1"
    assert r.json()["path"] == "api-keys/db-password"
    r = api.get(url(api, vault, "secrets", "api-keys%2fdb-password"))
    assert r.status_code == 200 and r.json()["value"] == "pw1"


@pytest.mark.parametrize("bad_path", [
    "a//b", "a/./b", "a/../b", "..", "a%2F%2Fb", "a%2F..%2Fb", "a/b%20c", "a/b.c", "%2Fa",
    "a%2F", "a/%00", "a/%ZZ", "a/\u00e9", "x" * 600,
])
def test_invalid_paths_are_400(server, vault, bad_path):
    target = f"/v1/vaults/{vault}/secrets/" + bad_path.replace("\u00e9", "%C3%A9")
    r = raw_request(server.url, "PUT", target, {"type": "api_key", "value": "v"},
                    {"Authorization": "Bearer " + server.admin_key})
    assert r.status_code in (400, 404), r.text
    if r.status_code == 404:
        # Only a route-level miss (e.g. a trailing empty segment collapsing) may be 404.
        assert r.headers["Content-Type"].startswith(PROBLEM)
    else:
        assert_problem(r, 400)


def test_invalid_path_detail_names_the_rule(api, vault):
    assert_problem(put(api, vault, "a//b"), 400, "empty segment")
    assert_problem(put(api, vault, "a/b.c"), 400, "only letters, digits")
    assert_problem(put(api, vault, "a%2F..%2Fb"), 400, "secret path")


def test_get_missing_secret_and_vault(api, vault):
    assert_problem(api.get(url(api, vault, "secrets", "nope")), 404, "secret not found")
    other = "00000000-0000-4000-8000-000000000000"
    assert_problem(api.get(url(api, other, "secrets", "x")), 404, "vault not found")
    assert_problem(api.get(url(api, "not-a-uuid", "secrets", "x")), 400, "vault_id")


@pytest.mark.parametrize("body,detail", [
    ({"type": 5, "value": "x"}, "type must be a string"),  # type may be omitted: generic
    ({"type": "api_key"}, "value is required"),
    ({"type": "bogus", "value": "x"}, "type must be one of"),
    ({"type": "api_key", "value": 5}, "value must be a string"),
    ({"type": "api_key", "value": ""}, "value must not be empty"),
    ({"type": "api_key", "value": "x", "metadata": "tags"}, "metadata must be an object"),
    ({"type": "api_key", "value": "x", "metadata": [1]}, "metadata must be an object"),
    ({"type": "api_key", "value": "x", "expires_at": "tomorrow"}, "expires_at"),
    ({"type": "api_key", "value": "x", "expires_at": "2001-01-01T00:00:00Z"}, "future"),
    ({"type": "api_key", "value": "x", "max_access_count": -1}, "max_access_count"),
    ({"type": "api_key", "value": "x", "max_access_count": 1.5}, "max_access_count"),
    ({"type": "api_key", "value": "x", "max_access_count": "3"}, "max_access_count"),
    ({"type": "api_key", "value": "x", "max_access_count": 1e300}, "max_access_count"),
    ({"type": "api_key", "value": "x", "rotation_policy": 7}, "rotation_policy"),
    ({"type": "api_key", "value": "x", "expiresAt": "2099-01-01T00:00:00Z"}, "unknown field"),
])
def test_put_bad_fields_are_400_naming_the_field(api, vault, body, detail):
    r = api.put(url(api, vault, "secrets", "a/b"), json=body)
    assert_problem(r, 400, detail)
    # Nothing was stored.
    assert api.get(url(api, vault, "secrets", "a/b")).status_code == 404


# Numbers beyond a double's range (Boost.JSON reads them as infinities, which were stored as
# "Infinity" and then rendered the whole metadata as {}) and integers beyond 64 bits are refused
# wherever they are, naming where. Sent as text: Python's json cannot write such numbers.
@pytest.mark.parametrize("text,detail", [
    ('{"type":"api_key","value":"x","metadata":{"n":1e400,"team":"x"}}',
     "metadata.n is a number out of range"),
    ('{"type":"api_key","value":"x","metadata":{"list":[1,-1E999]}}',
     r"metadata.list\[1\] is a number out of range"),
    ('{"type":"api_key","value":"x","rotation_policy":{"every":1e309}}',
     "rotation_policy.every is a number out of range"),
    ('{"type":"api_key","value":"x","max_access_count":1e400}',
     "max_access_count is a number out of range"),
    ('{"type":"api_key","value":"x","max_access_count":18446744073709551616}', "max_access_count"),
    ('{"type":"api_key","value":"x","max_access_count":9223372036854775808}', "max_access_count"),
    ('{"type":"api_key","value":"x","max_access_count":-9223372036854775809}', "max_access_count"),
])
def test_put_numbers_out_of_range_are_400_naming_the_field(api, vault, text, detail):
    r = api.put(url(api, vault, "secrets", "a/b"), data=text,
                headers={"Content-Type": "application/json"})
    assert_problem(r, 400, detail)
    assert api.get(url(api, vault, "secrets", "a/b")).status_code == 404


def test_large_finite_numbers_in_metadata_are_kept(api, vault):
    r = api.put(url(api, vault, "secrets", "a/b"),
                data='{"type":"api_key","value":"x","metadata":{"n":1e308,"team":"x"}}',
                headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"] == {"n": 1e308, "team": "x"}
    assert api.get(url(api, vault, "secrets", "a/b")).json()["metadata"]["team"] == "x"


def test_secret_rotate_length_out_of_range_is_400(api, vault):
    r = api.post(url(api, vault, "secret-rotate", "r/x"), data='{"length":1e400}',
                 headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "length is a number out of range")


@pytest.mark.parametrize("query,name", [
    ("prefix=a&prefix=b", "prefix"), ("limit=1&limit=1", "limit"), ("after=&after=x", "after"),
    ("prefix=a&limit=2&pre%66ix=b", "prefix"),
])
def test_repeated_query_parameters_are_400_naming_them(api, vault, query, name):
    assert put(api, vault, "a/b").status_code == 201
    r = api.get(url(api, vault, "secrets") + "?" + query)
    assert_problem(r, 400, f'query parameter "{name}" is given more than once')
    r = api.get(api.base + "/v1/audit?action=secret.write&" + query.replace("prefix", "action"))
    assert_problem(r, 400, "is given more than once")


def test_malformed_json_non_json_and_oversized_bodies(api, vault):
    target = url(api, vault, "secrets", "a/b")
    r = api.put(target, data='{"type": "api_key", "value": ', headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "not valid JSON")
    r = api.put(target, data="type=api_key&value=x",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "application/json")
    r = api.put(target, data="[1,2]", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "JSON object")
    r = api.put(target, data="[" * 5000 + "]" * 5000, headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    big = "x" * (1024 * 1024 + 10)
    r = api.put(target, json={"type": "note", "value": big})
    assert_problem(r, 413)


def test_all_eight_types(api, vault):
    for t in ["password", "api_key", "private_key", "certificate", "file", "note", "ssh_key",
              "env_bundle"]:
        r = put(api, vault, f"types/{t}", f"value-of-{t}", type_=t)
        assert r.status_code == 201 and r.json()["type"] == t
        assert api.get(url(api, vault, "secrets", f"types/{t}")).json()["type"] == t


def test_list_with_prefix_has_no_values(api, vault):
    for p in ["api-keys/openai", "api-keys/anthropic", "api-keys-prod/x", "db/main"]:
        assert put(api, vault, p, "secret-" + p.replace("/", "-")).status_code == 201
    r = api.get(url(api, vault, "secrets"))
    assert r.status_code == 200
    paths = [s["path"] for s in r.json()["secrets"]]
    assert paths == sorted(paths) and len(paths) == 4
    assert "secret-" not in r.text
    r = api.get(url(api, vault, "secrets"), params={"prefix": "api-keys/"})
    assert [s["path"] for s in r.json()["secrets"]] == ["api-keys/anthropic", "api-keys/openai"]
    r = api.get(url(api, vault, "secrets"), params={"prefix": "db"})
    assert [s["path"] for s in r.json()["secrets"]] == ["db/main"]
    r = api.get(url(api, vault, "secrets"), params={"limit": 2})
    page = r.json()
    assert len(page["secrets"]) == 2 and page["next_after"]
    r = api.get(url(api, vault, "secrets"), params={"limit": 2, "after": page["next_after"]})
    assert len(r.json()["secrets"]) == 2
    assert_problem(api.get(url(api, vault, "secrets"), params={"prefix": "a//"}), 400)
    assert_problem(api.get(url(api, vault, "secrets"), params={"limit": "x"}), 400)


def test_delete_secret(api, vault):
    assert put(api, vault, "tmp/x").status_code == 201
    r = api.delete(url(api, vault, "secrets", "tmp/x"))
    assert r.status_code == 204 and r.text == ""
    assert_problem(api.get(url(api, vault, "secrets", "tmp/x")), 404)
    assert_problem(api.delete(url(api, vault, "secrets", "tmp/x")), 404)
    # A new secret at the same path starts again at version 1.
    assert put(api, vault, "tmp/x").json()["version"] == 1


def test_versions_get_version_and_disable(api, vault):
    for v in ["v1", "v2", "v3"]:
        assert put(api, vault, "api-keys/openai", v).status_code == 201
    r = api.get(url(api, vault, "secret-versions", "api-keys%2Fopenai"))
    assert r.status_code == 200
    versions = r.json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert all(v["is_disabled"] is False for v in versions)
    assert "v1" not in [v.get("value") for v in versions]

    r = api.get(url(api, vault, "secret-version", "api-keys%2Fopenai/2"))
    assert r.status_code == 200 and r.json()["value"] == "v2" and r.json()["version"] == 2

    r = api.post(url(api, vault, "secret-version", "api-keys%2Fopenai/3/disable"))
    assert r.status_code == 200, r.text
    assert r.json()["is_disabled"] is True
    # Idempotent.
    assert api.post(url(api, vault, "secret-version", "api-keys/openai/3/disable")).status_code == 200
    assert_problem(api.get(url(api, vault, "secret-version", "api-keys%2Fopenai/3")), 410)
    # Latest readable skips the disabled version.
    r = api.get(url(api, vault, "secrets", "api-keys/openai"))
    assert r.json()["value"] == "v2" and r.json()["version"] == 2
    versions = api.get(url(api, vault, "secret-versions", "api-keys/openai")).json()["versions"]
    assert [v["is_disabled"] for v in versions] == [True, False, False]

    for v in (1, 2):
        api.post(url(api, vault, "secret-version", f"api-keys/openai/{v}/disable"))
    assert_problem(api.get(url(api, vault, "secrets", "api-keys/openai")), 410, "disabled")

    assert_problem(api.get(url(api, vault, "secret-version", "api-keys/openai/9")), 404)
    assert_problem(api.get(url(api, vault, "secret-version", "api-keys/openai/0")), 400)
    assert_problem(api.get(url(api, vault, "secret-version", "api-keys/openai/x1")), 400)
    assert_problem(api.post(url(api, vault, "secret-version", "api-keys/openai/9/disable")), 404)
    assert_problem(api.get(url(api, vault, "secret-versions", "nope/x")), 404)


def test_max_access_count(api, vault):
    assert put(api, vault, "one-time/token", "otp", max_access_count=2).status_code == 201
    first = api.get(url(api, vault, "secrets", "one-time/token"))
    assert first.status_code == 200 and first.json()["value"] == "otp"
    assert first.json()["access_count"] == 1
    assert api.get(url(api, vault, "secrets", "one-time/token")).status_code == 200
    r = api.get(url(api, vault, "secrets", "one-time/token"))
    assert_problem(r, 410, "max_access_count")
    assert "otp" not in r.text
    # 0 is unlimited.
    assert put(api, vault, "unlimited", "u", max_access_count=0).status_code == 201
    for _ in range(5):
        assert api.get(url(api, vault, "secrets", "unlimited")).status_code == 200


def test_expired_secret_is_gone(api, vault):
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2))
    r = put(api, vault, "short/lived", "tmp", expires_at=soon.isoformat())
    assert r.status_code == 201, r.text
    assert api.get(url(api, vault, "secrets", "short/lived")).status_code == 200
    import time
    time.sleep(2.2)
    assert_problem(api.get(url(api, vault, "secrets", "short/lived")), 410, "expired")
    assert_problem(api.get(url(api, vault, "secret-version", "short/lived/1")), 410)


def test_secret_rotate_generates_value_server_side(api, vault):
    assert put(api, vault, "db/password", "initial", type_="password",
               metadata={"owner": "team-a"}).status_code == 201
    r = api.post(url(api, vault, "secret-rotate", "db%2Fpassword"), json={"length": 32, "charset": "hex"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert "value" not in body
    assert body["version"] == 2 and body["type"] == "password"
    assert body["metadata"] == {"owner": "team-a"}
    value = api.get(url(api, vault, "secrets", "db/password")).json()["value"]
    assert len(value) == 32 and set(value) <= set("0123456789abcdef")

    alphabets = {
        "hex": set("0123456789abcdef"),
        "base64": set(string.ascii_letters + string.digits + "+/"),
        "alphanumeric": set(string.ascii_letters + string.digits),
        "ascii": set(chr(c) for c in range(0x21, 0x7f)),
    }
    for charset, alphabet in alphabets.items():
        for length in (8, 1024):
            r = api.post(url(api, vault, "secret-rotate", "db/password"),
                         json={"length": length, "charset": charset})
            assert r.status_code == 201, r.text
            v = api.get(url(api, vault, "secrets", "db/password")).json()["value"]
            assert len(v) == length and set(v) <= alphabet

    # Defaults: 32 hex characters; empty body allowed.
    r = api.post(url(api, vault, "secret-rotate", "db/password"))
    assert r.status_code == 201, r.text
    v = api.get(url(api, vault, "secrets", "db/password")).json()["value"]
    assert len(v) == 32 and set(v) <= alphabets["hex"]

    # Type override.
    r = api.post(url(api, vault, "secret-rotate", "db/password"), json={"type": "api_key"})
    assert r.json()["type"] == "api_key"


@pytest.mark.parametrize("body,detail", [
    ({"length": 7}, "length"), ({"length": 1025}, "length"), ({"length": "32"}, "length"),
    ({"charset": "emoji"}, "charset"), ({"type": "bogus"}, "type"), ({"size": 32}, "unknown field"),
])
def test_secret_rotate_bad_input(api, vault, body, detail):
    assert put(api, vault, "r/x", "v").status_code == 201
    assert_problem(api.post(url(api, vault, "secret-rotate", "r/x"), json=body), 400, detail)
    assert api.get(url(api, vault, "secret-versions", "r/x")).json()["versions"][0]["version"] == 1


def test_secret_rotate_creates_a_missing_secret(api, vault):
    r = api.post(url(api, vault, "secret-rotate", "new/one"), json={})
    assert r.status_code == 201 and r.json()["version"] == 1 and r.json()["type"] == "password"
    r = api.post(url(api, vault, "secret-rotate", "new/two"), json={"type": "api_key"})
    assert r.status_code == 201 and r.json()["type"] == "api_key"
    assert len(api.get(url(api, vault, "secrets", "new/two")).json()["value"]) == 32


def test_rotation_policy_is_stored(api, vault):
    r = put(api, vault, "pol/x", "v", rotation_policy={"interval_days": 30})
    assert r.status_code == 201 and r.json()["rotation_policy"] == {"interval_days": 30}


def test_unknown_route_and_wrong_method(api, vault):
    assert_problem(api.get(api.base + "/v1/nothing-here"), 404)
    r = api.patch(url(api, vault, "secrets", "a/b"), json={})
    assert_problem(r, 405)
    assert "PUT" in r.headers["Allow"] and "GET" in r.headers["Allow"]


def test_values_never_in_list_versions_or_errors(api, vault):
    canary = "CANARY-6f1d2c-not-to-be-seen"
    assert put(api, vault, "c/x", canary).status_code == 201
    for r in [api.get(url(api, vault, "secrets")),
              api.get(url(api, vault, "secret-versions", "c/x")),
              api.post(url(api, vault, "secret-version", "c/x/1/disable")),
              api.get(url(api, vault, "secret-version", "c/x/1")),
              put(api, vault, "c/x", canary, type_="nope")]:
        assert canary not in r.text
