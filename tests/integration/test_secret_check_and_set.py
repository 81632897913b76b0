"""Check-and-set on secret writes end to end: ETag on reads and write answers, If-Match,
If-None-Match and the `cas` body field, and concurrent writers of which exactly one wins."""
import threading

import pytest

from conftest import expect, expect_problem


def secret_url(api, vault, path):
    return f"{api.base}/v1/vaults/{vault}/secrets/{path}"


def put(api, vault, path, value, headers=None, **extra):
    return api.put(secret_url(api, vault, path), json={"type": "password", "value": value, **extra},
                   headers=headers or {})


def test_reads_and_writes_carry_the_version_as_etag(api, vault):
    created = expect(put(api, vault, "db/pw", "first-value"), 201)
    assert created.headers["ETag"] == '"1"'
    expect(put(api, vault, "db/pw", "second-value"), 201)
    got = expect(api.get(secret_url(api, vault, "db/pw")), 200)
    assert got.headers["ETag"] == '"2"'
    old = expect(api.get(f"{api.base}/v1/vaults/{vault}/secret-version/db/pw/1"), 200)
    assert old.headers["ETag"] == '"1"'
    rotated = expect(api.post(f"{api.base}/v1/vaults/{vault}/secret-rotate/db/pw", json={}), 201)
    assert rotated.headers["ETag"] == '"3"'


def test_if_match_writes_only_over_that_version(api, vault):
    etag = expect(put(api, vault, "app/key", "v1-value"), 201).headers["ETag"]
    written = expect(put(api, vault, "app/key", "v2-value", headers={"If-Match": etag}), 201)
    assert written.json()["version"] == 2
    # The stale tag is refused and nothing is written.
    body = expect_problem(put(api, vault, "app/key", "v3-value", headers={"If-Match": etag}), 412,
                          r"latest version is 2")
    assert body["type"] == "urn:coffer:problem:precondition-failed"
    assert "v3-value" not in str(body)
    got = expect(api.get(secret_url(api, vault, "app/key")), 200).json()
    assert (got["version"], got["value"]) == (2, "v2-value")
    # A secret that does not exist matches no version.
    expect_problem(put(api, vault, "app/none", "x-value", headers={"If-Match": '"1"'}), 412)
    expect(api.get(secret_url(api, vault, "app/none")), 404)


def test_if_none_match_star_only_creates(api, vault):
    expect(put(api, vault, "only/once", "a-value", headers={"If-None-Match": "*"}), 201)
    expect_problem(put(api, vault, "only/once", "b-value", headers={"If-None-Match": "*"}), 412,
                   r"already exists")
    got = expect(api.get(secret_url(api, vault, "only/once")), 200).json()
    assert (got["version"], got["value"]) == (1, "a-value")


def test_cas_body_field_does_the_same(api, vault):
    expect(put(api, vault, "cas/x", "a-value", cas=0), 201)
    expect_problem(put(api, vault, "cas/x", "b-value", cas=0), 412)
    expect(put(api, vault, "cas/x", "b-value", cas=1), 201)
    expect_problem(put(api, vault, "cas/x", "c-value", cas=1), 412)
    # Agreeing header and field are fine.
    expect(put(api, vault, "cas/x", "c-value", cas=2, headers={"If-Match": '"2"'}), 201)


@pytest.mark.parametrize("headers,extra,field", [
    ({"If-Match": "3"}, {}, "If-Match"),
    ({"If-Match": '"0"'}, {}, "If-Match"),
    ({"If-Match": '"x"'}, {}, "If-Match"),
    ({"If-Match": "*"}, {}, "If-Match"),
    ({"If-None-Match": '"1"'}, {}, "If-None-Match"),
    ({"If-Match": '"1"', "If-None-Match": "*"}, {}, "If-Match or If-None-Match"),
    ({"If-Match": '"1"'}, {"cas": 2}, "cas"),
    ({"If-None-Match": "*"}, {"cas": 1}, "cas"),
    ({}, {"cas": -1}, "cas"),
    ({}, {"cas": "1"}, "cas"),
])
def test_malformed_or_disagreeing_conditions_are_400(api, vault, headers, extra, field):
    expect(put(api, vault, "bad/cond", "a-value"), 201)
    expect_problem(put(api, vault, "bad/cond", "b-value", headers=headers, **extra), 400,
                   field.replace("*", r"\*"))
    got = expect(api.get(secret_url(api, vault, "bad/cond")), 200).json()
    assert got["version"] == 1


def test_of_concurrent_check_and_set_writers_exactly_one_wins(server, api, vault):
    threads_n = 8
    expect(put(api, vault, "race/pw", "start-value"), 201)
    for expected in (1, 2, 3):
        statuses = []
        lock = threading.Lock()
        barrier = threading.Barrier(threads_n)

        def writer(i):
            session = server.session()
            barrier.wait()
            r = put(session_api(session, api), vault, "race/pw", f"w{expected}-{i}",
                    headers={"If-Match": f'"{expected}"'})
            with lock:
                statuses.append(r.status_code)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [201] + [412] * (threads_n - 1), statuses
    versions = expect(api.get(f"{api.base}/v1/vaults/{vault}/secret-versions/race/pw"), 200).json()
    assert [v["version"] for v in versions["versions"]] == [4, 3, 2, 1]


def session_api(session, api):
    session.base = api.base
    return session
