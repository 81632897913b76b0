"""The version lifecycle end to end (docs/secret-versions.md): aliases and reads through them,
staged writes with promote and rollback, destroying a version, and kept-version limits whose
destroyed ciphertexts are gone from the store."""
import os

import pytest

from conftest import expect, expect_problem


def u(api, vault, kind, path):
    return f"{api.base}/v1/vaults/{vault}/{kind}/{path}"


def put(api, vault, path, value, **extra):
    return expect(api.put(u(api, vault, "secrets", path),
                          json={"type": "password", "value": value, **extra}), 201).json()


def read(api, vault, path, alias=None):
    params = {"alias": alias} if alias else None
    return api.get(u(api, vault, "secrets", path), params=params)


def actions(api, vault, path):
    events = expect(api.get(f"{api.base}/v1/audit", params={"vault_id": vault, "limit": 500}),
                    200).json()["events"]
    return [(e.get("action"), e.get("version")) for e in events if e.get("path") == path]


def test_staged_write_promote_and_rollback(api, vault):
    put(api, vault, "app/key", "old-value")
    staged = put(api, vault, "app/key", "new-value", stage="pending")
    assert staged["version"] == 2
    assert staged["aliases"] == {"current": 1, "pending": 2}
    # Plain reads keep returning the current version; the pending one is read by its alias.
    got = expect(read(api, vault, "app/key"), 200)
    assert (got.json()["value"], got.headers["ETag"]) == ("old-value", '"1"')
    assert got.json()["aliases"] == {"current": 1, "pending": 2}
    pending = expect(read(api, vault, "app/key", alias="pending"), 200).json()
    assert (pending["version"], pending["value"]) == (2, "new-value")

    promoted = expect(api.post(u(api, vault, "secret-promote", "app/key")), 200).json()
    assert promoted["aliases"] == {"current": 2, "previous": 1}
    assert expect(read(api, vault, "app/key"), 200).json()["value"] == "new-value"
    # Nothing pending any more: a second promote is refused, not repeated.
    expect_problem(api.post(u(api, vault, "secret-promote", "app/key")), 409, "nothing to promote")

    rolled = expect(api.post(u(api, vault, "secret-rollback", "app/key")), 200).json()
    assert rolled["aliases"] == {"current": 1, "pending": 2}
    assert expect(read(api, vault, "app/key"), 200).json()["value"] == "old-value"
    expect_problem(api.post(u(api, vault, "secret-rollback", "app/key")), 409, "roll back")

    # A plain write with current set moves current and makes the old one previous.
    plain = put(api, vault, "app/key", "third-value")
    assert plain["aliases"] == {"current": 3, "pending": 2, "previous": 1}
    versions = expect(api.get(u(api, vault, "secret-versions", "app/key")), 200).json()
    assert {v["version"]: v["aliases"] for v in versions["versions"]} == {
        3: ["current"], 2: ["pending"], 1: ["previous"]}

    seen = actions(api, vault, "app/key")
    assert ("secret.promote", 2) in seen
    assert ("secret.rollback", 1) in seen


def test_rotate_into_pending(api, vault):
    put(api, vault, "db/pw", "first-value")
    rotated = expect(api.post(u(api, vault, "secret-rotate", "db/pw"), json={"stage": "pending"}),
                     201).json()
    assert rotated["aliases"] == {"current": 1, "pending": 2}
    assert expect(read(api, vault, "db/pw"), 200).json()["value"] == "first-value"
    expect_problem(api.post(u(api, vault, "secret-rotate", "db/pw"), json={"stage": "later"}),
                   400, "stage")


def test_user_aliases(api, vault):
    put(api, vault, "svc/token", "one-value")
    put(api, vault, "svc/token", "two-value")
    r = expect(api.post(u(api, vault, "secret-alias", "svc/token/blue"), json={"version": 1}), 200)
    assert r.json()["aliases"] == {"blue": 1}
    got = expect(read(api, vault, "svc/token", alias="blue"), 200)
    assert (got.json()["value"], got.headers["ETag"]) == ("one-value", '"1"')
    # Moving it.
    expect(api.post(u(api, vault, "secret-alias", "svc/token/blue"), json={"version": 2}), 200)
    assert expect(read(api, vault, "svc/token", alias="blue"), 200).json()["value"] == "two-value"
    # Refusals: unknown alias, bad names, missing version, unknown fields.
    expect_problem(read(api, vault, "svc/token", alias="green"), 404, "alias green is not set")
    expect_problem(read(api, vault, "svc/token", alias="Blue!"), 400, "alias")
    expect_problem(api.post(u(api, vault, "secret-alias", "svc/token/BAD"), json={"version": 1}),
                   400, "alias")
    expect_problem(api.post(u(api, vault, "secret-alias", "svc/token/blue"), json={"version": 9}),
                   404, "version 9")
    expect_problem(api.post(u(api, vault, "secret-alias", "svc/token/blue"), json={}), 400,
                   "version")
    expect_problem(api.post(u(api, vault, "secret-alias", "svc/token/blue"),
                            json={"version": 1, "extra": 1}), 400, "extra")
    # A disabled version cannot be named.
    expect(api.post(u(api, vault, "secret-version", "svc/token/1/disable")), 200)
    expect_problem(api.post(u(api, vault, "secret-alias", "svc/token/red"), json={"version": 1}),
                   409, "disabled")
    # Removing it.
    r = expect(api.delete(u(api, vault, "secret-alias", "svc/token/blue")), 200)
    assert r.json()["aliases"] == {}
    expect_problem(api.delete(u(api, vault, "secret-alias", "svc/token/blue")), 404)
    assert ("secret.alias", 2) in actions(api, vault, "svc/token")


def test_reads_through_an_alias_behave_as_by_number(api, vault):
    put(api, vault, "once/pw", "only-once", max_access_count=1)
    expect(api.post(u(api, vault, "secret-alias", "once/pw/ro"), json={"version": 1}), 200)
    assert expect(read(api, vault, "once/pw", alias="ro"), 200).json()["value"] == "only-once"
    expect_problem(read(api, vault, "once/pw", alias="ro"), 410, "max_access_count")
    # current naming a disabled version: plain reads get 410, no older value instead.
    put(api, vault, "cur/pw", "a-value")
    put(api, vault, "cur/pw", "b-value")
    expect(api.post(u(api, vault, "secret-alias", "cur/pw/current"), json={"version": 2}), 200)
    expect(api.post(u(api, vault, "secret-version", "cur/pw/2/disable")), 200)
    expect_problem(read(api, vault, "cur/pw"), 410, "disabled")


def test_destroy_erases_the_value_and_keeps_the_row(server, api, vault):
    put(api, vault, "old/key", "first-secret-value")
    put(api, vault, "old/key", "second-secret-value")
    r = expect(api.post(u(api, vault, "secret-version", "old/key/1/destroy")), 200).json()
    assert r["is_destroyed"] is True and r["is_disabled"] is True and r["destroyed_at"]
    expect_problem(api.get(u(api, vault, "secret-version", "old/key/1")), 410, "destroyed")
    versions = expect(api.get(u(api, vault, "secret-versions", "old/key")), 200).json()["versions"]
    assert [(v["version"], v["is_destroyed"]) for v in versions] == [(2, False), (1, True)]
    assert versions[1]["destroyed_at"]
    assert ("secret.destroy_version", 1) in actions(api, vault, "old/key")
    assert ciphertext_length(server, vault, "old/key", 1) == 0
    # The version current names is not destroyed.
    expect(api.post(u(api, vault, "secret-alias", "old/key/current"), json={"version": 2}), 200)
    expect_problem(api.post(u(api, vault, "secret-version", "old/key/2/destroy")), 409, "current")
    expect_problem(api.post(u(api, vault, "secret-version", "old/key/7/destroy")), 404)


def ciphertext_length(server, vault, path, version):
    length = "length(v.ciphertext)" if server.store.kind == "sqlite" else "octet_length(v.ciphertext)"
    rows = server.sql(f"SELECT {length} FROM secret_versions AS v JOIN secrets AS s"
                      f" ON s.id = v.secret_id WHERE s.vault_id = '{vault}' AND s.path = '{path}'"
                      f" AND v.version = {version}")
    return int(rows[0][0])


def ciphertext_hex(server, vault, path, version):
    hexed = "hex(v.ciphertext)" if server.store.kind == "sqlite" else "encode(v.ciphertext, 'hex')"
    rows = server.sql(f"SELECT {hexed} FROM secret_versions AS v JOIN secrets AS s"
                      f" ON s.id = v.secret_id WHERE s.vault_id = '{vault}' AND s.path = '{path}'"
                      f" AND v.version = {version}")
    return rows[0][0].lower()


def test_retention_one_keeps_no_old_value(server, api):
    vault = expect(api.post(f"{api.base}/v1/vaults", json={"name": "keep-one", "max_versions": 1}),
                   201).json()
    assert vault["max_versions"] == 1
    vid = vault["id"]
    put(api, vid, "llm/key", "the-first-key-value")
    old = bytes.fromhex(ciphertext_hex(server, vid, "llm/key", 1))
    assert len(old) > 16
    rotated = expect(api.post(u(api, vid, "secret-rotate", "llm/key"), json={}), 201).json()
    assert rotated["version"] == 2
    versions = expect(api.get(u(api, vid, "secret-versions", "llm/key")), 200).json()["versions"]
    assert [(v["version"], v["is_destroyed"]) for v in versions] == [(2, False), (1, True)]
    expect_problem(api.get(u(api, vid, "secret-version", "llm/key/1")), 410, "destroyed")
    assert ciphertext_length(server, vid, "llm/key", 1) == 0
    assert ("secret.destroy_version", 1) in actions(api, vid, "llm/key")
    if server.store.kind == "sqlite":
        # Not even in freed pages or the WAL once the server has checkpointed on its way out.
        server.stop()
        for name in ("coffer.db", "coffer.db-wal"):
            p = os.path.join(server.data_dir, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    assert old not in f.read(), f"the destroyed ciphertext is still in {name}"


def test_per_secret_and_vault_limits(api, vault):
    for i in range(3):
        put(api, vault, "lim/a", f"value-{i}", max_versions=2)
    versions = expect(api.get(u(api, vault, "secret-versions", "lim/a")), 200).json()["versions"]
    assert [v["is_destroyed"] for v in versions] == [False, False, True]
    got = expect(read(api, vault, "lim/a"), 200).json()
    assert got["max_versions"] == 2
    # The vault's limit, set later, applies at the next write; the smaller one wins.
    r = expect(api.patch(f"{api.base}/v1/vaults/{vault}", json={"max_versions": 1}), 200).json()
    assert r["max_versions"] == 1
    put(api, vault, "lim/a", "value-3")
    versions = expect(api.get(u(api, vault, "secret-versions", "lim/a")), 200).json()["versions"]
    assert [v["is_destroyed"] for v in versions] == [False, True, True, True]
    for body, field in (({"max_versions": -1}, "max_versions"), ({}, "max_versions"),
                        ({"max_versions": 1, "name": "x"}, "name")):
        expect_problem(api.patch(f"{api.base}/v1/vaults/{vault}", json=body), 400, field)
    expect_problem(put_raw(api, vault, "lim/b", max_versions=-2), 400, "max_versions")
    expect_problem(api.post(f"{api.base}/v1/vaults", json={"name": "bad", "max_versions": -1}),
                   400, "max_versions")


def put_raw(api, vault, path, **extra):
    return api.put(u(api, vault, "secrets", path), json={"type": "password", "value": "v", **extra})


def test_permissions_of_the_lifecycle_routes(server, api, vault):
    from conftest import Caller, admin_caller, create_agent, grant
    admin = admin_caller(server)
    put(api, vault, "perm/key", "one-value")
    put(api, vault, "perm/key", "two-value", stage="pending")
    reader = create_agent(admin, "reader-bot")
    rotator = create_agent(admin, "rotator-bot")
    grant(admin, vault, reader["id"], "perm/*", ["read"])
    grant(admin, vault, rotator["id"], "perm/*", ["rotate"])
    as_reader = Caller(server, reader["api_key"])
    as_rotator = Caller(server, rotator["api_key"])
    base = f"/vaults/{vault}"
    # read: reads through an alias, moves nothing.
    assert expect(as_reader.get(f"{base}/secrets/perm/key", params={"alias": "pending"}),
                  200).json()["version"] == 2
    for call in (lambda c: c.post(f"{base}/secret-promote/perm/key"),
                 lambda c: c.post(f"{base}/secret-rollback/perm/key"),
                 lambda c: c.post(f"{base}/secret-alias/perm/key/blue", json={"version": 1}),
                 lambda c: c.post(f"{base}/secret-version/perm/key/1/destroy")):
        expect_problem(call(as_reader), 403)
    # rotate: moves aliases, promotes and rolls back, but does not destroy.
    expect(as_rotator.post(f"{base}/secret-alias/perm/key/blue", json={"version": 1}), 200)
    expect(as_rotator.post(f"{base}/secret-promote/perm/key"), 200)
    expect(as_rotator.post(f"{base}/secret-rollback/perm/key"), 200)
    expect_problem(as_rotator.post(f"{base}/secret-version/perm/key/1/destroy"), 403)
    expect_problem(as_rotator.get(f"{base}/secrets/perm/key"), 403)


def test_of_concurrent_promotes_one_wins_and_the_others_get_409(server, api, vault):
    import threading
    put(api, vault, "race/key", "one-value")
    for round_ in range(3):
        put(api, vault, "race/key", f"staged-{round_}", stage="pending")
        statuses, lock = [], threading.Lock()
        barrier = threading.Barrier(6)

        def promote():
            s = server.session()
            barrier.wait()
            r = s.post(u(api, vault, "secret-promote", "race/key"))
            with lock:
                statuses.append(r.status_code)

        threads = [threading.Thread(target=promote) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] + [409] * 5, statuses
        got = expect(read(api, vault, "race/key"), 200).json()
        assert got["value"] == f"staged-{round_}"
        assert got["aliases"] == {"current": round_ + 2, "previous": round_ + 1}
