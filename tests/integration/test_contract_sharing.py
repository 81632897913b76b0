"""The seeds' sharing operations against Coffer: share links of secrets. Every body sent is one the
spec allows (spec_schema.check_request) and every answer the spec describes is validated against
its schema. A link is a capability: it is redeemed without an account exactly max_access_count
times, even under concurrency, then 410; an unknown or malformed link is 404; it is never shown
again after creation, not in listings, the audit log or the server log."""
import concurrent.futures
import datetime
import re

import pytest
import requests

from conftest import (Caller, admin_caller, audit_pages, create_agent, create_user, expect,
                      expect_problem, grant, put_secret, redact)
from spec_schema import check_request, check_response

SHARE_TOKEN_RE = re.compile(r"cfr_shr_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}")


def in_future(seconds=3600):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def create_share(caller, secret_id, **fields):
    """POST /secrets/{id}/share with a spec-valid body; returns the 201 ShareResponse."""
    __tracebackhide__ = True
    body = check_request("POST", "/v1/secrets/{secret_id}/share",
                         {"recipient_type": "anyone_with_link", "expires_at": in_future(), **fields})
    r = caller.post(f"/secrets/{secret_id}/share", json=body)
    return check_response("POST", "/v1/secrets/{secret_id}/share", expect(r, 201), 201)


def token_of(share):
    __tracebackhide__ = True
    token = share["share_url"].rsplit("/", 1)[1]
    if not SHARE_TOKEN_RE.fullmatch(token):
        pytest.fail("share_url does not end in a cfr_shr_ link token")
    return token


def redeem(server, token):
    """GET /v1/share/{token} with no credential."""
    return requests.get(f"{server.url}/v1/share/{token}", timeout=30)


@pytest.fixture
def shared(server, vault):
    """The admin, a vault with one secret, and that secret's metadata."""
    admin = admin_caller(server)
    meta = put_secret(admin, vault, "db/password", value="hunter2-original", type_="password")
    return admin, meta


def test_a_link_is_redeemed_exactly_max_access_count_times_then_410(server, vault, shared):
    admin, meta = shared
    share = create_share(admin, meta["id"], max_access_count=3)
    assert share["share_url"].startswith(server.url + "/v1/share/")
    assert share["recipient_type"] == "anyone_with_link" and share["max_access_count"] == 3
    token = token_of(share)
    # The official clients redeem with sharing.access(share.id): the answer's id is the link's
    # token; the share's own id (listings, revoking) is share_id and is not the link.
    assert token == share["id"] and share["share_id"] != token
    for n in (1, 2, 3):
        got = check_response("GET", "/v1/share/{share_id}", expect(redeem(server, token), 200), 200)
        assert got["value"] == "hunter2-original" and got["id"] == meta["id"]
        assert got["path"] == "db/password" and got["type"] == "password"
        assert got["access_count"] == n and got["max_access_count"] == 3
    expect_problem(redeem(server, token), 410, "no accesses left")
    listed = check_response("GET", "/v1/shares/outbound", expect(admin.get("/shares/outbound"), 200),
                            200)
    [item] = listed["shares"]
    assert item["id"] == share["share_id"] and item["secret_path"] == "db/password"
    assert item["access_count"] == 3 and item["is_expired"] is False
    assert token not in str(listed)


def test_a_link_shares_what_a_plain_read_returns_not_a_pending_version(server, vault, shared):
    admin, meta = shared
    staged = put_secret(admin, vault, "db/password", value="hunter2-staged", type_="password",
                        stage="pending")
    assert staged["aliases"] == {"current": 1, "pending": 2}
    share = create_share(admin, meta["id"], max_access_count=1)
    got = expect(redeem(server, token_of(share)), 200).json()
    assert got["value"] == "hunter2-original" and got["version"] == 1


def test_concurrent_redemptions_never_pass_the_limit(server, shared):
    admin, meta = shared
    token = token_of(create_share(admin, meta["id"], max_access_count=5))
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda _: redeem(server, token).status_code, range(24)))
    assert sorted(statuses) == [200] * 5 + [410] * 19, statuses


def test_unknown_and_malformed_links_are_the_same_404(server, shared):
    admin, meta = shared
    token = token_of(create_share(admin, meta["id"]))
    unknown = token[:-10] + ("A" if token[-10] != "A" else "B") + token[-9:]
    bodies = []
    for link in (unknown, "not-a-link", "0" * 200, "00000000-0000-4000-8000-000000000000"):
        body = expect_problem(redeem(server, link), 404)
        bodies.append({k: v for k, v in body.items() if k not in ("instance", "request_id")})
    assert all(b == bodies[0] for b in bodies), bodies
    assert expect(redeem(server, token), 200)


def test_an_expired_link_is_410(server, shared):
    admin, meta = shared
    token = token_of(create_share(admin, meta["id"]))
    server.sql("UPDATE shares SET expires_at = 1")
    expect_problem(redeem(server, token), 410, "expired")


def test_revocation_by_creator_or_admin_only(server, vault):
    admin = admin_caller(server)
    user, alice = create_user(server, "alice")
    _, bob = create_user(server, "bob")
    meta = put_secret(admin, vault, "shared/key", value="k-1")
    grant(admin, vault, user["id"], "shared/**", ["read"], principal_type="user")
    share = create_share(alice, meta["id"])
    token = token_of(share)
    # Someone else's share is not confirmed to exist.
    expect_problem(bob.delete(f"/share/{share['id']}"), 404)
    expect(redeem(server, token), 200)
    expect(alice.delete(f"/share/{share['id']}"), 204)
    expect(alice.delete(f"/share/{share['id']}"), 204)  # idempotent
    expect_problem(redeem(server, token), 410, "revoked")
    # The admin may revoke anyone's; the link itself names the share too.
    other = create_share(alice, meta["id"])
    expect(admin.delete(f"/share/{token_of(other)}"), 204)
    expect_problem(redeem(server, token_of(other)), 410, "revoked")
    listed = expect(alice.get("/shares/outbound"), 200).json()["shares"]
    assert [s["is_revoked"] for s in listed] == [True, True]
    assert expect(bob.get("/shares/outbound"), 200).json()["shares"] == []


def test_only_who_may_read_the_secret_may_share_it(server, vault):
    admin = admin_caller(server)
    user, alice = create_user(server, "alice")
    meta = put_secret(admin, vault, "team/token", value="t-1")
    # No standing in the vault: the secret is not confirmed to exist.
    expect_problem(alice.post(f"/secrets/{meta['id']}/share",
                              json={"recipient_type": "anyone_with_link",
                                    "expires_at": in_future()}), 404)
    grant(admin, vault, user["id"], "other/*", ["read"], principal_type="user")
    expect_problem(alice.post(f"/secrets/{meta['id']}/share",
                              json={"recipient_type": "anyone_with_link",
                                    "expires_at": in_future()}), 403)
    agent = create_agent(admin, "deployer")
    grant(admin, vault, agent["id"], "team/*", ["read"])
    bot = Caller(server, agent["api_key"])
    share = create_share(bot, meta["id"], max_access_count=1)
    got = check_response("GET", "/v1/share/{share_id}",
                         expect(redeem(server, token_of(share)), 200), 200)
    assert got["value"] == "t-1"
    expect_problem(admin.post("/secrets/00000000-0000-4000-8000-000000000000/share",
                              json={"recipient_type": "anyone_with_link",
                                    "expires_at": in_future()}), 404)


REFUSED = [
    ({"recipient_type": "user", "recipient_id": "00000000-0000-4000-8000-000000000000"},
     "recipient_type"),
    ({"recipient_type": "agent", "recipient_id": "00000000-0000-4000-8000-000000000000"},
     "recipient_type"),
    ({"recipient_type": "external_email", "email": "someone@example.com"}, "recipient_type"),
    ({"recipient_type": "creator"}, "recipient_type"),
    ({"recipient_type": "anyone_with_link", "passphrase": "open sesame"}, "passphrase"),
    ({"recipient_type": "anyone_with_link", "ip_allowlist": ["10.0.0.0/8"]}, "ip_allowlist"),
    ({"recipient_type": "anyone_with_link", "permissions": ["read", "write"]}, "permissions"),
    ({"recipient_type": "anyone_with_link", "email": "someone@example.com"}, "email"),
    ({"recipient_type": "anyone_with_link", "max_access_count": -1}, "max_access_count"),
    ({"recipient_type": "anyone_with_link", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"recipient_type": "anyone_with_link", "expires_at": "tomorrow"}, "expires_at"),
]


@pytest.mark.parametrize("fields,named", REFUSED, ids=[f"{n}-{i}" for i, (_, n) in
                                                       enumerate(REFUSED)])
def test_what_coffer_does_not_support_is_a_400_naming_the_field(server, shared, fields, named):
    admin, meta = shared
    body = check_request("POST", "/v1/secrets/{secret_id}/share",
                         {"expires_at": in_future(), **fields})
    expect_problem(admin.post(f"/secrets/{meta['id']}/share", json=body), 400, named)
    assert expect(admin.get("/shares/outbound"), 200).json()["shares"] == []


def test_the_pinned_version_is_shared_and_follows_its_secret(server, vault, shared):
    admin, meta = shared
    token = token_of(create_share(admin, meta["id"]))
    # Rotation after sharing does not hand the new value to the link.
    put_secret(admin, vault, "db/password", value="hunter2-rotated", type_="password")
    got = check_response("GET", "/v1/share/{share_id}", expect(redeem(server, token), 200), 200)
    assert got["value"] == "hunter2-original" and got["version"] == 1
    # Its version disabled: 410.
    expect(admin.post(f"/vaults/{vault}/secret-version/db/password/1/disable"), 200)
    expect_problem(redeem(server, token), 410)
    # A link to the new version; the secret deleted: 404, and the share is gone from the list.
    token2 = token_of(create_share(admin, meta["id"]))
    expect(admin.delete(f"/vaults/{vault}/secrets/db/password"), 204)
    expect_problem(redeem(server, token2), 404)
    assert expect(admin.get("/shares/outbound"), 200).json()["shares"] == []


def test_a_counted_secret_spends_a_read_per_redemption(server, vault):
    admin = admin_caller(server)
    meta = put_secret(admin, vault, "once", value="only-once", max_access_count=2)
    token = token_of(create_share(admin, meta["id"]))
    expect(redeem(server, token), 200)
    expect(admin.get(f"/vaults/{vault}/secrets/once"), 200)
    expect_problem(redeem(server, token), 410)
    listed = expect(admin.get("/shares/outbound"), 200).json()["shares"]
    assert listed[0]["access_count"] == 1, "a refused redemption counts nothing"


def test_redemptions_are_audited_and_the_link_is_never_logged(server, shared):
    admin, meta = shared
    token = token_of(create_share(admin, meta["id"], max_access_count=1))
    expect(redeem(server, token), 200)
    expect_problem(redeem(server, token), 410)
    expect_problem(redeem(server, "cfr_shr_guess"), 404)
    events, texts = audit_pages(admin)
    access = [e for e in events if e["action"] == "share.access"]
    assert [e["outcome"] for e in access] == ["success", "failure", "failure"], redact(access)
    assert access[0]["path"] == "db/password" and access[0]["vault_id"] == meta["vault_id"]
    assert any(e["action"] == "share.create" for e in events)
    for text in texts + [server.read_log()]:
        assert token not in text


def test_guessing_links_is_rate_limited_per_address(server):
    statuses = [redeem(server, f"cfr_shr_guess{i}").status_code for i in range(40)]
    assert statuses[0] == 404 and 429 in statuses, statuses


def test_inbound_shares_are_empty(server, api):
    listed = check_response("GET", "/v1/shares/inbound",
                            expect(admin_caller(server).get("/shares/inbound"), 200), 200)
    assert listed["shares"] == []
