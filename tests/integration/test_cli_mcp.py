"""`coffer mcp` driven by the official MCP TypeScript SDK client (tests/mcp, installed with
`npm ci` by scripts/test.sh, or here when it has not been)."""
import os
import shutil
import subprocess

import pytest

from cli_support import EchoUpstream
from conftest import (COFFER_BIN, admin_caller, create_agent, create_vault, expect, grant,
                      put_secret, redact)

MCP_DIR = os.path.join(os.path.dirname(__file__), "..", "mcp")
# The credential of the agent's binding: the tools may use it, never show it.
UPSTREAM_SECRET = "sk-upstream-mcp-Qw71x-credential"


def ensure_sdk():
    if os.path.isdir(os.path.join(MCP_DIR, "node_modules", "@modelcontextprotocol", "sdk")):
        return
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the MCP SDK client (COFFER_WITH_TEST_TOOLS=1 scripts/install-deps.sh installs it)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MCP_DIR,
                   check=True, timeout=600)


def test_mcp_server_through_the_typescript_sdk_client(make_server, tmp_path):
    ensure_sdk()
    # The gateway's tools call a loopback upstream, which the server must be allowed to reach.
    server = make_server(extra_args=["--egress-allow", "127.0.0.1/32"])
    admin = admin_caller(server)
    vault = create_vault(admin, "prod")
    put_secret(admin, vault, "api-keys/openai", value="sk-agent-visible")
    put_secret(admin, vault, "db/password", value="not-for-the-agent", type_="password")
    put_secret(admin, vault, "gateway/echo", value=UPSTREAM_SECRET)
    agent = create_agent(admin, "mcp-bot")
    grant(admin, vault, agent["id"], "api-keys/*", ["read", "list"])
    grant(admin, vault, agent["id"], "gateway/*", ["use"])
    upstream = EchoUpstream()
    try:
        expect(admin.post(f"/agents/{agent['id']}/bindings", json={
            "name": "echo", "binding_type": "http", "config": {"base_url": upstream.url},
            "credential_source": {"type": "vault_ref", "vault_id": vault,
                                  "path": "gateway/echo"}}), 201)
        env = dict(os.environ, COFFER_BIN=os.path.abspath(COFFER_BIN), COFFER_ADDR=server.url,
                   COFFER_TOKEN=server.admin_key, AGENT_TOKEN=agent["api_key"],
                   AGENT_ID=agent["id"], VAULT_NAME="prod", UPSTREAM_URL=upstream.url,
                   UPSTREAM_SECRET=UPSTREAM_SECRET, HOME=str(tmp_path))
        out = subprocess.run(["node", "--test", "--test-reporter=spec", "coffer_mcp.test.mjs"],
                             cwd=MCP_DIR, env=env, capture_output=True, text=True, timeout=300)
    finally:
        upstream.close()
    if out.returncode != 0:
        pytest.fail("MCP SDK tests failed:\n" + redact(out.stdout + out.stderr, 6000))
    # node's own summary: every test ran and passed.
    summary = out.stdout
    if "ℹ fail 0" not in summary or "ℹ pass 14" not in summary:
        pytest.fail("the MCP SDK tests did not all run and pass:\n" + redact(summary[-1500:]))


def test_mcp_bounds_a_message_and_answers_a_last_one_without_newline(server, tmp_path):
    """A message over 8 MiB is discarded up to its newline and answered with a JSON-RPC error
    (id null); the messages after it are answered, the last one even without a newline."""
    import json
    env = dict(os.environ, COFFER_ADDR=server.url, COFFER_TOKEN=server.admin_key,
               HOME=str(tmp_path))
    huge = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping",
                       "params": {"pad": "x" * (9 << 20)}})
    stream = (huge + "\n" + json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}) + "\n" +
              json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
    out = subprocess.run([COFFER_BIN, "mcp"], input=stream.encode(), capture_output=True,
                         env=env, timeout=120)
    assert out.returncode == 0, redact(out.stderr.decode(errors="replace"))
    answers = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(answers) == 3, answers
    assert answers[0]["id"] is None
    assert answers[0]["error"]["code"] == -32600
    assert "larger than 8388608 bytes" in answers[0]["error"]["message"]
    assert answers[1] == {"jsonrpc": "2.0", "id": 2, "result": {}}
    assert answers[2] == {"jsonrpc": "2.0", "id": 3, "result": {}}
    assert b"discarded" in out.stderr
