"""The audit trail: one event per request (refused ones too) with the documented fields and
action names, filters and pagination of GET /audit, no value, key or token in any event, the
hash chain checked by GET /audit/verify (and broken by editing the database), and what a
non-admin may see (docs/identity-and-access.md: "Audit")."""
import os
import re
import sqlite3

import pytest

from conftest import (RFC3339_RE, Bag, Caller, admin_caller, audit_pages, check_absent,
                      create_agent, create_user, create_vault, exchange, expect, expect_problem,
                      put_secret, redact, self_rotate, when)

EVENT_FIELDS = {"seq", "at", "request_id", "actor_type", "actor_id", "action", "vault_id", "path",
                "version", "client_ip", "outcome", "status", "http_status"}
CANARY = "CANARY-audit-7d3f9b-must-never-appear"
BAD_TOKEN = "not-a-key-CANARY-401-e4b1"
# Canonical status names the contract implies for the HTTP statuses these tests provoke.
STATUS_NAMES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 410: "GONE"}


def show(event):
    return redact(repr(event))


def find(events, **fields):
    return [e for e in events if all(e.get(k) == v for k, v in fields.items())]


def one(events, **fields):
    found = find(events, **fields)
    assert len(found) == 1, (fields, [(e["seq"], e["action"], e["http_status"]) for e in found])
    return found[0]


@pytest.fixture
def story(server):
    """A sequence of actions by the admin, a user and an agent, including a 403, a 401 and a 410.
    Returns what the tests need, with `secrets`: every credential and value that was used."""
    admin = admin_caller(server)
    admin_id = expect(admin.me(), 200).json()["id"]
    alice, a = create_user(server, "alice")
    vault = create_vault(admin, "audited")
    other = create_vault(admin, "elsewhere")
    alice_vault = create_vault(a, "alice-vault")

    expect(admin.put(f"/vaults/{vault}/secrets/app/token", headers={"X-Request-Id": "trace-put-1"},
                     json={"type": "api_key", "value": CANARY}), 201)
    assert expect(admin.get(f"/vaults/{vault}/secrets/app/token"), 200).json()["value"] == CANARY
    expect(admin.post(f"/vaults/{vault}/secret-rotate/app/token", json={"length": 24}), 201)
    rotated_value = admin.get(f"/vaults/{vault}/secrets/app/token").json()["value"]
    put_secret(admin, vault, "once/token", CANARY + "-once", max_access_count=1)
    expect(admin.get(f"/vaults/{vault}/secrets/once/token"), 200)
    expect_problem(admin.get(f"/vaults/{vault}/secrets/once/token"), 410)

    agent = create_agent(admin, "auditee")
    bot = Caller(server, agent["api_key"])
    expect_problem(bot.get(f"/vaults/{vault}/secrets/app/token"), 403)
    expect_problem(Caller(server, BAD_TOKEN).get("/vaults"), 401)

    jwt = exchange(server, server.admin_key)
    expect(Caller(server, jwt).me(), 200)

    put_secret(a, alice_vault, "mine/x", CANARY + "-alice")
    expect(a.get(f"/vaults/{alice_vault}/secrets/mine/x"), 200)
    expect(admin.get(f"/vaults/{alice_vault}/secrets/mine/x"), 200)
    put_secret(admin, other, "o/x", CANARY + "-other")
    rotated = expect(self_rotate(server, agent["api_key"], agent["rotation_secret"]), 200).json()

    secrets = [CANARY, rotated_value, BAD_TOKEN, server.admin_key, a.token, jwt,
               agent["api_key"], agent["rotation_secret"], rotated["apiKey"],
               rotated["rotationSecret"]]
    # The secret parts alone, too.
    secrets += [s.split("_")[-2] for s in secrets if s.startswith(("cfr_", "ocv_"))]
    return Bag(server=server, admin=admin, admin_id=admin_id, alice=alice, a=a,
                                 vault=vault, other=other, alice_vault=alice_vault, agent=agent,
                                 bot=Caller(server, rotated["apiKey"]), secrets=secrets)


def all_events(caller, **params):
    return audit_pages(caller, limit=100, **params)[0]


# --- fields, outcomes, and the actions of the story ----------------------------------------------

def test_events_have_the_documented_fields(story):
    s = story
    r = expect(s.admin.get("/audit"), 200)
    assert set(r.json()) >= {"events", "next_after"}
    events = all_events(s.admin)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    previous = None
    for e in events:
        missing = EVENT_FIELDS - set(e)
        assert not missing, (e["seq"], sorted(missing))
        assert RFC3339_RE.fullmatch(e["at"]), e["at"]
        if previous:
            assert when(e["at"]) >= previous, e["seq"]
        previous = when(e["at"])
        assert isinstance(e["request_id"], str) and e["request_id"]
        assert e["actor_type"] in ("user", "agent", "anonymous")
        assert e["outcome"] in ("success", "denied", "failure"), show(e)
        assert isinstance(e["http_status"], int)
        assert isinstance(e["status"], str) and re.fullmatch(r"[A-Z_]+", e["status"])
        assert e["client_ip"] == "127.0.0.1"
        code = e["http_status"]
        if 200 <= code < 300:
            assert (e["outcome"], e["status"]) == ("success", "OK"), show(e)
        elif code in (401, 403):
            assert e["outcome"] == "denied", show(e)
        elif code != 429:
            assert e["outcome"] == "failure", show(e)
        if code in STATUS_NAMES:
            assert e["status"] == STATUS_NAMES[code], show(e)


def test_the_storys_events(story):
    s = story
    events = all_events(s.admin)
    agent_id = s.agent["id"]

    created = one(events, action="vault.create", vault_id=s.vault)
    assert (created["actor_type"], created["actor_id"]) == ("user", s.admin_id)
    assert (created["outcome"], created["http_status"]) == ("success", 201)

    write = one(events, request_id="trace-put-1")
    assert (write["action"], write["vault_id"], write["path"], write["version"]) == \
        ("secret.write", s.vault, "app/token", 1)
    assert (write["outcome"], write["status"], write["http_status"]) == ("success", "OK", 201)

    reads = find(events, action="secret.read", vault_id=s.vault, path="app/token",
                 outcome="success")
    assert [(e["version"], e["http_status"], e["actor_id"]) for e in reads] == \
        [(1, 200, s.admin_id), (2, 200, s.admin_id)]
    rotate = one(events, action="secret.rotate", vault_id=s.vault, path="app/token")
    assert (rotate["version"], rotate["http_status"]) == (2, 201)

    gone = one(events, action="secret.read", path="once/token", http_status=410)
    assert (gone["outcome"], gone["status"]) == ("failure", "GONE")
    one(events, action="secret.read", path="once/token", http_status=200)

    denied = one(events, action="secret.read", actor_id=agent_id)
    assert (denied["actor_type"], denied["vault_id"], denied["path"]) == \
        ("agent", s.vault, "app/token")
    assert (denied["outcome"], denied["status"], denied["http_status"]) == \
        ("denied", "PERMISSION_DENIED", 403)

    failed = find(events, action="auth.failed")
    assert len(failed) == 1, [(e["seq"], e["http_status"]) for e in failed]
    assert failed[0]["actor_type"] == "anonymous" and not failed[0]["actor_id"]
    assert (failed[0]["outcome"], failed[0]["http_status"]) == ("denied", 401)
    assert failed[0]["status"] == "UNAUTHENTICATED"

    token = one(events, action="auth.token")
    assert (token["outcome"], token["http_status"]) == ("success", 200)
    rotation = one(events, action="agent.self_rotate_key")
    assert (rotation["actor_type"], rotation["actor_id"], rotation["http_status"]) == \
        ("agent", agent_id, 200)
    one(events, action="agent.create", http_status=201)
    assert len(find(events, action="user.create", http_status=201)) >= 1
    # The admin's read in alice's vault is recorded with the admin as actor.
    assert find(events, action="secret.read", vault_id=s.alice_vault, actor_id=s.admin_id)


def test_every_request_appends_exactly_one_event_with_its_action(server):
    """A table of requests, run in order; afterwards the events after the starting point (minus
    GET /audit's own audit.read events) are exactly these, in order."""
    admin = admin_caller(server)
    ctx = {}
    before = all_events(admin)
    start = before[-1]["seq"] if before else 0

    def remember(name, field="id"):
        return lambda body: ctx.__setitem__(name, body[field])

    steps = [  # (who, method, route, json body, action, http status, on_success)
        ("admin", "GET", "/me", None, "me.read", 200, None),
        ("admin", "POST", "/users", {"name": "carol"}, "user.create", 201, remember("carol")),
        ("admin", "GET", "/users", None, "user.list", 200, None),
        ("admin", "GET", "/users/{carol}", None, "user.read", 200, None),
        ("admin", "POST", "/users/{carol}/api-keys", {"name": "k"}, "apikey.create", 201,
         remember("key")),
        ("admin", "GET", "/users/{carol}/api-keys", None, "apikey.list", 200, None),
        ("admin", "DELETE", "/users/{carol}/api-keys/{key}", None, "apikey.revoke", 204, None),
        ("admin", "POST", "/agents", {"name": "a1"}, "agent.create", 201, remember("agent")),
        ("admin", "GET", "/agents", None, "agent.list", 200, None),
        ("admin", "GET", "/agents/{agent}", None, "agent.read", 200, None),
        ("admin", "POST", "/agents/{agent}/rotate-key", None, "agent.rotate_key", 200,
         lambda body: ctx.update(agent_key=body["api_key"], agent_rot=body["rotation_secret"])),
        ("self", "POST", "/agents/self/rotate-key", None, "agent.self_rotate_key", 200, None),
        ("admin", "POST", "/vaults", {"name": "v"}, "vault.create", 201, remember("vault")),
        ("admin", "GET", "/vaults", None, "vault.list", 200, None),
        ("admin", "GET", "/vaults/{vault}", None, "vault.read", 200, None),
        ("admin", "POST", "/vaults/{vault}/policies",
         {"principal_type": "agent", "principal_id": "{agent}", "secret_path_pattern": "a/*",
          "permissions": ["read"]}, "policy.create", 201, remember("policy")),
        ("admin", "GET", "/vaults/{vault}/policies", None, "policy.list", 200, None),
        ("admin", "GET", "/vaults/{vault}/policies/{policy}", None, "policy.read", 200, None),
        ("admin", "PUT", "/vaults/{vault}/secrets/a/b", {"type": "note", "value": CANARY},
         "secret.write", 201, None),
        ("admin", "GET", "/vaults/{vault}/secrets/a/b", None, "secret.read", 200, None),
        ("admin", "GET", "/vaults/{vault}/secrets", None, "secret.list", 200, None),
        ("admin", "POST", "/vaults/{vault}/secret-rotate/a/b", {}, "secret.rotate", 201, None),
        ("admin", "GET", "/vaults/{vault}/secret-versions/a/b", None, "secret.versions", 200,
         None),
        ("admin", "GET", "/vaults/{vault}/secret-version/a/b/1", None, "secret.read", 200, None),
        ("admin", "POST", "/vaults/{vault}/secret-version/a/b/1/disable", None, "secret.disable",
         200, None),
        ("admin", "GET", "/vaults/{vault}/secrets/nope", None, "secret.read", 404, None),
        ("admin", "DELETE", "/vaults/{vault}/secrets/a/b", None, "secret.delete", 204, None),
        ("admin", "DELETE", "/vaults/{vault}/policies/{policy}", None, "policy.delete", 204, None),
        ("admin", "DELETE", "/agents/{agent}", None, "agent.revoke", 204, None),
        ("admin", "DELETE", "/vaults/{vault}", None, "vault.delete", 204, None),
        ("anon", "POST", "/auth/token", {"api_key": server.admin_key}, "auth.token", 200, None),
        ("anon", "GET", "/vaults", None, "auth.failed", 401, None),
        ("admin", "GET", "/audit/verify", None, "audit.verify", 200, None),
    ]

    def fill(value):
        if isinstance(value, str):
            return value.format(**ctx)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    for who, method, route, body, action, status, after in steps:
        if who == "self":
            r = self_rotate(server, ctx["agent_key"], ctx["agent_rot"])
        else:
            caller = admin if who == "admin" else Caller(server)
            r = caller.request(method, fill(route), json=fill(body))
        expect(r, status)
        if after:
            after(r.json())

    events = [e for e in all_events(admin) if e["seq"] > start and e["action"] != "audit.read"]
    got = [(e["action"], e["http_status"]) for e in events]
    assert got == [(action, status) for _, _, _, _, action, status, _ in steps]
    by_action = {e["action"]: e for e in events}
    assert by_action["secret.write"]["vault_id"] == ctx["vault"]
    assert by_action["secret.write"]["path"] == "a/b"
    assert by_action["agent.self_rotate_key"]["actor_id"] == ctx["agent"]
    assert by_action["policy.create"]["vault_id"] == ctx["vault"]
    assert by_action["secret.disable"]["version"] == 1


# --- filters and pagination ----------------------------------------------------------------------

def test_filters(story):
    s = story
    in_vault = all_events(s.admin, vault_id=s.vault)
    assert in_vault and all(e["vault_id"] == s.vault for e in in_vault)
    assert {"vault.create", "secret.write", "secret.read", "secret.rotate"} <= \
        {e["action"] for e in in_vault}
    assert not find(in_vault, path="mine/x") and not find(in_vault, path="o/x")

    by_agent = all_events(s.admin, actor_id=s.agent["id"])
    assert by_agent and all(e["actor_id"] == s.agent["id"] for e in by_agent)
    assert {"secret.read", "agent.self_rotate_key"} <= {e["action"] for e in by_agent}

    reads = all_events(s.admin, action="secret.read")
    assert len(reads) >= 6 and all(e["action"] == "secret.read" for e in reads)

    both = all_events(s.admin, vault_id=s.vault, action="secret.read", actor_id=s.agent["id"])
    assert [(e["path"], e["outcome"]) for e in both] == [("app/token", "denied")]
    assert all_events(s.admin, action="no.such.action") == []


def test_since_and_until(story):
    s = story
    events = all_events(s.admin)
    last = events[-1]["seq"]
    pivot = events[len(events) // 2]
    since = [e for e in all_events(s.admin, since=pivot["at"]) if e["seq"] <= last]
    until = [e for e in all_events(s.admin, until=pivot["at"]) if e["seq"] <= last]
    t = when(pivot["at"])
    assert pivot["seq"] in [e["seq"] for e in since]
    assert all(when(e["at"]) >= t for e in since)
    assert pivot["seq"] not in [e["seq"] for e in until]
    assert all(when(e["at"]) < t for e in until)
    # Together they are every event up to `last`, each once.
    assert sorted(e["seq"] for e in since + until) == list(range(1, last + 1))
    # A window of both.
    window = all_events(s.admin, since=events[1]["at"], until=pivot["at"])
    assert window and all(when(events[1]["at"]) <= when(e["at"]) < t for e in window)
    assert all_events(s.admin, until="2000-01-01T00:00:00Z") == []
    assert all_events(s.admin, since="2999-01-01T00:00:00Z") == []


def test_bad_query_parameters_are_400(story):
    for params in ({"since": "yesterday"}, {"until": "2024-13-45"}, {"limit": "many"},
                   {"after": "x"}):
        expect_problem(story.admin.get("/audit", params=params), 400)


def test_pagination(story):
    s = story
    everything = all_events(s.admin)
    last = everything[-1]["seq"]

    r = expect(s.admin.get("/audit", params={"limit": 4}), 200).json()
    assert [e["seq"] for e in r["events"]] == [1, 2, 3, 4] and r["next_after"] == 4
    r = expect(s.admin.get("/audit", params={"limit": 4, "after": 4}), 200).json()
    assert [e["seq"] for e in r["events"]] == [5, 6, 7, 8] and r["next_after"] == 8

    paged, _ = audit_pages(s.admin, limit=4)
    seqs = [e["seq"] for e in paged]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= last
    assert [e for e in paged if e["seq"] <= last] == everything

    # The last page says there is no more.
    r = expect(s.admin.get("/audit", params={"after": seqs[-1] + 1000}), 200).json()
    assert r["events"] == [] and r["next_after"] is None

    # Pagination within a filter.
    reads = all_events(s.admin, action="secret.read")
    assert audit_pages(s.admin, limit=2, action="secret.read")[0] == reads


# --- nothing secret in the trail -----------------------------------------------------------------

def test_no_value_key_or_token_in_any_event(story):
    s = story
    texts = audit_pages(s.admin, limit=7)[1]
    texts += audit_pages(s.admin, vault_id=s.vault)[1]
    texts += audit_pages(s.a, vault_id=s.alice_vault)[1]
    texts.append(expect(s.admin.get("/audit/verify"), 200).text)
    whole = "\n".join(texts)
    check_absent(whole, s.secrets + ["cfr_key_", "cfr_rot_", "Bearer"], "audit trail")
    # Also not in the store's audit table.
    rows = s.server.sql("SELECT * FROM audit_events")
    assert rows, "no audit event in the store"
    check_absent(repr(rows), s.secrets, "audit_events table")


# --- the hash chain -------------------------------------------------------------------------------

def verify(caller):
    body = expect(caller.get("/audit/verify"), 200).json()
    assert {"ok", "events_checked", "first_broken_seq", "reason", "head_hash"} <= set(body)
    assert re.fullmatch(r"[0-9a-f]{64}", body["head_hash"]), body["head_hash"]
    return body


def tamper(server, sql):
    """Runs `sql` on the stopped server's database the way someone with the file (or the
    database's owner) would: with the append-only triggers on audit_events dropped (disabled) for
    the edit and put back afterwards. Returns the number of rows changed."""
    if server.store.kind == "postgres":
        rows = server.sql("ALTER TABLE audit_events DISABLE TRIGGER USER",
                          f"WITH changed AS ({sql} RETURNING 1) SELECT count(*) FROM changed",
                          "ALTER TABLE audit_events ENABLE TRIGGER USER")
        return int(rows[0][0])
    con = sqlite3.connect(os.path.join(server.data_dir, "coffer.db"))
    try:
        triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                               " AND tbl_name = 'audit_events'").fetchall()
        for name, _ in triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        changed = con.execute(sql).rowcount
        for _, create in triggers:
            con.execute(create)
        con.commit()
        return changed
    finally:
        con.close()


def test_verify_then_tamper_with_the_database(story):
    s = story
    result = verify(s.admin)
    assert result["ok"] is True and result["first_broken_seq"] is None
    verify_event = all_events(s.admin, action="audit.verify")[-1]
    # Whether the verify call's own event is among those checked is the server's choice.
    assert result["events_checked"] in (verify_event["seq"] - 1, verify_event["seq"])

    # The chain survives a restart intact.
    s.server.stop()
    s.server.start()
    again = verify(s.admin)
    assert again["ok"] is True and again["events_checked"] > result["events_checked"]

    s.server.stop()
    assert tamper(s.server, "UPDATE audit_events SET action='x' WHERE seq=3") == 1
    s.server.start()
    broken = verify(s.admin)
    assert broken["ok"] is False
    assert broken["first_broken_seq"] == 3
    assert isinstance(broken["reason"], str) and broken["reason"]
    # The server keeps serving, and recording.
    expect(s.admin.me(), 200)
    assert verify(s.admin)["first_broken_seq"] == 3


def test_deleting_an_event_breaks_the_chain(story):
    s = story
    assert verify(s.admin)["ok"] is True
    s.server.stop()
    assert tamper(s.server, "DELETE FROM audit_events WHERE seq=5") == 1
    s.server.start()
    broken = verify(s.admin)
    assert broken["ok"] is False and broken["first_broken_seq"] in (5, 6)


# --- who may read the trail ----------------------------------------------------------------------

def test_a_user_sees_only_the_events_of_vaults_it_owns(story):
    s = story
    expect_problem(s.a.get("/audit"), 403)
    expect_problem(s.a.get("/audit", params={"vault_id": s.vault}), 403)
    expect_problem(s.a.get("/audit", params={"vault_id": s.other}), 403)
    expect_problem(s.a.get("/audit/verify"), 403)

    mine = all_events(s.a, vault_id=s.alice_vault)
    assert mine and all(e["vault_id"] == s.alice_vault for e in mine)
    assert {"vault.create", "secret.write", "secret.read"} <= {e["action"] for e in mine}
    # Including what others did in it.
    assert find(mine, action="secret.read", actor_id=s.admin_id)
    only_admin = all_events(s.a, vault_id=s.alice_vault, actor_id=s.admin_id)
    assert only_admin and all(e["actor_id"] == s.admin_id for e in only_admin)


def test_agents_cannot_read_the_trail(story):
    s = story
    expect_problem(s.bot.get("/audit"), 403)
    expect_problem(s.bot.get("/audit", params={"vault_id": s.vault}), 403)
    expect_problem(s.bot.get("/audit/verify"), 403)
