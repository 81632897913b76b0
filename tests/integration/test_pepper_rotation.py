"""Pepper rotation while servers run: `coffer keys rotate-pepper` makes a new pepper active;
every API key (a user's, an agent's), rotation secret and share link issued before keeps working;
each moves to the new pepper when next used; `coffer keys rewrap-pepper` chains the hashes of
the others under it without the keys; `pepper-status` counts what needs each pepper;
`retire-pepper` refuses while any hash needs the old pepper and, once none does, drops it with
every key still working. On PostgreSQL two servers on one database both honour the rotation
without a restart. Audited as keys.rotate_pepper, keys.rewrap_pepper, keys.retire_pepper."""
import datetime
import os

import pytest
import requests

from conftest import (Caller, admin_caller, audit_pages, create_agent, create_user,
                      create_vault, expect, public_id, put_secret, redact, self_rotate,
                      keys_command, run_keys, two_servers, wait_for)

PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")


# Keyring refreshes, rehashes on use and two servers take their time on a loaded machine.
WAIT = 40


def retire_when_allowed(server, pepper, *flags):
    """`coffer keys retire-pepper --key-id pepper`, run again until the rotation is old enough
    (or it fails for another reason); returns the successful run."""
    __tracebackhide__ = True

    def attempt():
        out = run_keys(server, "retire-pepper", "--key-id", str(pepper), *flags)
        if out.returncode != 0 and "try again" not in out.stderr:
            pytest.fail("coffer keys retire-pepper failed: " + redact(out.stderr))
        return out.returncode == 0 and out
    return wait_for(attempt, "the old pepper to be retired", WAIT)


def peppers(server):
    """{pepper id: "active" | "old"} from `coffer keys pepper-status`."""
    out = keys_command(server, "pepper-status").stdout.splitlines()
    rows = {}
    for line in out[1:]:
        if not line.strip():
            break
        fields = line.split()
        rows[int(fields[0])] = fields[1]
    return rows


def active_pepper(server):
    return next(k for k, state in peppers(server).items() if state == "active")


def credential_chain(server, credential):
    rows = server.sql("SELECT pepper_ids FROM credentials WHERE public_id = "
                      f"'{public_id(credential)}'")
    assert len(rows) == 1
    return rows[0][0]


def share_chains(server):
    return sorted(row[0] for row in server.sql("SELECT pepper_ids FROM shares"))


def in_future(seconds=3600):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_share(caller, secret_id):
    r = caller.post(f"/secrets/{secret_id}/share",
                    json={"recipient_type": "anyone_with_link", "expires_at": in_future()})
    return expect(r, 201).json()["share_url"].rsplit("/", 1)[1]


def redeem(server, token):
    return requests.get(f"{server.url}/v1/share/{token}", timeout=30)


def works(server, key):
    return Caller(server, key).me().status_code == 200


def test_rotate_pepper_while_the_server_runs(server):
    admin = admin_caller(server)
    _, user = create_user(server, "pepper-user")
    user_key = user.token
    used = create_agent(admin, "pepper-used")
    idle = create_agent(admin, "pepper-idle")
    vault = create_vault(admin, "pepper")
    secret = put_secret(admin, vault, "db/password", value="hunter2", type_="password")
    used_link = new_share(admin, secret["id"])
    idle_link = new_share(admin, secret["id"])
    old = active_pepper(server)
    assert credential_chain(server, user_key) == str(old)

    out = keys_command(server, "rotate-pepper")
    assert "is now active" in out.stdout
    new = active_pepper(server)
    assert new != old and peppers(server)[old] == "old"
    # Nothing stops working, at any point.
    for key in (server.admin_key, user_key, used["api_key"], idle["api_key"]):
        assert works(server, key)
    expect(redeem(server, used_link), 200)

    # Once every server may hold the new pepper, a key used moves to it.
    def moved():
        for key in (server.admin_key, user_key, used["api_key"]):
            assert works(server, key)
        expect(redeem(server, used_link), 200)
        return all(credential_chain(server, k) == str(new)
                   for k in (server.admin_key, user_key, used["api_key"])) and \
            str(new) in share_chains(server)
    wait_for(moved, "the used keys to move to the new pepper", WAIT)
    for key in (server.admin_key, user_key, used["api_key"]):
        assert works(server, key)
    expect(redeem(server, used_link), 200)
    # New keys are made under it.
    fresh = create_agent(admin, "pepper-fresh")
    assert credential_chain(server, fresh["api_key"]) == str(new)

    # The idle ones are chained under the new pepper by a rewrap, without the keys.
    assert credential_chain(server, idle["api_key"]) == str(old)
    out = keys_command(server, "rewrap-pepper")
    assert "chained under pepper" in out.stdout
    chained = f"{old},{new}"
    assert credential_chain(server, idle["api_key"]) == chained
    assert credential_chain(server, idle["rotation_secret"]) == chained
    assert share_chains(server) == sorted([str(new), chained])
    status = keys_command(server, "pepper-status").stdout
    assert f"{old}>{new}" in status

    # The old pepper is still needed by the chained hashes: retiring it is refused.
    refused = run_keys(server, "retire-pepper", "--key-id", str(old))
    assert refused.returncode != 0 and "still need" in refused.stderr

    # Chained keys work, and move to the new pepper alone when used: the agents' rotation
    # secrets (both chained) by a self-rotation each.
    assert works(server, idle["api_key"])
    assert credential_chain(server, idle["api_key"]) == str(new)
    expect(redeem(server, idle_link), 200)
    assert share_chains(server) == [str(new), str(new)]
    rotated = [expect(self_rotate(server, a["api_key"], a["rotation_secret"]), 200).json()
               for a in (idle, used)]
    assert credential_chain(server, idle["rotation_secret"]) == str(new)
    assert f"{old}>" not in keys_command(server, "pepper-status").stdout

    retire_when_allowed(server, old)
    assert old not in peppers(server)

    # Every key still works once the servers dropped the old pepper.
    def all_work():
        return all(works(server, k) for k in (server.admin_key, user_key, fresh["api_key"],
                                              rotated[0]["apiKey"], rotated[1]["apiKey"]))
    wait_for(all_work, "every key to work", WAIT)
    expect(redeem(server, used_link), 200)
    expect(redeem(server, idle_link), 200)
    assert credential_chain(server, rotated[0]["rotationSecret"]) == str(new)

    events, texts = audit_pages(admin)
    actions = [e["action"] for e in events]
    for action in ("keys.rotate_pepper", "keys.rewrap_pepper", "keys.retire_pepper"):
        assert action in actions, action
    assert all(e["path"].startswith("keyring/hmac-pepper/") for e in events
               if e["action"].endswith("_pepper"))
    for text in texts:
        for key in (server.admin_key, user_key, used["api_key"], idle["api_key"], used_link,
                    idle_link):
            assert key not in text
    assert expect(admin.get("/audit/verify"), 200).json()["ok"] is True


def test_a_retired_peppers_keys_stop_working(server):
    admin = admin_caller(server)
    user, _ = create_user(server, "pepper-gone")
    # Keys never used after the rotation: each is used once, as a probe, below (a key used while
    # the server still holds the old pepper moves off it).
    probes = [expect(admin.post(f"/users/{user['id']}/api-keys", json={"name": f"probe-{i}"}),
                     201).json()["api_key"] for i in range(12)]
    old = active_pepper(server)
    keys_command(server, "rotate-pepper")
    # Retiring before the servers may have switched is refused.
    early = run_keys(server, "retire-pepper", "--key-id", str(old), "--force")
    assert early.returncode != 0 and "try again" in early.stderr

    out = retire_when_allowed(server, old, "--force")
    assert "still need" in out.stderr
    # Once the server has dropped the old pepper, the keys still on it are refused.
    remaining = list(probes)

    def refused():
        return Caller(server, remaining.pop(0)).me().status_code == 401
    wait_for(refused, "a key on the retired pepper to be refused", deadline=10)
    assert remaining, "more probes than the refresh took"
    for key in remaining:
        expect(Caller(server, key).me(), 401)
    expect(admin.me(), 401)


@pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set")
def test_two_servers_on_one_postgres_database_honour_a_pepper_rotation(store):
    if store.kind != "postgres":
        pytest.skip("two servers share one PostgreSQL database")
    with two_servers(store) as (a, b, admin_key):
        _, user = create_user(a, "pepper-pg")
        agent = create_agent(admin_caller(a), "pepper-pg-bot")
        old = active_pepper(a)
        keys_command(a, "rotate-pepper")
        new = active_pepper(a)

        # A key used on one server moves; the other server verifies it where it moved.
        def moved():
            assert works(a, user.token) and works(b, agent["api_key"])
            return credential_chain(a, user.token) == str(new) and \
                credential_chain(a, agent["api_key"]) == str(new)
        wait_for(moved, "the keys to move to the new pepper", WAIT)
        for srv in (a, b):
            assert works(srv, user.token) and works(srv, agent["api_key"])
            assert works(srv, admin_key)
        # A key minted on b is under the new pepper, and a verifies it.
        fresh = create_agent(admin_caller(b), "pepper-pg-fresh")
        assert credential_chain(a, fresh["api_key"]) == str(new)
        assert works(a, fresh["api_key"])
        keys_command(a, "rewrap-pepper")
        retire_when_allowed(a, old, "--force")
        for srv in (a, b):
            wait_for(lambda: works(srv, fresh["api_key"]) and works(srv, user.token),
                     "the keys to work after the retirement", WAIT)
