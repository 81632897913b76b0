"""Users and their API keys, GET /me, and vault ownership between users
(docs/identity-and-access.md: "Users", "Principals and credentials", and the last rule of
"Policies/Answers")."""
import pytest

from conftest import (RFC3339_RE, UUID_RE, Caller, admin_caller, check_absent, check_credential,
                      create_agent, create_user, create_vault, exchange, expect, expect_problem,
                      grant, public_id, put_secret)


def new_key(caller, user_id, name):
    """POST /users/{id}/api-keys as `caller`; returns the 201 body."""
    __tracebackhide__ = True
    return expect(caller.post(f"/users/{user_id}/api-keys", json={"name": name}), 201).json()


# --- creating and listing users -------------------------------------------------------------------

def test_admin_creates_a_user(server):
    admin = admin_caller(server)
    r = expect(admin.post("/users", json={"name": "alice"}), 201)
    user = r.json()
    assert {"id", "name", "is_admin", "created_at"} <= set(user)
    assert UUID_RE.fullmatch(user["id"])
    assert user["name"] == "alice" and user["is_admin"] is False
    assert RFC3339_RE.fullmatch(user["created_at"])
    check_absent(r.text, ["cfr_key_", "cfr_rot_"])

    expect_problem(admin.post("/users", json={"name": "alice"}), 409)
    got = expect(admin.get(f"/users/{user['id']}"), 200).json()
    assert got["id"] == user["id"] and got["name"] == "alice" and got["is_admin"] is False
    expect_problem(admin.get("/users/00000000-0000-4000-8000-000000000000"), 404)


def test_admin_name_is_taken_by_init(server):
    me = expect(admin_caller(server).me(), 200).json()
    expect_problem(admin_caller(server).post("/users", json={"name": me["name"]}), 409)


@pytest.mark.parametrize("body,detail", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "has space"}, "name"),
    ({"name": "tab\there"}, "name"),
    ({"name": "x" * 300}, "name"),
    ({"name": 3}, "name"),
    ({"name": None}, "name"),
    ({"name": ["alice"]}, "name"),
    ({"name": "bob", "is_admin": True}, "unknown field"),
    ({"name": "bob", "role": "admin"}, "unknown field"),
])
def test_create_user_bad_input_is_400(server, body, detail):
    admin = admin_caller(server)
    expect_problem(admin.post("/users", json=body), 400, detail)
    names = [u["name"] for u in expect(admin.get("/users"), 200).json()["users"]]
    assert len(names) == 1, names  # only the admin from `coffer init`


def test_list_users(server):
    admin = admin_caller(server)
    alice, _ = create_user(server, "alice")
    bob, _ = create_user(server, "bob")
    r = expect(admin.get("/users"), 200)
    users = r.json()["users"]
    by_name = {u["name"]: u for u in users}
    assert {"alice", "bob"} <= set(by_name) and len(users) == 3
    assert [u["is_admin"] for u in users].count(True) == 1
    assert by_name["alice"]["id"] == alice["id"] and by_name["bob"]["is_admin"] is False
    for u in users:
        assert {"id", "name", "is_admin", "created_at"} <= set(u)
    check_absent(r.text, ["cfr_key_", "cfr_rot_", server.admin_key])


# --- a user's own API keys ------------------------------------------------------------------------

def test_user_manages_its_own_named_keys(server):
    alice, first = create_user(server, "alice")
    created = [new_key(first, alice["id"], name) for name in ("laptop", "ci", "backup")]
    for key in created:
        assert {"id", "name", "created_at", "revoked_at", "api_key"} <= set(key)
        check_credential(key["api_key"], "key")
        assert key["id"] == public_id(key["api_key"])
        assert key["revoked_at"] is None and RFC3339_RE.fullmatch(key["created_at"])
    assert [k["name"] for k in created] == ["laptop", "ci", "backup"]
    assert len({k["id"] for k in created}) == 3

    r = expect(first.get(f"/users/{alice['id']}/api-keys"), 200)
    listed = r.json()["api_keys"]
    check_absent(r.text, ["cfr_key_", "cfr_rot_", first.token] + [k["api_key"] for k in created],
                 "key listing")
    assert {k["name"] for k in listed} == {"first", "laptop", "ci", "backup"}
    for k in listed:
        assert set(k) >= {"id", "name", "created_at", "revoked_at"}
        assert not {"api_key", "secret", "key"} & set(k), sorted(k)
        assert k["revoked_at"] is None
    # Every key works.
    for key in created:
        me = expect(Caller(server, key["api_key"]).me(), 200).json()
        assert me["id"] == alice["id"]


def test_revoked_key_is_refused_at_once_and_the_others_still_work(server):
    alice, first = create_user(server, "alice")
    laptop = new_key(first, alice["id"], "laptop")
    ci = new_key(first, alice["id"], "ci")
    laptop_caller = Caller(server, laptop["api_key"])
    expect(laptop_caller.me(), 200)  # keep-alive connection already open

    r = expect(first.delete(f"/users/{alice['id']}/api-keys/{laptop['id']}"), 204)
    assert r.text == ""
    expect_problem(laptop_caller.me(), 401)
    expect_problem(Caller(server, laptop["api_key"]).get("/vaults"), 401)
    for caller in (first, Caller(server, ci["api_key"])):
        assert expect(caller.me(), 200).json()["id"] == alice["id"]

    listed = {k["id"]: k for k in expect(first.get(f"/users/{alice['id']}/api-keys"),
                                         200).json()["api_keys"]}
    assert RFC3339_RE.fullmatch(listed[laptop["id"]]["revoked_at"] or "")
    assert listed[ci["id"]]["revoked_at"] is None
    expect_problem(first.delete(f"/users/{alice['id']}/api-keys/AAAAAAAAAAAA"), 404)


def test_admin_creates_and_revokes_keys_for_a_user(server):
    admin = admin_caller(server)
    alice, first = create_user(server, "alice")
    key = new_key(admin, alice["id"], "from-admin")
    expect(Caller(server, key["api_key"]).me(), 200)
    expect(admin.get(f"/users/{alice['id']}/api-keys"), 200)
    expect(admin.delete(f"/users/{alice['id']}/api-keys/{key['id']}"), 204)
    expect_problem(Caller(server, key["api_key"]).me(), 401)
    expect(first.me(), 200)


def test_jwt_dies_with_its_user_key(server):
    alice, first = create_user(server, "alice")
    key = new_key(first, alice["id"], "for-jwt")
    jwt = Caller(server, exchange(server, key["api_key"]))
    assert expect(jwt.me(), 200).json()["id"] == alice["id"]
    expect(first.delete(f"/users/{alice['id']}/api-keys/{key['id']}"), 204)
    expect_problem(jwt.me(), 401)
    expect_problem(jwt.get("/vaults"), 401)
    expect(first.me(), 200)


def test_non_admin_cannot_manage_other_users(server):
    alice, a = create_user(server, "alice")
    bob, b = create_user(server, "bob")
    bob_key = new_key(b, bob["id"], "second")
    for r in [a.post("/users", json={"name": "mallory"}),
              a.get("/users"),
              a.get(f"/users/{bob['id']}"),
              a.post(f"/users/{bob['id']}/api-keys", json={"name": "stolen"}),
              a.get(f"/users/{bob['id']}/api-keys"),
              a.delete(f"/users/{bob['id']}/api-keys/{bob_key['id']}")]:
        expect_problem(r, 403)
    # Nothing happened to bob.
    expect(Caller(server, bob_key["api_key"]).me(), 200)
    keys = expect(b.get(f"/users/{bob['id']}/api-keys"), 200).json()["api_keys"]
    assert sorted(k["name"] for k in keys) == ["first", "second"]
    assert "mallory" not in [u["name"] for u in admin_caller(server).get("/users").json()["users"]]
    # A user reads itself.
    assert expect(a.get(f"/users/{alice['id']}"), 200).json()["name"] == "alice"


def test_user_cannot_revoke_another_users_key_through_its_own_path(server):
    alice, a = create_user(server, "alice")
    bob, b = create_user(server, "bob")
    victim = new_key(b, bob["id"], "victim")
    expect(a.delete(f"/users/{alice['id']}/api-keys/{victim['id']}"), 403, 404)
    expect(Caller(server, victim["api_key"]).me(), 200)


def test_agents_cannot_manage_users(server):
    alice, a = create_user(server, "alice")
    agent = Caller(server, create_agent(a, "bot")["api_key"])
    for r in [agent.post("/users", json={"name": "x"}), agent.get("/users"),
              agent.get(f"/users/{alice['id']}/api-keys"),
              agent.post(f"/users/{alice['id']}/api-keys", json={"name": "x"})]:
        expect_problem(r, 403)


# --- GET /me and credential formats ---------------------------------------------------------------

def test_me_for_admin_user_and_agent(server):
    admin = expect(admin_caller(server).me(), 200).json()
    assert admin["type"] == "user" and admin["is_admin"] is True
    assert UUID_RE.fullmatch(admin["id"]) and admin["name"]

    alice, a = create_user(server, "alice")
    me = expect(a.me(), 200).json()
    assert (me["type"], me["id"], me["name"], me["is_admin"]) == ("user", alice["id"], "alice",
                                                                  False)

    agent = create_agent(a, "research-bot")
    me = expect(Caller(server, agent["api_key"]).me(), 200).json()
    assert me["type"] == "agent" and me["id"] == agent["id"] and me["name"] == "research-bot"
    assert me["is_admin"] is False

    expect_problem(Caller(server).me(), 401)
    expect_problem(Caller(server, "garbage").me(), 401)


def test_credential_formats(server):
    check_credential(server.admin_key, "key")
    alice, a = create_user(server, "alice")
    check_credential(a.token, "key")
    check_credential(new_key(a, alice["id"], "k")["api_key"], "key")
    agent = create_agent(a, "bot")
    check_credential(agent["api_key"], "agent")
    check_credential(agent["rotation_secret"], "rot")
    # A rotation secret is not an API key.
    expect_problem(Caller(server, agent["rotation_secret"]).me(), 401)


# --- vault ownership between users ----------------------------------------------------------------

def test_users_see_only_their_own_vaults_and_the_admin_sees_all(server):
    admin = admin_caller(server)
    alice, a = create_user(server, "alice")
    bob, b = create_user(server, "bob")
    va = create_vault(a, "alice-vault")
    vb = create_vault(b, "bob-vault")
    put_secret(b, vb, "db/password", "bob-secret-value")

    assert [v["id"] for v in expect(a.get("/vaults"), 200).json()["vaults"]] == [va]
    assert [v["id"] for v in expect(b.get("/vaults"), 200).json()["vaults"]] == [vb]
    assert {va, vb} <= {v["id"] for v in expect(admin.get("/vaults"), 200).json()["vaults"]}

    # Alice has no policy in bob's vault: 403 for the vault and its secrets, existing or not.
    for r in [a.get(f"/vaults/{vb}"),
              a.get(f"/vaults/{vb}/secrets/db/password"),
              a.get(f"/vaults/{vb}/secrets/db/missing"),
              a.get(f"/vaults/{vb}/secrets"),
              a.put(f"/vaults/{vb}/secrets/db/password", json={"type": "password", "value": "x"}),
              a.delete(f"/vaults/{vb}/secrets/db/password"),
              a.delete(f"/vaults/{vb}")]:
        body = expect_problem(r, 403)
        check_absent(r.text, ["bob-secret-value"])
        assert "not found" not in body.get("detail", "").lower()

    # Bob's vault and secret are intact; the admin reads them.
    assert expect(b.get(f"/vaults/{vb}/secrets/db/password"), 200).json()["value"] == \
        "bob-secret-value"
    assert expect(admin.get(f"/vaults/{vb}/secrets/db/password"), 200).json()["value"] == \
        "bob-secret-value"
    assert expect(admin.get(f"/vaults/{vb}"), 200).json()["id"] == vb


def test_a_vault_name_means_one_vault_in_the_deployment(server):
    _, a = create_user(server, "alice")
    _, b = create_user(server, "bob")
    create_vault(a, "prod")
    expect_problem(b.post("/vaults", json={"name": "prod"}), 409)
    expect_problem(b.post("/vaults", json={"name": "PROD"}), 409)
    expect_problem(a.post("/vaults", json={"name": "prod"}), 409)


def test_a_user_policy_makes_the_vault_visible_to_that_user(server):
    alice, a = create_user(server, "alice")
    bob, b = create_user(server, "bob")
    vb = create_vault(b, "bob-vault")
    put_secret(b, vb, "shared/token", "shared-value")
    put_secret(b, vb, "private/token", "private-value")
    assert vb not in [v["id"] for v in a.get("/vaults").json()["vaults"]]

    grant(b, vb, alice["id"], "shared/*", ["read"], principal_type="user")
    assert vb in [v["id"] for v in expect(a.get("/vaults"), 200).json()["vaults"]]
    assert expect(a.get(f"/vaults/{vb}/secrets/shared/token"), 200).json()["value"] == \
        "shared-value"
    expect_problem(a.get(f"/vaults/{vb}/secrets/private/token"), 403)
    expect_problem(a.put(f"/vaults/{vb}/secrets/shared/token",
                         json={"type": "note", "value": "overwrite"}), 403)
    # Still not an owner: cannot manage the vault's policies.
    expect_problem(a.get(f"/vaults/{vb}/policies"), 403)
