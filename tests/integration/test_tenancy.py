"""Tenancy rules (docs/identity-and-access.md, "Tenancy"), on SQLite and PostgreSQL: a listing
never names what the caller may not list; a vault name means one vault; a policy naming an agent
is made only by the admin or the agent's owner; the last admin API key cannot be revoked, and
`coffer admin recover` (root key needed, audited) restores admin access offline."""
import concurrent.futures
import os
import secrets
import subprocess
import uuid

import pytest

from cli_support import Cli
from conftest import (COFFER_BIN, KEY_RE, UUID_RE, Bag, Caller, check_absent,
                      check_credential, create_agent, create_user, create_vault, expect,
                      expect_problem, grant, public_id, put_secret, redact)


@pytest.fixture
def deployment(server):
    """The `server` fixture's server, on a fresh SQLite or PostgreSQL store (conftest.py,
    "Stores"); .sql(query) runs SQL on its store (a line per row, "|" between columns),
    .offline(*args) runs a coffer command on the same store."""

    def sql(query):
        return "\n".join("|".join(row) for row in server.sql(query))

    def offline(*args, env=None):
        full_env = {k: v for k, v in os.environ.items() if k != "COFFER_ROOT_KEY"}
        full_env.update(env or {})
        return subprocess.run([COFFER_BIN, *args, "--data-dir", server.data_dir,
                               *server.store.args],
                              capture_output=True, text=True, timeout=60, env=full_env)

    return Bag(server=server, admin=Caller(server, server.admin_key), data_dir=server.data_dir,
               backend=server.store.kind, sql=sql, offline=offline)


def run_concurrently(calls):
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


# --- a listing never names what the caller may not list ------------------------------------------

VISIBLE = ["api-keys/anthropic", "api-keys/cohere", "api-keys/mistral", "api-keys/openai",
           "api-keys/zeta"]
HIDDEN = ["0-first/x", "api-keys-prod/x", "api-keys/cohere/a", "api-keys/cohere/b",
          "api-keys/mistral/old", "api-keys/openai/v2", "b/1", "b/2", "b/3", "b/4", "b/5",
          "db/password", "zz/last"]


def test_a_filtered_listing_pages_through_exactly_the_visible_paths(deployment):
    d = deployment
    vault = create_vault(d.admin, "prod")
    for path in sorted(VISIBLE + HIDDEN):
        put_secret(d.admin, vault, path, "value-of-" + path.replace("/", "-"))
    agent = create_agent(d.admin, "lister")
    grant(d.admin, vault, agent["id"], "api-keys/*", ["list"])
    bot = Caller(d.server, agent["api_key"])
    for limit in (1, 2, 3, None):
        seen, texts, after = [], [], None
        for _ in range(100):
            params = {} if limit is None else {"limit": limit}
            if after is not None:
                params["after"] = after
            r = expect(bot.get(f"/vaults/{vault}/secrets", params=params), 200)
            texts.append(r.text)
            page = r.json()
            seen.extend(s["path"] for s in page["secrets"])
            after = page["next_after"]
            if after is None:
                break
            assert after == page["secrets"][-1]["path"], "the cursor is the last path returned"
        assert seen == VISIBLE, f"limit {limit}"
        for text in texts:
            for hidden in HIDDEN:
                assert hidden not in text, f"limit {limit}: a response names {hidden}"
    # The owner still sees everything, and a caller's `after` may be any path: only visible
    # paths after it come back.
    everything = expect(d.admin.get(f"/vaults/{vault}/secrets"), 200).json()
    assert [s["path"] for s in everything["secrets"]] == sorted(VISIBLE + HIDDEN)
    r = expect(bot.get(f"/vaults/{vault}/secrets", params={"after": "api-keys/mistral/old"}), 200)
    assert [s["path"] for s in r.json()["secrets"]] == ["api-keys/openai", "api-keys/zeta"]
    expect_problem(bot.get(f"/vaults/{vault}/secrets", params={"after": "~not-a-cursor"}), 400,
                   "after")


# --- a vault name means one vault ----------------------------------------------------------------

def test_a_vault_name_is_taken_whatever_its_case_and_owner(deployment):
    d = deployment
    prod = create_vault(d.admin, "prod")
    admin_id = expect(d.admin.me(), 200).json()["id"]
    _, mallory = create_user(d.server, "mallory")
    for name in ("prod", "Prod", "PROD"):
        body = expect_problem(mallory.post("/vaults", json={"name": name}), 409, "already exists")
        text = str(body)
        assert prod not in text and admin_id not in text, "the conflict names no other vault"
    expect_problem(d.admin.post("/vaults", json={"name": "pROD"}), 409, "already exists")
    assert [v["name"] for v in mallory.get("/vaults").json()["vaults"]] == []
    create_vault(mallory, "prod-mallory")
    # Of concurrent creates of one name in different cases, by different users, one wins.
    users = [create_user(d.server, f"racer{i}")[1] for i in range(4)]
    for round_ in range(3):
        names = [f"Team{round_}", f"team{round_}", f"TEAM{round_}", f"tEaM{round_}"]
        answers = run_concurrently([lambda u=u, n=n: u.post("/vaults", json={"name": n})
                                    for u, n in zip(users, names)])
        assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], \
            [redact(r.text) for r in answers]
    listed = [v["name"].lower() for v in d.admin.get("/vaults").json()["vaults"]]
    assert len(listed) == len(set(listed))


def test_the_client_resolves_a_vault_name_without_regard_to_case(deployment, tmp_path):
    d = deployment
    vault = create_vault(d.admin, "Prod")
    put_secret(d.admin, vault, "api-keys/openai", "sk-case")
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(d.server, d.admin.token, str(home))
    assert cli.ok("secrets", "get", "prod", "api-keys/openai") == "sk-case"
    assert cli.ok("secrets", "get", "PROD", "api-keys/openai") == "sk-case"
    assert cli.fails(4, "secrets", "get", "prod-2", "api-keys/openai").stdout == ""


# --- who may grant what --------------------------------------------------------------------------

def test_only_the_admin_or_an_agents_owner_grants_the_agent_access(deployment):
    d = deployment
    admin_vault = create_vault(d.admin, "prod")
    put_secret(d.admin, admin_vault, "db/password", "admins-value")
    admin_bot = create_agent(d.admin, "deployer")
    alice, a = create_user(d.server, "alice")
    mallory, m = create_user(d.server, "mallory")
    trap = create_vault(m, "prod-2")
    put_secret(m, trap, "db/password", "attackers-value")
    mallory_bot = create_agent(m, "mallorys-bot")

    def policy(principal_id, principal_type="agent"):
        return {"principal_type": principal_type, "principal_id": principal_id,
                "secret_path_pattern": "**", "permissions": ["read", "list"]}

    # Mallory may not point the admin's agent (nor an unknown one) at her vault.
    for agent_id in (admin_bot["id"], str(uuid.uuid4())):
        expect_problem(m.post(f"/vaults/{trap}/policies", json=policy(agent_id)), 403,
                       "agent you own")
    assert m.get(f"/vaults/{trap}/policies").json()["policies"] == []
    admin_bot_caller = Caller(d.server, admin_bot["api_key"])
    assert [v["id"] for v in admin_bot_caller.get("/vaults").json()["vaults"]] == []
    expect_problem(admin_bot_caller.get(f"/vaults/{trap}/secrets/db/password"), 403)
    # Alice may not grant Mallory's agent on her own vault either; nor Mallory on Alice's.
    alice_vault = create_vault(a, "alice-vault")
    expect_problem(a.post(f"/vaults/{alice_vault}/policies", json=policy(mallory_bot["id"])),
                   403, "agent you own")
    expect_problem(m.post(f"/vaults/{alice_vault}/policies", json=policy(mallory_bot["id"])),
                   403)
    # What is allowed: an owner grants their own agent on their own vault, shares a vault with
    # a user, and the admin grants any agent anywhere.
    grant(m, trap, mallory_bot["id"], "**", ["read"])
    grant(m, trap, alice["id"], "**", ["read"], principal_type="user")
    expect_problem(m.post(f"/vaults/{trap}/policies",
                          json=policy(str(uuid.uuid4()), principal_type="user")), 400,
                   "existing user")
    grant(d.admin, alice_vault, mallory_bot["id"], "**", ["read"])
    grant(d.admin, admin_vault, admin_bot["id"], "db/*", ["read"])
    assert expect(admin_bot_caller.get(f"/vaults/{admin_vault}/secrets/db/password"),
                  200).json()["value"] == "admins-value"


def test_an_ordinary_user_cannot_touch_other_peoples_agents_and_vaults(deployment):
    d = deployment
    admin_vault = create_vault(d.admin, "prod")
    admin_bot = create_agent(d.admin, "deployer")
    p = grant(d.admin, admin_vault, admin_bot["id"], "**", ["read", "list"])
    _, m = create_user(d.server, "mallory")
    for r, status in [(m.get(f"/agents/{admin_bot['id']}"), 404),
                      (m.post(f"/agents/{admin_bot['id']}/rotate-key"), 404),
                      (m.delete(f"/agents/{admin_bot['id']}"), 404),
                      (m.get(f"/vaults/{admin_vault}"), 403),
                      (m.get(f"/vaults/{admin_vault}/policies"), 403),
                      (m.get(f"/vaults/{admin_vault}/policies/{p['id']}"), 403),
                      (m.delete(f"/vaults/{admin_vault}/policies/{p['id']}"), 403),
                      (m.delete(f"/vaults/{admin_vault}"), 403),
                      (m.get("/audit", params={"vault_id": admin_vault}), 403)]:
        body = expect_problem(r, status)
        check_absent(str(body), [admin_bot["api_key"], admin_bot["rotation_secret"]])
    assert [a["id"] for a in m.get("/agents").json()["agents"]] == []
    # The admin's agent still works with its key.
    expect(Caller(d.server, admin_bot["api_key"]).get(f"/vaults/{admin_vault}/secrets"), 200)


# --- no lock-out ---------------------------------------------------------------------------------

def admin_keys(caller):
    me = expect(caller.me(), 200).json()
    keys = expect(caller.get(f"/users/{me['id']}/api-keys"), 200).json()["api_keys"]
    return me["id"], [k["id"] for k in keys if k["revoked_at"] is None]


def test_the_last_admin_api_key_cannot_be_revoked(deployment):
    d = deployment
    admin_id, active = admin_keys(d.admin)
    assert active == [public_id(d.admin.token)]
    expect_problem(d.admin.delete(f"/users/{admin_id}/api-keys/{active[0]}"), 409,
                   "last active API key of an admin")
    expect(d.admin.me(), 200)
    # A second key makes the first revocable; the second is then the last.
    second = expect(d.admin.post(f"/users/{admin_id}/api-keys", json={"name": "second"}),
                    201).json()
    admin2 = Caller(d.server, second["api_key"])
    expect(admin2.delete(f"/users/{admin_id}/api-keys/{active[0]}"), 204)
    expect_problem(admin2.delete(f"/users/{admin_id}/api-keys/{second['id']}"), 409,
                   "last active API key")
    expect(admin2.me(), 200)
    # Any other user's last key may go.
    alice = expect(admin2.post("/users", json={"name": "alice"}), 201).json()
    alice_key = expect(admin2.post(f"/users/{alice['id']}/api-keys", json={"name": "only"}),
                       201).json()
    expect(Caller(d.server, alice_key["api_key"]).delete(
        f"/users/{alice['id']}/api-keys/{alice_key['id']}"), 204)
    # Concurrent revocations of every admin key, each request made with another of them: never
    # do they all go. (A request whose own key another revoked first is refused with 401.)
    for round_ in range(3):
        for other in admin_keys(admin2)[1]:  # a round may leave more than one
            if other != public_id(admin2.token):
                expect(admin2.delete(f"/users/{admin_id}/api-keys/{other}"), 204)
        fresh = [expect(admin2.post(f"/users/{admin_id}/api-keys", json={"name": f"k{round_}{i}"}),
                        201).json() for i in range(3)]
        callers = [admin2] + [Caller(d.server, k["api_key"]) for k in fresh]
        ids = [public_id(c.token) for c in callers]
        answers = run_concurrently(
            [lambda c=c, i=i: c.delete(f"/users/{admin_id}/api-keys/{i}")
             for c, i in zip(callers, ids[1:] + ids[:1])])
        codes = [r.status_code for r in answers]
        assert set(codes) <= {204, 401, 409} and 204 in codes, [redact(r.text) for r in answers]
        left = [c for c in callers if c.me().status_code == 200]
        assert len(left) >= 1 and len(left) == len(callers) - codes.count(204), codes
        admin2 = left[0]


def test_admin_recover_needs_the_root_key_and_is_audited(deployment, tmp_path):
    d = deployment
    admin_id = expect(d.admin.me(), 200).json()["id"]
    vault = create_vault(d.admin, "prod")
    put_secret(d.admin, vault, "db/password", "kept-value")
    # A lock-out the API no longer allows (e.g. a store restored from an old backup, or edited):
    # every admin key revoked, with the server stopped so no cache remembers them.
    d.server.stop()
    d.sql(f"UPDATE credentials SET revoked_at = 1 WHERE principal_id = '{admin_id}'")
    d.server.start()
    expect_problem(d.admin.me(), 401)
    credentials_before = d.sql("SELECT count(*) FROM credentials")
    events_before = d.sql("SELECT count(*) FROM audit_events")

    # Without the right root key nothing happens.
    wrong = tmp_path / "wrong.key"
    wrong.write_text(secrets.token_hex(32) + "\n")
    wrong.chmod(0o600)
    for args, env, why in [(["--root-key-file", str(wrong)], None, "does not match"),
                           (["--root-key-file", str(tmp_path / "absent.key")], None, "root key"),
                           ([], {"COFFER_ROOT_KEY": secrets.token_hex(32)}, "does not match")]:
        out = d.offline("admin", "recover", *args, env=env)
        assert out.returncode == 1, redact(out.stderr)
        assert why in out.stderr and "nothing was changed" in out.stderr, redact(out.stderr)
        assert "cfr_key_" not in out.stdout + out.stderr
    assert d.sql("SELECT count(*) FROM credentials") == credentials_before
    assert d.sql("SELECT count(*) FROM audit_events") == events_before

    # With it (root.key in the data dir), a new admin key, printed once, while the server runs.
    out = d.offline("admin", "recover")
    assert out.returncode == 0, redact(out.stderr)
    keys = KEY_RE.findall(out.stdout)
    assert len(keys) == 1 and "cfr_key_" not in out.stderr
    check_credential(keys[0], "key")
    admin = Caller(d.server, keys[0])
    me = expect(admin.me(), 200).json()
    assert me["id"] == admin_id and me["is_admin"] is True
    assert expect(admin.get(f"/vaults/{vault}/secrets/db/password"), 200).json()["value"] == \
        "kept-value"
    events = expect(admin.get("/audit", params={"action": "admin.recovered"}), 200).json()
    assert len(events["events"]) == 1
    e = events["events"][0]
    assert (e["actor_type"], e["actor_id"], e["outcome"]) == ("system", "offline", "success")
    assert e["path"] == f"users/{admin_id}/api-keys/{public_id(keys[0])}"
    verify = expect(admin.get("/audit/verify"), 200).json()
    assert verify["ok"] is True and verify["first_broken_seq"] is None
    check_absent(str(events), keys)
