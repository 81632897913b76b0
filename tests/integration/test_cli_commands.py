"""The coffer client commands (vaults, secrets, agents, policies, audit, login) against a real
server: exit codes, human tables, --json, and that secret values go only where they should."""
import json
import os
import stat
import subprocess

import pytest

from cli_support import (EXIT_AUTH, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_SERVER, EXIT_USAGE, Cli, cli,
                         table_rows)  # noqa: F401  (cli is a fixture)
from conftest import COFFER_BIN, check_absent, check_credential, redact

SECRET = "sk-test-Zq81v3-value"


def test_vaults_create_list_get_delete(cli):
    out = cli.ok("vaults", "create", "prod", "--description", "production keys")
    assert out.startswith("Created vault prod (")
    created = json.loads(cli.ok("vaults", "create", "staging", "--json"))
    assert created["name"] == "staging" and created["id"]

    rows = table_rows(cli.ok("vaults", "list"))
    assert rows[0] == ["NAME", "ID", "DESCRIPTION", "CREATED"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["prod"][2] == "production keys"
    assert by_name["staging"][1] == created["id"]

    listed = json.loads(cli.ok("vaults", "list", "--json"))["vaults"]
    assert {v["name"] for v in listed} == {"prod", "staging"}

    # A vault is named by its name or its id.
    assert json.loads(cli.ok("vaults", "get", "staging", "--json"))["id"] == created["id"]
    assert json.loads(cli.ok("vaults", "get", created["id"], "--json"))["name"] == "staging"

    cli.ok("vaults", "delete", "staging")
    r = cli.fails(EXIT_NOT_FOUND, "vaults", "get", "staging")
    assert "no vault named 'staging'" in r.stderr
    r = cli.fails(EXIT_NOT_FOUND, "vaults", "get", created["id"])
    assert "Not found (HTTP 404)" in r.stderr


def test_secret_put_get_from_stdin_and_file(cli, tmp_path):
    cli.ok("vaults", "create", "prod")
    out = cli.ok("secrets", "put", "prod", "api-keys/openai", "--type", "api_key",
                 "--metadata", '{"team":"ml"}', input=SECRET + "\n")
    assert out.strip() == "Stored api-keys/openai: version 1 (api_key)"
    check_absent(out, [SECRET], "put output")

    # The bare value, exactly (one trailing newline from stdin was dropped).
    assert cli.ok("secrets", "get", "prod", "api-keys/openai") == SECRET
    meta = json.loads(cli.ok("secrets", "get", "prod", "api-keys/openai", "--json"))
    assert meta["value"] == SECRET and meta["metadata"] == {"team": "ml"}
    assert meta["type"] == "api_key" and meta["version"] == 1

    # --value-file keeps the bytes as they are (a PEM ends with a newline).
    pem = "-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----\n"
    f = tmp_path / "key.pem"
    f.write_text(pem)
    cli.ok("secrets", "put", "prod", "tls/key", "--type", "private_key", "--value-file", str(f))
    assert cli.ok("secrets", "get", "prod", "tls/key") == pem


def test_secret_put_never_takes_the_value_from_argv(cli):
    cli.ok("vaults", "create", "prod")
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "x", "--value", SECRET)
    check_absent(r.stdout + r.stderr, [SECRET], "usage error")
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "x", SECRET)
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "x", input="")
    assert "the value is empty" in r.stderr


def test_secret_list_versions_rotate_disable_delete(cli):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "api-keys/openai", "--type", "api_key", input="v1")
    cli.ok("secrets", "put", "prod", "api-keys/openai", "--type", "api_key", input="v2")
    cli.ok("secrets", "put", "prod", "db/password", input="pw")

    rows = table_rows(cli.ok("secrets", "list", "prod"))
    assert rows[0] == ["PATH", "TYPE", "VERSION", "UPDATED", "EXPIRES", "READS"]
    assert {r[0]: r[2] for r in rows[1:]} == {"api-keys/openai": "2", "db/password": "1"}
    only = json.loads(cli.ok("secrets", "list", "prod", "--prefix", "api-keys/", "--json"))
    assert [s["path"] for s in only["secrets"]] == ["api-keys/openai"]
    assert "value" not in json.dumps(only)

    out = cli.ok("secrets", "rotate", "prod", "api-keys/openai", "--length", "40",
                 "--charset", "alphanumeric")
    assert out.strip() == "Rotated api-keys/openai: version 3 (api_key)"
    rotated = cli.ok("secrets", "get", "prod", "api-keys/openai")
    assert len(rotated) == 40 and rotated.isalnum()

    rows = table_rows(cli.ok("secrets", "versions", "prod", "api-keys/openai"))
    assert [r[0] for r in rows[1:]] == ["3", "2", "1"]
    assert all(r[2] == "active" for r in rows[1:])

    assert cli.ok("secrets", "disable", "prod", "api-keys/openai", "3").strip() == \
        "Disabled version 3 of api-keys/openai"
    versions = json.loads(cli.ok("secrets", "versions", "prod", "api-keys/openai", "--json"))
    assert [v["is_disabled"] for v in versions["versions"]] == [True, False, False]
    # The latest readable version is now 2; version 3 itself is gone.
    assert cli.ok("secrets", "get", "prod", "api-keys/openai") == "v2"
    assert cli.ok("secrets", "get", "prod", "api-keys/openai", "--version", "1") == "v1"
    r = cli.fails(EXIT_ERROR, "secrets", "get", "prod", "api-keys/openai", "--version", "3")
    assert r.stderr.startswith("error: Gone (HTTP 410):")

    cli.ok("secrets", "delete", "prod", "db/password")
    r = cli.fails(EXIT_NOT_FOUND, "secrets", "get", "prod", "db/password")
    assert r.stderr.strip() == "error: Not found (HTTP 404): secret not found"


def test_secret_limits_expiry_and_invalid_requests(cli):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "handoff/otp", "--max-access-count", "1", input="once")
    assert cli.ok("secrets", "get", "prod", "handoff/otp") == "once"
    r = cli.fails(EXIT_ERROR, "secrets", "get", "prod", "handoff/otp")
    assert "Gone (HTTP 410)" in r.stderr

    meta = json.loads(cli.ok("secrets", "put", "prod", "soon", "--expires-at",
                             "2999-01-01T00:00:00Z", "--json", input="x"))
    assert meta["expires_at"] == "2999-01-01T00:00:00Z"
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "old", "--expires-at",
                  "2001-01-01T00:00:00Z", input="x")
    assert r.stderr.strip() == "error: Invalid request (HTTP 400): expires_at must be in the future"

    # The server's 400s are usage errors, with the problem's title and detail.
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "bad path", input="x")
    assert r.stderr.startswith("error: Invalid request (HTTP 400):")
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "x", "--type", "nonsense", input="x")
    assert "type" in r.stderr
    r = cli.fails(EXIT_USAGE, "secrets", "put", "prod", "x", "--metadata", "[1]", input="x")
    assert "metadata must be a JSON object" in r.stderr
    cli.fails(EXIT_USAGE, "secrets", "disable", "prod", "x", "zero")
    cli.fails(EXIT_USAGE, "secrets", "get", "prod")  # missing PATH: CLI usage error


def test_exit_codes_for_auth_and_unreachable_server(cli, tmp_path):
    cli.ok("vaults", "create", "prod")
    bad = Cli(cli.server, "cfr_key_notarealkey", cli.home)
    r = bad.fails(EXIT_AUTH, "vaults", "list")
    assert r.stderr.startswith("error: Unauthenticated (HTTP 401):")
    none = Cli(cli.server, None, cli.home)
    r = none.fails(EXIT_AUTH, "vaults", "list")
    assert "coffer login" in r.stderr

    # A refused connection is a server error, naming the address.
    r = cli.fails(EXIT_SERVER, "vaults", "list", "--addr", "http://127.0.0.1:9")
    assert "cannot reach the Coffer server at http://127.0.0.1:9" in r.stderr
    r = cli.fails(EXIT_USAGE, "vaults", "list", "--addr", "ftp://x")
    assert "http://" in r.stderr


def test_agents_and_policies(cli):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "api-keys/openai", input=SECRET)
    cli.ok("secrets", "put", "prod", "db/password", input="pw")

    out = cli.ok("agents", "create", "research-bot", "--description", "nightly digest", "--json")
    created = json.loads(out)
    check_credential(created["api_key"], "agent")
    check_credential(created["rotation_secret"], "rot")
    human = cli.ok("agents", "create", "other-bot")
    assert "API key:" in human and "rotation secret:" in human

    rows = table_rows(cli.ok("agents", "list"))
    assert rows[0] == ["NAME", "ID", "STATE", "DESCRIPTION", "CREATED"]
    assert {r[0] for r in rows[1:]} == {"research-bot", "other-bot"}
    got = json.loads(cli.ok("agents", "get", "research-bot", "--json"))
    assert got["id"] == created["id"] and "api_key" not in got

    agent = Cli(cli.server, created["api_key"], cli.home)
    vault_id = json.loads(cli.ok("vaults", "get", "prod", "--json"))["id"]
    # No policy: the vault is invisible by name, and its id gets 403.
    agent.fails(EXIT_NOT_FOUND, "secrets", "get", "prod", "api-keys/openai")
    r = agent.fails(EXIT_AUTH, "secrets", "get", vault_id, "api-keys/openai")
    assert r.stderr.startswith("error: Permission denied (HTTP 403):")

    out = cli.ok("policies", "add", "prod", "--agent", "research-bot", "--path", "api-keys/*",
                 "--allow", "read,list")
    assert out.startswith("Added policy ")
    policies = json.loads(cli.ok("policies", "list", "prod", "--json"))["policies"]
    assert len(policies) == 1 and policies[0]["permissions"] == ["read", "list"]
    rows = table_rows(cli.ok("policies", "list", "prod"))
    assert rows[1][1:4] == ["agent", created["id"], "api-keys/*"]

    assert agent.ok("secrets", "get", "prod", "api-keys/openai") == SECRET
    agent.fails(EXIT_AUTH, "secrets", "get", "prod", "db/password")
    assert json.loads(agent.ok("whoami", "--json"))["type"] == "agent"

    cli.ok("policies", "remove", "prod", policies[0]["id"])
    agent.fails(EXIT_AUTH, "secrets", "get", vault_id, "api-keys/openai")
    cli.fails(EXIT_NOT_FOUND, "policies", "remove", "prod", policies[0]["id"])

    # rotate-key: the old key stops working, the new one works.
    rotated = json.loads(cli.ok("agents", "rotate-key", created["id"], "--json"))
    check_credential(rotated["api_key"], "agent")
    agent.fails(EXIT_AUTH, "whoami")
    me = json.loads(Cli(cli.server, rotated["api_key"], cli.home).ok("whoami", "--json"))
    assert me["name"] == "research-bot"

    cli.ok("agents", "revoke", "research-bot")
    Cli(cli.server, rotated["api_key"], cli.home).fails(EXIT_AUTH, "whoami")
    assert json.loads(cli.ok("agents", "get", created["id"], "--json"))["is_revoked"] is True
    cli.fails(EXIT_NOT_FOUND, "agents", "get", "no-such-bot")


def test_audit_list_and_verify(cli):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "api-keys/openai", input=SECRET)
    cli.ok("secrets", "get", "prod", "api-keys/openai")

    page = json.loads(cli.ok("audit", "list", "--vault", "prod", "--json"))
    actions = [e["action"] for e in page["events"]]
    assert "secret.write" in actions and "secret.read" in actions
    check_absent(json.dumps(page), [SECRET, cli.token], "audit output")

    rows = table_rows(cli.ok("audit", "list", "--action", "secret.read"))
    assert rows[0] == ["SEQ", "AT", "ACTOR", "ACTION", "VAULT", "PATH", "VERSION", "OUTCOME",
                       "HTTP"]
    assert rows[1][3] == "secret.read" and rows[1][5] == "api-keys/openai"
    assert rows[1][-2:] == ["success", "200"]

    limited = json.loads(cli.ok("audit", "list", "--limit", "2", "--json"))
    assert len(limited["events"]) == 2 and limited["next_after"] == limited["events"][-1]["seq"]
    everything = json.loads(cli.ok("audit", "list", "--limit", "2", "--all", "--json"))
    assert len(everything["events"]) > 2

    out = cli.ok("audit", "verify")
    assert out.startswith("Audit chain intact: ")
    v = json.loads(cli.ok("audit", "verify", "--json"))
    assert v["ok"] is True and v["events_checked"] > 0


def test_login_saves_the_token_with_mode_0600(cli):
    r = cli.run("login", input=cli.token + "\n", with_token=False)
    assert r.returncode == 0, redact(r.stderr)
    assert "Logged in to " + cli.server.url + " as user admin (admin)" in r.stdout
    check_absent(r.stdout + r.stderr, [cli.token], "login output")
    path = os.path.join(cli.home, ".config", "coffer", "config.toml")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700

    # Neither COFFER_ADDR nor COFFER_TOKEN now: both come from the file.
    out = cli.ok("whoami", with_token=False, with_addr=False)
    assert out.splitlines()[1].split()[1] == "admin"

    # A bad key is refused and does not replace the saved one.
    r = cli.run("login", input="cfr_key_wrong\n", with_token=False)
    assert r.returncode == EXIT_AUTH
    cli.ok("whoami", with_token=False, with_addr=False)

    cli.ok("logout")
    cli.fails(EXIT_AUTH, "whoami", with_token=False, with_addr=False)


def test_a_config_file_others_can_read_or_change_is_refused(cli):
    """A saved token in a file other users can read is refused, like a root key file; a file
    others can change (they would choose the server the token goes to) is refused even without
    a token."""
    r = cli.run("login", input=cli.token + "\n", with_token=False)
    assert r.returncode == 0, redact(r.stderr)
    path = os.path.join(cli.home, ".config", "coffer", "config.toml")
    for mode in (0o644, 0o640, 0o604, 0o660):
        os.chmod(path, mode)
        r = cli.run("whoami", with_token=False, with_addr=False)
        assert r.returncode == EXIT_ERROR, (oct(mode), redact(r.stderr))
        assert f"config file {path} may be" in r.stderr and f"(mode {mode:04o})" in r.stderr
        assert f"chmod 600 {path}" in r.stderr
        check_absent(r.stdout + r.stderr, [cli.token], "whoami output")
    os.chmod(path, 0o600)
    cli.ok("whoami", with_token=False, with_addr=False)

    cli.ok("logout")  # the file keeps the address only
    os.chmod(path, 0o644)
    cli.ok("whoami")  # readable, no token in it: nothing to protect
    os.chmod(path, 0o646)
    r = cli.run("whoami")
    assert r.returncode == EXIT_ERROR and "may be read and changed by other users" in r.stderr


def test_every_command_has_help_with_an_example():
    groups = {"vaults": ["create", "list", "get", "delete", "retention"],
              "secrets": ["put", "get", "list", "delete", "versions", "rotate", "disable",
                          "alias", "unalias", "promote", "rollback", "destroy"],
              "agents": ["create", "list", "get", "revoke", "rotate-key"],
              "policies": ["add", "list", "remove"],
              "audit": ["list", "verify"],
              "operator": ["unseal", "seal-status", "seal"]}
    commands = [[g, c] for g, cs in groups.items() for c in cs] + [[g] for g in groups]
    commands += [["login"], ["logout"], ["whoami"], ["run"], ["mcp"]]
    for cmd in commands:
        out = subprocess.run([COFFER_BIN, *cmd, "--help"], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, cmd
        assert "Example" in out.stdout, cmd
    top = subprocess.run([COFFER_BIN, "--help"], capture_output=True, text=True, timeout=30)
    assert "3  authentication or permission" in top.stdout
    assert "4  not found" in top.stdout


def test_tls_is_verified_and_ca_cert_trusts_a_private_ca(cli, tmp_path):
    """A stand-in HTTPS server with a self-signed certificate: refused without --ca-cert,
    accepted with it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    script = tmp_path / "tls_server.py"
    script.write_text(
        "import http.server, json, ssl, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = json.dumps({'type': 'user', 'id': 'u1', 'name': 'tls-user',"
        " 'is_admin': False}).encode()\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Type', 'application/json')\n"
        "        self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        "srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
        "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
        "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
        "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
        "print(srv.server_address[1], flush=True)\n"
        "srv.serve_forever()\n")
    proc = subprocess.Popen(["/usr/bin/python3", str(script), str(cert), str(key)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        addr = f"https://127.0.0.1:{port}"
        r = cli.fails(EXIT_SERVER, "whoami", "--addr", addr)
        assert "TLS" in r.stderr and "--ca-cert" in r.stderr
        out = cli.ok("whoami", "--addr", addr, "--ca-cert", str(cert))
        assert "tls-user" in out
    finally:
        proc.kill()
        proc.wait()
