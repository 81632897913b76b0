"""The version is written once, in CMakeLists.txt's project(VERSION): `coffer --version`,
`coffer version`, the MCP server's serverInfo, the client's User-Agent and the served OpenAPI
document all say it."""
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from conftest import COFFER_BIN

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"^project\(coffer VERSION ([0-9]+\.[0-9]+\.[0-9]+)\b", f.read(), re.M)
    assert m, "CMakeLists.txt names no project(coffer VERSION …)"
    return m.group(1)


def client_env(tmp_path, addr):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"), COFFER_ADDR=addr,
               COFFER_TOKEN="cfr_key_not_a_real_key")
    return env


def test_version_flag_and_command_print_the_project_version():
    expected = f"coffer {project_version()}\n"
    for args in (["--version"], ["version"]):
        out = subprocess.run([COFFER_BIN, *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == expected and out.stderr == ""


def test_mcp_server_info_carries_the_project_version(tmp_path):
    # Port 9 on loopback: nothing listens, and initialize needs no server.
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "t", "version": "1"}}}
    out = subprocess.run([COFFER_BIN, "mcp"], input=json.dumps(request) + "\n",
                         capture_output=True, text=True, timeout=30,
                         env=client_env(tmp_path, "http://127.0.0.1:9"))
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)["result"]["serverInfo"]
    assert info == {"name": "coffer", "title": "Coffer secrets vault",
                    "version": project_version()}


def test_client_user_agent_carries_the_project_version(tmp_path):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("User-Agent"))
            body = b'{"type":"urn:coffer:problem:unauthenticated","title":"Unauthenticated",' \
                   b'"status":401,"detail":"unknown key"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/problem+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        addr = f"http://127.0.0.1:{httpd.server_address[1]}"
        out = subprocess.run([COFFER_BIN, "whoami"], capture_output=True, text=True, timeout=30,
                             env=client_env(tmp_path, addr))
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
    assert out.returncode != 0  # the stub refuses the key
    assert seen and all(ua == f"coffer-cli/{project_version()}" for ua in seen), seen


def test_served_openapi_document_carries_the_project_version(server):
    # docs/openapi.yaml is a document of its own (linted as it is), so its version is written
    # there too: this keeps it equal to the project's.
    r = requests.get(server.url + "/v1/openapi.yaml", timeout=10)
    assert r.status_code == 200
    m = re.search(r"^info:\n(?:  .*\n)*?  version: (\S+)$", r.text, re.M)
    assert m, "the OpenAPI document has no info.version"
    assert m.group(1) == project_version()
