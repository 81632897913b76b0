"""Agents: creation (secrets shown once), listing and reading, who may manage them, key rotation
by the owner or the admin, and revocation (docs/identity-and-access.md: "Agents"). Self-rotation
is in test_identity_self_rotation.py."""
import pytest

from conftest import (RFC3339_RE, UUID_RE, Caller, admin_caller, check_absent, check_credential,
                      check_different, create_agent, create_user, create_vault, exchange,
                      expect, expect_problem, grant, put_secret, self_rotate)

AGENT_FIELDS = {"id", "name", "description", "created_by", "created_at", "is_revoked",
                "revoked_at"}


def secrets_of(*agents):
    return [s for a in agents for s in (a["api_key"], a["rotation_secret"])]


@pytest.fixture
def alice(server):
    """(user, Caller) for a non-admin user who owns agents."""
    return create_user(server, "alice")


def test_create_agent_shows_both_secrets_once(server, alice):
    user, a = alice
    r = expect(a.post("/agents", json={"name": "research-bot", "description": "reads papers"}),
               201)
    agent = r.json()
    assert AGENT_FIELDS | {"api_key", "rotation_secret"} <= set(agent)
    assert UUID_RE.fullmatch(agent["id"])
    assert agent["name"] == "research-bot" and agent["description"] == "reads papers"
    assert agent["created_by"] == user["id"] and RFC3339_RE.fullmatch(agent["created_at"])
    assert agent["is_revoked"] is False and agent["revoked_at"] is None
    check_credential(agent["api_key"], "agent")
    check_credential(agent["rotation_secret"], "rot")

    # Never again: not in GET, not in the list, not for the admin either.
    for caller in (a, admin_caller(server)):
        for resp in (caller.get(f"/agents/{agent['id']}"), caller.get("/agents")):
            expect(resp, 200)
            check_absent(resp.text, ["cfr_key_", "cfr_rot_"] + secrets_of(agent), "agent read")
    got = a.get(f"/agents/{agent['id']}").json()
    assert AGENT_FIELDS <= set(got) and not {"api_key", "rotation_secret"} & set(got)
    assert {k: got[k] for k in AGENT_FIELDS} == {k: agent[k] for k in AGENT_FIELDS}


def test_description_is_optional(server, alice):
    agent = create_agent(alice[1], "plain")
    assert "description" in agent and agent["description"] in ("", None)


@pytest.mark.parametrize("body,detail", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "ok", "description": 5}, "description"),
    ({"name": "ok", "api_key": "cfr_key_mine"}, "unknown field"),
    ({"name": "ok", "owner": "someone"}, "unknown field"),
])
def test_create_agent_bad_input_is_400(server, alice, body, detail):
    expect_problem(alice[1].post("/agents", json=body), 400, detail)
    assert expect(alice[1].get("/agents"), 200).json()["agents"] == []


def test_list_shows_own_agents_and_the_admin_sees_all(server, alice):
    _, a = alice
    _, b = create_user(server, "bob")
    a1, a2 = create_agent(a, "a-one"), create_agent(a, "a-two")
    b1 = create_agent(b, "b-one")
    ids = lambda caller: [x["id"] for x in expect(caller.get("/agents"), 200).json()["agents"]]
    assert sorted(ids(a)) == sorted([a1["id"], a2["id"]])
    assert ids(b) == [b1["id"]]
    assert {a1["id"], a2["id"], b1["id"]} <= set(ids(admin_caller(server)))
    for agent in (a1, b1):
        expect(admin_caller(server).get(f"/agents/{agent['id']}"), 200)
    expect_problem(a.get("/agents/00000000-0000-4000-8000-000000000000"), 404)


def test_an_agent_reads_itself_but_creates_nothing(server, alice):
    _, a = alice
    agent = create_agent(a, "bot")
    other = create_agent(a, "other-bot")
    me = Caller(server, agent["api_key"])
    assert expect(me.get(f"/agents/{agent['id']}"), 200).json()["id"] == agent["id"]
    expect(me.get(f"/agents/{other['id']}"), 403, 404)
    expect_problem(me.post("/agents", json={"name": "spawn"}), 403)
    expect(me.post(f"/agents/{other['id']}/rotate-key"), 403, 404)
    expect(me.delete(f"/agents/{other['id']}"), 403, 404)
    expect_problem(me.post("/vaults", json={"name": "agent-vault"}), 403)
    names = [x["name"] for x in a.get("/agents").json()["agents"]]
    assert "spawn" not in names
    expect(Caller(server, other["api_key"]).me(), 200)


def test_another_user_cannot_touch_someone_elses_agent(server, alice):
    _, a = alice
    _, b = create_user(server, "bob")
    agent = create_agent(a, "alices-bot")
    for r in [b.get(f"/agents/{agent['id']}"),
              b.post(f"/agents/{agent['id']}/rotate-key"),
              b.delete(f"/agents/{agent['id']}")]:
        expect(r, 403, 404)
        check_absent(r.text, ["cfr_key_", "cfr_rot_"])
    assert agent["id"] not in [x["id"] for x in b.get("/agents").json()["agents"]]
    # The agent is untouched: same key, not revoked.
    expect(Caller(server, agent["api_key"]).me(), 200)
    assert a.get(f"/agents/{agent['id']}").json()["is_revoked"] is False


@pytest.mark.parametrize("rotator", ["owner", "admin"])
def test_rotate_key_replaces_both_credentials_at_once(server, alice, rotator):
    _, a = alice
    agent = create_agent(a, "bot")
    old = Caller(server, agent["api_key"])
    expect(old.me(), 200)  # an open keep-alive connection must not keep the old key alive
    caller = a if rotator == "owner" else admin_caller(server)

    r = expect(caller.post(f"/agents/{agent['id']}/rotate-key"), 200)
    fresh = r.json()
    assert fresh["id"] == agent["id"] and fresh["name"] == "bot"
    check_credential(fresh["api_key"], "agent")
    check_credential(fresh["rotation_secret"], "rot")
    check_different(fresh["api_key"], agent["api_key"], "api_key")
    check_different(fresh["rotation_secret"], agent["rotation_secret"], "rotation_secret")

    expect_problem(old.me(), 401)
    expect_problem(Caller(server, agent["api_key"]).get("/vaults"), 401)
    assert expect(Caller(server, fresh["api_key"]).me(), 200).json()["id"] == agent["id"]
    # The old rotation secret is dead too; the new one works.
    expect_problem(self_rotate(server, fresh["api_key"], agent["rotation_secret"]), 401)
    expect(self_rotate(server, fresh["api_key"], fresh["rotation_secret"]), 200)
    # The new credentials are not shown again.
    check_absent(a.get(f"/agents/{agent['id']}").text, secrets_of(fresh), "agent read")


def test_rotation_keeps_the_agents_grants(server, alice):
    _, a = alice
    vault = create_vault(a, "prod")
    put_secret(a, vault, "api-keys/openai", "sk-openai")
    agent = create_agent(a, "bot")
    grant(a, vault, agent["id"], "api-keys/*", ["read"])
    fresh = expect(a.post(f"/agents/{agent['id']}/rotate-key"), 200).json()
    r = expect(Caller(server, fresh["api_key"]).get(f"/vaults/{vault}/secrets/api-keys/openai"),
               200)
    assert r.json()["value"] == "sk-openai"


def test_revoked_agent_is_locked_out_and_kept_for_audit(server, alice):
    user, a = alice
    vault = create_vault(a, "prod")
    put_secret(a, vault, "api-keys/openai", "sk-openai")
    agent = create_agent(a, "bot")
    grant(a, vault, agent["id"], "**", ["read", "write", "list"])
    bot = Caller(server, agent["api_key"])
    expect(bot.get(f"/vaults/{vault}/secrets/api-keys/openai"), 200)

    r = expect(a.delete(f"/agents/{agent['id']}"), 204)
    assert r.text == ""
    # Its key stops working everywhere, right away.
    for resp in [bot.get(f"/vaults/{vault}/secrets/api-keys/openai"),
                 bot.get(f"/vaults/{vault}/secrets"),
                 bot.put(f"/vaults/{vault}/secrets/x", json={"type": "note", "value": "x"}),
                 bot.get("/vaults"),
                 bot.me()]:
        expect(resp, 401, 403)
        check_absent(resp.text, ["sk-openai"])
    # Self-rotation with its (former) credentials: 403, agent revoked.
    expect_problem(self_rotate(server, agent["api_key"], agent["rotation_secret"]), 403)
    expect(bot.me(), 401, 403)  # and that did not bring the key back

    # The row is kept and shows the revocation.
    got = expect(a.get(f"/agents/{agent['id']}"), 200).json()
    assert got["is_revoked"] is True and RFC3339_RE.fullmatch(got["revoked_at"] or "")
    assert got["created_by"] == user["id"]
    assert agent["id"] in [x["id"] for x in a.get("/agents").json()["agents"]]


def test_jwt_of_an_agent_dies_with_revocation(server, alice):
    _, a = alice
    agent = create_agent(a, "bot")
    jwt = Caller(server, exchange(server, agent["api_key"]))
    assert expect(jwt.me(), 200).json()["type"] == "agent"
    expect(a.delete(f"/agents/{agent['id']}"), 204)
    expect(jwt.me(), 401, 403)


def test_admin_revokes_any_agent(server, alice):
    _, a = alice
    agent = create_agent(a, "bot")
    expect(admin_caller(server).delete(f"/agents/{agent['id']}"), 204)
    expect(Caller(server, agent["api_key"]).me(), 401, 403)
    assert a.get(f"/agents/{agent['id']}").json()["is_revoked"] is True
