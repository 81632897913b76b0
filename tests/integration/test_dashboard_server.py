"""The dashboard's server side (docs/dashboard.md), on both stores: /ui serving with its security
headers, sign-in with an API key for an HttpOnly session cookie and a CSRF token, sign-out seen by
every server of one PostgreSQL database, a vault's activity per hour and the policy preview.
Works with whichever dist the binary embeds (web/dist, or tests/fixtures/ui-dist in a build that
was configured with -DCOFFER_UI_DIST): asset names are read from index.html."""
import re

import pytest
import requests

from conftest import (Caller, create_agent, create_user, create_vault, expect, expect_problem,
                      grant, put_secret)
from test_postgres_multi import PG_URL, database, pair  # noqa: F401  (fixtures)
from test_tls import pki, tls_server  # noqa: F401  (fixtures)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".png": "image/png", ".woff2": "font/woff2", ".json": "application/json",
         ".ico": "image/x-icon"}
ASSET_RE = re.compile(r"""(?:src|href)=["'](?:/ui/|\./)?(assets/[^"']+)["']""")


def ui(server, path, method="GET", headers=None):
    return requests.request(method, server.url + path, headers=headers or {}, timeout=30,
                            allow_redirects=False)


def check_security_headers(r):
    __tracebackhide__ = True
    for name, value in SECURITY_HEADERS.items():
        if r.headers.get(name) != value:
            pytest.fail(f"{r.request.method} {r.url}: {name} is {r.headers.get(name)!r}")
    if "Strict-Transport-Security" in r.headers:
        pytest.fail("HSTS on a plain-HTTP server")


def assets_of(index_html):
    names = sorted(set(ASSET_RE.findall(index_html)))
    assert names, "index.html names no asset under assets/"
    return names


def test_ui_redirects_and_serves_index_for_every_app_route(server):
    r = ui(server, "/ui")
    assert r.status_code == 308 and r.headers["Location"] == "/ui/"
    check_security_headers(r)
    index = ui(server, "/ui/")
    expect(index, 200)
    assert index.headers["Content-Type"].startswith("text/html")
    assert index.headers["Cache-Control"] == "no-store"
    check_security_headers(index)
    assert "<script" in index.text and "style=" not in index.text
    for route in ("/ui/vaults", "/ui/vaults/abc/secrets/a/b", "/ui/index.html", "/ui/audit?x=1"):
        r = ui(server, route)
        expect(r, 200)
        assert r.content == index.content, route
        assert r.headers["Cache-Control"] == "no-store"
        check_security_headers(r)


def test_ui_assets_are_immutable_typed_and_answer_head(server):
    index = expect(ui(server, "/ui/"), 200)
    for name in assets_of(index.text):
        r = expect(ui(server, "/ui/" + name), 200)
        ext = "." + name.rsplit(".", 1)[-1]
        assert r.headers["Content-Type"].startswith(TYPES.get(ext, "application/octet-stream"))
        assert r.headers["Cache-Control"] == IMMUTABLE
        check_security_headers(r)
        head = expect(ui(server, "/ui/" + name, method="HEAD"), 200)
        assert head.content == b""
        assert int(head.headers["Content-Length"]) == len(r.content)
        assert head.headers["Cache-Control"] == IMMUTABLE
        check_security_headers(head)
    head = expect(ui(server, "/ui/", method="HEAD"), 200)
    assert head.content == b"" and int(head.headers["Content-Length"]) == len(index.content)


def test_a_missing_asset_is_a_404_problem_with_the_headers(server):
    r = ui(server, "/ui/assets/app-0000000000.js")
    expect_problem(r, 404)
    check_security_headers(r)
    head = expect(ui(server, "/ui/assets/nope.css", method="HEAD"), 404)
    assert head.headers["Content-Type"].startswith("application/problem+json")
    assert head.content == b""
    check_security_headers(head)


def test_over_tls_ui_answers_carry_hsts_and_the_cookie_is_secure(tls_server, pki):  # noqa: F811
    r = requests.get(tls_server.url + "/ui/", verify=pki["ca"], timeout=30)
    expect(r, 200)
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert r.headers["Content-Security-Policy"] == CSP
    r = requests.post(tls_server.url + "/v1/auth/session", json={"api_key": tls_server.admin_key},
                      verify=pki["ca"], timeout=30)
    expect(r, 201)
    _, attrs = cookie_of(r)
    assert {"Secure", "HttpOnly", "SameSite=Strict"} <= set(attrs)


# --- sessions -------------------------------------------------------------------------------------


def cookie_of(r):
    """The coffer_session value and the attributes of the answer's Set-Cookie."""
    header = r.headers.get("Set-Cookie", "")
    m = re.match(r"coffer_session=([^;]*)((?:;.*)?)$", header)
    assert m, "no coffer_session cookie set"
    attrs = [a.strip() for a in m.group(2).split(";") if a.strip()]
    return m.group(1), attrs


def sign_in(server, api_key):
    r = expect(Caller(server).post("/auth/session", json={"api_key": api_key}), 201)
    value, attrs = cookie_of(r)
    return value, r.json(), attrs


class CookieCaller(Caller):
    """Calls /v1 as a browser on the dashboard would: the session cookie, and the CSRF header."""

    def __init__(self, server, cookie, csrf=None):
        headers = {"Cookie": f"coffer_session={cookie}"}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        super().__init__(server, None, headers)

    def __repr__(self):
        return "<CookieCaller>"


def test_sign_in_sets_an_httponly_strict_cookie_and_returns_the_csrf_token(server):
    cookie, body, attrs = sign_in(server, server.admin_key)
    assert len(cookie) >= 43
    assert {"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=3600"} <= set(attrs), attrs
    assert "Secure" not in attrs  # plain HTTP here
    assert body["principal"]["type"] == "user" and body["principal"]["is_admin"] is True
    assert body["principal"]["email"] is None and body["principal"]["name"] == "admin"
    assert body["csrf_token"] and body["csrf_token"] != cookie
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", body["expires_at"])
    assert cookie not in str(body)
    me = expect(CookieCaller(server, cookie, body["csrf_token"]).me(), 200).json()
    assert me["is_admin"] is True
    # A reload: the same CSRF token, no new cookie.
    again = expect(CookieCaller(server, cookie).get("/auth/session"), 200)
    assert again.json()["csrf_token"] == body["csrf_token"]
    assert "Set-Cookie" not in again.headers
    # A person who is not the admin signs in with her own key.
    _, ann = create_user(server, "ann")
    ann_cookie, ann_body, _ = sign_in(server, ann.token)
    me = expect(CookieCaller(server, ann_cookie, ann_body["csrf_token"]).me(), 200).json()
    assert me["name"] == "ann" and me["is_admin"] is False
    assert ann_body["principal"]["is_admin"] is False


def test_the_cookie_counts_only_with_its_csrf_token_and_authorization_wins(server):
    cookie, body, _ = sign_in(server, server.admin_key)
    missing = expect_problem(CookieCaller(server, cookie).me(), 403)
    assert missing["type"] == "urn:coffer:problem:csrf-token-missing"
    expect_problem(CookieCaller(server, cookie).post("/vaults", json={"name": "x"}), 403)
    expect_problem(CookieCaller(server, cookie, "wrong").me(), 403)
    expect_problem(CookieCaller(server, cookie + "x", body["csrf_token"]).me(), 401)
    # An Authorization header wins: a bad one is refused though the cookie is good, a good one
    # is who the request is.
    both = CookieCaller(server, cookie, body["csrf_token"])
    expect_problem(both.get("/me", headers={"Authorization": "Bearer nope"}), 401)
    _, ann = create_user(server, "ann")
    me = expect(both.get("/me", headers={"Authorization": "Bearer " + ann.token}), 200).json()
    assert me["name"] == "ann"


def test_agent_and_wrong_keys_cannot_sign_in(server):
    agent = create_agent(Caller(server, server.admin_key), "robot")
    expect_problem(Caller(server).post("/auth/session", json={"api_key": agent["api_key"]}), 403,
                   "for people")
    expect_problem(Caller(server).post("/auth/session", json={"api_key": "cfr_key_nope"}), 401)
    expect_problem(Caller(server).post("/auth/session", json={"nope": 1}), 400)
    expect_problem(Caller(server).get("/auth/session"), 401)


def test_sign_out_ends_the_session_and_is_audited(server):
    admin = Caller(server, server.admin_key)
    cookie, body, _ = sign_in(server, server.admin_key)
    browser = CookieCaller(server, cookie, body["csrf_token"])
    expect_problem(CookieCaller(server, cookie).delete("/auth/session"), 403)
    r = expect(browser.delete("/auth/session"), 204)
    _, attrs = cookie_of(r)
    assert "Max-Age=0" in attrs
    expect_problem(browser.me(), 401)
    expect_problem(CookieCaller(server, cookie).get("/auth/session"), 401)
    events = expect(admin.get("/audit", params={"limit": 1000}), 200)
    actions = [e["action"] for e in events.json()["events"]]
    assert "session.create" in actions and "session.delete" in actions
    for secret in (cookie, body["csrf_token"]):
        assert secret not in events.text
        assert secret not in server.read_log()


@pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set")
def test_sign_out_on_one_server_ends_the_session_on_the_other(pair):  # noqa: F811
    cookie, body, _ = sign_in(pair.a, pair.admin_a.token)
    on_b = CookieCaller(pair.b, cookie, body["csrf_token"])
    expect(on_b.me(), 200)
    expect(CookieCaller(pair.a, cookie, body["csrf_token"]).delete("/auth/session"), 204)
    expect_problem(on_b.me(), 401)


# --- activity and policy preview -----------------------------------------------------------------


def test_activity_counts_reads_writes_and_refusals_per_hour(server):
    admin = Caller(server, server.admin_key)
    vault = create_vault(admin, "act")
    put_secret(admin, vault, "db/password")
    put_secret(admin, vault, "db/password", value="v2")
    for _ in range(3):
        expect(admin.get(f"/vaults/{vault}/secrets/db/password"), 200)
    _, stranger = create_user(server, "mallory")
    expect_problem(stranger.get(f"/vaults/{vault}/secrets/db/password"), 403)
    body = expect(admin.get(f"/vaults/{vault}/activity", params={"hours": 5}), 200).json()
    assert body["hours"] == 5 and body["bucket_seconds"] == 3600
    buckets = body["buckets"]
    assert len(buckets) == 5
    starts = [b["start"] for b in buckets]
    assert starts == sorted(starts) and all(s.endswith(":00:00Z") for s in starts)
    totals = {k: sum(b[k] for b in buckets) for k in ("reads", "writes", "refusals")}
    assert totals == {"reads": 3, "writes": 2, "refusals": 1}, totals
    assert buckets[-1]["reads"] + buckets[-2]["reads"] == 3  # this hour (or the last, at :00)
    default = expect(admin.get(f"/vaults/{vault}/activity"), 200).json()
    assert default["hours"] == 72 and len(default["buckets"]) == 72
    for bad in ({"hours": 0}, {"hours": 721}, {"hours": "x"}, {"days": 1}):
        expect_problem(admin.get(f"/vaults/{vault}/activity", params=bad), 400)


PATHS = ["a/b", "a/c", "a/b/c", "a/b/d/e", "x", "x/a"]


@pytest.mark.parametrize("pattern", ["a/*", "a/**", "**", "*", "a/b/*", "*/a", "nothing/**"])
def test_policy_preview_matches_what_a_policy_with_that_glob_allows(server, pattern):
    admin = Caller(server, server.admin_key)
    vault = create_vault(admin, "pre")
    for path in PATHS:
        put_secret(admin, vault, path)
    got = expect(admin.get(f"/vaults/{vault}/policy-preview", params={"pattern": pattern}),
                 200).json()
    assert got["pattern"] == pattern and got["truncated"] is False
    posted = expect(admin.post(f"/vaults/{vault}/policy-preview",
                               json={"secret_path_pattern": pattern}), 200).json()
    assert posted == got
    user, reader = create_user(server, "rita")
    grant(admin, vault, user["id"], pattern, ["read"], principal_type="user")
    allowed = [p for p in PATHS
               if reader.get(f"/vaults/{vault}/secrets/{p}").status_code == 200]
    assert got["matches"] == sorted(allowed), (pattern, got["matches"], allowed)


def test_policy_preview_refuses_a_bad_glob_and_caps_its_list(server):
    admin = Caller(server, server.admin_key)
    vault = create_vault(admin, "cap")
    for bad in ("a/***", "/a", "a//b", "a/../b", ""):
        expect_problem(admin.get(f"/vaults/{vault}/policy-preview", params={"pattern": bad}), 400,
                       "secret_path_pattern")
    expect_problem(admin.get(f"/vaults/{vault}/policy-preview"), 400)
    for i in range(205):
        put_secret(admin, vault, f"many/s{i:03d}")
    got = expect(admin.get(f"/vaults/{vault}/policy-preview", params={"pattern": "many/*"}),
                 200).json()
    assert len(got["matches"]) == 200 and got["truncated"] is True


def test_a_user_without_rights_gets_403_from_activity_and_preview(server):
    admin = Caller(server, server.admin_key)
    vault = create_vault(admin, "private")
    put_secret(admin, vault, "k")
    _, stranger = create_user(server, "sam")
    expect_problem(stranger.get(f"/vaults/{vault}/activity"), 403)
    expect_problem(stranger.get(f"/vaults/{vault}/policy-preview", params={"pattern": "**"}), 403)
    expect_problem(stranger.post(f"/vaults/{vault}/policy-preview",
                                 json={"secret_path_pattern": "**"}), 403)
    # The same refusals through a dashboard session of hers.
    cookie, body, _ = sign_in(server, stranger.token)
    browser = CookieCaller(server, cookie, body["csrf_token"])
    expect_problem(browser.get(f"/vaults/{vault}/activity"), 403)
    expect_problem(browser.get(f"/vaults/{vault}/policy-preview", params={"pattern": "**"}), 403)
