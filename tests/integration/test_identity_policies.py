"""Per-vault policies: management (shape, validation, who may manage), and enforcement with an
agent's key — path patterns, the five permissions, expiry, deletion, filtered listing, and 403s
that never tell whether a secret exists — plus 401 for unauthenticated requests on every route
(docs/identity-and-access.md: "Policies")."""
import datetime
import time

import pytest

from conftest import (RFC3339_RE, UUID_RE, Bag, Caller, Server, admin_caller, check_absent,
                      create_agent, create_user, create_vault, expect, expect_problem, grant,
                      init_data_dir, put_secret)

PATHS = ["api-keys/openai", "api-keys/anthropic", "api-keys-prod/x", "api-keys/a/b", "db/x"]


def value_of(path):
    return "value-of-" + path.replace("/", "-")


@pytest.fixture
def server(data_dir, store):
    """The 401 tests here present well over a hundred refused credentials from one address: the
    budget of refused credentials is raised so each gets its 401 (the budget itself:
    test_auth_failure_limit.py)."""
    srv = Server(data_dir, init_data_dir(data_dir, store), store=store,
                 extra_args=["--auth-failure-burst", "1000"])
    yield srv
    srv.stop()


@pytest.fixture
def world(server):
    """alice owns vault `prod` (the PATHS) and `staging` (one secret) and an agent `bot`;
    bob is another user."""
    alice, a = create_user(server, "alice")
    bob, b = create_user(server, "bob")
    prod = create_vault(a, "prod")
    staging = create_vault(a, "staging")
    for p in PATHS:
        put_secret(a, prod, p, value_of(p))
    put_secret(a, staging, "db/x", "staging-db")
    agent = create_agent(a, "bot")
    return Bag(
        server=server, admin=admin_caller(server), alice=alice, a=a, bob=bob, b=b, prod=prod,
        staging=staging, agent=agent, bot=Caller(server, agent["api_key"]))


def in_seconds(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- managing policies ---------------------------------------------------------------------------

def test_owner_creates_lists_reads_and_deletes_a_policy(world):
    w = world
    r = expect(w.a.post(f"/vaults/{w.prod}/policies", json={
        "principal_type": "agent", "principal_id": w.agent["id"],
        "secret_path_pattern": "api-keys/*", "permissions": ["read", "list"]}), 201)
    policy = r.json()
    # expires_at is left out when there is none: the seeds' PolicyResponse types it as a string.
    assert {"id", "vault_id", "principal_type", "principal_id", "secret_path_pattern",
            "permissions", "created_at", "created_by"} <= set(policy)
    assert UUID_RE.fullmatch(policy["id"]) and policy["vault_id"] == w.prod
    assert policy["principal_type"] == "agent" and policy["principal_id"] == w.agent["id"]
    assert policy["secret_path_pattern"] == "api-keys/*"
    assert isinstance(policy["permissions"], list)
    assert sorted(policy["permissions"]) == ["list", "read"]
    assert policy.get("expires_at") is None and RFC3339_RE.fullmatch(policy["created_at"])
    assert policy["created_by"] == w.alice["id"]

    second = grant(w.a, w.prod, w.bob["id"], "db/**", ["read"], principal_type="user",
                   expires_at=in_seconds(3600))
    assert RFC3339_RE.fullmatch(second["expires_at"])
    listed = expect(w.a.get(f"/vaults/{w.prod}/policies"), 200).json()["policies"]
    assert sorted(p["id"] for p in listed) == sorted([policy["id"], second["id"]])
    assert expect(w.a.get(f"/vaults/{w.prod}/policies/{policy['id']}"), 200).json() == policy
    # Policies belong to one vault.
    assert expect(w.a.get(f"/vaults/{w.staging}/policies"), 200).json()["policies"] == []
    expect_problem(w.a.get(f"/vaults/{w.staging}/policies/{policy['id']}"), 404)

    expect(w.a.delete(f"/vaults/{w.prod}/policies/{policy['id']}"), 204)
    expect_problem(w.a.get(f"/vaults/{w.prod}/policies/{policy['id']}"), 404)
    expect_problem(w.a.delete(f"/vaults/{w.prod}/policies/{policy['id']}"), 404)
    assert [p["id"] for p in w.a.get(f"/vaults/{w.prod}/policies").json()["policies"]] == \
        [second["id"]]


def test_admin_manages_any_vaults_policies(world):
    w = world
    p = grant(w.admin, w.prod, w.agent["id"], "db/*", ["read"])
    assert expect(w.bot.get(f"/vaults/{w.prod}/secrets/db/x"), 200).json()["value"] == \
        value_of("db/x")
    expect(w.admin.get(f"/vaults/{w.prod}/policies"), 200)
    expect(w.admin.delete(f"/vaults/{w.prod}/policies/{p['id']}"), 204)


def policy_body(w, **override):
    body = {"principal_type": "agent", "principal_id": w.agent["id"],
            "secret_path_pattern": "api-keys/*", "permissions": ["read"]}
    body.update(override)
    return {k: v for k, v in body.items() if v is not Ellipsis}


UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
BAD_POLICIES = {
    "empty_segment": ({"secret_path_pattern": "a//b"}, "pattern"),
    "double_star_inside_segment": ({"secret_path_pattern": "a/**b"}, "pattern"),
    "leading_slash": ({"secret_path_pattern": "/a"}, "pattern"),
    "trailing_slash": ({"secret_path_pattern": "a/"}, "pattern"),
    "empty_pattern": ({"secret_path_pattern": ""}, "pattern"),
    "dot_dot": ({"secret_path_pattern": "a/../b"}, "pattern"),
    "bad_character": ({"secret_path_pattern": "a/b c"}, "pattern"),
    "pattern_not_string": ({"secret_path_pattern": 5}, "pattern"),
    "missing_pattern": ({"secret_path_pattern": ...}, "pattern"),
    "bad_permission": ({"permissions": ["read", "admin"]}, "permission"),
    "permissions_not_list": ({"permissions": "read"}, "permissions"),
    "permission_not_string": ({"permissions": [1]}, "permission"),
    "missing_permissions": ({"permissions": ...}, "permissions"),
    "bad_principal_type": ({"principal_type": "group"}, "principal_type"),
    "missing_principal_type": ({"principal_type": ...}, "principal_type"),
    "unknown_user": ({"principal_type": "user", "principal_id": UNKNOWN_ID}, "principal"),
    "agent_id_as_user": ({"principal_type": "user"}, "principal"),
    "not_a_uuid": ({"principal_id": "bot"}, "principal"),
    "missing_principal_id": ({"principal_id": ...}, "principal_id"),
    "bad_expires_at": ({"expires_at": "tomorrow"}, "expires_at"),
    "unknown_field": ({"vault_id": UNKNOWN_ID}, "unknown field"),
    "camel_case_field": ({"secretPathPattern": "x/*"}, "unknown field"),
}


# Naming an agent the caller does not own (or none at all) is not bad input but a grant the
# caller may not make: 403, the same whether the agent exists or not (docs: "Tenancy").
NOT_YOURS = {
    "unknown_agent": {"principal_id": UNKNOWN_ID},
    "user_id_as_agent": {"principal_id": "ALICE"},
    "another_users_agent": {"principal_id": "BOBS_AGENT"},
}


@pytest.mark.parametrize("override", NOT_YOURS.values(), ids=NOT_YOURS.keys())
def test_a_policy_naming_an_agent_you_do_not_own_is_403(world, override):
    w = world
    bobs = create_agent(w.b, "bobs-agent")["id"]
    override = {k: {"ALICE": w.alice["id"], "BOBS_AGENT": bobs}.get(v, v)
                for k, v in override.items()}
    expect_problem(w.a.post(f"/vaults/{w.prod}/policies", json=policy_body(w, **override)), 403,
                   "agent you own")
    assert expect(w.a.get(f"/vaults/{w.prod}/policies"), 200).json()["policies"] == []


@pytest.mark.parametrize("override,detail", BAD_POLICIES.values(), ids=BAD_POLICIES.keys())
def test_bad_policy_is_400_and_creates_nothing(world, override, detail):
    w = world
    override = {k: (w.alice["id"] if v == "ALICE" else v) for k, v in override.items()}
    expect_problem(w.a.post(f"/vaults/{w.prod}/policies", json=policy_body(w, **override)), 400,
                   detail)
    assert expect(w.a.get(f"/vaults/{w.prod}/policies"), 200).json()["policies"] == []
    expect_problem(w.bot.get(f"/vaults/{w.prod}/secrets/api-keys/openai"), 403)


def test_only_the_owner_and_the_admin_manage_policies(world):
    w = world
    p = grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["read"])
    bob_agent = create_agent(w.b, "bobs-bot")
    for caller in (w.b, w.bot, Caller(w.server, bob_agent["api_key"])):
        for r in [caller.post(f"/vaults/{w.prod}/policies", json=policy_body(w)),
                  caller.post(f"/vaults/{w.prod}/policies",
                              json=policy_body(w, principal_id=bob_agent["id"],
                                               secret_path_pattern="**",
                                               permissions=["read", "write"])),
                  caller.get(f"/vaults/{w.prod}/policies"),
                  caller.get(f"/vaults/{w.prod}/policies/{p['id']}"),
                  caller.delete(f"/vaults/{w.prod}/policies/{p['id']}")]:
            expect_problem(r, 403)
    # Even a principal with every permission on every path does not manage policies.
    grant(w.a, w.prod, w.bob["id"], "**", ["read", "write", "rotate", "delete", "list"],
          principal_type="user")
    expect_problem(w.b.post(f"/vaults/{w.prod}/policies", json=policy_body(w)), 403)
    expect_problem(w.b.delete(f"/vaults/{w.prod}/policies/{p['id']}"), 403)
    # Nothing changed.
    ids = [x["id"] for x in w.a.get(f"/vaults/{w.prod}/policies").json()["policies"]]
    assert p["id"] in ids and len(ids) == 2
    expect_problem(Caller(w.server, bob_agent["api_key"]).get(
        f"/vaults/{w.prod}/secrets/db/x"), 403)


# --- enforcement ---------------------------------------------------------------------------------

def op(caller, vault, name, path):
    """One secret operation by `caller`; returns the response."""
    base = f"/vaults/{vault}"
    return {
        "read": lambda: caller.get(f"{base}/secrets/{path}"),
        "versions": lambda: caller.get(f"{base}/secret-versions/{path}"),
        "version": lambda: caller.get(f"{base}/secret-version/{path}/1"),
        "write": lambda: caller.put(f"{base}/secrets/{path}",
                                    json={"type": "api_key", "value": "agent-wrote-this"}),
        "rotate": lambda: caller.post(f"{base}/secret-rotate/{path}", json={"length": 16}),
        "disable": lambda: caller.post(f"{base}/secret-version/{path}/1/disable"),
        "delete": lambda: caller.delete(f"{base}/secrets/{path}"),
    }[name]()


# (pattern, permissions, [(operation, path, expected status)]) — run in order, on `prod`.
ENFORCEMENT = {
    "star_matches_one_segment": ("api-keys/*", ["read"], [
        ("read", "api-keys/openai", 200), ("read", "api-keys/anthropic", 200),
        ("read", "api-keys-prod/x", 403), ("read", "api-keys/a/b", 403), ("read", "db/x", 403),
        ("versions", "api-keys/openai", 200), ("version", "api-keys/openai", 200),
        ("versions", "db/x", 403), ("version", "db/x", 403)]),
    "double_star_any_depth": ("api-keys/**", ["read"], [
        ("read", "api-keys/openai", 200), ("read", "api-keys/a/b", 200),
        ("read", "api-keys-prod/x", 403), ("read", "db/x", 403)]),
    "double_star_everything": ("**", ["read"], [
        ("read", "db/x", 200), ("read", "api-keys/a/b", 200), ("read", "api-keys-prod/x", 200)]),
    "star_within_a_segment": ("api-*/*", ["read"], [
        ("read", "api-keys/openai", 200), ("read", "api-keys-prod/x", 200),
        ("read", "api-keys/a/b", 403), ("read", "db/x", 403)]),
    "star_first_segment": ("*/x", ["read"], [
        ("read", "db/x", 200), ("read", "api-keys-prod/x", 200), ("read", "api-keys/openai", 403)]),
    "exact_path": ("db/x", ["read"], [("read", "db/x", 200), ("read", "api-keys/openai", 403)]),
    "read_allows_no_changes": ("**", ["read"], [
        ("write", "db/x", 403), ("rotate", "db/x", 403), ("disable", "db/x", 403),
        ("delete", "db/x", 403), ("read", "db/x", 200)]),
    "rotate_allows_secret_rotate_only": ("db/*", ["rotate"], [
        ("rotate", "db/x", 201), ("rotate", "db/new", 201), ("write", "db/x", 403),
        ("disable", "db/x", 403), ("read", "db/x", 403), ("delete", "db/x", 403),
        ("rotate", "api-keys/openai", 403)]),
    "write_allows_put_rotate_and_disable": ("db/*", ["write"], [
        ("write", "db/x", 201), ("write", "db/new", 201), ("rotate", "db/x", 201),
        ("disable", "db/x", 200), ("read", "db/x", 403), ("versions", "db/x", 403),
        ("delete", "db/x", 403), ("write", "api-keys/openai", 403)]),
    "delete_allows_delete_only": ("db/*", ["delete"], [
        ("write", "db/x", 403), ("read", "db/x", 403), ("delete", "db/x", 204),
        ("delete", "api-keys/openai", 403)]),
    "all_permissions": ("db/*", ["read", "write", "rotate", "delete", "list"], [
        ("read", "db/x", 200), ("write", "db/x", 201), ("rotate", "db/x", 201),
        ("disable", "db/x", 200), ("versions", "db/x", 200), ("delete", "db/x", 204),
        ("read", "api-keys/openai", 403)]),
}


@pytest.mark.parametrize("pattern,permissions,steps", ENFORCEMENT.values(),
                         ids=ENFORCEMENT.keys())
def test_agent_enforcement(world, pattern, permissions, steps):
    w = world
    grant(w.a, w.prod, w.agent["id"], pattern, permissions)
    for name, path, status in steps:
        r = op(w.bot, w.prod, name, path)
        if r.status_code != status:
            pytest.fail(f"{pattern} {permissions}: {name} {path}: expected {status}, "
                        f"got {r.status_code}")
        if status == 403:
            expect_problem(r, 403)
            check_absent(r.text, [value_of(p) for p in PATHS])
        if name in ("read", "version") and status == 200:
            assert r.json()["value"] == value_of(path)
    # The policy grants nothing in another vault of the same owner.
    expect_problem(op(w.bot, w.staging, "read", "db/x"), 403)


def test_secret_written_by_the_agent_is_readable_by_the_owner(world):
    w = world
    grant(w.a, w.prod, w.agent["id"], "agent/**", ["write"])
    put_secret(w.bot, w.prod, "agent/out/report", "from-the-agent", type_="note")
    assert w.a.get(f"/vaults/{w.prod}/secrets/agent/out/report").json()["value"] == \
        "from-the-agent"
    expect_problem(w.bot.get(f"/vaults/{w.prod}/secrets/agent/out/report"), 403)


def list_paths(caller, vault, prefix=None):
    params = {"prefix": prefix} if prefix is not None else {}
    r = caller.get(f"/vaults/{vault}/secrets", params=params)
    return r, ([s["path"] for s in r.json()["secrets"]] if r.status_code == 200 else None)


def test_list_returns_only_listable_paths(world):
    w = world
    grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["list"])
    grant(w.a, w.prod, w.agent["id"], "db/*", ["read"])  # read does not allow listing
    for prefix in (None, "api-keys/", "api-keys"):
        r, paths = list_paths(w.bot, w.prod, prefix)
        expect(r, 200)
        assert paths == ["api-keys/anthropic", "api-keys/openai"], (prefix, paths)
        check_absent(r.text, [value_of(p) for p in PATHS], "listing")
    # Nothing listable under the prefix: 403.
    for prefix in ("db/", "api-keys-prod/"):
        expect_problem(list_paths(w.bot, w.prod, prefix)[0], 403)
    # The owner still sees everything.
    assert sorted(list_paths(w.a, w.prod)[1]) == sorted(PATHS)


def test_list_with_double_star_and_without_list_permission(world):
    w = world
    p = grant(w.a, w.prod, w.agent["id"], "**", ["read", "write", "rotate", "delete"])
    expect_problem(list_paths(w.bot, w.prod)[0], 403)
    expect(w.a.delete(f"/vaults/{w.prod}/policies/{p['id']}"), 204)
    grant(w.a, w.prod, w.agent["id"], "**", ["list"])
    r, paths = list_paths(w.bot, w.prod)
    expect(r, 200)
    assert sorted(paths) == sorted(PATHS)


def test_no_policy_means_403_and_the_vault_is_not_listed(world):
    w = world
    for name in ("read", "versions", "version", "write", "rotate", "disable", "delete"):
        expect_problem(op(w.bot, w.prod, name, "api-keys/openai"), 403)
    expect_problem(list_paths(w.bot, w.prod)[0], 403)
    assert expect(w.bot.get("/vaults"), 200).json()["vaults"] == []
    grant(w.a, w.prod, w.agent["id"], "db/*", ["read"])
    assert [v["id"] for v in w.bot.get("/vaults").json()["vaults"]] == [w.prod]
    # Everything is still there.
    assert w.a.get(f"/vaults/{w.prod}/secrets/api-keys/openai").json()["version"] == 1


def test_expired_policy_grants_nothing(world):
    w = world
    grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["read"], expires_at=in_seconds(2))
    target = f"/vaults/{w.prod}/secrets/api-keys/openai"
    expect(w.bot.get(target), 200)
    time.sleep(2.3)
    expect_problem(w.bot.get(target), 403)
    expect_problem(list_paths(w.bot, w.prod)[0], 403)


def test_deleting_the_policy_takes_effect_at_once(world):
    w = world
    p = grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["read"])
    target = f"/vaults/{w.prod}/secrets/api-keys/openai"
    expect(w.bot.get(target), 200)
    expect(w.a.delete(f"/vaults/{w.prod}/policies/{p['id']}"), 204)
    expect_problem(w.bot.get(target), 403)


def test_policies_add_up(world):
    w = world
    grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["read"])
    grant(w.a, w.prod, w.agent["id"], "db/*", ["write"])
    expect(op(w.bot, w.prod, "read", "api-keys/openai"), 200)
    expect(op(w.bot, w.prod, "write", "db/x"), 201)
    expect_problem(op(w.bot, w.prod, "read", "db/x"), 403)
    expect_problem(op(w.bot, w.prod, "write", "api-keys/openai"), 403)


# --- a 403 never tells whether the secret exists -------------------------------------------------

def same_refusal(r1, r2):
    """Both 403 with identical problem bodies (apart from per-request fields)."""
    b1, b2 = expect_problem(r1, 403), expect_problem(r2, 403)
    for field in ("type", "title", "status", "detail"):
        if b1.get(field) != b2.get(field):
            pytest.fail(f"403s differ in {field}: {b1.get(field)!r} vs {b2.get(field)!r}")


@pytest.mark.parametrize("who", ["agent_with_other_grant", "agent_without_policy",
                                 "user_without_policy", "user_with_other_grant"])
@pytest.mark.parametrize("name", ["read", "versions", "version", "write", "rotate", "disable",
                                  "delete"])
def test_403_is_the_same_whether_or_not_the_secret_exists(world, who, name):
    w = world
    caller = w.b if who.startswith("user") else w.bot
    if who == "agent_with_other_grant":
        grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["read", "write", "rotate", "delete"])
    if who == "user_with_other_grant":
        grant(w.a, w.prod, w.bob["id"], "api-keys/*", ["read", "write", "rotate", "delete"],
              principal_type="user")
    same_refusal(op(caller, w.prod, name, "db/x"), op(caller, w.prod, name, "db/does-not-exist"))
    # Also a path that has never existed below an existing one.
    same_refusal(op(caller, w.prod, name, "api-keys-prod/x"),
                 op(caller, w.prod, name, "api-keys-prod/nope/deeper"))
    # Nothing was changed by the refused requests.
    assert w.a.get(f"/vaults/{w.prod}/secret-versions/db/x").json()["versions"][0]["version"] == 1
    expect_problem(w.a.get(f"/vaults/{w.prod}/secrets/db/does-not-exist"), 404)


# --- unauthenticated -----------------------------------------------------------------------------

def test_unauthenticated_is_401_on_every_route(world):
    w = world
    p = grant(w.a, w.prod, w.agent["id"], "api-keys/*", ["read"])
    key_id = w.a.token.split("_")[2]
    v, a, u = w.prod, w.agent["id"], w.alice["id"]
    routes = [
        ("GET", "/me"), ("GET", "/users"), ("POST", "/users"), ("GET", f"/users/{u}"),
        ("GET", f"/users/{u}/api-keys"), ("POST", f"/users/{u}/api-keys"),
        ("DELETE", f"/users/{u}/api-keys/{key_id}"),
        ("GET", "/agents"), ("POST", "/agents"), ("GET", f"/agents/{a}"),
        ("DELETE", f"/agents/{a}"), ("POST", f"/agents/{a}/rotate-key"),
        ("GET", "/vaults"), ("POST", "/vaults"), ("GET", f"/vaults/{v}"),
        ("DELETE", f"/vaults/{v}"),
        ("GET", f"/vaults/{v}/policies"), ("POST", f"/vaults/{v}/policies"),
        ("GET", f"/vaults/{v}/policies/{p['id']}"), ("DELETE", f"/vaults/{v}/policies/{p['id']}"),
        ("GET", f"/vaults/{v}/secrets"), ("GET", f"/vaults/{v}/secrets/db/x"),
        ("PUT", f"/vaults/{v}/secrets/db/x"), ("DELETE", f"/vaults/{v}/secrets/db/x"),
        ("POST", f"/vaults/{v}/secret-rotate/db/x"), ("GET", f"/vaults/{v}/secret-versions/db/x"),
        ("GET", f"/vaults/{v}/secret-version/db/x/1"),
        ("POST", f"/vaults/{v}/secret-version/db/x/1/disable"),
        ("GET", "/audit"), ("GET", f"/audit?vault_id={v}"), ("GET", "/audit/verify"),
    ]
    body = {"name": "x", "type": "note", "value": "x"}
    wrong = []
    # One character of the secret part changed (so its checksum no longer matches either).
    i = len("cfr_key_") + 12 + 1 + 5
    mistyped = w.a.token[:i] + ("A" if w.a.token[i] != "A" else "B") + w.a.token[i + 1:]
    for auth in (None, "Bearer garbage", "Bearer " + mistyped, "Basic YTpi"):
        headers = {"Authorization": auth} if auth else {}
        for method, route in routes:
            r = Caller(w.server, headers=headers).request(
                method, route, json=body if method in ("POST", "PUT") else None)
            ok = (r.status_code == 401 and
                  r.headers.get("Content-Type", "").startswith("application/problem+json"))
            if not ok:
                wrong.append(f"{auth and auth.split()[0]} {method} {route}: {r.status_code}")
    # The self-rotation route too (two requests, within its limit).
    for headers in ({}, {"Authorization": "Bearer garbage"}):
        r = Caller(w.server, headers=headers).post(
            "/agents/self/rotate-key", json={"rotationSecret": w.agent["rotation_secret"]})
        if r.status_code != 401:
            wrong.append(f"self rotate-key {headers and 'garbage'}: {r.status_code}")
    assert not wrong, "\n".join(wrong)
    # Nothing happened.
    assert w.a.get(f"/vaults/{v}/secrets/db/x").json()["version"] == 1
    assert len(w.a.get(f"/vaults/{v}/policies").json()["policies"]) == 1
    assert w.a.get(f"/agents/{a}").json()["is_revoked"] is False
