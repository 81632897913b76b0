"""Real clients through the transparent proxy (/v1/proxy/{binding}/...): the official OpenAI and
Anthropic Node SDKs (tests/gateway, installed with `npm ci` by scripts/test.sh, or here when it has
not been) and curl, against a loopback fake upstream (fake_llm.py). The agent holds only its own
Coffer key and `use` on the secret; the upstream must see the real credential and never the
agent's key."""
import os
import shutil
import subprocess

import pytest

from conftest import redact
from fake_llm import FakeLLM
from gateway_support import (LOOPBACK_ALLOW, check_header, check_never_upstream, check_no_header,
                             create_binding, eventually, make_world, proxy)

GATEWAY_DIR = os.path.join(os.path.dirname(__file__), "..", "gateway")
STREAM_DELAY_MS = 500


def ensure_sdks():
    if (os.path.isdir(os.path.join(GATEWAY_DIR, "node_modules", "openai")) and
            os.path.isdir(os.path.join(GATEWAY_DIR, "node_modules", "@anthropic-ai", "sdk"))):
        return
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the SDK clients "
                    "(COFFER_WITH_TEST_TOOLS=1 scripts/install-deps.sh installs it)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=GATEWAY_DIR,
                   check=True, timeout=600)


@pytest.fixture
def fake():
    with FakeLLM(stream_delay=STREAM_DELAY_MS / 1000) as f:
        yield f


@pytest.fixture
def world(make_server, fake):
    server = make_server(extra_args=LOOPBACK_ALLOW)
    w = make_world(server, fake)
    create_binding(w.admin, w.agent_id, "openai", fake.url, w.vault, "llm/openai")
    create_binding(w.admin, w.agent_id, "anthropic", fake.url, w.vault, "llm/openai",
                   config={"auth_type": "header", "auth_header": "x-api-key"})
    return w


def test_openai_and_anthropic_sdks_through_the_proxy(world, tmp_path):
    ensure_sdks()
    fake = world.fake
    env = dict(os.environ, COFFER_ADDR=world.server.url, AGENT_KEY=world.agent_key,
               OPENAI_BINDING="openai", ANTHROPIC_BINDING="anthropic",
               STREAM_DELAY_MS=str(STREAM_DELAY_MS), HOME=str(tmp_path))
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                "ANTHROPIC_AUTH_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(var, None)
    out = subprocess.run(["node", "--test", "--test-reporter=spec", "gateway_sdk.test.mjs"],
                         cwd=GATEWAY_DIR, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.fail("gateway SDK tests failed:\n" + redact(out.stdout + out.stderr, 6000))
    summary = out.stdout
    if "ℹ fail 0" not in summary or "ℹ pass 6" not in summary:
        pytest.fail("the gateway SDK tests did not all run and pass:\n" + redact(summary[-1500:]))

    # What the upstream saw: the real credential, each in the binding's form, never the agent's.
    chats = fake.calls("/v1/chat/completions")
    assert len(chats) == 2, [c.path for c in chats]
    for rec in chats + fake.calls("/v1/models"):
        check_header(rec, "authorization", "Bearer " + world.secret)
        check_no_header(rec, "x-api-key")
    messages = fake.calls("/v1/messages")
    assert len(messages) == 1
    check_header(messages[0], "x-api-key", world.secret)
    check_no_header(messages[0], "authorization")
    check_never_upstream(fake, [world.agent_key, world.server.admin_key])
    # The refused calls (wrong key, unknown binding) never reached the upstream.
    assert len(fake.requests) == 4, [r.path for r in fake.requests]


def test_curl_through_the_proxy(world):
    """curl with the agent's key (given on stdin, never argv): a GET and a streamed POST."""
    fake = world.fake
    config = f'header = "Authorization: Bearer {world.agent_key}"\n'
    url = f"{world.server.url}/v1/proxy/openai/v1/models"
    out = subprocess.run(["curl", "-sS", "-K", "-", "-w", "\\n%{http_code}", url], input=config,
                         capture_output=True, text=True, timeout=60)
    body, _, code = out.stdout.rpartition("\n")
    assert out.returncode == 0 and code == "200", redact(out.stderr + out.stdout)
    assert '"gpt-fake"' in body

    url = f"{world.server.url}/v1/proxy/openai/v1/chat/completions"
    out = subprocess.run(["curl", "-sS", "-N", "-K", "-", "-H", "Content-Type: application/json",
                          "-d", '{"model":"gpt-fake","stream":true,"messages":[]}', url],
                         input=config, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    events = [line for line in out.stdout.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert len(events) == 7, len(events)
    for rec in fake.calls("/v1/"):
        check_header(rec, "authorization", "Bearer " + world.secret)
    check_never_upstream(fake, [world.agent_key])


def test_x_api_key_auth_and_query_kept(world):
    """The agent's key in x-api-key (what the Anthropic SDK sends) is accepted, removed, and the
    binding's credential attached; the query string travels as received."""
    fake = world.fake
    r = proxy(world.server, "openai", "v1/anything?limit=3&after=a%2Fb", key=world.agent_key,
              via="x-api-key")
    assert r.status_code == 200, redact(r.text)
    rec = fake.calls("/v1/anything")[0]
    assert rec.query == "limit=3&after=a%2Fb"
    check_header(rec, "authorization", "Bearer " + world.secret)
    check_no_header(rec, "x-api-key")
    check_never_upstream(fake, [world.agent_key])


def test_jwt_auth_and_request_bodies(world):
    """The agent's JWT (from POST /auth/token) authenticates like its key; a request body reaches
    the upstream whole, and one over the binding's max_request_bytes is refused before it goes."""
    from conftest import exchange
    fake = world.fake
    jwt = exchange(world.server, world.agent_key)
    r = proxy(world.server, "openai", "v1/models", key=jwt)
    assert r.status_code == 200, redact(r.text)
    body = bytes(range(256)) * 2048  # 512 KiB, every byte value
    r = proxy(world.server, "openai", "v1/upload", method="POST", key=world.agent_key, data=body,
              headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, redact(r.text)
    assert r.json()["body_bytes"] == len(body)
    assert fake.calls("/v1/upload")[0].body == body
    create_binding(world.admin, world.agent_id, "small", fake.url, world.vault, "llm/openai",
                   guardrails={"max_request_bytes": 1024})
    r = proxy(world.server, "small", "v1/upload2", method="POST", key=world.agent_key,
              data=b"x" * 4096)
    assert r.status_code in (400, 403, 413), r.status_code
    assert fake.calls("/v1/upload2") == []
    check_never_upstream(fake, [world.agent_key, jwt])


def test_each_use_is_audited_without_the_credential(world):
    from conftest import audit_pages, check_absent
    r = proxy(world.server, "openai", "v1/models?limit=2", key=world.agent_key)
    assert r.status_code == 200
    # The record is written when the call ends, which may be just after the client has its answer.
    events, texts = eventually(lambda: audit_pages(world.admin),
                               lambda got: any(e.get("action") == "binding.use" for e in got[0]))
    uses = [e for e in events if e.get("action") == "binding.use"]
    assert len(uses) == 1, sorted({e.get("action") for e in events})
    use = uses[0]
    details = use.get("details") or {}
    assert details.get("binding") == "openai" and details.get("method") == "GET"
    assert details.get("upstream_path") == "/v1/models", details.get("upstream_path")
    assert details.get("upstream_status") == 200 and details.get("mode") == "proxy"
    assert use.get("path") == "llm/openai" and use.get("vault_id") == world.vault
    for text in texts:
        check_absent(text, [world.secret, world.agent_key], "audit log")
