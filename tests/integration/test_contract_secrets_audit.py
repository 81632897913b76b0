"""The seeds' official clients against Coffer: secrets and the audit trail. Every body sent is one
the spec allows (check_request), and every answer is validated against the spec's schema for its
status (check_response, spec_schema.py). Coffer's own routes beside these (the seed's disable
route, /v1/audit) keep their answers; test_secrets_api.py and test_identity_audit.py hold them."""
import re
import types
import uuid

import pytest

from conftest import (Caller, admin_caller, create_agent, create_user, create_vault, expect,
                      expect_problem, grant, when)
from spec_schema import check_request, check_response, check_schema
from test_identity_audit import tamper

SECRETS = "/v1/vaults/{vault_id}/secrets"
SECRET = "/v1/vaults/{vault_id}/secrets/{path}"
VERSIONS = "/v1/vaults/{vault_id}/secret-versions/{path}"
VERSION = "/v1/vaults/{vault_id}/secret-version/{path}/{version}"
DISABLE = "/v1/vaults/{vault_id}/secret-version-disable/{path}/{version}"
ROTATE = "/v1/vaults/{vault_id}/secret-rotate/{path}"
EVENTS = "/v1/audit/events"
VERIFY = "/v1/audit/verify"

FUTURE = "2099-12-31T23:59:59Z"


def put(caller, vault, path, body):
    sent = check_request("PUT", SECRET, body)
    return caller.put(f"/vaults/{vault}/secrets/{path}", json=sent)


def my_id(caller):
    return expect(caller.me(), 200).json()["id"]


# --- secrets ------------------------------------------------------------------------------------

def test_put_get_list_delete_as_the_sdk_sends_them(server, vault):
    admin = admin_caller(server)
    # The SDK's secrets.set without a type: the spec's default, generic.
    created = check_response("PUT", SECRET, put(admin, vault, "api-keys/openai",
                                                {"value": "sk-test-1"}), 201)
    assert created["type"] == "generic" and created["version"] == 1 and "value" not in created
    assert created["created_by"] == my_id(admin)
    assert "expires_at" not in created, "a secret that never expires has no expires_at"

    got = check_response("GET", SECRET,
                         admin.get(f"/vaults/{vault}/secrets/api-keys/openai"), 200)
    assert got["value"] == "sk-test-1" and got["id"] == created["id"]
    assert got["created_by"] == created["created_by"]

    listed = check_response("GET", SECRETS, admin.get(f"/vaults/{vault}/secrets",
                                                      params={"prefix": "api-keys/"}), 200)
    assert [s["path"] for s in listed["secrets"]] == ["api-keys/openai"]
    assert all("value" not in s for s in listed["secrets"])

    check_response("DELETE", SECRET,
                   admin.delete(f"/vaults/{vault}/secrets/api-keys/openai"), 204)
    check_response("GET", SECRET, admin.get(f"/vaults/{vault}/secrets/api-keys/openai"), 404)
    check_response("DELETE", SECRET,
                   admin.delete(f"/vaults/{vault}/secrets/api-keys/openai"), 404)


def test_every_field_the_spec_allows_in_a_put_is_kept(server, vault):
    admin = admin_caller(server)
    body = {"type": "api_key", "value": "sk-test-2", "metadata": {"team": "ml"},
            "expires_at": FUTURE, "rotation_policy": {"interval_days": 30},
            "max_access_count": 5}
    created = check_response("PUT", SECRET, put(admin, vault, "full", body), 201)
    assert created["metadata"] == {"team": "ml"} and created["expires_at"] == FUTURE
    got = check_response("GET", SECRET, admin.get(f"/vaults/{vault}/secrets/full"), 200)
    assert got["expires_at"] == FUTURE and got["type"] == "api_key"
    assert got["max_access_count"] == 5 and got["access_count"] == 1
    assert got["rotation_policy"] == {"interval_days": 30}


# Every type the spec (PutSecretRequest.type) or the seeds name.
TYPES = ["generic", "password", "api_key", "certificate", "private_key", "ssh_key", "env",
         "file", "note", "env_bundle"]


@pytest.mark.parametrize("type_", TYPES)
def test_every_type_the_spec_or_the_seeds_name_is_accepted(server, vault, type_):
    admin = admin_caller(server)
    created = check_response("PUT", SECRET,
                             put(admin, vault, f"types/{type_}", {"type": type_, "value": "v"}),
                             201)
    assert created["type"] == type_
    got = check_response("GET", SECRET, admin.get(f"/vaults/{vault}/secrets/types/{type_}"), 200)
    assert got["type"] == type_


# Bodies the spec allows but whose values Coffer refuses, each naming the field.
REFUSED_PUTS = [
    ({"type": "vault_token", "value": "v"}, "type"),
    ({"value": "v", "max_access_count": -1}, "max_access_count"),
    ({"value": "v", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"value": ""}, "value"),
]


@pytest.mark.parametrize("body,field", REFUSED_PUTS, ids=[f for _, f in REFUSED_PUTS])
def test_refused_put_bodies_name_the_field(server, vault, body, field):
    r = put(admin_caller(server), vault, "refused", body)
    check_response("PUT", SECRET, r, 400)
    expect_problem(r, 400, field)


def test_versions_carry_id_path_and_who_wrote_each(server, vault):
    admin = admin_caller(server)
    agent = create_agent(admin, "writer")
    grant(admin, vault, agent["id"], "db/**", ["read", "write"])
    writer = Caller(server, agent["api_key"])
    first = check_response("PUT", SECRET, put(admin, vault, "db/password", {"value": "one"}), 201)
    second = check_response("PUT", SECRET, put(writer, vault, "db/password", {"value": "two"}),
                            201)
    assert first["created_by"] == my_id(admin) and second["created_by"] == agent["id"]

    listed = check_response("GET", VERSIONS,
                            admin.get(f"/vaults/{vault}/secret-versions/db/password"), 200)
    assert [v["version"] for v in listed["versions"]] == [2, 1]
    for v in listed["versions"]:
        assert v["id"] == first["id"] and v["path"] == "db/password"
    assert [v["created_by"] for v in listed["versions"]] == [agent["id"], first["created_by"]]

    old = check_response("GET", VERSION,
                         admin.get(f"/vaults/{vault}/secret-version/db/password/1"), 200)
    assert old["value"] == "one" and old["created_by"] == first["created_by"]


def test_the_specs_disable_route_answers_204_and_the_seeds_route_stays(server, vault):
    admin = admin_caller(server)
    for value in ("one", "two", "three"):
        check_response("PUT", SECRET, put(admin, vault, "k", {"type": "password", "value": value}),
                       201)
    r = admin.post(f"/vaults/{vault}/secret-version-disable/k/3")
    check_response("POST", DISABLE, r, 204)
    assert r.content == b""
    # The version stays, unreadable; the latest readable version is served instead.
    expect_problem(admin.get(f"/vaults/{vault}/secret-version/k/3"), 410)
    got = check_response("GET", SECRET, admin.get(f"/vaults/{vault}/secrets/k"), 200)
    assert got["version"] == 2 and got["value"] == "two"
    listed = check_response("GET", VERSIONS, admin.get(f"/vaults/{vault}/secret-versions/k"), 200)
    assert [v["is_disabled"] for v in listed["versions"]] == [True, False, False]
    # Disabling again is harmless.
    check_response("POST", DISABLE, admin.post(f"/vaults/{vault}/secret-version-disable/k/3"), 204)

    # The seed's route answers 200 with the version's metadata, as before.
    seed = expect(admin.post(f"/vaults/{vault}/secret-version/k/2/disable"), 200).json()
    assert seed["version"] == 2 and seed["is_disabled"] is True

    check_response("POST", DISABLE, admin.post(f"/vaults/{vault}/secret-version-disable/k/9"), 404)
    check_response("POST", DISABLE,
                   admin.post(f"/vaults/{vault}/secret-version-disable/none/1"), 404)
    expect_problem(admin.post(f"/vaults/{vault}/secret-version-disable/k/zero"), 400, "version")


def test_disabling_needs_the_same_permission_on_both_routes(server, vault):
    admin = admin_caller(server)
    agent = create_agent(admin, "reader")
    grant(admin, vault, agent["id"], "**", ["read"])
    reader = Caller(server, agent["api_key"])
    check_response("PUT", SECRET, put(admin, vault, "k", {"value": "one"}), 201)
    expect_problem(reader.post(f"/vaults/{vault}/secret-version-disable/k/1"), 403)
    expect_problem(reader.post(f"/vaults/{vault}/secret-version/k/1/disable"), 403)
    assert check_response("GET", SECRET, reader.get(f"/vaults/{vault}/secrets/k"), 200)["value"]


def test_rotate_as_the_sdk_sends_it(server, vault):
    admin = admin_caller(server)
    check_response("PUT", SECRET, put(admin, vault, "db/pw", {"type": "password", "value": "a"}),
                   201)
    body = check_request("POST", ROTATE, {"length": 40, "charset": "alphanumeric"})
    rotated = check_response("POST", ROTATE,
                             admin.post(f"/vaults/{vault}/secret-rotate/db/pw", json=body), 201)
    assert rotated["version"] == 2 and rotated["type"] == "password" and "value" not in rotated
    assert rotated["created_by"] == my_id(admin)
    got = check_response("GET", SECRET, admin.get(f"/vaults/{vault}/secrets/db/pw"), 200)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", got["value"])
    # No body at all: the spec's defaults.
    check_response("POST", ROTATE, admin.post(f"/vaults/{vault}/secret-rotate/db/pw"), 201)
    r = admin.post(f"/vaults/{vault}/secret-rotate/db/pw",
                   json=check_request("POST", ROTATE, {"length": 8, "type": "bogus"}))
    check_response("POST", ROTATE, r, 400)
    expect_problem(r, 400, "type")


# --- audit ---------------------------------------------------------------------------------------

def events(caller, status=200, **params):
    r = caller.get("/audit/events", params=params)
    body = check_response("GET", EVENTS, r, status)
    if status == 200:
        for e in body["events"]:
            check_schema("AuditEvent", e)
        assert body["count"] == len(body["events"])
    return body


@pytest.fixture
def story(server):
    """An admin writes and reads secrets in a vault; an agent reads one; a policy is made."""
    admin = admin_caller(server)
    vault = create_vault(admin, "prod")
    agent = create_agent(admin, "bot")
    grant(admin, vault, agent["id"], "api-keys/*", ["read"])
    check_response("PUT", SECRET, put(admin, vault, "api-keys/openai", {"value": "sk-1"}), 201)
    check_response("PUT", SECRET, put(admin, vault, "db/pw", {"value": "pw"}), 201)
    bot = Caller(server, agent["api_key"])
    check_response("GET", SECRET, bot.get(f"/vaults/{vault}/secrets/api-keys/openai"), 200)
    expect(bot.get(f"/vaults/{vault}/secrets/db/pw"), 403)
    return types.SimpleNamespace(server=server, admin=admin, vault=vault, agent=agent, bot=bot)


def id_from_hash(hex_hash):
    """The documented id: the hash's first 16 bytes as a version 8, RFC 4122 variant UUID."""
    b = bytearray(bytes.fromhex(hex_hash)[:16])
    b[6] = (b[6] & 0x0F) | 0x80
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def test_events_have_the_specs_shape(story):
    s = story
    body = events(s.admin, limit=1000)
    assert body["events"], "the story's requests were recorded"
    seqs = [e["details"]["seq"] for e in body["events"]]
    assert seqs == sorted(seqs, reverse=True), "newest first"
    for e in body["events"]:
        eid = uuid.UUID(e["id"])
        assert str(eid) == e["id"] and eid.version == 8 and eid.variant == uuid.RFC_4122
        assert e["actor_type"] in ("user", "agent", "anonymous")
        when(e["created_at"])
        assert e["details"]["outcome"] in ("success", "denied", "failure")
    assert len({e["id"] for e in body["events"]}) == len(body["events"])

    # /v1/audit and /v1/audit/events show the same events: ids follow from the chain, so they
    # are the same on every read.
    own = expect(s.admin.get("/audit", params={"limit": 1000}), 200).json()["events"]
    by_seq = {e["details"]["seq"]: e for e in events(s.admin, limit=1000)["events"]}
    for o in own:
        e = by_seq.get(o["seq"])
        if e is None:
            continue
        assert e["action"] == o["action"] and e["ip_address"] == o["client_ip"]
        assert e["created_at"] == o["at"] and e["hash"] == o["hash"]
        assert e["prev_hash"] == o["prev_hash"]
        assert e["id"] == id_from_hash(o["hash"])
        assert e["details"]["request_id"] == o["request_id"]
        assert e.get("actor_id") == o["actor_id"]
    # Each event links to the one before it.
    ordered = sorted(by_seq.values(), key=lambda e: e["details"]["seq"])
    for before, after in zip(ordered, ordered[1:]):
        if after["details"]["seq"] == before["details"]["seq"] + 1:
            assert after["prev_event_id"] == before["id"]

    read = [e for e in body["events"] if e["action"] == "secret.read"
            and e.get("actor_id") == s.agent["id"]]
    assert {(e["resource_type"], e["resource_id"], e["details"]["outcome"]) for e in read} == {
        ("secret", "api-keys/openai", "success"), ("secret", "db/pw", "denied")}
    for e in read:
        assert e["actor_type"] == "agent" and e["details"]["vault_id"] == s.vault
    ok = next(e for e in read if e["details"]["outcome"] == "success")
    assert ok["details"]["version"] == 1 and ok["details"]["http_status"] == 200
    created = [e for e in body["events"] if e["action"] == "vault.create"]
    assert [(e["resource_type"], e["resource_id"]) for e in created] == [("vault", s.vault)]


def test_filters(story):
    s = story
    by_path = events(s.admin, resource_id="api-keys/openai")["events"]
    assert {e["action"] for e in by_path} == {"secret.write", "secret.read"}
    assert all(e["resource_id"] == "api-keys/openai" for e in by_path)
    by_vault = events(s.admin, resource_id=s.vault)["events"]
    assert {e["action"] for e in by_vault} == {"vault.create"}
    by_actor = events(s.admin, actor_id=s.agent["id"])["events"]
    assert len(by_actor) == 2 and all(e["actor_id"] == s.agent["id"] for e in by_actor)
    writes = events(s.admin, action="secret.write")["events"]
    assert {e["resource_id"] for e in writes} == {"api-keys/openai", "db/pw"}
    both = events(s.admin, actor_id=s.agent["id"], resource_id="db/pw")["events"]
    assert [e["details"]["outcome"] for e in both] == ["denied"]
    assert events(s.admin, resource_id="no/such/path")["events"] == []


def test_from_and_to(story):
    s = story
    every = events(s.admin, limit=1000)["events"]
    middle = sorted((e["created_at"] for e in every), key=when)[len(every) // 2]
    later = events(s.admin, limit=1000, **{"from": middle})["events"]
    earlier = events(s.admin, limit=1000, to=middle)["events"]
    middle_at = when(middle)
    assert later and all(when(e["created_at"]) >= middle_at for e in later)
    assert all(when(e["created_at"]) < middle_at for e in earlier)
    assert events(s.admin, **{"from": "2999-01-01T00:00:00Z"})["events"] == []
    # As JavaScript's toISOString() writes them (the TypeScript SDK).
    assert events(s.admin, **{"from": "2000-01-01T00:00:00.000Z"})["events"]


def test_limit_and_offset_page_newest_first(story):
    s = story
    # Every read of the trail is itself recorded: pages are taken below a fixed `to`.
    everything = events(s.admin, limit=1000)["events"]
    cutoff = everything[0]["created_at"]
    cutoff_at = when(cutoff)
    expected = [e["details"]["seq"] for e in everything if when(e["created_at"]) < cutoff_at]
    assert len(expected) >= 5
    paged = []
    for offset in range(0, len(expected) + 2, 2):
        page = events(s.admin, limit=2, offset=offset, to=cutoff)
        assert page["count"] == min(2, max(0, len(expected) - offset))
        paged += [e["details"]["seq"] for e in page["events"]]
    assert paged == expected and expected == sorted(expected, reverse=True)
    assert events(s.admin, offset=100000)["events"] == []


BAD_QUERIES = [
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"offset": "1.5"}, "offset"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2024-13-01T00:00:00Z"}, "to"),
    ({"since": "2024-01-01T00:00:00Z"}, "unknown query parameter"),
]


@pytest.mark.parametrize("params,named", BAD_QUERIES, ids=[n for _, n in BAD_QUERIES])
def test_bad_filters_are_400_naming_the_parameter(server, params, named):
    expect_problem(admin_caller(server).get("/audit/events", params=params), 400, named)


def test_who_may_read_the_events(story):
    s = story
    # An agent reads no trail; a user reads only the events of a vault it owns, by naming it.
    expect_problem(s.bot.get("/audit/events"), 403)
    _, alice = create_user(s.server, "alice")
    expect_problem(alice.get("/audit/events"), 403, "vault_id")
    expect_problem(alice.get("/audit/events", params={"vault_id": s.vault}), 403)
    own = create_vault(alice, "alice-vault")
    check_response("PUT", SECRET, put(alice, own, "mine", {"value": "x"}), 201)
    body = events(alice, vault_id=own)
    assert body["events"] and all(e["details"]["vault_id"] == own for e in body["events"])
    assert events(alice, vault_id=own, resource_id="api-keys/openai")["events"] == []


def test_verify_answers_the_specs_fields(story):
    s = story
    body = check_response("GET", VERIFY, s.admin.get("/audit/verify"), 200)
    assert body["chain_valid"] is True and body["ok"] is True
    assert body["events_verified"] == body["events_checked"] > 0
    assert body["broken_at_event_id"] is None
    assert body["scheme"]["hash_field"] == "hash" and body["scheme"]["link_field"] == "prev_hash"
    limited = s.admin.get("/audit/verify", params={"limit": 10, "from": "2024-01-01T00:00:00Z"})
    assert check_response("GET", VERIFY, limited, 200)["chain_valid"] is True
    expect_problem(s.admin.get("/audit/verify", params={"limit": "20000"}), 400, "limit")
    expect_problem(s.admin.get("/audit/verify", params={"to": "soon"}), 400, "to")
    expect_problem(s.bot.get("/audit/verify"), 403)

    third = next(e for e in events(s.admin, limit=1000)["events"] if e["details"]["seq"] == 3)
    s.server.stop()
    assert tamper(s.server, "UPDATE audit_events SET action='x' WHERE seq=3") == 1
    s.server.start()
    broken = check_response("GET", VERIFY, s.admin.get("/audit/verify"), 200)
    assert broken["chain_valid"] is False and broken["first_broken_seq"] == 3
    assert broken["events_verified"] == 2 and broken["events_checked"] == 3
    assert broken["broken_at_event_id"] == third["id"]
