"""The gateway under attack: SSRF in every address form, redirects, header injection through the
path and the headers, bindings to secrets the creator may not read, agents creating bindings or
using another agent's, an agent with only `use` on every route that returns a value, the kill
switch mid-stream, and the credential echoed back by the upstream (redacted, counted). The
upstream is fake_llm.py on loopback; a canary listener counts every connection an SSRF form
should never have made."""
import http.client
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import (COFFER_BIN, check_absent, create_user, expect, expect_problem, grant,
                      put_secret, redact)
from fake_llm import FakeLLM
from gateway_support import (KILL_WITHIN_S, LOOPBACK_ALLOW, check_header, check_never_upstream,
                             check_no_header, create_binding, eventually, make_world, proxy)

ECHO_SECRET = "sk-echo/0123+abcdef=XYZ-9876543210"
BASIC_SECRET = "gw-user:pa55-w0rd/secret+9876543210"


class Canary:
    """A TCP listener that accepts and counts connections, never answering (an SSRF target)."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conns = []
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            conns.append(conn)
        for c in conns:
            c.close()

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def fake():
    with FakeLLM() as f:
        yield f


@pytest.fixture
def world(make_server, fake):
    """A server that may reach 127.0.0.1 (the fake) and nothing else internal."""
    server = make_server(extra_args=LOOPBACK_ALLOW)
    return make_world(server, fake)


def execute(caller, agent_id, binding, method="GET", path="/", **params):
    body = {"binding": binding, "intent_type": "http",
            "params": {"method": method, "path": path, **params}}
    return caller.post(f"/agents/{agent_id}/execute", json=body)


# --- SSRF -----------------------------------------------------------------------------------------

def ssrf_forms(v4_port, v6_port):
    """Destinations that must never be reached without an allow-list naming them."""
    forms = [
        f"https://127.0.0.1:{v4_port}", f"http://127.0.0.1:{v4_port}",
        f"https://localhost:{v4_port}", f"http://localhost:{v4_port}",
        f"https://LOCALHOST:{v4_port}", f"https://localhost.:{v4_port}",
        f"https://2130706433:{v4_port}",      # 127.0.0.1, decimal
        f"https://0177.0.0.1:{v4_port}",      # 127.0.0.1, octal
        f"https://0x7f.0.0.1:{v4_port}",      # 127.0.0.1, hex
        f"https://127.1:{v4_port}",           # 127.0.0.1, short form
        f"https://0.0.0.0:{v4_port}", f"https://0:{v4_port}",
        f"https://[::ffff:127.0.0.1]:{v4_port}", f"https://[::ffff:7f00:1]:{v4_port}",
        "https://10.0.0.1", "https://10.255.255.254:8443",
        "https://172.16.0.1", "https://172.31.255.254",
        "https://192.168.0.1", "https://192.168.255.254",
        "https://169.254.169.254/latest/meta-data", "http://169.254.169.254/latest/meta-data",
        "https://[::ffff:169.254.169.254]", "https://[::ffff:a9fe:a9fe]",
        "https://[fd00::1]", "https://[fd00:ec2::254]", "https://[fe80::1]",
        "https://224.0.0.1", "https://[ff02::1]", "https://100.64.0.1",
    ]
    if v6_port:
        forms += [f"https://[::1]:{v6_port}", f"http://[::1]:{v6_port}",
                  f"https://[0:0:0:0:0:0:0:1]:{v6_port}"]
    else:
        forms += ["https://[::1]", "https://[0:0:0:0:0:0:0:1]"]
    return forms


@pytest.fixture
def canaries():
    v4 = Canary()
    try:
        v6 = Canary(socket.AF_INET6, "::1")
    except OSError:
        v6 = None
    yield v4, v6
    v4.close()
    if v6:
        v6.close()


def test_ssrf_every_address_form_is_refused(make_server, canaries):
    """Without an allow-list, no internal destination: refused at create (400) or at use (403
    egress refused), never connected to (the canaries count connections)."""
    v4, v6 = canaries
    server = make_server()
    w = make_world(server, fake=None)
    failures = []
    for i, base_url in enumerate(ssrf_forms(v4.port, v6.port if v6 else 0)):
        r = w.admin.post(f"/agents/{w.agent_id}/bindings", json={
            "name": f"ssrf{i}", "binding_type": "http", "config": {"base_url": base_url},
            "credential_source": {"type": "vault_ref", "vault_id": w.vault, "path": "llm/openai"}})
        if r.status_code == 400:
            expect_problem(r, 400)
            continue
        expect(r, 201)
        p = proxy(server, f"ssrf{i}", "v1/models", key=w.agent_key, timeout=30)
        if p.status_code != 403:
            failures.append(f"{base_url}: proxy answered {p.status_code}: {redact(p.text, 300)}")
            continue
        body = p.json()
        assert p.headers.get("Content-Type", "").startswith("application/problem+json"), base_url
        assert body["status"] == 403, base_url
        e = execute(w.agent, w.agent_id, f"ssrf{i}", path="/v1/models")
        if e.status_code == 200:
            assert e.json()["status"] == "error", (base_url, redact(e.text))
            assert e.json().get("result") in (None, {}) or not e.json()["result"].get(
                "status_code"), base_url
        else:
            expect_problem(e, 403)
    assert not failures, "\n".join(failures)
    time.sleep(0.3)  # let the canaries' accept loops see any late connection
    assert v4.accepted == 0, "an SSRF form reached the IPv4 loopback canary"
    assert v6 is None or v6.accepted == 0, "an SSRF form reached the IPv6 loopback canary"


def test_allow_list_opens_only_what_it_names(make_server, fake, canaries):
    """--egress-allow 127.0.0.1/32 opens 127.0.0.1, not ::1, not 10/8, not the metadata
    address, and plain http stays refused to hosts outside it."""
    v4, v6 = canaries
    server = make_server(extra_args=LOOPBACK_ALLOW)
    w = make_world(server, fake)
    create_binding(w.admin, w.agent_id, "ok", fake.url, w.vault, "llm/openai")
    expect(proxy(server, "ok", "v1/models", key=w.agent_key), 200)
    outside = ["https://169.254.169.254", "https://10.0.0.1", "http://10.0.0.1",
               "https://[::ffff:169.254.169.254]"]
    if v6:
        outside.append(f"https://[::1]:{v6.port}")
    for i, base_url in enumerate(outside):
        r = w.admin.post(f"/agents/{w.agent_id}/bindings", json={
            "name": f"out{i}", "binding_type": "http", "config": {"base_url": base_url},
            "credential_source": {"type": "vault_ref", "vault_id": w.vault, "path": "llm/openai"}})
        if r.status_code == 400:
            continue
        expect(r, 201)
        expect_problem(proxy(server, f"out{i}", "v1/models", key=w.agent_key), 403)
    assert v6 is None or v6.accepted == 0


def test_redirect_is_not_followed(world):
    fake = world.fake
    create_binding(world.admin, world.agent_id, "redir", fake.url + "/redirect", world.vault,
                   "llm/openai")
    r = proxy(world.server, "redir", "v1/models", key=world.agent_key)
    assert r.status_code == 302, redact(r.text)
    e = expect(execute(world.agent, world.agent_id, "redir", path="/v1/models"), 200).json()
    assert e["result"]["status_code"] == 302
    time.sleep(0.2)
    assert fake.calls("/target") == [], "the gateway followed a redirect"
    assert len(fake.calls("/redirect/")) == 2


# --- header injection -----------------------------------------------------------------------------

def send_raw(server, request_bytes, timeout=10):
    """Sends bytes as they are; returns the status code of the answer (0: none)."""
    host, port = server.url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request_bytes)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def check_fake_clean(fake, prefix):
    """Every request the fake got stayed under `prefix` and carried no injected header."""
    __tracebackhide__ = True
    for rec in fake.requests:
        assert rec.path.startswith(prefix + "/"), rec.path
        assert "/../" not in rec.path + "/" and not rec.path.endswith("/.."), rec.path
        assert "\r" not in rec.path and "\n" not in rec.path, rec.path
        check_no_header(rec, "x-injected")
        if not rec.headers.get("host", "").startswith("127.0.0.1"):
            pytest.fail(f"{rec!r} carried another Host")


def test_path_injection_through_the_proxy(world):
    fake = world.fake
    create_binding(world.admin, world.agent_id, "api", fake.url + "/api", world.vault,
                   "llm/openai")
    auth = {"Authorization": "Bearer " + world.agent_key}
    targets = [
        "/v1/proxy/api/v1/x%0d%0aX-Injected:%20yes",
        "/v1/proxy/api/v1/x%0D%0AX-Injected:%20yes%0D%0A%0D%0AGET%20/evil",
        "/v1/proxy/api/../../admin",
        "/v1/proxy/api/v1/%2e%2e/%2e%2e/admin",
        "/v1/proxy/api/%2e%2e%2fadmin",
        "/v1/proxy/api//evil.example/x",
        "/v1/proxy/api/@evil.example/x",
        "/v1/proxy/api/http://evil.example/x",
        "/v1/proxy/api/v1/x?q=1%0d%0aX-Injected:%20yes",
    ]
    for target in targets:
        r = proxy_raw(world.server, target, auth)
        assert r.status_code in (200, 400, 404), (target, r.status_code, redact(r.text))
    # A raw CR/LF in the request line or a header never reaches the upstream either.
    key = world.agent_key.encode()
    for raw in (b"GET /v1/proxy/api/v1/x\rX-Injected: yes HTTP/1.1\r\nHost: a\r\n"
                b"Authorization: Bearer " + key + b"\r\n\r\n",
                b"GET /v1/proxy/api/v1/x HTTP/1.1\r\nHost: a\r\nX-Foo: a\rX-Injected: yes\r\n"
                b"Authorization: Bearer " + key + b"\r\n\r\n",
                b"GET /v1/proxy/api/v1/x HTTP/1.1\r\nHost: a\r\nX-Foo: a\n X-Injected: yes\r\n"
                b"Authorization: Bearer " + key + b"\r\n\r\n"):
        status = send_raw(world.server, raw)
        assert status in (0, 400, 200), status
    check_fake_clean(fake, "/api")
    check_never_upstream(fake, [world.agent_key])


def proxy_raw(server, target, headers):
    """Sends `target` exactly as given (no normalisation of dot segments or escapes)."""
    host = server.url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()

    class R:
        status_code = resp.status
        text = resp.read().decode(errors="replace")
    conn.close()
    return R


def test_path_and_header_injection_through_execute(world):
    fake = world.fake
    create_binding(world.admin, world.agent_id, "api", fake.url + "/api", world.vault,
                   "llm/openai")
    paths = ["/v1/x\r\nX-Injected: yes", "/v1/x%0d%0aX-Injected:%20yes", "/../../admin",
             "/v1/../../../admin", "//evil.example/x", "@evil.example/x",
             "http://evil.example/x", "/v1/x\x00y", "/v1/x#frag"]
    for path in paths:
        r = execute(world.agent, world.agent_id, "api", path=path)
        assert r.status_code in (200, 400), (path, r.status_code, redact(r.text))
        if r.status_code == 200:
            assert r.json()["status"] in ("success", "error"), redact(r.text)
    bad_headers = [{"X-Foo": "a\r\nX-Injected: yes"}, {"X-Foo": "a\nX-Injected: yes"},
                   {"X-Foo\r\nX-Injected": "yes"}, {"X-Foo": "a\x00b"}]
    for headers in bad_headers:
        r = execute(world.agent, world.agent_id, "api", path="/v1/x", headers=headers)
        expect_problem(r, 400)
    # Host override: refused, or the upstream sees its own host.
    r = execute(world.agent, world.agent_id, "api", path="/v1/host",
                headers={"Host": "evil.example"})
    assert r.status_code in (200, 400), redact(r.text)
    # Authorization override: refused, or the real credential wins.
    fake.clear()
    r = execute(world.agent, world.agent_id, "api", path="/v1/authz",
                headers={"Authorization": "Bearer attacker-chosen"})
    assert r.status_code in (200, 400), redact(r.text)
    for rec in fake.calls("/v1/authz"):
        check_header(rec, "authorization", "Bearer " + world.secret)
    check_fake_clean(fake, "/api")


def test_credential_override_through_the_proxy(world):
    """The agent cannot choose the credential the upstream sees: its x-api-key is removed or
    refused, the real one attached."""
    fake = world.fake
    create_binding(world.admin, world.agent_id, "hdr", fake.url, world.vault, "llm/openai",
                   config={"auth_type": "header", "auth_header": "x-api-key"})
    # The agent authenticates by Authorization; its own x-api-key must not win upstream.
    r = proxy(world.server, "hdr", "v1/models", key=world.agent_key,
              headers={"x-api-key": "attacker-chosen"})
    assert r.status_code in (200, 400, 401), redact(r.text)
    for rec in fake.calls("/v1/models"):
        check_header(rec, "x-api-key", world.secret)
        check_no_header(rec, "authorization")
    check_never_upstream(fake, [world.agent_key])


def test_query_credential_override_through_the_proxy(world):
    """A binding that sends its credential as ?key=: the agent's own key= is removed or refused,
    so the upstream never sees a value the agent chose in its place."""
    fake = world.fake
    create_binding(world.admin, world.agent_id, "qry", fake.url, world.vault, "llm/openai",
                   config={"auth_type": "query", "auth_query_param": "key"})
    r = proxy(world.server, "qry", "v1/models?key=attacker-chosen&x=1", key=world.agent_key)
    assert r.status_code in (200, 400), redact(r.text)
    from urllib.parse import parse_qs
    for rec in fake.calls("/v1/models"):
        values = parse_qs(rec.query).get("key", [])
        if not values or any(v != world.secret for v in values):
            pytest.fail(f"key= values upstream: {len(values)}, not all the binding's credential")


# --- who may create, change and use bindings ------------------------------------------------------

def test_binding_to_a_secret_the_creator_may_not_read(world):
    admin, fake = world.admin, world.fake
    user, ucall = create_user(world.server, "carol")
    own_agent = expect(ucall.post("/agents", json={"name": "carol-bot"}), 201).json()
    grant(admin, world.vault, user["id"], "llm/*", ["list", "use"], principal_type="user")
    r = create_binding(ucall, own_agent["id"], "x", fake.url, world.vault, "llm/openai",
                       status=403)
    expect_problem(r, 403)
    # With read on it, the same request is allowed.
    grant(admin, world.vault, user["id"], "llm/*", ["read"], principal_type="user")
    b = create_binding(ucall, own_agent["id"], "x", fake.url, world.vault, "llm/openai").json()
    # Repointing it at a secret the user may not read is refused too.
    put_secret(admin, world.vault, "db/root", value="root-password-xyz")
    r = ucall.request("PATCH", f"/agents/{own_agent['id']}/bindings/{b['id']}", json={
        "credential_source": {"type": "vault_ref", "vault_id": world.vault, "path": "db/root"}})
    expect_problem(r, 403)
    check_absent(r.text, ["root-password-xyz", world.secret])
    # An inline credential is refused, saying to use a vault reference.
    r = admin.post(f"/agents/{world.agent_id}/bindings", json={
        "name": "inline", "binding_type": "http", "config": {"base_url": fake.url},
        "credential": {"value": "sk-inline"}})
    expect_problem(r, 400)


def test_agents_cannot_create_or_change_bindings(world):
    fake = world.fake
    # Even an agent that may read the secret.
    grant(world.admin, world.vault, world.agent_id, "llm/*", ["read"])
    for target in (world.agent_id, "self"):
        r = create_binding(world.agent, target, "mine", fake.url, world.vault, "llm/openai",
                           status=403)
        expect_problem(r, 403)
    b = create_binding(world.admin, world.agent_id, "given", fake.url, world.vault,
                       "llm/openai").json()
    r = world.agent.request("PATCH", f"/agents/{world.agent_id}/bindings/{b['id']}",
                            json={"config": {"base_url": "https://attacker.example"}})
    expect_problem(r, 403)
    expect_problem(world.agent.delete(f"/agents/{world.agent_id}/bindings/{b['id']}"), 403)
    # It may list and read its own, never seeing the value.
    r = expect(world.agent.get("/agents/self/bindings"), 200)
    assert [x["name"] for x in r.json()["bindings"]] == ["given"]
    check_absent(r.text, [world.secret])
    r = expect(world.agent.get(f"/agents/{world.agent_id}/bindings/{b['id']}"), 200)
    assert r.json()["credential_set"] is True
    check_absent(r.text, [world.secret])
    # Not another agent's.
    assert world.other.get(f"/agents/{world.agent_id}/bindings").status_code in (403, 404)


def test_an_agent_cannot_use_another_agents_binding(world):
    fake = world.fake
    b = create_binding(world.admin, world.agent_id, "mine", fake.url, world.vault,
                       "llm/openai").json()
    for name in ("mine", b["id"]):
        expect_problem(proxy(world.server, name, "v1/models", key=world.other_key), 404)
    r = execute(world.other, world.other_id, b["id"], path="/v1/models")
    expect_problem(r, 404)
    r = execute(world.other, world.agent_id, "mine", path="/v1/models")
    assert r.status_code in (403, 404), r.status_code
    assert fake.requests == []
    # The owner can.
    expect(proxy(world.server, "mine", "v1/models", key=world.agent_key), 200)


def test_use_only_agent_gets_403_on_every_value_route(world, tmp_path):
    admin, agent, vault = world.admin, world.agent, world.vault
    secret_id = expect(admin.get(f"/vaults/{vault}/secrets/llm/openai"), 200).json()["id"]
    expect(admin.post(f"/vaults/{vault}/secret-alias/llm/openai/blue", json={"version": 1}), 200)
    attempts = [
        agent.get(f"/vaults/{vault}/secrets/llm/openai"),
        agent.get(f"/vaults/{vault}/secrets/llm/openai", params={"alias": "blue"}),
        agent.get(f"/vaults/{vault}/secrets/llm/openai", params={"wait": "1"}),
        agent.get(f"/vaults/{vault}/secret-version/llm/openai/1"),
        agent.post(f"/secrets/{secret_id}/share",
                   json={"recipient_type": "anyone_with_link",
                         "expires_at": "2099-01-01T00:00:00Z"}),
        agent.post(f"/vaults/{vault}/secret-rotate/llm/openai", json={}),
    ]
    for r in attempts:
        if r.status_code not in (403, 404):
            pytest.fail(f"{r.request.method} {redact(r.url, 200)}: {r.status_code}")
        check_absent(r.text, [world.secret])
    # The MCP tool that returns a value, through `coffer mcp` with the agent's key.
    env = dict(os.environ, COFFER_ADDR=world.server.url, COFFER_TOKEN=world.agent_key,
               HOME=str(tmp_path))
    msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "get_secret", "arguments": {"vault": "gw", "path": "llm/openai"}}}]
    out = subprocess.run([COFFER_BIN, "mcp"], input="".join(json.dumps(m) + "\n" for m in msgs),
                         capture_output=True, text=True, env=env, timeout=60)
    check_absent(out.stdout + out.stderr, [world.secret], "coffer mcp output")
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    call = [a for a in answers if a.get("id") == 2][0]
    if "error" not in call and call["result"].get("isError") is not True:
        pytest.fail("get_secret succeeded for an agent with only use")
    # Yet it may use the secret through a binding.
    create_binding(admin, world.agent_id, "use", world.fake.url, vault, "llm/openai")
    expect(proxy(world.server, "use", "v1/models", key=world.agent_key), 200)


# --- the kill switch ------------------------------------------------------------------------------

class StreamReader(threading.Thread):
    """Reads a proxied stream until it ends; `first` is set at the first bytes, `ended_at` is
    the monotonic time it ended (EOF or error)."""

    def __init__(self, server, binding, key):
        super().__init__(daemon=True)
        host = server.url.split("//", 1)[1]
        self.conn = http.client.HTTPConnection(host, timeout=30)
        self.conn.request("GET", f"/v1/proxy/{binding}/events",
                          headers={"Authorization": "Bearer " + key})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.first = threading.Event()
        self.ended_at = None
        self.received = 0

    def run(self):
        try:
            while True:
                data = self.resp.read1(65536)
                if not data:
                    break
                self.received += len(data)
                self.first.set()
        except (OSError, http.client.HTTPException):
            pass
        self.ended_at = time.monotonic()
        self.first.set()


def kill_mid_stream(world, action):
    """Starts a long stream through binding "slow", runs action(binding) once bytes flow, and
    returns the seconds from the action's answer to the stream's end."""
    fake = world.fake
    fake.slow_interval, fake.slow_events = 0.05, 1200  # a minute of events
    b = create_binding(world.admin, world.agent_id, "slow", fake.url + "/slow", world.vault,
                       "llm/openai").json()
    reader = StreamReader(world.server, "slow", world.agent_key)
    assert reader.status == 200, reader.status
    reader.start()
    assert reader.first.wait(10), "no streamed bytes"
    time.sleep(0.3)
    assert reader.ended_at is None, "the stream ended before the kill"
    action(b)
    t0 = time.monotonic()
    reader.join(10)
    assert reader.ended_at is not None, "the stream went on after the kill"
    # The upstream call was stopped too (the fake sees its client go within a few events).
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not fake.stream_ended:
        time.sleep(0.05)
    assert fake.stream_ended and fake.stream_ended[0][0] == "client gone", fake.stream_ended
    reader.conn.close()
    return reader.ended_at - t0, b


def test_deactivating_the_agent_stops_its_stream(world):
    def deactivate(_):
        expect(world.admin.request("PATCH", f"/agents/{world.agent_id}",
                                   json={"is_active": False}), 200)
    took, _ = kill_mid_stream(world, deactivate)
    assert took <= KILL_WITHIN_S, f"the stream ran {took:.2f} s after the agent was deactivated"
    r = proxy(world.server, "slow", "events", key=world.agent_key)
    assert r.status_code in (401, 403), r.status_code


def test_deleting_the_binding_stops_its_stream(world):
    def delete(b):
        expect(world.admin.delete(f"/agents/{world.agent_id}/bindings/{b['id']}"), 204)
    took, _ = kill_mid_stream(world, delete)
    assert took <= KILL_WITHIN_S, f"the stream ran {took:.2f} s after the binding was deleted"
    expect_problem(proxy(world.server, "slow", "events", key=world.agent_key), 404)


def test_deactivating_the_binding_stops_its_stream(world):
    def deactivate(b):
        expect(world.admin.request("PATCH", f"/agents/{world.agent_id}/bindings/{b['id']}",
                                   json={"is_active": False}), 200)
    took, _ = kill_mid_stream(world, deactivate)
    assert took <= KILL_WITHIN_S, f"the stream ran {took:.2f} s after the binding was deactivated"
    expect_problem(proxy(world.server, "slow", "events", key=world.agent_key), 403)


# --- the credential does not come back ------------------------------------------------------------

def echo_world(world, name, secret_path, secret, config):
    """A binding to the fake's echo mode that passes on X-Echo-Auth (and asks for Set-Cookie,
    which must be refused at create or never passed)."""
    put_secret(world.admin, world.vault, secret_path, value=secret)
    cfg = {"pass_response_headers": ["content-type", "x-echo-auth", "set-cookie"]}
    cfg.update(config)
    r = create_binding(world.admin, world.agent_id, name, world.fake.url + "/echo",
                       world.vault, secret_path, config=cfg, status=None)
    if r.status_code == 400:
        cfg["pass_response_headers"] = ["content-type", "x-echo-auth"]
        r = create_binding(world.admin, world.agent_id, name, world.fake.url + "/echo",
                           world.vault, secret_path, config=cfg)
    return expect(r, 201).json()


def secret_forms(secret):
    import base64
    from urllib.parse import quote
    forms = [secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe=""),
             json.dumps(secret)[1:-1]]
    return [f for f in forms if f]


def check_redacted(where, text, forms):
    __tracebackhide__ = True
    for i, form in enumerate(forms):
        if form in text:
            pytest.fail(f"form #{i} of the credential came back in the {where}")


def test_echoed_credential_is_redacted_and_counted(world):
    echo_world(world, "echo", "llm/echo", ECHO_SECRET, {})
    r = proxy(world.server, "echo", "v1/whoami", key=world.agent_key)
    assert r.status_code == 200, redact(r.text)
    forms = secret_forms(ECHO_SECRET)
    check_redacted("proxied body", r.text, forms)
    check_redacted("proxied headers", json.dumps(dict(r.headers)), forms)
    if "[REDACTED]" not in r.text:
        pytest.fail("no [REDACTED] in the proxied echo")
    assert "set-cookie" not in {k.lower() for k in r.headers}, "Set-Cookie was passed on"
    if "[REDACTED]" not in r.headers.get("X-Echo-Auth", "[REDACTED]"):
        pytest.fail("X-Echo-Auth came back unredacted")
    # The upstream did get it (the echo is real), in the binding's form.
    check_header(world.fake.calls("/echo/")[0], "authorization", "Bearer " + ECHO_SECRET)

    e = expect(execute(world.agent, world.agent_id, "echo", path="/v1/whoami"), 200)
    check_redacted("execute answer", e.text, forms)
    body = e.json()
    assert body["status"] == "success" and body["result"]["status_code"] == 200
    assert body["redactions_applied"] >= 3, body["redactions_applied"]
    assert "set-cookie" not in {k.lower() for k in body["result"]["headers"]}

    events = eventually(
        lambda: expect(world.agent.get(f"/agents/{world.agent_id}/executions"), 200).json()[
            "events"], lambda found: len(found) >= 2)
    assert len(events) == 2
    assert all(ev["redactions_applied"] >= 3 for ev in events), events
    check_redacted("executions", json.dumps(events), forms)
    check_never_upstream(world.fake, [world.agent_key])


def test_echoed_basic_credential_is_redacted(world):
    echo_world(world, "basic", "llm/basic", BASIC_SECRET, {"auth_type": "basic"})
    r = proxy(world.server, "basic", "v1/whoami", key=world.agent_key)
    assert r.status_code == 200, redact(r.text)
    user, password = BASIC_SECRET.split(":", 1)
    forms = secret_forms(BASIC_SECRET) + [password]
    check_redacted("proxied body", r.text, forms)
    check_redacted("proxied headers", json.dumps(dict(r.headers)), forms)
    import base64
    check_header(world.fake.calls("/echo/")[0], "authorization",
                 "Basic " + base64.b64encode(BASIC_SECRET.encode()).decode())


def test_echo_split_across_stream_chunks_is_redacted(world):
    """A credential split across two streamed writes of the upstream is still caught (the
    redactor holds back the bytes that could begin one)."""
    create_binding(world.admin, world.agent_id, "split", world.fake.url + "/split", world.vault,
                   "llm/openai")
    r = proxy(world.server, "split", "v1/x", key=world.agent_key)
    assert r.status_code == 200
    if r.text != "before [REDACTED] after":
        check_absent(r.text, [world.secret], "split echo")
        pytest.fail(f"split echo came back as {len(r.text)} bytes, not the redacted text")


def test_rate_limit_answers_429_with_retry_after(world):
    create_binding(world.admin, world.agent_id, "limited", world.fake.url, world.vault,
                   "llm/openai", guardrails={"max_requests_per_minute": 2})
    for _ in range(2):
        expect(proxy(world.server, "limited", "v1/models", key=world.agent_key), 200)
    r = proxy(world.server, "limited", "v1/models", key=world.agent_key)
    body = expect_problem(r, 429)
    assert body["type"] == "urn:coffer:problem:rate-limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert len(world.fake.calls("/v1/models")) == 2
    # Guardrails: a method or path outside the binding's lists is refused, never sent.
    create_binding(world.admin, world.agent_id, "narrow", world.fake.url, world.vault,
                   "llm/openai", guardrails={"allowed_methods": ["GET"],
                                             "allowed_paths": ["v1/models"]})
    expect(proxy(world.server, "narrow", "v1/models", key=world.agent_key), 200)
    for method, path in (("DELETE", "v1/models"), ("GET", "v1/files")):
        r = expect(proxy(world.server, "narrow", path, method=method, key=world.agent_key),
                   400, 403)
        assert r.headers.get("Content-Type", "").startswith("application/problem+json")
    assert len(world.fake.calls("/v1/files")) == 0
