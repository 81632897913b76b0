"""Fixtures that start the real coffer binary on port 0 in a temp data dir and stop it after."""
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest
import requests

COFFER_BIN = os.environ.get(
    "COFFER_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "coffer"))

KEY_RE = re.compile(r"^\s*(cfr_key_[A-Za-z0-9_]+)\s*$", re.M)
LISTEN_RE = re.compile(r"coffer listening on (http://\S+)")


def init_data_dir(data_dir):
    """Runs `coffer init` and returns the admin API key it printed."""
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    m = KEY_RE.search(out.stdout)
    assert m, "init printed no admin API key"
    return m.group(1)


class Server:
    """A running `coffer server`; use .url, .admin_key, .session(), .stop(), .kill()."""

    def __init__(self, data_dir, admin_key, extra_args=(), env=None):
        self.data_dir = data_dir
        self.admin_key = admin_key
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.url = None
        self.start()

    def start(self):
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(
            [COFFER_BIN, "server", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
             *self.extra_args],
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        deadline = time.time() + 20
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = LISTEN_RE.search(line.decode())
            if m:
                self.url = m.group(1)
                return
        self.kill()
        raise RuntimeError("server did not start: " + self.read_log()[-2000:])

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def session(self, token=None):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + (token or self.admin_key)
        return s

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory(prefix="coffer-test-") as d:
        yield os.path.join(d, "data")


@pytest.fixture
def server(data_dir):
    key = init_data_dir(data_dir)
    srv = Server(data_dir, key)
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    """A requests.Session with the admin key and a base URL helper."""
    s = server.session()
    s.base = server.url
    return s


@pytest.fixture
def vault(api):
    r = api.post(api.base + "/v1/vaults", json={"name": "test-vault"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


class RawResponse:
    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.text = body.decode(errors="replace")

    def json(self):
        import json
        return json.loads(self.text)


def raw_request(base_url, method, target, body=None, headers=None):
    """Sends `target` exactly as given (no dot-segment or percent normalisation)."""
    import http.client
    import json as _json
    host = base_url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=10)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = _json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, target, body=data, headers=hdrs)
    resp = conn.getresponse()
    out = RawResponse(resp.status, requests.structures.CaseInsensitiveDict(resp.getheaders()),
                      resp.read())
    conn.close()
    return out
