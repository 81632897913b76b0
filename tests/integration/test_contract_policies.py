"""The seeds' official clients against Coffer: vault access policies (createPolicy, listPolicies,
updatePolicy, deletePolicy). Every body sent is one the spec allows (check_request), every answer
is validated against the spec's schema (check_response). Beyond the shape: a deny wins over any
allow whatever the priorities, conditions (a time window in an IANA zone, a client address allow list) hold
at every request, an update is in force for the very next request, and what Coffer cannot
enforce (the expression engine, consensus, cron schedules, other time zones, unknown condition
kinds) is refused with a 400 naming the field (docs/policies.md)."""
import datetime
import zoneinfo

import pytest

from conftest import (Caller, audit_pages, create_agent, create_user, create_vault, expect,
                      expect_problem, put_secret)
from spec_schema import check_request, check_response, check_schema

POLICIES = "/v1/vaults/{vault_id}/policies"
POLICY = "/v1/vaults/{vault_id}/policies/{policy_id}"


@pytest.fixture
def world(server):
    """alice owns vault `prod` (api-keys/openai, db/main) and agent `bot`; bob is another user."""
    alice, a = create_user(server, "alice")
    bob, b = create_user(server, "bob")
    prod = create_vault(a, "prod")
    put_secret(a, prod, "api-keys/openai", "sk-openai")
    put_secret(a, prod, "db/main", "pg-pass")
    agent = create_agent(a, "bot")
    return dict(server=server, alice=alice, a=a, bob=bob, b=b, prod=prod, agent=agent,
                bot=Caller(server, agent["api_key"]))


def sdk_grant(agent_id, permissions, **options):
    """The body @1claw/sdk's access.grantAgent sends (undefined options are left out)."""
    body = {"secret_path_pattern": options.pop("secretPathPattern", "**"),
            "principal_type": "agent", "principal_id": agent_id, "permissions": permissions,
            "effect": options.pop("effect", "allow"), "priority": options.pop("priority", 0)}
    body.update(options)
    return check_request("POST", POLICIES, body)


def create(w, body, caller=None):
    r = (caller or w["a"]).post(f"/vaults/{w['prod']}/policies", json=body)
    return check_response("POST", POLICIES, r, 201)


def update(w, policy_id, body, caller=None):
    sent = check_request("PUT", POLICY, body)
    r = (caller or w["a"]).put(f"/vaults/{w['prod']}/policies/{policy_id}", json=sent)
    return r


def read(w, path):
    return w["bot"].get(f"/vaults/{w['prod']}/secrets/{path}").status_code


def test_the_sdks_grant_round_trips_with_every_policy_response_field(world):
    w = world
    created = create(w, sdk_grant(w["agent"]["id"], ["read", "list"], secretPathPattern="api-keys/*"))
    assert created["secret_path_pattern"] == "api-keys/*"
    assert created["principal_type"] == "agent" and created["principal_id"] == w["agent"]["id"]
    assert sorted(created["permissions"]) == ["list", "read"]
    assert created["effect"] == "allow" and created["priority"] == 0
    assert created["conditions"] == {} and created["policy_schema_version"] == 1
    assert created["created_by"] == w["alice"]["id"] and created["created_by_type"] == "user"
    assert "expires_at" not in created  # no expiry; the spec types the field as a string
    listed = check_response("GET", POLICIES, w["a"].get(f"/vaults/{w['prod']}/policies"), 200)
    assert listed["policies"] == [created]
    got = expect(w["a"].get(f"/vaults/{w['prod']}/policies/{created['id']}"), 200).json()
    check_schema("PolicyResponse", got)
    assert got == created
    assert read(w, "api-keys/openai") == 200 and read(w, "db/main") == 403
    check_response("DELETE", POLICY,
                   w["a"].delete(f"/vaults/{w['prod']}/policies/{created['id']}"), 204)
    assert read(w, "api-keys/openai") == 403


def test_the_python_sdks_minimal_body_and_schema_version_2_are_accepted(world):
    w = world
    # oneclaw's policies.create: the four required fields and nothing else.
    minimal = check_request("POST", POLICIES, {
        "principal_type": "agent", "principal_id": w["agent"]["id"],
        "secret_path_pattern": "db/*", "permissions": ["read"]})
    assert create(w, minimal)["effect"] == "allow"
    # The spec's default version is 2; asking for nothing of its expression engine, it is
    # accepted, and answered as what Coffer stores: version 1.
    v2 = create(w, sdk_grant(w["agent"]["id"], ["read"], policy_schema_version=2,
                             attribute_conditions={}, tx_conditions={}))
    assert v2["policy_schema_version"] == 1


# Fields of the seeds' policies that Coffer cannot enforce: each refused, naming the field, with
# nothing stored (a policy kept without them would grant more than its author asked for).
REFUSED = [
    ({"attribute_conditions": {"required_tags": ["pci"]}}, "attribute_conditions"),
    ({"tx_conditions": {"chain_in": ["ethereum"]}}, "tx_conditions"),
    ({"tx_conditions": {"expression": "chain == 'base'"}}, "tx_conditions"),
    ({"consensus_trigger": {"conditions": [{"type": "always"}],
                            "approval": {"min_approvals": 2}}}, "consensus_trigger"),
    ({"approval_id": "0b9f3c1e-4a51-4c6e-9d58-2f7f3c3a9b10"}, "approval_id"),
    ({"policy_schema_version": 3}, "policy_schema_version"),
    ({"conditions": {"geo_allowlist": ["NL"]}}, r"conditions\.geo_allowlist"),
    ({"conditions": {"time_window": {"cron_expr": "0 0 9 * * MON-FRI"}}},
     r"conditions\.time_window\.cron_expr"),
    ({"conditions": {"time_window": {"start_hour": 9, "end_hour": 17,
                                     "timezone": "Mars/Olympus_Mons"}}},
     r"conditions\.time_window\.timezone"),
    ({"conditions": {"time_window": {"start_hour": 9, "end_hour": 9}}},
     r"conditions\.time_window\.end_hour"),
    ({"conditions": {"time_window": {"days_of_week": [7]}}},
     r"conditions\.time_window\.days_of_week"),
    ({"conditions": {"time_window": {"days_of_week": []}}},
     r"conditions\.time_window\.days_of_week"),
    ({"conditions": {"time_window": {"start_hour": 25}}}, r"conditions\.time_window\.start_hour"),
    ({"conditions": {"ip_allowlist": []}}, r"conditions\.ip_allowlist"),
    ({"conditions": {"ip_allowlist": ["10.0.0.0/8", "not-an-address"]}},
     r"conditions\.ip_allowlist\[1\]"),
    ({"conditions": {"ip_allowlist": ["10.0.0.1/8"]}}, r"conditions\.ip_allowlist\[0\]"),
    ({"conditions": {"ip_allowlist": ["2001:db8::/129"]}}, r"conditions\.ip_allowlist\[0\]"),
]


@pytest.mark.parametrize("extra,field", REFUSED, ids=[f for _, f in REFUSED])
def test_what_coffer_cannot_enforce_is_refused_naming_the_field(world, extra, field):
    w = world
    body = sdk_grant(w["agent"]["id"], ["read"], **extra)
    r = w["a"].post(f"/vaults/{w['prod']}/policies", json=body)
    check_response("POST", POLICIES, r, 400)
    expect_problem(r, 400, field)
    assert expect(w["a"].get(f"/vaults/{w['prod']}/policies"), 200).json()["policies"] == []
    # The same on an update, which leaves the policy as it was.
    policy = create(w, sdk_grant(w["agent"]["id"], ["read"]))
    update_extra = {k: v for k, v in extra.items()}
    expect_problem(update(w, policy["id"], update_extra), 400, field)
    got = expect(w["a"].get(f"/vaults/{w['prod']}/policies/{policy['id']}"), 200).json()
    assert got == policy


def test_a_deny_wins_over_any_allow_whatever_the_priorities(world):
    w = world
    agent = w["agent"]["id"]
    create(w, sdk_grant(agent, ["read", "list"], priority=100))
    deny = create(w, sdk_grant(agent, ["read", "list"], secretPathPattern="api-keys/**",
                               effect="deny", priority=0))
    assert deny["effect"] == "deny" and deny["priority"] == 0
    assert read(w, "db/main") == 200
    r = w["bot"].get(f"/vaults/{w['prod']}/secrets/api-keys/openai")
    expect_problem(r, 403, "deny")
    assert "sk-openai" not in r.text
    listed = expect(w["bot"].get(f"/vaults/{w['prod']}/secrets"), 200).json()
    assert [s["path"] for s in listed["secrets"]] == ["db/main"]
    # Lifting the deny (an update to allow) gives the path back at once.
    updated = update(w, deny["id"], {"effect": "allow"})
    assert check_response("PUT", POLICY, updated, 200)["effect"] == "allow"
    assert read(w, "api-keys/openai") == 200


def test_a_deny_on_rotate_is_not_bypassed_through_write(world):
    w = world
    agent = w["agent"]["id"]
    create(w, sdk_grant(agent, ["read", "write"]))
    create(w, sdk_grant(agent, ["rotate"], effect="deny"))
    r = w["bot"].post(f"/vaults/{w['prod']}/secret-rotate/db/main", json={})
    expect_problem(r, 403, "deny")
    expect(w["bot"].put(f"/vaults/{w['prod']}/secrets/db/main",
                        json={"type": "password", "value": "new"}), 201)


def test_update_changes_the_policy_for_the_next_request_and_is_audited(world):
    w = world
    policy = create(w, sdk_grant(w["agent"]["id"], ["read"], secretPathPattern="db/*"))
    assert read(w, "db/main") == 200
    r = update(w, policy["id"], {"permissions": ["list"], "priority": 5,
                                 "expires_at": "2999-01-01T00:00:00Z"})
    updated = check_response("PUT", POLICY, r, 200)
    assert updated["permissions"] == ["list"] and updated["priority"] == 5
    assert updated["expires_at"] == "2999-01-01T00:00:00Z"
    assert updated["id"] == policy["id"] and updated["created_at"] == policy["created_at"]
    assert updated["secret_path_pattern"] == "db/*"  # what an update does not name is kept
    assert read(w, "db/main") == 403
    listed = expect(w["a"].get(f"/vaults/{w['prod']}/policies"), 200).json()["policies"]
    assert listed == [updated]
    events, _ = audit_pages(w["a"], vault_id=w["prod"], action="policy.update")
    assert [(e["actor_id"], e["vault_id"], e["outcome"]) for e in events] == [
        (w["alice"]["id"], w["prod"], "success")]


def test_who_may_update_and_what_an_update_may_name(world):
    w = world
    policy = create(w, sdk_grant(w["agent"]["id"], ["read"]))
    route = f"/vaults/{w['prod']}/policies/{policy['id']}"
    expect_problem(w["b"].put(route, json={"permissions": ["read", "write"]}), 403)
    expect_problem(w["bot"].put(route, json={"permissions": ["read", "write"]}), 403)
    expect_problem(w["a"].put(f"/vaults/{w['prod']}/policies/00000000-0000-4000-8000-000000000000",
                              json={"priority": 1}), 404)
    # The spec's UpdatePolicyRequest names neither the principal nor the pattern.
    expect_problem(w["a"].put(route, json={"principal_id": w["bob"]["id"]}), 400, "principal_id")
    expect_problem(w["a"].put(route, json={"permissions": []}), 400, "permissions")
    expect_problem(w["a"].put(route, json={"expires_at": "2001-01-01T00:00:00Z"}), 400,
                   "expires_at")
    assert expect(w["a"].get(route), 200).json() == policy
    # A user's policy names an agent it does not own: bob's vault, alice's agent.
    bobs = create_vault(w["b"], "bobs")
    expect_problem(w["b"].post(f"/vaults/{bobs}/policies",
                               json=sdk_grant(w["agent"]["id"], ["read"])), 403)


def test_an_ip_allowlist_holds_at_every_request(world):
    w = world
    agent = w["agent"]["id"]
    # The tests reach the server from 127.0.0.1.
    inside = create(w, sdk_grant(agent, ["read"], secretPathPattern="db/*",
                                 conditions={"ip_allowlist": ["127.0.0.0/8", "2001:db8::/32"]}))
    assert inside["conditions"] == {"ip_allowlist": ["127.0.0.0/8", "2001:db8::/32"]}
    outside = create(w, sdk_grant(agent, ["read"], secretPathPattern="api-keys/*",
                                  conditions={"ip_allowlist": ["10.0.0.0/8", "::1"]}))
    assert outside["conditions"] == {"ip_allowlist": ["10.0.0.0/8", "::1/128"]}
    assert read(w, "db/main") == 200
    assert read(w, "api-keys/openai") == 403
    # Moving the allow list to this address lets it in; clearing the conditions keeps it in.
    expect(update(w, outside["id"], {"conditions": {"ip_allowlist": ["127.0.0.1/32"]}}), 200)
    assert read(w, "api-keys/openai") == 200
    cleared = check_response("PUT", POLICY, update(w, outside["id"], {"conditions": {}}), 200)
    assert cleared["conditions"] == {}
    assert read(w, "api-keys/openai") == 200


def test_an_ip_allowlist_uses_the_address_behind_a_trusted_proxy(make_server):
    server = make_server(extra_args=["--trusted-proxies", "127.0.0.1"])
    _, a = create_user(server, "alice")
    vault = create_vault(a, "prod")
    put_secret(a, vault, "db/main", "pg-pass")
    agent = create_agent(a, "bot")
    body = check_request("POST", POLICIES, {
        "principal_type": "agent", "principal_id": agent["id"], "secret_path_pattern": "**",
        "permissions": ["read"], "conditions": {"ip_allowlist": ["2001:db8::/32", "203.0.113.0/24"]}})
    expect(a.post(f"/vaults/{vault}/policies", json=body), 201)

    def read_from(ip):
        return Caller(server, agent["api_key"], {"X-Forwarded-For": ip}).get(
            f"/vaults/{vault}/secrets/db/main").status_code

    assert read_from("2001:db8::7") == 200
    assert read_from("203.0.113.9") == 200
    assert read_from("2001:db9::7") == 403
    assert read_from("198.51.100.1") == 403


def window_hours(offset, length):
    """A window of `length` hours starting `offset` hours from the current UTC hour."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now.hour + offset) % 24, (now.hour + offset + length) % 24 or 24


def test_a_time_window_holds_at_every_request(world):
    w = world
    agent = w["agent"]["id"]
    # The current hour and the next (a run that crosses the hour stays inside).
    start, end = window_hours(0, 2)
    now_in = create(w, sdk_grant(agent, ["read"], secretPathPattern="db/*", conditions={
        "time_window": {"start_hour": start, "end_hour": end, "timezone": "UTC"}}))
    assert now_in["conditions"]["time_window"] == {
        "start_hour": start, "end_hour": end, "days_of_week": [0, 1, 2, 3, 4, 5, 6],
        "timezone": "UTC"}
    # Four hours from now on: closed for the next two hours at least.
    start, end = window_hours(2, 20)
    later = create(w, sdk_grant(agent, ["read"], secretPathPattern="api-keys/*", conditions={
        "time_window": {"start_hour": start, "end_hour": end}}))
    assert read(w, "db/main") == 200
    assert read(w, "api-keys/openai") == 403
    # Days of the week: neither today nor tomorrow (Sunday is 0).
    today = (datetime.datetime.now(datetime.timezone.utc).weekday() + 1) % 7
    other_days = [d for d in range(7) if d not in (today, (today + 1) % 7)]
    r = update(w, now_in["id"], {"conditions": {"time_window": {"days_of_week": other_days}}})
    assert check_response("PUT", POLICY, r, 200)["conditions"]["time_window"]["days_of_week"] == \
        other_days
    assert read(w, "db/main") == 403
    expect(update(w, later["id"], {"conditions": {"time_window": {"days_of_week": [today, (
        today + 1) % 7], "timezone": "Etc/UTC"}}}), 200)
    assert read(w, "api-keys/openai") == 200


def test_a_time_window_is_read_on_its_zones_wall_clock(world):
    w = world
    agent = w["agent"]["id"]
    # UTC+5:45: its hours begin at a quarter past the UTC hour.
    kathmandu = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Kathmandu"))
    window = {"start_hour": kathmandu.hour, "end_hour": (kathmandu.hour + 2) % 24 or 24,
              "timezone": "Asia/Kathmandu"}
    policy = create(w, sdk_grant(agent, ["read"], secretPathPattern="db/*",
                                 conditions={"time_window": window}))
    assert policy["conditions"]["time_window"]["timezone"] == "Asia/Kathmandu"
    assert read(w, "db/main") == 200
    later = {"start_hour": (kathmandu.hour + 2) % 24, "end_hour": (kathmandu.hour + 22) % 24,
             "timezone": "Asia/Kathmandu"}
    expect(update(w, policy["id"], {"conditions": {"time_window": later}}), 200)
    assert read(w, "db/main") == 403
    # UTC+14: for most of the day its date is a day ahead of UTC's; the zone's weekday decides.
    kiritimati = datetime.datetime.now(zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    local_day = (kiritimati.weekday() + 1) % 7  # Sunday is 0
    expect(update(w, policy["id"], {"conditions": {"time_window": {
        "days_of_week": [local_day], "timezone": "Pacific/Kiritimati"}}}), 200)
    assert read(w, "db/main") == 200
    utc_day = (datetime.datetime.now(datetime.timezone.utc).weekday() + 1) % 7
    if utc_day != local_day:
        expect(update(w, policy["id"], {"conditions": {"time_window": {
            "days_of_week": [utc_day], "timezone": "Pacific/Kiritimati"}}}), 200)
        assert read(w, "db/main") == 403


def test_a_deny_with_conditions_denies_only_while_they_hold(world):
    w = world
    agent = w["agent"]["id"]
    create(w, sdk_grant(agent, ["read"]))
    deny = create(w, sdk_grant(agent, ["read"], effect="deny",
                               conditions={"ip_allowlist": ["10.0.0.0/8"]}))
    assert read(w, "db/main") == 200  # the deny holds only for 10/8
    expect(update(w, deny["id"], {"conditions": {"ip_allowlist": ["127.0.0.0/8"]}}), 200)
    assert read(w, "db/main") == 403
