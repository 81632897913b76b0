"""Who a request comes from, and what a flood of refused credentials costs.

The client address behind a trusted proxy comes from every X-Forwarded-For line, joined in
order (RFC 9110 §5.3) and walked from the right, so a line the client sends itself does not
choose it. Refused credentials are limited per client address: past the budget (20, then 60 a
minute) the address gets 429 with Retry-After before its credential is looked at, and those
refusals are counted into auth.failed.summary events instead of one audit event each, so a
flood cannot fill the disk while the trail still shows it. Sources are told apart through a
trusted loopback proxy (--trusted-proxies 127.0.0.1 and X-Forwarded-For). The servers here
refill one token a minute, so a slow (sanitizer) run sees the same answers as a fast one.
"""
import http.client
import time

import pytest
import requests

from conftest import admin_caller, expect, expect_problem

BURST = 20  # the default --auth-failure-burst
SLOW_REFILL = ["--auth-failures-per-minute", "1"]


def raw_get(server, target, header_lines):
    """GET with headers sent exactly as listed, repeated names included (requests merges them)."""
    host = server.url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        conn.putrequest("GET", target)
        for name, value in header_lines:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def audit_events(server, **params):
    """Every audit event matching `params`, following pages."""
    admin, events, after = admin_caller(server), [], 0
    while True:
        page = expect(admin.get("/audit", params={**params, "after": after, "limit": 1000}),
                      200).json()
        events += page["events"]
        if page["next_after"] is None:
            return events
        after = page["next_after"]


def refusals_from(server, ip):
    """(auth.failed events, auth.failed.summary events) of client address `ip`."""
    failed = [e for e in audit_events(server, action="auth.failed") if e["client_ip"] == ip]
    summaries = [e for e in audit_events(server, action="auth.failed.summary")
                 if e["client_ip"] == ip]
    return failed, summaries


@pytest.fixture
def proxied(make_server):
    return make_server(extra_args=["--trusted-proxies", "127.0.0.1", *SLOW_REFILL])


# --- the client address -------------------------------------------------------------------------

def test_client_line_sent_before_the_proxy_line_does_not_choose_the_address(proxied):
    # The client sends its own X-Forwarded-For line; the proxy appends a second line with the
    # address it saw. Only the proxy's entry may name the client.
    lines = [("X-Forwarded-For", "198.51.100.66"), ("X-Forwarded-For", "203.0.113.1")]
    status, _ = raw_get(proxied, "/v1/me", lines + [("Authorization", "Bearer x")])
    assert status == 401
    status, _ = raw_get(proxied, "/v1/me",
                        lines + [("Authorization", "Bearer " + proxied.admin_key)])
    assert status == 200
    failed = audit_events(proxied, action="auth.failed")
    assert [e["client_ip"] for e in failed] == ["203.0.113.1"]
    me = audit_events(proxied, action="me.read")
    assert [e["client_ip"] for e in me] == ["203.0.113.1"]
    # Garbage in the proxy's line is not believed: the proxy itself is then the client.
    status, _ = raw_get(proxied, "/v1/me", [("X-Forwarded-For", "203.0.113.1"),
                                            ("X-Forwarded-For", "not-an-address"),
                                            ("Authorization", "Bearer x")])
    assert status == 401
    assert audit_events(proxied, action="auth.failed")[-1]["client_ip"] == "127.0.0.1"


# --- a flood of refused credentials -------------------------------------------------------------

def test_a_flood_of_refused_credentials_is_limited_and_summarised(proxied):
    attacker = {"Authorization": "Bearer x", "X-Forwarded-For": "203.0.113.50"}
    s = requests.Session()  # one keep-alive connection
    statuses, limited = [], None
    for _ in range(200):
        r = s.get(proxied.url + "/v1/vaults", headers=attacker, timeout=30)
        statuses.append(r.status_code)
        if r.status_code == 429 and limited is None:
            limited = r
    # The flooding address is refused even a valid key, so a guesser learns nothing from the
    # answer.
    expect_problem(s.get(proxied.url + "/v1/vaults", timeout=30,
                         headers={"X-Forwarded-For": "203.0.113.50",
                                  "Authorization": "Bearer " + proxied.admin_key}), 429)
    assert statuses[:BURST] == [401] * BURST, statuses[:BURST + 5]
    assert set(statuses) <= {401, 429}, set(statuses)
    assert statuses.count(429) >= 200 - BURST - 1, statuses.count(429)
    body = expect_problem(limited, 429, "too many failed authentications")
    assert "Bearer" not in body["detail"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60

    # Only the refusals within the budget were audited one by one ...
    failed, _ = refusals_from(proxied, "203.0.113.50")
    assert len(failed) == statuses.count(401) <= BURST + 1, len(failed)

    # ... and a summary with the count of the others follows within moments.
    deadline = time.monotonic() + 15
    while True:
        _, summaries = refusals_from(proxied, "203.0.113.50")
        if summaries or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(summaries) == 1, summaries
    summary = summaries[0]
    assert summary["outcome"] == "denied" and summary["status"] == "RESOURCE_EXHAUSTED"
    assert summary["http_status"] == 429 and summary["actor_type"] == "anonymous"
    assert 1 <= summary["count"] <= statuses.count(429) + 1
    assert expect(admin_caller(proxied).get("/audit/verify"), 200).json()["ok"]

    # Another source is unaffected: its refusal is a plain 401, its valid key works; so does the
    # proxy's own address (no header), a source of its own.
    other = {"X-Forwarded-For": "203.0.113.51"}
    expect_problem(s.get(proxied.url + "/v1/vaults", timeout=30,
                         headers={**other, "Authorization": "Bearer x"}), 401)
    expect(s.get(proxied.url + "/v1/vaults", timeout=30,
                 headers={**other, "Authorization": "Bearer " + proxied.admin_key}), 200)
    expect(admin_caller(proxied).get("/vaults"), 200)

    # At shutdown the counts still pending are written: every refusal is accounted for, the
    # valid key's 429 included.
    proxied.stop()
    proxied.start()
    failed, summaries = refusals_from(proxied, "203.0.113.50")
    assert len(failed) + sum(e["count"] for e in summaries) == 201
    assert all(e["count"] == 1 for e in failed)
    assert expect(admin_caller(proxied).get("/audit/verify"), 200).json()["ok"]


def test_token_exchange_and_self_rotation_share_the_budget(proxied):
    s = requests.Session()
    source = {"X-Forwarded-For": "203.0.113.60"}
    statuses = [s.post(proxied.url + "/v1/auth/token", json={"api_key": "nope"}, headers=source,
                       timeout=30).status_code for _ in range(BURST + 5)]
    assert statuses[:BURST] == [401] * BURST and statuses[BURST:] == [429] * 5, statuses
    r = s.post(proxied.url + "/v1/agents/self/rotate-key", json={"rotationSecret": "x"},
               headers={**source, "Authorization": "Bearer x"}, timeout=30)
    expect_problem(r, 429)
    assert int(r.headers["Retry-After"]) >= 1
    tokens = [e for e in audit_events(proxied, action="auth.token")
              if e["client_ip"] == "203.0.113.60"]
    assert len(tokens) == BURST
    assert not [e for e in audit_events(proxied, action="agent.self_rotate_key")
                if e["client_ip"] == "203.0.113.60"]


def test_the_budget_is_an_option_and_its_refusals_are_counted_in_metrics(make_server):
    server = make_server(extra_args=["--trusted-proxies", "127.0.0.1",
                                     "--auth-failure-burst", "2", *SLOW_REFILL])
    s = requests.Session()
    headers = {"Authorization": "Bearer x", "X-Forwarded-For": "203.0.113.70"}
    statuses = [s.get(server.url + "/v1/me", headers=headers, timeout=30).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 429, 429], statuses
    metrics = s.get(server.url + "/metrics", timeout=30).text
    assert 'coffer_rate_limit_refusals_total{limit="auth-failures"} 2' in metrics
