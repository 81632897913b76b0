"""The agent gateway against the real binary, with a loopback upstream (the server runs with
--egress-allow 127.0.0.1/32): binding CRUD and who may make one, server-side execution with the
credential attached and its echo redacted, the transparent proxy streaming server-sent events as
the upstream sends them, 429 with Retry-After past a binding's rate, an agent deactivated
mid-stream cut off within a second, an agent with `use` alone refused the value but able to
call through its binding, and a chunked upload passed on while the agent still sends it (413 past
the binding's max_request_bytes)."""
import http.client
import http.server
import json
import threading
import time
import urllib.parse

import pytest

from conftest import (Caller, Server, create_agent, create_user, create_vault, expect,
                      expect_problem, grant, init_data_dir, put_secret)
from fake_llm import read_chunked
from gateway_support import eventually

VALUE = "sk-gateway-test-7d1f0c9e4b2a"  # the credential: must never reach the agent


class Upstream:
    """A loopback HTTP upstream (port 0). /echo answers JSON naming what it got (the
    Authorization header included, so redaction shows); /sse streams events, each after the
    test allows it; /hang sends one event then waits until released."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.step = threading.Semaphore(0)
        self.first_upload_bytes = threading.Event()  # a chunked upload's first chunk came
        self.upload_arrivals = []  # (monotonic time, bytes so far) per chunk of an upload
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _record(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = read_chunked(self.rfile, outer.upload_arrived)
                else:
                    n = int(self.headers.get("Content-Length", "0") or "0")
                    body = self.rfile.read(n) if n else b""
                with outer.lock:
                    outer.requests.append((self.command, self.path,
                                           {k.lower(): v for k, v in self.headers.items()},
                                           body))
                return body

            def _answer(self):
                body = self._record()
                if self.path.startswith("/v1/sse"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Set-Cookie", "session=upstream")
                    self.end_headers()
                    for i in range(3):
                        if i > 0 and not outer.step.acquire(timeout=10):
                            return
                        self.wfile.write(f"data: event {i}\n\n".encode())
                        self.wfile.flush()
                    return
                if self.path.startswith("/v1/hang"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(b"data: first\n\n")
                    self.wfile.flush()
                    outer.release.wait(timeout=15)
                    return
                answer = json.dumps({
                    "method": self.command, "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "x_api_key": self.headers.get("x-api-key"),
                    "x_fixed": self.headers.get("x-fixed"),
                    "body": body.decode(errors="replace"),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Set-Cookie", "session=upstream")
                self.send_header("X-Echo", self.headers.get("Authorization") or "")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815

            def do_HEAD(self):  # noqa: N802
                self._record()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def upload_arrived(self, so_far):
        with self.lock:
            self.upload_arrivals.append((time.monotonic(), so_far))
        self.first_upload_bytes.set()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


@pytest.fixture
def gw(data_dir, store):
    srv = Server(data_dir, init_data_dir(data_dir, store), store=store,
                 extra_args=["--egress-allow", "127.0.0.1/32"])
    yield srv
    srv.stop()


class Setup:
    """A user owning a vault with the credential at openai/key, an agent of theirs with `use`
    on it, and a binding `openai` to the upstream."""

    def __init__(self, server, upstream, permissions=("use",), guardrails=None, config=None):
        self.server = server
        self.user, self.owner = create_user(server, "owner")
        self.vault = create_vault(self.owner, "gw")
        put_secret(self.owner, self.vault, "openai/key", VALUE)
        body = create_agent(self.owner, "bot")
        self.agent_id = body["agent"]["id"] if "agent" in body else body["id"]
        self.agent_key = body["api_key"]
        self.agent = Caller(server, self.agent_key)
        grant(self.owner, self.vault, self.agent_id, "openai/*", permissions)
        cfg = {"base_url": upstream.base_url, "headers": {"X-Fixed": "yes"}}
        cfg.update(config or {})
        r = self.owner.post(f"/agents/{self.agent_id}/bindings", json={
            "name": "openai", "binding_type": "http", "config": cfg,
            "guardrails": guardrails or {},
            "credential_source": {"type": "vault_ref", "vault_id": self.vault,
                                  "path": "openai/key"}})
        self.binding = expect(r, 201).json()


def proxy_url(server, rest):
    return f"{server.url}/v1/proxy/{rest}"


def test_bindings_crud_and_who_may_make_one(gw, upstream):
    s = Setup(gw, upstream)
    b = s.binding
    assert b["name"] == "openai" and b["is_active"] is True
    assert b["credential_source_type"] == "vault_ref" and b["credential_set"] is True
    assert b["credential_vault_id"] == s.vault and b["credential_path"] == "openai/key"
    assert b["config"]["auth_type"] == "bearer" and b["config"]["base_url"] == upstream.base_url
    assert b["guardrails"]["max_requests_per_minute"] == 60
    assert VALUE not in json.dumps(b)

    # The agent lists and reads its own (by "self" too), never creates or changes.
    listed = expect(s.agent.get("/agents/self/bindings"), 200).json()["bindings"]
    assert [x["id"] for x in listed] == [b["id"]]
    expect(s.agent.get(f"/agents/{s.agent_id}/bindings/{b['id']}"), 200)
    expect_problem(s.agent.post(f"/agents/{s.agent_id}/bindings", json={
        "name": "x", "binding_type": "http", "config": {"base_url": upstream.base_url},
        "credential_source": {"type": "vault_ref", "vault_id": s.vault, "path": "openai/key"}}),
        403)
    expect_problem(s.agent.request("PATCH", f"/agents/{s.agent_id}/bindings/{b['id']}",
                                   json={"is_active": False}), 403)

    # A user who may not read the secret may not bind it.
    _, other = create_user(gw, "other")
    expect_problem(other.post(f"/agents/{s.agent_id}/bindings", json={
        "name": "steal", "binding_type": "http", "config": {"base_url": upstream.base_url},
        "credential_source": {"type": "vault_ref", "vault_id": s.vault, "path": "openai/key"}}),
        403)
    expect_problem(other.get(f"/agents/{s.agent_id}/bindings"), 404)

    # Refusals name the field.
    base = {"name": "b2", "binding_type": "http", "credential_source": {
        "type": "vault_ref", "vault_id": s.vault, "path": "openai/key"}}
    cases = [
        ({**base, "config": {"base_url": "http://10.1.2.3"}}, "config.base_url"),
        ({**base, "config": {"base_url": "ftp://x.example.com"}}, "config.base_url"),
        ({**base, "config": {"base_url": upstream.base_url, "auth_type": "magic"}},
         "config.auth_type"),
        ({**base, "config": {"base_url": upstream.base_url},
          "guardrails": {"max_duration_ms": 5}}, "guardrails.max_duration_ms"),
        ({**base, "config": {"base_url": upstream.base_url}, "credential": {"api_key": "x"}},
         "credential_source"),
        ({**base, "name": "openai", "config": {"base_url": upstream.base_url}}, None),
    ]
    for body, field in cases:
        r = s.owner.post(f"/agents/{s.agent_id}/bindings", json=body)
        if field is None:
            expect_problem(r, 409)
        else:
            expect_problem(r, 400, field)

    # PATCH, then DELETE.
    r = s.owner.request("PATCH", f"/agents/{s.agent_id}/bindings/{b['id']}",
                        json={"guardrails": {"allowed_methods": ["GET"]}})
    assert expect(r, 200).json()["guardrails"]["allowed_methods"] == ["GET"]
    t = expect(s.owner.post(f"/agents/{s.agent_id}/bindings/{b['id']}/test",
                            json={"timeout_ms": 2000}), 200).json()
    assert t["success"] is True and t["error"] is None
    expect(s.owner.delete(f"/agents/{s.agent_id}/bindings/{b['id']}"), 204)
    expect_problem(s.owner.get(f"/agents/{s.agent_id}/bindings/{b['id']}"), 404)


def test_execute_attaches_the_credential_and_redacts_its_echo(gw, upstream):
    s = Setup(gw, upstream)
    # `use` alone: the value is refused...
    expect_problem(s.agent.get(f"/vaults/{s.vault}/secrets/openai/key"), 403)
    # ...but the binding works.
    r = s.agent.post(f"/agents/{s.agent_id}/execute", json={
        "binding": "openai", "intent_type": "http",
        "params": {"method": "POST", "path": "/v1/chat/completions", "query": {"a": "1 2"},
                   "headers": {"Authorization": "Bearer smuggled", "X-Extra": "ok"},
                   "body": {"model": "m"}}})
    body = expect(r, 200).json()
    assert VALUE not in r.text
    assert body["status"] == "success" and body["execution_surface"] == "vault"
    result = body["result"]
    assert result["status_code"] == 200
    assert result["json"]["authorization"] == "Bearer [REDACTED]"
    assert result["json"]["path"] == "/v1/chat/completions?a=1%202"
    assert result["json"]["x_fixed"] == "yes"
    assert json.loads(result["json"]["body"]) == {"model": "m"}
    assert "set-cookie" not in result["headers"] and "x-echo" not in result["headers"]
    assert body["redactions_applied"] >= 1
    # The upstream got the real credential, not the agent's.
    method, path, headers, _ = upstream.requests[-1]
    assert headers["authorization"] == "Bearer " + VALUE
    assert headers["x-extra"] == "ok"
    assert method == "POST"

    events = expect(s.agent.get(f"/agents/{s.agent_id}/executions"), 200).json()["events"]
    assert events[0]["id"] == body["execution_id"]
    assert events[0]["status"] == "success" and events[0]["execution_mode"] == "vault"
    assert events[0]["request_summary"]["method"] == "POST"
    assert events[0]["request_summary"]["path"] == "/v1/chat/completions"
    assert events[0]["result_summary"]["status_code"] == 200
    assert VALUE not in json.dumps(events)

    # Guardrails: path and method.
    r = s.owner.request("PATCH", f"/agents/{s.agent_id}/bindings/{s.binding['id']}",
                        json={"guardrails": {"allowed_paths": ["v1/chat/*"],
                                             "allowed_methods": ["POST"]}})
    expect(r, 200)
    for params in ({"method": "GET", "path": "v1/chat/completions"},
                   {"method": "POST", "path": "v1/admin"},
                   {"method": "POST", "path": "v1/chat/../admin"}):
        r = s.agent.post(f"/agents/{s.agent_id}/execute",
                         json={"binding": "openai", "intent_type": "http", "params": params})
        assert r.status_code in (400, 403), r.text
    expect_problem(s.agent.post(f"/agents/{s.agent_id}/execute", json={
        "binding": "nope", "intent_type": "http", "params": {"path": "v1"}}), 404)
    expect_problem(s.owner.post(f"/agents/{s.agent_id}/execute", json={
        "binding": "openai", "intent_type": "http", "params": {"path": "v1"}}), 403)


def test_proxy_streams_events_as_they_come_and_takes_x_api_key(gw, upstream):
    s = Setup(gw, upstream)
    # x-api-key, as the Anthropic SDK sends it; the agent's key never reaches the upstream.
    r = Caller(gw).http.post(proxy_url(gw, "openai/v1/echo?x=1"),
                             headers={"x-api-key": s.agent_key}, json={"q": 1}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["authorization"] == "Bearer [REDACTED]"
    assert r.json()["x_api_key"] is None and r.json()["path"] == "/v1/echo?x=1"
    assert "set-cookie" not in r.headers
    assert VALUE not in r.text and s.agent_key not in r.text

    # Server-sent events: each one arrives before the upstream is allowed to send the next.
    parsed = urllib.parse.urlsplit(gw.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    conn.request("POST", "/v1/proxy/openai/v1/sse", body=b"{}",
                 headers={"Authorization": "Bearer " + s.agent_key,
                          "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    got = b""
    for i in range(3):
        while f"data: event {i}".encode() not in got:
            chunk = resp.read1(65536)
            assert chunk, f"the stream ended before event {i}"
            got += chunk
        upstream.step.release()
    rest = resp.read()
    assert b"event" not in rest
    conn.close()

    # Unknown binding, a user's key.
    expect_problem(Caller(gw, s.agent_key).http.get(
        proxy_url(gw, "missing/v1/x"), headers={"Authorization": "Bearer " + s.agent_key}), 404)
    r = Caller(gw).http.get(proxy_url(gw, "openai/v1/x"),
                            headers={"Authorization": "Bearer " + gw.admin_key})
    assert r.status_code == 403


def test_a_spent_rate_is_429_with_retry_after(gw, upstream):
    s = Setup(gw, upstream, guardrails={"max_requests_per_minute": 2})
    headers = {"Authorization": "Bearer " + s.agent_key}
    for _ in range(2):
        assert Caller(gw).http.get(proxy_url(gw, "openai/v1/echo"), headers=headers,
                                   timeout=30).status_code == 200
    r = Caller(gw).http.get(proxy_url(gw, "openai/v1/echo"), headers=headers, timeout=30)
    assert r.status_code == 429, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["type"] == "urn:coffer:problem:rate-limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    events = expect(s.agent.get("/agents/self/executions"), 200).json()["events"]
    assert events[0]["status"] == "denied"


def test_deactivating_the_agent_stops_a_call_in_flight_within_a_second(gw, upstream):
    s = Setup(gw, upstream)
    parsed = urllib.parse.urlsplit(gw.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    conn.request("GET", "/v1/proxy/openai/v1/hang",
                 headers={"Authorization": "Bearer " + s.agent_key})
    resp = conn.getresponse()
    assert resp.status == 200
    got = b""
    while b"data: first" not in got:
        chunk = resp.read1(65536)
        assert chunk
        got += chunk
    expect(s.owner.request("PATCH", f"/agents/{s.agent_id}", json={"is_active": False}), 200)
    start = time.monotonic()
    try:
        while resp.read1(65536):
            pass
    except (http.client.IncompleteRead, ConnectionError):
        pass
    assert time.monotonic() - start < 1.0
    conn.close()
    # And new calls are refused.
    r = Caller(gw).http.get(proxy_url(gw, "openai/v1/echo"),
                            headers={"Authorization": "Bearer " + s.agent_key}, timeout=30)
    assert r.status_code in (401, 403)


def send_chunked_upload(server, key, path, first, rest_chunks, before_rest=None):
    """Sends a chunked POST by hand: its header and `first` chunk, then (after `before_rest()`)
    the other chunks and the end. Returns (status, headers, body) of the answer."""
    import socket
    parsed = urllib.parse.urlsplit(server.url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=15)
    try:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: coffer\r\n"
                      f"Authorization: Bearer {key}\r\n"
                      "Content-Type: application/octet-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n").encode())
        sock.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        if before_rest is not None:
            before_rest()
        try:
            for chunk in rest_chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (and stopped reading) before the end
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        sock.close()


def test_a_chunked_upload_reaches_the_upstream_while_the_agent_still_sends_it(gw, upstream):
    s = Setup(gw, upstream)
    first = b"a" * 65536
    rest = [b"b" * 65536, b"c" * 65536]
    sent_rest_at = []

    def wait_for_upstream():
        # The upstream has the first chunk before the agent has sent the rest.
        assert upstream.first_upload_bytes.wait(10), "the upstream never saw the first chunk"
        sent_rest_at.append(time.monotonic())

    status, _, body = send_chunked_upload(gw, s.agent_key, "/v1/proxy/openai/v1/upload", first,
                                          rest, before_rest=wait_for_upstream)
    assert status == 200, body
    echoed = json.loads(body)
    assert echoed["body"] == (first + b"".join(rest)).decode()
    assert echoed["authorization"] == "Bearer [REDACTED]"
    with upstream.lock:
        arrivals = list(upstream.upload_arrivals)
    assert arrivals[0][0] < sent_rest_at[0] and arrivals[0][1] > 0, arrivals[:2]
    assert arrivals[-1][1] == len(first) + sum(len(c) for c in rest)
    # The record is written when the call ends, which may be just after the answer went out.
    total = len(first) + sum(len(c) for c in rest)
    events = eventually(lambda: expect(s.agent.get("/agents/self/executions"), 200).json(),
                        lambda got: bool(got["events"]))["events"]
    assert events[0]["request_summary"]["request_bytes"] == total


def test_a_streamed_upload_past_max_request_bytes_is_413(gw, upstream):
    s = Setup(gw, upstream, guardrails={"max_request_bytes": 1024})
    status, headers, body = send_chunked_upload(gw, s.agent_key, "/v1/proxy/openai/v1/upload",
                                                b"x" * 512, [b"y" * 1024, b"z" * 1024])
    assert status == 413, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert json.loads(body)["type"] == "urn:coffer:problem:payload-too-large"
    # A declared length over the bound is refused before the upstream is called.
    r = Caller(gw).http.post(proxy_url(gw, "openai/v1/upload2"), data=b"x" * 4096,
                             headers={"Authorization": "Bearer " + s.agent_key}, timeout=30)
    assert r.status_code == 413, r.text
    with upstream.lock:
        assert not [q for q in upstream.requests if q[1].startswith("/v1/upload2")]
    # Other routes read their bodies whole as before: the server's own limit still holds.
    r = Caller(gw).http.post(f"{gw.url}/v1/vaults", data=b"x" * (2 << 20),
                             headers={"Authorization": "Bearer " + s.agent_key}, timeout=30)
    assert r.status_code == 413
