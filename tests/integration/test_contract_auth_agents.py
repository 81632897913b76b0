"""The seeds' official clients against Coffer: token exchange (POST /v1/auth/api-key-token and
/v1/auth/agent-token) and agents (create, list, get, me, PATCH). Every body sent is one the spec
allows, and every answer is validated against the spec's schema (spec_schema.py). Credentials
and tokens never reach the test output: failures go through conftest's redacting helpers."""
import base64
import datetime
import json
import secrets
import time
import zlib

import pytest

from conftest import (UUID_RE, Caller, admin_caller, audit_pages, check_absent, check_credential,
                      create_user, expect, expect_problem, grant, redact, self_rotate)
from spec_schema import check_request, check_response

API_KEY_TOKEN = "/v1/auth/api-key-token"
AGENT_TOKEN = "/v1/auth/agent-token"
NO_SUCH_AGENT = "00000000-0000-4000-8000-000000000000"


B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def wrong_secret(key):
    """`key` (cfr_… or ocv_…) with another secret and a valid checksum: well formed, so the
    server must look it up and compare before refusing it."""
    head = key[:-(43 + 1 + 6)] + "".join(secrets.choice(B62) for _ in range(43))
    crc, out = zlib.crc32(head.encode()), ""
    for _ in range(6):
        out, crc = B62[crc % 62] + out, crc // 62
    return head + "_" + out


def post(server, path, body, token=None):
    """POSTs a spec-allowed `body` to `path` (a /v1/... path) on a fresh connection."""
    __tracebackhide__ = True
    check_request("POST", path, body)
    return Caller(server, token).post(path[len("/v1"):], json=body)


def claims(jwt):
    """The payload of a JWT (not verified: the server did that)."""
    __tracebackhide__ = True
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def spec_agent(caller, name, **extra):
    """Creates an agent as the seeds' SDK does; returns the validated AgentCreatedResponse."""
    __tracebackhide__ = True
    r = caller.post("/agents", json=check_request("POST", "/v1/agents", {"name": name, **extra}))
    if r.status_code != 201:
        pytest.fail(f"create agent: {r.status_code} {redact(r.text)}")
    return check_response("POST", "/v1/agents", r, 201)


@pytest.fixture
def owner(server):
    """A user (not the admin) who owns agents: (user, Caller with its API key)."""
    return create_user(server, "owner")


@pytest.fixture
def bot(server, owner):
    """An agent of `owner`, granted read in a vault: a Bag-like dict with its key and vault."""
    _, caller = owner
    created = spec_agent(caller, "bot", description="ci agent")
    vault = expect(caller.post("/vaults", json={"name": "bot-vault"}), 201).json()["id"]
    expect(caller.put(f"/vaults/{vault}/secrets/api-keys/openai",
                      json={"type": "api_key", "value": "sk-test"}), 201)
    grant(caller, vault, created["agent"]["id"], "api-keys/*", ["read"])
    return {"id": created["agent"]["id"], "key": created["api_key"],
            "rot": created["rotation_secret"], "vault": vault}


# --- POST /v1/agents, GET /v1/agents, GET /v1/agents/{id} --------------------------------------

def test_create_answers_agent_created_response_with_an_ocv_key(server, owner):
    _, caller = owner
    body = spec_agent(caller, "deploy-bot", description="deploys", auth_method="api_key",
                      scopes=[], intents_api_enabled=False, shroud_enabled=False)
    agent = body["agent"]
    assert UUID_RE.fullmatch(agent["id"]) and agent["name"] == "deploy-bot"
    assert agent["auth_method"] == "api_key" and agent["is_active"] is True
    assert agent["intents_api_enabled"] is False and agent["shroud_enabled"] is False
    assert agent["scopes"] == []
    # The agent key carries the prefix by which the seeds' clients recognise an agent key.
    check_credential(body["api_key"], "agent")
    check_credential(body["rotation_secret"], "rot")
    # Coffer's own flat fields stay, for its CLI and older clients.
    assert body["id"] == agent["id"] and body["name"] == "deploy-bot"


def test_list_and_get_answer_agent_responses(server, owner, bot):
    _, caller = owner
    listed = check_response("GET", "/v1/agents", caller.get("/agents"), 200)
    assert [a["id"] for a in listed["agents"]] == [bot["id"]]
    got = check_response("GET", "/v1/agents/{agent_id}", caller.get(f"/agents/{bot['id']}"), 200)
    assert got["id"] == bot["id"] and got["is_active"] is True and got["description"] == "ci agent"


@pytest.mark.parametrize("extra,field", [
    ({"auth_method": "mtls"}, "auth_method"),
    ({"scopes": ["vaults:read"]}, "scopes"),
    ({"vault_ids": [NO_SUCH_AGENT]}, "vault_ids"),
    ({"intents_api_enabled": True}, "intents_api_enabled"),
    ({"shroud_enabled": True}, "shroud_enabled"),
    ({"token_ttl_seconds": 60}, "token_ttl_seconds"),
    ({"expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
])
def test_create_refuses_what_coffer_cannot_honour(server, owner, extra, field):
    _, caller = owner
    body = check_request("POST", "/v1/agents", {"name": "x", **extra})
    expect_problem(caller.post("/agents", json=body), 400, field)
    assert expect(caller.get("/agents"), 200).json()["agents"] == []


# --- POST /v1/auth/api-key-token -----------------------------------------------------------------

def test_api_key_token_exchanges_a_user_key(server, owner):
    user, caller = owner
    r = post(server, API_KEY_TOKEN, {"api_key": caller.token})
    body = check_response("POST", API_KEY_TOKEN, r, 200)
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    c = claims(body["access_token"])
    assert c["sub"] == f"user:{user['id']}" and isinstance(c["exp"], int)
    me = expect(Caller(server, body["access_token"]).me(), 200).json()
    assert me["id"] == user["id"] and me["type"] == "user"
    check_absent(r.text, [caller.token])


@pytest.mark.parametrize("case", ["wrong_key", "agent_key", "garbage", "empty"])
def test_api_key_token_refusals_are_401(server, owner, bot, case):
    _, caller = owner
    key = {"wrong_key": wrong_secret(caller.token), "agent_key": bot["key"],
           "garbage": "not-a-key", "empty": ""}[case]
    body = expect_problem(post(server, API_KEY_TOKEN, {"api_key": key}), 401)
    check_absent(json.dumps(body), [key, bot["key"], caller.token])


def test_api_key_token_body_refusals_are_400(server):
    expect_problem(Caller(server).post("/auth/api-key-token", json={}), 400, "api_key")
    expect_problem(Caller(server).post("/auth/api-key-token", json={"api_key": 7}), 400, "api_key")
    expect_problem(Caller(server).post("/auth/api-key-token",
                                       json={"api_key": "x", "password": "y"}), 400, "password")


# --- POST /v1/auth/agent-token -------------------------------------------------------------------

@pytest.mark.parametrize("with_id", [True, False])
def test_agent_token_with_and_without_agent_id(server, bot, with_id):
    sent = {"api_key": bot["key"], **({"agent_id": bot["id"]} if with_id else {})}
    r = post(server, AGENT_TOKEN, sent)
    body = check_response("POST", AGENT_TOKEN, r, 200)
    # What the SDK reads: the agent it resolved from a key-only exchange, and the token's expiry.
    assert body["agent_id"] == bot["id"] and body["vault_ids"] == [bot["vault"]]
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    c = claims(body["access_token"])
    assert c["sub"] == f"agent:{bot['id']}" and c["vault_ids"] == [bot["vault"]]
    assert isinstance(c["exp"], int)
    # The token reads what the agent's policy grants.
    agent = Caller(server, body["access_token"])
    assert expect(agent.get(f"/vaults/{bot['vault']}/secrets/api-keys/openai"),
                  200).json()["value"] == "sk-test"
    check_absent(r.text, [bot["key"], bot["rot"]])


def test_agent_token_vault_ids_are_the_vaults_with_unexpired_policies(server, owner, bot):
    _, caller = owner
    other = expect(caller.post("/vaults", json={"name": "second"}), 201).json()["id"]
    expired = expect(caller.post("/vaults", json={"name": "expired"}), 201).json()["id"]
    grant(caller, other, bot["id"], "**", ["list"])
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    grant(caller, expired, bot["id"], "**", ["list"], expires_at=soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    time.sleep(2.2)
    body = check_response("POST", AGENT_TOKEN, post(server, AGENT_TOKEN, {"api_key": bot["key"]}),
                          200)
    assert body["vault_ids"] == sorted([bot["vault"], other])


@pytest.mark.parametrize("case", ["other_agents_id", "unknown_agent_id", "user_key", "wrong_key"])
def test_agent_token_refusals_are_401_alike(server, owner, bot, case):
    _, caller = owner
    other = spec_agent(caller, "other")
    sent = {
        "other_agents_id": {"api_key": bot["key"], "agent_id": other["agent"]["id"]},
        "unknown_agent_id": {"api_key": bot["key"], "agent_id": NO_SUCH_AGENT},
        "user_key": {"api_key": caller.token},
        "wrong_key": {"api_key": wrong_secret(bot["key"]), "agent_id": bot["id"]},
    }[case]
    problem = expect_problem(post(server, AGENT_TOKEN, sent), 401)
    check_absent(json.dumps(problem), [bot["key"], caller.token])
    if case != "user_key":
        # A key presented with the wrong agent id is answered exactly as a wrong key: nothing
        # tells whether the key was good.
        wrong = expect_problem(post(server, AGENT_TOKEN, {"api_key": wrong_secret(bot["key"]),
                                                          "agent_id": bot["id"]}), 401)
        assert problem["detail"] == wrong["detail"] and problem["type"] == wrong["type"]


def test_agent_token_refuses_dpop_and_a_malformed_agent_id(server, bot):
    jwk = {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB"}
    expect_problem(Caller(server).post("/auth/agent-token",
                                       json={"api_key": bot["key"], "dpop_jwk": jwk}),
                   400, "dpop_jwk")
    expect_problem(Caller(server).post("/auth/agent-token",
                                       json={"api_key": bot["key"], "agent_id": "bot"}),
                   400, "agent_id")


def test_exchange_refusals_are_audited_and_limited_per_address(server, bot):
    admin = admin_caller(server)
    for _ in range(3):
        expect_problem(post(server, API_KEY_TOKEN, {"api_key": "cfr_key_wrong"}), 401)
        expect_problem(post(server, AGENT_TOKEN, {"api_key": "ocv_wrong"}), 401)
    events, texts = audit_pages(admin, action="auth.token")
    refused = [e for e in events if e["outcome"] == "denied"]
    assert len(refused) >= 6
    check_absent("".join(texts), ["cfr_key_wrong", "ocv_wrong", bot["key"]], "audit trail")
    # Past the address's budget of refused credentials, even a good key is answered 429.
    for _ in range(40):
        r = post(server, AGENT_TOKEN, {"api_key": "ocv_wrong"})
        if r.status_code == 429:
            break
    expect_problem(r, 429)
    expect_problem(post(server, AGENT_TOKEN, {"api_key": bot["key"]}), 429)


def test_old_cfr_agent_key_and_coffer_exchange_keep_working(server, bot):
    # Coffer's own exchange takes both kinds of key, as before.
    r = expect(Caller(server).post("/auth/token", json={"api_key": bot["key"]}), 200)
    assert claims(r.json()["access_token"])["sub"] == f"agent:{bot['id']}"
    expect(Caller(server, bot["key"]).get(f"/vaults/{bot['vault']}/secrets/api-keys/openai"), 200)


# --- GET /v1/agents/me ---------------------------------------------------------------------------

def test_agents_me_for_an_agent_and_refused_for_a_user(server, owner, bot):
    user, caller = owner
    jwt = check_response("POST", AGENT_TOKEN, post(server, AGENT_TOKEN, {"api_key": bot["key"]}),
                         200)["access_token"]
    for token in (jwt, bot["key"]):
        me = check_response("GET", "/v1/agents/me", Caller(server, token).get("/agents/me"), 200)
        assert me["id"] == bot["id"] and me["created_by"] == user["id"] and me["is_active"] is True
    body = check_response("GET", "/v1/agents/me", caller.get("/agents/me"), 403)
    assert "agent" in body["detail"]


# --- PATCH /v1/agents/{id} -----------------------------------------------------------------------

def patch(caller, agent_id, body):
    __tracebackhide__ = True
    return caller.request("PATCH", f"/agents/{agent_id}",
                          json=check_request("PATCH", "/v1/agents/{agent_id}", body))


def test_patch_renames(server, owner, bot):
    _, caller = owner
    r = patch(caller, bot["id"], {"name": "renamed"})
    assert check_response("PATCH", "/v1/agents/{agent_id}", r, 200)["name"] == "renamed"
    assert expect(caller.get(f"/agents/{bot['id']}"), 200).json()["name"] == "renamed"
    # Another agent of the same owner cannot take the name.
    other = spec_agent(caller, "other")
    expect_problem(patch(caller, other["agent"]["id"], {"name": "renamed"}), 409)


def test_deactivation_stops_every_use_and_reactivation_restores_it(server, owner, bot):
    _, caller = owner
    jwt = post(server, AGENT_TOKEN, {"api_key": bot["key"]}).json()["access_token"]
    secret = f"/vaults/{bot['vault']}/secrets/api-keys/openai"
    # Warm every cache first: the deactivation must take effect at once all the same.
    expect(Caller(server, jwt).get(secret), 200)
    expect(Caller(server, bot["key"]).get(secret), 200)

    off = check_response("PATCH", "/v1/agents/{agent_id}",
                         patch(caller, bot["id"], {"is_active": False}), 200)
    assert off["is_active"] is False
    expect_problem(Caller(server, jwt).get(secret), 403, "deactivated")
    expect_problem(Caller(server, bot["key"]).get(secret), 403, "deactivated")
    expect_problem(post(server, AGENT_TOKEN, {"api_key": bot["key"]}), 403, "deactivated")
    expect_problem(Caller(server).post("/auth/token", json={"api_key": bot["key"]}), 403)
    expect_problem(self_rotate(server, bot["key"], bot["rot"]), 403, "deactivated")
    listed = expect(caller.get("/agents"), 200).json()["agents"]
    assert [a["is_active"] for a in listed] == [False]

    on = check_response("PATCH", "/v1/agents/{agent_id}",
                        patch(caller, bot["id"], {"is_active": True}), 200)
    assert on["is_active"] is True
    expect(Caller(server, jwt).get(secret), 200)
    expect(Caller(server, bot["key"]).get(secret), 200)
    check_response("POST", AGENT_TOKEN, post(server, AGENT_TOKEN, {"api_key": bot["key"]}), 200)

    events, texts = audit_pages(admin_caller(server))
    actions = [e["action"] for e in events if e["action"] in ("agent.deactivate", "agent.reactivate")]
    assert actions == ["agent.deactivate", "agent.reactivate"]
    check_absent("".join(texts), [bot["key"], bot["rot"], jwt], "audit trail")


def test_only_the_owner_or_the_admin_may_patch(server, owner, bot):
    _, stranger = create_user(server, "stranger")
    expect_problem(patch(stranger, bot["id"], {"is_active": False}), 404)
    expect_problem(patch(Caller(server, bot["key"]), bot["id"], {"is_active": False}), 404)
    assert expect(admin_caller(server).get(f"/agents/{bot['id']}"), 200).json()["is_active"]
    check_response("PATCH", "/v1/agents/{agent_id}",
                   patch(admin_caller(server), bot["id"], {"is_active": False}), 200)


@pytest.mark.parametrize("body,field", [
    ({"scopes": ["vaults:read"]}, "scopes"),
    ({"expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
    ({"token_ttl_seconds": 60}, "token_ttl_seconds"),
    ({"vault_ids": [NO_SUCH_AGENT]}, "vault_ids"),
    ({"shroud_enabled": True}, "shroud_enabled"),
    ({"is_active": "no"}, "is_active"),
    ({"name": ""}, "name"),
])
def test_patch_refuses_what_coffer_does_not_support_by_name(server, owner, bot, body, field):
    _, caller = owner
    r = caller.request("PATCH", f"/agents/{bot['id']}", json=body)
    expect_problem(r, 400, field)
    got = expect(caller.get(f"/agents/{bot['id']}"), 200).json()
    assert got["is_active"] is True and got["name"] == "bot"


def test_patch_takes_off_values_and_unknown_agents_are_404(server, owner, bot):
    _, caller = owner
    r = patch(caller, bot["id"], {"intents_api_enabled": False, "shroud_enabled": False,
                                  "scopes": []})
    check_response("PATCH", "/v1/agents/{agent_id}", r, 200)
    expect_problem(patch(caller, NO_SUCH_AGENT, {"name": "x"}), 404)


def test_revoked_agent_cannot_be_reactivated(server, owner, bot):
    _, caller = owner
    expect(caller.delete(f"/agents/{bot['id']}"), 204)
    expect_problem(patch(caller, bot["id"], {"is_active": True}), 409)
    expect_problem(post(server, AGENT_TOKEN, {"api_key": bot["key"]}), 403)
