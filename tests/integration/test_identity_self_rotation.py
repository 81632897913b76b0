"""POST /v1/agents/self/rotate-key exactly as seed 003 and docs/identity-and-access.md describe it:
answer shape, both credentials rotating together, errors, the 3-per-15-minutes-per-client-IP
limit (every request counts, whatever its outcome), concurrent rotations, and X-Forwarded-For
with and without --trusted-proxies.

The limit is per client IP and every request here comes from 127.0.0.1, so each test that
self-rotates runs against its own server (the per-test `server` fixture or `make_server`)."""
import threading

import pytest

from conftest import (Caller, admin_caller, check_absent, check_credential, check_different,
                      create_agent, create_user, expect, expect_problem, self_rotate)

MESSAGE = ("API key and rotation secret rotated successfully. "
           "Save both \u2014 they will not be shown again.")
ANSWER_FIELDS = {"message", "apiKey", "rotationSecret", "agentId", "agentName"}


class Agent:
    """An agent's current credentials, updated as it rotates."""

    def __init__(self, server, owner, name):
        body = create_agent(owner, name)
        self.server, self.id, self.name = server, body["id"], body["name"]
        self.key, self.rot = body["api_key"], body["rotation_secret"]

    def rotate(self, headers=None):
        """Self-rotates with the current credentials; on 200 adopts the new ones."""
        __tracebackhide__ = True
        r = self_rotate(self.server, self.key, self.rot, headers=headers)
        if r.status_code == 200:
            body = r.json()
            self.key, self.rot = body["apiKey"], body["rotationSecret"]
        return r

    def works(self):
        __tracebackhide__ = True
        return Caller(self.server, self.key).me().status_code == 200


@pytest.fixture
def owner(server):
    return create_user(server, "owner")[1]


def check_rotation_answer(r, agent, old_key, old_rot):
    __tracebackhide__ = True
    expect(r, 200)
    body = r.json()
    assert set(body) == ANSWER_FIELDS, sorted(body)
    assert body["message"] == MESSAGE
    assert body["agentId"] == agent.id and body["agentName"] == agent.name
    check_credential(body["apiKey"], "agent")
    check_credential(body["rotationSecret"], "rot")
    check_different(body["apiKey"], old_key, "apiKey")
    check_different(body["rotationSecret"], old_rot, "rotationSecret")


def check_retry_after(r):
    __tracebackhide__ = True
    expect_problem(r, 429)
    value = r.headers.get("Retry-After", "")
    assert value.isdigit(), f"Retry-After {value!r} is not integer seconds"
    assert 0 < int(value) <= 900


# --- the answer and what it changes ---------------------------------------------------------------

def test_self_rotation_answer_and_both_credentials_rotate_together(server, owner):
    agent = Agent(server, owner, "my-research-agent")
    old_key, old_rot = agent.key, agent.rot
    old = Caller(server, old_key)
    expect(old.me(), 200)

    r = agent.rotate()
    check_rotation_answer(r, agent, old_key, old_rot)
    assert r.headers.get("Cache-Control") == "no-store"
    # The old key is dead at once, even on an open connection; the new one works.
    expect_problem(old.me(), 401)
    assert agent.works()
    # The old rotation secret is refused even with the new key.
    expect_problem(self_rotate(server, agent.key, old_rot), 401)
    # The new pair rotates again (third request of this IP's budget).
    first_key, first_rot = agent.key, agent.rot
    check_rotation_answer(agent.rotate(), agent, first_key, first_rot)
    assert agent.works()
    expect_problem(Caller(server, first_key).me(), 401)
    # The new credentials are shown nowhere else.
    check_absent(expect(owner.get(f"/agents/{agent.id}"), 200).text, [agent.key, agent.rot],
                 "agent read")


@pytest.mark.parametrize("body", [
    {}, {"rotationSecret": None}, {"rotationSecret": 5}, {"rotationSecret": ["cfr_rot_x"]},
    {"rotationSecret": {"value": "x"}}, {"rotation_secret": "wrong-spelling"},
], ids=["missing", "null", "number", "list", "object", "snake_case"])
def test_missing_or_non_string_rotation_secret_is_400(server, owner, body):
    agent = Agent(server, owner, "bot")
    if "rotation_secret" in body:
        body = {"rotation_secret": agent.rot}  # the right secret under the wrong name
    expect_problem(self_rotate(server, agent.key, None, body=body), 400, r"rotation_?[Ss]ecret")
    assert agent.works()
    expect(agent.rotate(), 200)  # nothing was spent but one request of the budget


@pytest.mark.parametrize("case", [
    "wrong_rotation_secret", "malformed_rotation_secret", "other_agents_rotation_secret",
    "garbage_bearer", "no_bearer", "rotation_secret_as_bearer", "other_agents_key",
])
def test_bad_credentials_are_401_and_change_nothing(server, owner, case):
    agent = Agent(server, owner, "bot")
    other = Agent(server, owner, "other-bot")
    forged = "cfr_rot_" + agent.rot.split("_")[2] + "_" + "A" * 43 + "_AAAAAA"
    key, rot = {
        "wrong_rotation_secret": (agent.key, forged),
        "malformed_rotation_secret": (agent.key, "not-a-rotation-secret"),
        "other_agents_rotation_secret": (agent.key, other.rot),
        "garbage_bearer": ("garbage", agent.rot),
        "no_bearer": (None, agent.rot),
        "rotation_secret_as_bearer": (agent.rot, agent.rot),
        "other_agents_key": (other.key, agent.rot),
    }[case]
    r = self_rotate(server, key, rot)
    expect_problem(r, 401)
    check_absent(r.text, ["apiKey", "cfr_"])
    # Neither agent was rotated; the real owner of the credentials still can rotate.
    assert agent.works() and other.works()
    expect(agent.rotate(), 200)


def test_user_key_cannot_self_rotate(server, owner):
    agent = Agent(server, owner, "bot")
    r = self_rotate(server, owner.token, agent.rot)
    expect(r, 401, 403)
    assert agent.works()


def test_revoked_agent_gets_403(server, owner):
    agent = Agent(server, owner, "bot")
    expect(owner.delete(f"/agents/{agent.id}"), 204)
    expect_problem(self_rotate(server, agent.key, agent.rot), 403)


# --- the rate limit ----------------------------------------------------------------------------

# Each step is one request to the endpoint from 127.0.0.1; the 4th is always refused.
RATE_SEQUENCES = {
    "three_successes": ["ok", "ok", "ok"],
    "failures_count": ["wrong_secret", "missing_secret", "ok"],
    "unauthenticated_requests_count": ["garbage_bearer", "garbage_bearer", "garbage_bearer"],
    "agents_share_the_ip_budget": ["ok", "other_ok", "other_ok"],
    "revoked_agent_requests_count": ["revoked", "ok", "wrong_secret"],
}
STEP_STATUS = {"ok": 200, "other_ok": 200, "wrong_secret": 401, "missing_secret": 400,
               "garbage_bearer": 401, "revoked": 403}


@pytest.mark.parametrize("sequence", RATE_SEQUENCES.values(), ids=RATE_SEQUENCES.keys())
def test_fourth_request_within_15_minutes_is_429(server, owner, sequence):
    agent = Agent(server, owner, "bot")
    other = Agent(server, owner, "other-bot")
    gone = Agent(server, owner, "gone-bot")
    expect(owner.delete(f"/agents/{gone.id}"), 204)
    for step in sequence:
        r = {
            "ok": agent.rotate,
            "other_ok": other.rotate,
            "wrong_secret": lambda: self_rotate(server, agent.key, other.rot),
            "missing_secret": lambda: self_rotate(server, agent.key, None, body={}),
            "garbage_bearer": lambda: self_rotate(server, "garbage", agent.rot),
            "revoked": lambda: self_rotate(server, gone.key, gone.rot),
        }[step]()
        expect(r, STEP_STATUS[step])

    key_before = agent.key
    r = agent.rotate()
    check_retry_after(r)
    check_absent(r.text, ["apiKey", "cfr_"])
    same = agent.key == key_before
    assert same, "a refused (429) request rotated the key"
    # Still refused; the credentials are unchanged and work everywhere else.
    check_retry_after(agent.rotate())
    assert agent.works() and other.works()
    # Only self-rotation is limited: the owner can still rotate the agent's key.
    expect(owner.post(f"/agents/{agent.id}/rotate-key"), 200)


# --- concurrency --------------------------------------------------------------------------------

def rotate_concurrently(server, agent, headers=None):
    """Two threads self-rotate with the same credentials at the same moment; returns both
    responses."""
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(i):
        barrier.wait()
        results[i] = self_rotate(server, agent.key, agent.rot, headers=headers)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def check_exactly_one_wins(server, agent, results):
    __tracebackhide__ = True
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 401], codes
    winner = next(r for r in results if r.status_code == 200).json()
    expect_problem(Caller(server, agent.key).me(), 401)
    agent.key, agent.rot = winner["apiKey"], winner["rotationSecret"]
    assert agent.works()


def test_two_concurrent_rotations_exactly_one_succeeds(server, owner):
    agent = Agent(server, owner, "bot")
    check_exactly_one_wins(server, agent, rotate_concurrently(server, agent))
    # The winner's credentials are the current ones: they rotate again.
    expect(agent.rotate(), 200)


def test_concurrent_rotations_repeatedly(make_server):
    """Several rounds, each from its own client IP (trusted proxy) so the limit never bites."""
    server = make_server(extra_args=["--trusted-proxies", "127.0.0.1"])
    agent = Agent(server, create_user(server, "owner")[1], "bot")
    for i in range(6):
        results = rotate_concurrently(server, agent, {"X-Forwarded-For": f"203.0.113.{i + 1}"})
        check_exactly_one_wins(server, agent, results)


# --- client IP and X-Forwarded-For ---------------------------------------------------------------

def test_forwarded_for_is_ignored_without_trusted_proxies(server, owner):
    agent = Agent(server, owner, "bot")
    for i in range(3):
        expect(agent.rotate({"X-Forwarded-For": f"203.0.113.{i + 1}"}), 200)
    check_retry_after(agent.rotate({"X-Forwarded-For": "203.0.113.99"}))
    check_retry_after(agent.rotate({"X-Forwarded-For": "198.51.100.1, 203.0.113.98"}))
    # The audit trail records the socket peer.
    ips = {e["client_ip"] for e in audit_rotations(server)}
    assert ips == {"127.0.0.1"}, ips


def audit_rotations(server):
    r = expect(admin_caller(server).get("/audit", params={"action": "agent.self_rotate_key",
                                                           "limit": 100}), 200)
    return r.json()["events"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_trusted_proxy_gives_each_forwarded_client_its_own_budget(make_server, how):
    if how == "flag":
        server = make_server(extra_args=["--trusted-proxies", "127.0.0.1"])
    else:
        server = make_server(env={"COFFER_TRUSTED_PROXIES": "127.0.0.1"})
    agent = Agent(server, create_user(server, "owner")[1], "bot")
    a = {"X-Forwarded-For": "203.0.113.10"}
    b = {"X-Forwarded-For": "203.0.113.20"}

    for _ in range(3):
        expect(agent.rotate(a), 200)
    check_retry_after(agent.rotate(a))
    # Client b has its own budget.
    expect(agent.rotate(b), 200)
    # The client is the right-most address that is not a trusted proxy: a spoofed left-most
    # entry does not escape a's limit ...
    check_retry_after(agent.rotate({"X-Forwarded-For": "198.51.100.7, 203.0.113.10"}))
    # ... and a trusted hop on the right is skipped (this is b's second request).
    expect(agent.rotate({"X-Forwarded-For": "203.0.113.20, 127.0.0.1"}), 200)
    # Without the header the trusted peer itself is the client, with a budget of its own.
    expect(agent.rotate(), 200)
    assert agent.works()
    ips = {e["client_ip"] for e in audit_rotations(server)}
    assert {"203.0.113.10", "203.0.113.20", "127.0.0.1"} <= ips, ips
    assert "198.51.100.7" not in ips
