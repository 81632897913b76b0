"""`coffer mcp` driven by the official MCP TypeScript SDK client (tests/mcp, installed with
`npm ci` by scripts/test.sh, or here when it has not been)."""
import os
import shutil
import subprocess

import pytest

from conftest import COFFER_BIN, create_agent, create_vault, admin_caller, grant, put_secret, redact

MCP_DIR = os.path.join(os.path.dirname(__file__), "..", "mcp")


def ensure_sdk():
    if os.path.isdir(os.path.join(MCP_DIR, "node_modules", "@modelcontextprotocol", "sdk")):
        return
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the MCP SDK client (COFFER_WITH_TEST_TOOLS=1 scripts/install-deps.sh installs it)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MCP_DIR,
                   check=True, timeout=600)


def test_mcp_server_through_the_typescript_sdk_client(server, tmp_path):
    ensure_sdk()
    admin = admin_caller(server)
    vault = create_vault(admin, "prod")
    put_secret(admin, vault, "api-keys/openai", value="sk-agent-visible")
    put_secret(admin, vault, "db/password", value="not-for-the-agent", type_="password")
    agent = create_agent(admin, "mcp-bot")
    grant(admin, vault, agent["id"], "api-keys/*", ["read", "list"])

    env = dict(os.environ, COFFER_BIN=os.path.abspath(COFFER_BIN), COFFER_ADDR=server.url,
               COFFER_TOKEN=server.admin_key, AGENT_TOKEN=agent["api_key"], VAULT_NAME="prod",
               HOME=str(tmp_path))
    out = subprocess.run(["node", "--test", "--test-reporter=spec", "coffer_mcp.test.mjs"],
                         cwd=MCP_DIR, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.fail("MCP SDK tests failed:\n" + redact(out.stdout + out.stderr, 6000))
    # node's own summary: every test ran and passed.
    summary = out.stdout
    if "ℹ fail 0" not in summary or "ℹ pass 7" not in summary:
        pytest.fail("the MCP SDK tests did not all run and pass:\n" + redact(summary[-1500:]))
