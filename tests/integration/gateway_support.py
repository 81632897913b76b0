"""Helpers shared by the gateway tests (test_gateway_sdk.py, test_gateway_attacks.py): a world of
one vault, a secret, an agent allowed only to `use` it, and bindings to a loopback fake upstream
(fake_llm.py); binding creation and proxy calls. Nothing here prints a credential."""
import os
import time

import pytest
import requests

from conftest import (Bag, Caller, TransportError, admin_caller, create_agent, create_vault,
                      expect, grant, put_secret, redact)

# The server must be told loopback is a destination on purpose (item 6 of the issue).
LOOPBACK_ALLOW = ["--egress-allow", "127.0.0.1/32"]
REAL_SECRET = "sk-real-upstream-0123456789abcdefABCDEF"
# The kill switch's bound (the issue: within 1 s); a sanitizer build runs several times slower.
KILL_WITHIN_S = 3.0 if os.environ.get("COFFER_SANITIZER") else 1.0


def binding_body(name, base_url, vault, path, config=None, guardrails=None):
    cfg = {"base_url": base_url}
    cfg.update(config or {})
    body = {"name": name, "binding_type": "http", "config": cfg,
            "credential_source": {"type": "vault_ref", "vault_id": vault, "path": path}}
    if guardrails is not None:
        body["guardrails"] = guardrails
    return body


def create_binding(caller, agent_id, name, base_url, vault, path, config=None, guardrails=None,
                   status=201):
    """POSTs a binding; returns the response (checked to be `status` unless it is None)."""
    __tracebackhide__ = True
    r = caller.post(f"/agents/{agent_id}/bindings",
                    json=binding_body(name, base_url, vault, path, config, guardrails))
    return r if status is None else expect(r, status)


def make_world(server, fake, secret=REAL_SECRET, permissions=("use",)):
    """A vault "gw" holding llm/openai = `secret`, agent "gw-bot" granted `permissions` on llm/*,
    and a second agent "other-bot" with the same grant; returns a Bag."""
    __tracebackhide__ = True
    admin = admin_caller(server)
    vault = create_vault(admin, "gw")
    put_secret(admin, vault, "llm/openai", value=secret)
    agent = create_agent(admin, "gw-bot")
    other = create_agent(admin, "other-bot")
    grant(admin, vault, agent["id"], "llm/*", list(permissions))
    grant(admin, vault, other["id"], "llm/*", list(permissions))
    return Bag(server=server, admin=admin, vault=vault, secret=secret, fake=fake,
               agent_id=agent["id"], agent_key=agent["api_key"],
               agent=Caller(server, agent["api_key"]),
               other_id=other["id"], other_key=other["api_key"],
               other=Caller(server, other["api_key"]))


def proxy(server, binding, path, method="GET", key=None, headers=None, via="bearer", **kwargs):
    """A request to /v1/proxy/{binding}/{path} authenticated by agent key `key` in Authorization
    (via="bearer") or x-api-key (via="x-api-key")."""
    __tracebackhide__ = True
    hdrs = dict(headers or {})
    if key is not None:
        if via == "bearer":
            hdrs.setdefault("Authorization", "Bearer " + key)
        else:
            hdrs.setdefault("x-api-key", key)
    kwargs.setdefault("timeout", 30)
    url = f"{server.url}/v1/proxy/{binding}/{path}"
    try:
        return requests.request(method, url, headers=hdrs, allow_redirects=False, **kwargs)
    except requests.RequestException as e:
        raise TransportError(f"{method} proxy {redact(path, 120)}: {type(e).__name__}") from None


def check_never_upstream(fake, needles, what="a Coffer credential"):
    """Fails if any header value, query or body the fake received contains one of `needles`."""
    __tracebackhide__ = True
    for rec in list(fake.requests):
        blobs = list(rec.headers.values()) + [rec.query, rec.body.decode(errors="replace")]
        for i, needle in enumerate(needles):
            if needle and any(needle in b for b in blobs):
                pytest.fail(f"{what} (#{i}) reached the upstream in {rec!r}")


def check_header(rec, name, expected):
    """Fails unless upstream request `rec` carried header `name` = `expected` (a credential form);
    the message names neither value."""
    __tracebackhide__ = True
    if rec.headers.get(name) != expected:
        pytest.fail(f"{rec!r}: {name} is {'another value' if name in rec.headers else 'absent'}, "
                    "not the binding's credential")


def check_no_header(rec, name):
    __tracebackhide__ = True
    if name in rec.headers:
        pytest.fail(f"{rec!r} carried {name}")


def eventually(fetch, done, timeout=5.0):
    """fetch() until done(result) or `timeout` s pass; returns the last result. For what the
    gateway records when a call ends, which may be just after the client has its answer."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)
