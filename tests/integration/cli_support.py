"""Helpers for the client-command tests: run `coffer <client command>` against a test server with
a private config dir, and check its outcome without printing credentials on failure."""
import http.server
import json
import os
import subprocess
import threading

import pytest

from conftest import COFFER_BIN, redact

# The exit codes documented in `coffer --help` and the README.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_SERVER = 0, 1, 2, 3, 4, 5


class Cli:
    """Runs the coffer client as a user of `server` with `token` (None: no token at all)."""

    def __init__(self, server, token, home):
        self.server = server
        self.token = token
        self.home = home

    def __repr__(self):
        return "<Cli>"

    def env(self, extra=None, with_addr=True, with_token=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
        env["HOME"] = self.home
        env["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        if with_addr:
            env["COFFER_ADDR"] = self.server.url
        if with_token and self.token is not None:
            env["COFFER_TOKEN"] = self.token
        env.update(extra or {})
        return env

    def run(self, *args, input=None, env=None, timeout=60, with_token=True, with_addr=True):
        __tracebackhide__ = True
        return subprocess.run([COFFER_BIN, *args], input=input, capture_output=True, text=True,
                              timeout=timeout,
                              env=self.env(env, with_addr=with_addr, with_token=with_token))

    def ok(self, *args, **kw):
        """Runs and fails the test unless the exit code is 0; returns stdout."""
        __tracebackhide__ = True
        out = self.run(*args, **kw)
        if out.returncode != 0:
            pytest.fail(f"coffer {' '.join(args)} exited {out.returncode}: "
                        f"{redact(out.stderr)}")
        return out.stdout

    def fails(self, code, *args, **kw):
        """Runs and fails the test unless the exit code is `code`; returns the process."""
        __tracebackhide__ = True
        out = self.run(*args, **kw)
        if out.returncode != code:
            pytest.fail(f"coffer {' '.join(args)}: expected exit {code}, got {out.returncode}: "
                        f"stdout={redact(out.stdout, 300)!r} stderr={redact(out.stderr, 300)!r}")
        return out


@pytest.fixture
def cli(server, tmp_path):
    """The admin's coffer client against `server`, with a private HOME/XDG_CONFIG_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(server, server.admin_key, str(home))


def table_rows(text):
    """Splits an aligned table into rows of cells (columns are separated by 2+ spaces)."""
    import re
    lines = [line for line in text.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


class EchoUpstream:
    """A loopback HTTP server answering every request with JSON describing it, the Authorization
    header included (an upstream that echoes the credential), and recording what it saw."""

    def __init__(self):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                record = {"method": self.command, "path": self.path,
                          "authorization": self.headers.get("Authorization", ""),
                          "x_test": self.headers.get("X-Test", ""), "body": body}
                seen.append(record)
                data = json.dumps(record).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
