"""Hostile input against the real server: deeply nested and huge JSON, invalid
UTF-8, out-of-range numbers, wrong types, duplicate keys, path traversal and SQL metacharacters in
every path segment, query parameter and string field, enormous headers, slow and half-open
connections, pipelining, HTTP/1.0, absurd Content-Length and chunked bodies.

Every hostile request must get a clear 4xx application/problem+json answer (or be cut off by the
server's read timeout), and the server must keep serving a normal client during and after: a
watcher thread reads a secret every 50 ms for the whole module and the last test checks it never
failed. One server (short timeouts) serves the whole module, so the file runs in seconds.
"""
import json
import os
import socket
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest
import requests

from conftest import Bag, Server, expect, init_data_dir, new_store, redact

READ_TIMEOUT_MS = 1500
IDLE_TIMEOUT_MS = 3000
MAX_BODY = 1 << 20
MAX_HEADER = 16 << 10
FUTURE = "2999-01-01T00:00:00Z"
SECRET_VALUE = "hostile-watch-value"
# Latency limits stretch under a sanitizer (scripts/test-sanitizers.sh), where all is slower.
SLOW = 5 if os.environ.get("COFFER_SANITIZER") else 1

# ---------------------------------------------------------------------------------------------
# A normal client that keeps reading a secret while the hostile tests run.


class Watcher(threading.Thread):
    def __init__(self, srv, vault):
        super().__init__(daemon=True)
        self.srv, self.vault = srv, vault
        self.stop_event = threading.Event()
        self.ok = 0
        self.failures = []  # short descriptions, never bodies
        self.max_latency = 0.0

    def run(self):
        s = self.srv.session()
        url = f"{self.srv.url}/v1/vaults/{self.vault}/secrets/app/db"
        while not self.stop_event.is_set():
            start = time.monotonic()
            try:
                r = s.get(url, timeout=10)
                good = r.status_code == 200 and r.json().get("value") == SECRET_VALUE
                if not good:
                    self.failures.append(f"status {r.status_code}")
            except requests.RequestException as e:
                good = False
                self.failures.append(type(e).__name__)
                s = self.srv.session()
            took = time.monotonic() - start
            self.max_latency = max(self.max_latency, took)
            if good:
                self.ok += 1
            self.stop_event.wait(0.05)


@pytest.fixture(scope="module")
def env(store_kind):
    tmp = tempfile.TemporaryDirectory(prefix="coffer-hostile-")
    store = new_store(store_kind)
    data = os.path.join(tmp.name, "data")
    srv = Server(data, init_data_dir(data, store), store=store, extra_args=[
        "--read-timeout-ms", str(READ_TIMEOUT_MS), "--idle-timeout-ms", str(IDLE_TIMEOUT_MS),
        "--trusted-proxies", "127.0.0.1"])
    watcher = None
    try:
        admin = srv.session()
        base = srv.url + "/v1"
        vault = expect(admin.post(base + "/vaults", json={"name": "hostile"}), 201).json()["id"]
        expect(admin.put(f"{base}/vaults/{vault}/secrets/app/db",
                         json={"type": "password", "value": SECRET_VALUE}), 201)
        agent = expect(admin.post(base + "/agents", json={"name": "hostile-agent"}), 201).json()
        policy = expect(admin.post(f"{base}/vaults/{vault}/policies", json={
            "principal_type": "agent", "principal_id": agent["id"],
            "secret_path_pattern": "app/**", "permissions": ["read"]}), 201).json()
        user = expect(admin.post(base + "/users", json={"name": "hostile-user"}), 201).json()
        key = expect(admin.post(f"{base}/users/{user['id']}/api-keys", json={"name": "k"}),
                     201).json()
        host, port = srv.url.rsplit("//", 1)[1].rsplit(":", 1)
        watcher = Watcher(srv, vault)
        watcher.start()
        yield Bag(srv=srv, admin=admin, base=base, vault=vault, agent_id=agent["id"],
                  agent_key=agent["api_key"], rotation_secret=agent["rotation_secret"],
                  policy=policy["id"], user=user["id"], user_key_id=key["id"],
                  host=host, port=int(port), watcher=watcher)
    finally:
        if watcher is not None:
            watcher.stop_event.set()
            watcher.join(15)
        srv.stop()
        store.close()
        tmp.cleanup()


_ip_counter = [0]


def fresh_ip():
    """A new X-Forwarded-For address, so self-rotation calls do not hit the per-IP rate limit."""
    _ip_counter[0] += 1
    n = _ip_counter[0]
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture(autouse=True)
def still_serving(request):
    """After every test: the server still answers a normal authenticated read correctly."""
    yield
    if "env" not in request.fixturenames:
        return
    e = request.getfixturevalue("env")
    r = e.admin.get(f"{e.base}/vaults/{e.vault}/secrets/app/db", timeout=10)
    assert r.status_code == 200 and r.json()["value"] == SECRET_VALUE, "server stopped serving"


# ---------------------------------------------------------------------------------------------
# Raw HTTP over a socket, for what no client library will send.


class Raw:
    def __init__(self, status, version, headers, body):
        self.status, self.version, self.headers, self.body = status, version, headers, body

    def json(self):
        return json.loads(self.body)


def connect(e, timeout=10):
    return socket.create_connection((e.host, e.port), timeout=timeout)


def read_response(sock, buf):
    """Reads one response from `sock` (bytes already read in buf[0]); None if the peer closed."""
    while b"\r\n\r\n" not in buf[0]:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf[0] += chunk
    head, rest = buf[0].split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ")[0], int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    buf[0] = rest[length:]
    return Raw(status, version, headers, rest[:length])


def send_raw(e, data, count=1, timeout=10):
    """Sends `data` in one write; returns up to `count` responses (fewer if the server closed)."""
    with connect(e, timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out, buf = [], [b""]
        try:
            for _ in range(count):
                r = read_response(sock, buf)
                if r is None:
                    break
                out.append(r)
        except ConnectionResetError:
            pass
        return out


def closed_by_server(sock, within):
    """Waits up to `within` s for the server to close `sock`; True if it did."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def request_bytes(method, target, body=b"", headers=None, version="HTTP/1.1", token=None):
    lines = [f"{method} {target} {version}", "Host: coffer"]
    if token:
        lines.append("Authorization: Bearer " + token)
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body and not any(k.lower() in ("content-length", "transfer-encoding")
                        for k in (headers or {})):
        lines.append(f"Content-Length: {len(body)}")
    if body and not any(k.lower() == "content-type" for k in (headers or {})):
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def check_problem(status, ctype, text, allowed=range(400, 500), where=""):
    """A clear 4xx problem+json: status in `allowed`, the media type, and the RFC 9457 members."""
    __tracebackhide__ = True
    if status not in allowed:
        pytest.fail(f"{where}: got {status}, expected a 4xx problem: {redact(text, 300)}")
    if not (ctype or "").startswith("application/problem+json"):
        pytest.fail(f"{where}: {status} answered with Content-Type {ctype!r}")
    try:
        body = json.loads(text)
    except ValueError:
        pytest.fail(f"{where}: problem body is not JSON")
    if body.get("status") != status or not str(body.get("type", "")).startswith(
            "urn:coffer:problem:") or not body.get("title") or not isinstance(
            body.get("detail"), str):
        pytest.fail(f"{where}: malformed problem body: {redact(text, 300)}")
    return body


def check_raw_problem(r, allowed=range(400, 500), where=""):
    __tracebackhide__ = True
    if r is None:
        pytest.fail(f"{where}: no response")
    return check_problem(r.status, r.headers.get("content-type"), r.body.decode(errors="replace"),
                         allowed, where)


def check_req_problem(r, allowed=range(400, 500), where=""):
    __tracebackhide__ = True
    return check_problem(r.status_code, r.headers.get("Content-Type"), r.text, allowed, where)


# ---------------------------------------------------------------------------------------------
# The endpoints that take a JSON body, with a valid body and the type of each field
# (s string, i integer, o object, a array of strings).


def body_endpoints(e):
    v = e.vault
    return {
        "auth.token": ("POST", "/v1/auth/token", None,
                       {"api_key": e.srv.admin_key}, {"api_key": "s"}),
        "vault.create": ("POST", "/v1/vaults", "admin",
                         {"name": "hv-" + uuid.uuid4().hex[:8], "description": "d"},
                         {"name": "s", "description": "s"}),
        "secret.put": ("PUT", f"/v1/vaults/{v}/secrets/hostile/put", "admin",
                       {"type": "note", "value": "x", "metadata": {}, "expires_at": FUTURE,
                        "rotation_policy": {}, "max_access_count": 0},
                       {"type": "s", "value": "s", "metadata": "o", "expires_at": "s",
                        "rotation_policy": "o", "max_access_count": "i"}),
        "secret.rotate": ("POST", f"/v1/vaults/{v}/secret-rotate/hostile/rot", "admin",
                          {"length": 16, "charset": "hex", "type": "password"},
                          {"length": "i", "charset": "s", "type": "s"}),
        "user.create": ("POST", "/v1/users", "admin", {"name": "hu-" + uuid.uuid4().hex[:8]},
                        {"name": "s"}),
        "apikey.create": ("POST", f"/v1/users/{e.user}/api-keys", "admin", {"name": "k2"},
                          {"name": "s"}),
        "agent.create": ("POST", "/v1/agents", "admin",
                         {"name": "ha-" + uuid.uuid4().hex[:8], "description": "d"},
                         {"name": "s", "description": "s"}),
        "agent.self_rotate": ("POST", "/v1/agents/self/rotate-key", "agent",
                              {"rotationSecret": e.rotation_secret}, {"rotationSecret": "s"}),
        "policy.create": ("POST", f"/v1/vaults/{v}/policies", "admin",
                          {"principal_type": "agent", "principal_id": e.agent_id,
                           "secret_path_pattern": "hostile/**", "permissions": ["read"],
                           "expires_at": FUTURE},
                          {"principal_type": "s", "principal_id": "s",
                           "secret_path_pattern": "s", "permissions": "a", "expires_at": "s"}),
    }


ENDPOINTS = ["auth.token", "vault.create", "secret.put", "secret.rotate", "user.create",
             "apikey.create", "agent.create", "agent.self_rotate", "policy.create"]


def call(e, name, body_bytes, extra_headers=None):
    """Sends raw `body_bytes` to endpoint `name` as its principal; returns the requests answer."""
    method, route, who, _, _ = body_endpoints(e)[name]
    headers = {"Content-Type": "application/json", "X-Forwarded-For": fresh_ip()}
    if who == "admin":
        headers["Authorization"] = "Bearer " + e.srv.admin_key
    elif who == "agent":
        headers["Authorization"] = "Bearer " + e.agent_key
    headers.update(extra_headers or {})
    return requests.request(method, e.srv.url + route, data=body_bytes, headers=headers,
                            timeout=30)


def valid_body(e, name):
    return dict(body_endpoints(e)[name][3])


@pytest.mark.parametrize("name", ENDPOINTS)
def test_deeply_nested_json_is_400(env, name):
    for payload in (b"[" * 100_000, b'{"a":' * 100_000, b'{"x":' + b"[" * 100_000 + b"]" * 100_000
                    + b"}"):
        r = call(env, name, payload)
        check_req_problem(r, allowed=(400, 429), where=f"{name} nested")
    # Nesting inside a field that takes an object, just over the parser's depth limit.
    body = valid_body(env, name)
    deep = {}
    for _ in range(40):
        deep = {"d": deep}
    body[next(iter(body))] = deep
    check_req_problem(call(env, name, json.dumps(body).encode()), allowed=(400, 429),
                      where=f"{name} deep field")


@pytest.mark.parametrize("name", ENDPOINTS)
def test_body_just_over_the_limit_is_413(env, name):
    body = b'{"name":"' + b"a" * (MAX_BODY - 10) + b'"}'
    assert len(body) == MAX_BODY + 1
    check_req_problem(call(env, name, body), allowed=(413,), where=f"{name} over limit")


@pytest.mark.parametrize("name", ENDPOINTS)
def test_body_just_under_the_limit_is_validated_not_crashed(env, name):
    # A huge string in the first field, and a huge unknown field: parsed, then refused by rule.
    body = valid_body(env, name)
    first = next(iter(body))
    body[first] = "a" * (MAX_BODY - 300)
    data = json.dumps(body).encode()
    assert len(data) < MAX_BODY
    start = time.monotonic()
    r = call(env, name, data)
    check_req_problem(r, allowed=(400, 401, 429), where=f"{name} huge {first}")
    body = valid_body(env, name)
    body["zz_unknown"] = ["x" * 64] * 12_000
    data = json.dumps(body).encode()
    assert len(data) < MAX_BODY
    detail = check_req_problem(call(env, name, data), allowed=(400, 429), where=f"{name} unknown")
    assert time.monotonic() - start < 10 * SLOW


def test_huge_values_and_arrays_within_limits(env):
    e = env
    # The largest secret value the service takes is stored and read back intact.
    big = "v" * (512 * 1024)
    url = f"{e.base}/vaults/{e.vault}/secrets/hostile/big"
    expect(e.admin.put(url, json={"type": "file", "value": big}), 201)
    r = expect(e.admin.get(url), 200)
    assert r.json()["value"] == big
    # One byte more is a 400 naming the rule.
    body = check_req_problem(e.admin.put(url, json={"type": "file", "value": big + "v"}),
                             allowed=(400,))
    assert "value" in body["detail"]
    # A policy with a huge permissions array, and a metadata object with many keys.
    r = e.admin.post(f"{e.base}/vaults/{e.vault}/policies", json={
        "principal_type": "agent", "principal_id": e.agent_id, "secret_path_pattern": "big/**",
        "permissions": ["read"] * 100_000})
    assert r.status_code in (201, 400), r.status_code
    if r.status_code == 400:
        check_req_problem(r)
    else:
        assert r.json()["permissions"] == ["read"]
    meta = {f"k{i}": i for i in range(5000)}
    r = e.admin.put(url, json={"type": "note", "value": "x", "metadata": meta})
    body = check_req_problem(r, allowed=(400,))
    assert "metadata" in body["detail"]
    r = e.admin.put(url, json={"type": "note", "value": "x", "metadata": {"a": ["x"] * 2000}})
    assert r.status_code == 201, r.status_code


BAD_UTF8 = {
    "invalid byte": b"\xff\xfe",
    "truncated sequence": b"\xe2\x82",
    "overlong slash": b"\xc0\xaf",
    "overlong NUL": b"\xc0\x80",
    "overlong 3-byte": b"\xe0\x80\xaf",
    "UTF-16 surrogate": b"\xed\xa0\x80",
    "beyond U+10FFFF": b"\xf4\x90\x80\x80",
    "raw NUL": b"a\x00b",
    "raw control": b"a\x01\x1fb",
    "raw newline": b"a\nb",
}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_invalid_utf8_and_control_bytes_in_bodies_are_400(env, name):
    body = valid_body(env, name)
    first = next(iter(body))
    for label, bad in BAD_UTF8.items():
        body[first] = "@@"
        data = json.dumps(body).encode().replace(b"@@", bad)
        check_req_problem(call(env, name, data), allowed=(400, 429), where=f"{name} {label}")
        # In a key as well.
        data = b'{"' + bad + b'":1}'
        check_req_problem(call(env, name, data), allowed=(400, 429),
                          where=f"{name} {label} in key")


def test_escaped_nul_control_and_surrogates_in_strings(env):
    e = env
    url = f"{e.base}/vaults/{e.vault}/secrets/hostile/esc"
    # Valid JSON escapes: a secret value may hold any Unicode, and comes back exactly.
    for value in ("a\u0000b", "\u0001\u001f\u007f", "\u2028\u2029", "\U0001F600", "\ufeff"):
        expect(e.admin.put(url, json={"type": "note", "value": value}), 201)
        assert e.admin.get(url).json()["value"] == value
    # Names are restricted: escaped NUL and control characters are refused.
    for name in ("a\u0000b", "a\u0001", "a\nb", "\u00e9t\u00e9"):
        check_req_problem(e.admin.post(e.base + "/vaults", json={"name": name}), allowed=(400,))
    # A lone surrogate escape is not a Unicode scalar value: refused or stored, never a 5xx,
    # and what is stored comes back as valid JSON.
    for text in (rb'"\ud800"', rb'"\udfff"', rb'"a\ud800b"'):
        data = b'{"type":"note","value":' + text + b"}"
        r = e.admin.put(url, data=data, headers={"Content-Type": "application/json"})
        if r.status_code == 201:
            got = e.admin.get(url)
            assert got.status_code == 200
            got.json()
        else:
            check_req_problem(r, allowed=(400,))
        data = b'{"name":"v","description":' + text + b"}"
        r = e.admin.post(e.base + "/vaults", data=data,
                         headers={"Content-Type": "application/json"})
        assert r.status_code < 500


# 1e-400 is not here: it underflows to 0, which the parser cannot tell from 0.0 (taken as 0).
NUMBER_CASES = ["-1", "9223372036854775808", "18446744073709551616", "-9223372036854775809",
                "1e400", "-1e400", "1.5", "1e308", "\"1\"", "true", "null0", "0x10", "01",
                "NaN", "Infinity", "99999999999999999999999999999999999999"]


@pytest.mark.parametrize("field,route_name,base", [
    ("max_access_count", "secret.put", '"type":"note","value":"x",'),
    ("length", "secret.rotate", ""),
])
def test_numbers_out_of_range_are_400(env, field, route_name, base):
    for number in NUMBER_CASES:
        data = ("{" + base + f'"{field}":{number}' + "}").encode()
        body = check_req_problem(call(env, route_name, data), allowed=(400,),
                                 where=f"{field}={number}")
        assert field in body["detail"] or "JSON" in body["detail"], body["detail"]


WRONG = {
    "s": [True, 1, 1.5, [], {}, ["x"]],
    "i": [True, "1", 1.5, [], {}, ["1"]],
    "o": [True, 1, "x", [], ["x"]],
    "a": [True, 1, "read", {}, [1], [None], [["read"]], "read,write"],
}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_wrong_type_for_every_field_is_400_naming_it(env, name):
    _, _, _, valid, types = body_endpoints(env)[name]
    for field, kind in types.items():
        for bad in WRONG[kind]:
            body = dict(valid)
            body[field] = bad
            r = call(env, name, json.dumps(body).encode())
            problem = check_req_problem(r, allowed=(400,), where=f"{name}.{field}={bad!r}")
            assert field in problem["detail"], f"{name}.{field}: detail does not name the field"


@pytest.mark.parametrize("name", ENDPOINTS)
def test_non_object_bodies_and_wrong_media_types(env, name):
    for data in (b"[]", b'"x"', b"1", b"null", b"true", b"{", b"{}}", b'{"a":1,}',
                 b"\xef\xbb\xbf{}",
                 b"{'a':1}", b'{"a":1}garbage', b" "):
        check_req_problem(call(env, name, data), allowed=(400, 429), where=f"{name} {data[:8]!r}")
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                  "multipart/form-data; boundary=x"):
        r = call(env, name, b"{}", {"Content-Type": ctype})
        # Self-rotation folds every body error into its own 400 (the attempt still counts).
        allowed = (400, 415, 429) if name == "agent.self_rotate" else (415, 429)
        check_req_problem(r, allowed=allowed, where=f"{name} {ctype}")


def test_duplicate_keys_are_refused(env):
    e = env
    # A proxy or WAF that reads the first "type" while the server reads the last would disagree
    # about what was asked: duplicate keys are refused outright.
    url = f"{e.base}/vaults/{e.vault}/secrets/hostile/dup"
    cases = [
        (url, "PUT", b'{"type":"note","value":"a","value":"b"}'),
        (url, "PUT", b'{"type":"note","type":"password","value":"a"}'),
        (url, "PUT", b'{"type":"note","value":"a","metadata":{"k":1,"k":2}}'),
        (e.base + "/vaults", "POST", b'{"name":"dup-a","name":"dup-b"}'),
        (e.base + "/auth/token", "POST",
         b'{"api_key":"x","api_key":"' + e.srv.admin_key.encode() + b'"}'),
    ]
    for target, method, data in cases:
        r = e.admin.request(method, target, data=data,
                            headers={"Content-Type": "application/json"})
        problem = check_req_problem(r, allowed=(400,), where=f"{method} duplicate key")
        assert "duplicate" in problem["detail"]


# ---------------------------------------------------------------------------------------------
# Path segments, query parameters and string fields.

HOSTILE_SEGMENTS = [
    "..", ".", "%2e%2e", "%2E%2E%2F", "..%2F..%2Fetc%2Fpasswd", "%252e%252e%252f", "..%5C..",
    "%2F", "a%2F..%2Fb", "%2e", "'", "%27%20OR%20%271%27%3D%271", "%22", "%3B", "--",
    "%2F*%20*%2F", "%00", "a%00b", "1%20OR%201%3D1", "1;DROP%20TABLE%20secrets", "%C0%AF",
    "%C0%AE%C0%AE", "%FF", "%C3%28", "%ED%A0%80", "%0D%0AX-Injected:%201", "%09", "%20",
    "%u002e", "*", "**", "%25", "%", "%zz", "self", "null", "0", "-1", "9999999999999999999999",
    "a" * 5000,
]


def path_templates(e):
    v, path = e.vault, "app/db"
    return [
        ("GET", "/v1/vaults/{vault}", None),
        ("DELETE", "/v1/vaults/{vault}", None),
        ("GET", "/v1/vaults/{vault}/secrets", None),
        ("GET", "/v1/vaults/{vault}/secrets/{path}", None),
        ("PUT", "/v1/vaults/{vault}/secrets/{path}", {"type": "note", "value": "x"}),
        ("DELETE", "/v1/vaults/{vault}/secrets/{path}", None),
        ("POST", "/v1/vaults/{vault}/secret-rotate/{path}", {}),
        ("GET", "/v1/vaults/{vault}/secret-versions/{path}", None),
        ("GET", "/v1/vaults/{vault}/secret-version/{path}/{version}", None),
        ("POST", "/v1/vaults/{vault}/secret-version/{path}/{version}/disable", None),
        ("GET", "/v1/users/{user}", None),
        ("POST", "/v1/users/{user}/api-keys", {"name": "k"}),
        ("GET", "/v1/users/{user}/api-keys", None),
        ("DELETE", "/v1/users/{user}/api-keys/{key}", None),
        ("GET", "/v1/agents/{agent}", None),
        ("DELETE", "/v1/agents/{agent}", None),
        ("POST", "/v1/agents/{agent}/rotate-key", None),
        ("POST", "/v1/vaults/{vault}/policies", {"principal_type": "agent",
                                                 "principal_id": e.agent_id,
                                                 "secret_path_pattern": "x/*",
                                                 "permissions": ["read"]}),
        ("GET", "/v1/vaults/{vault}/policies", None),
        ("GET", "/v1/vaults/{vault}/policies/{policy}", None),
        ("DELETE", "/v1/vaults/{vault}/policies/{policy}", None),
    ], {"vault": v, "path": path, "version": "999", "user": e.user, "key": "nokey",
        "agent": str(uuid.uuid4()), "policy": str(uuid.uuid4())}


# Segments that decode to a well-formed secret path (legitimately 2xx on a secret route).
VALID_AS_SECRET_PATH = {"--", "0", "-1", "9999999999999999999999", "a" * 5000, "null", "self"}


def raw_call(e, method, target, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    rs = send_raw(e, request_bytes(method, target, data, token=e.srv.admin_key))
    return rs[0] if rs else None


# A known PostgreSQL store bug, left for a decision: an audit event keeps the path (and vault id)
# as the request named it, which may be any bytes (api/render.cc), and a PostgreSQL text column
# takes only UTF-8. A request for secret path %C0%AF, or a listing with ?prefix=%FF, is then
# refused with 503 "the audit log cannot be written" (and counted in
# coffer_audit_write_failures_total) instead of SQLite's 400; GET /v1/audit?action=%FF (or
# actor_id) is a 500 instead of an empty page. Strict, so the fix shows as an XPASS failure.
NON_UTF8_ON_POSTGRES = pytest.mark.xfail(
    strict=True, reason="PostgreSQL: non-UTF-8 bytes of a request's path or audit filter reach a "
                        "text column (503/500 instead of 400 or an empty page)")


def known_postgres_bug(request, e, mark):
    if e.srv.store.kind == "postgres":
        request.applymarker(mark)


def test_hostile_path_segments_everywhere(env, request):
    e = env
    known_postgres_bug(request, e, NON_UTF8_ON_POSTGRES)
    templates, defaults = path_templates(e)
    count = 0
    for method, template, body in templates:
        for param in [p for p in defaults if "{" + p + "}" in template]:
            for seg in HOSTILE_SEGMENTS:
                values = dict(defaults)
                values[param] = seg
                target = template
                for k, v in values.items():
                    target = target.replace("{" + k + "}", v)
                r = raw_call(e, method, target, body)
                where = f"{method} {template} with {param}={seg[:40]}"
                count += 1
                if r is None:
                    pytest.fail(f"{where}: no response")
                if r.status < 400 and param in ("path",) and seg in VALID_AS_SECRET_PATH:
                    continue
                if r.status < 400 and param == "version" and seg in ("0",):
                    pytest.fail(f"{where}: version 0 accepted")
                check_raw_problem(r, where=where)
    assert count > 500
    # The secret everyone reads is intact, and no other vault appeared or vanished.
    vaults = expect(e.admin.get(e.base + "/vaults"), 200).json()["vaults"]
    assert e.vault in [v["id"] for v in vaults]


def test_encoded_slash_and_dot_segments_never_escape_the_path_rules(env):
    e = env
    v = e.vault
    # Traversal out of the secrets collection must not reach another route or secret.
    for target in (f"/v1/vaults/{v}/secrets/x/../../policies",
                   f"/v1/vaults/{v}/secrets/x/%2e%2e/%2e%2e/policies",
                   f"/v1/vaults/{v}/secrets/..%2F..%2Fpolicies",
                   f"/v1/vaults/{v}/secrets/%252e%252e%252fpolicies",
                   f"/v1/vaults/{v}/secrets/app/./db",
                   f"/v1/vaults/{v}/secrets/app//db",
                   f"/v1/vaults/{v}/secrets/app/db/",
                   f"/v1/vaults/{v}/secrets/app%2F%2Fdb",
                   f"/v1/vaults/{v}/secrets/app%5Cdb",
                   f"/v1/vaults/{v}/../{v}/secrets/app/db",
                   f"/v1/./vaults/{v}/secrets/app/db",
                   "/v1/vaults/%2e%2e/vaults",
                   "/v1/../v1/health/../vaults"):
        r = raw_call(e, "GET", target)
        body = check_raw_problem(r, where=target)
        assert SECRET_VALUE not in r.body.decode(errors="replace")
        assert "policies" not in body.get("detail", "") or r.status in (400, 404)
    # The encoded and raw forms of the real path are the same secret.
    r = raw_call(e, "GET", f"/v1/vaults/{v}/secrets/app%2Fdb")
    assert r.status == 200 and r.json()["value"] == SECRET_VALUE
    r = raw_call(e, "GET", f"/v1/vaults/{v}/secrets/app%2fdb")
    assert r.status == 200


def test_raw_invalid_bytes_in_the_request_target(env):
    e = env
    v = e.vault.encode()
    for target in (b"/v1/vaults/" + v + b"/secrets/\xff",
                   b"/v1/vaults/" + v + b"/secrets/a\xc0\xafb",
                   b"/v1/vaults/" + v + b"/secrets?prefix=\xff", b"/v1/\x7fhealth",
                   b"/v1/vaults/" + v + b"/secrets/a b", b"/v1/health#frag",
                   b"http://evil.example/v1/health", b"*", b"//v1/health", b"/v1/health\t"):
        data = b"GET " + target + b" HTTP/1.1\r\nHost: c\r\nAuthorization: Bearer " + \
            e.srv.admin_key.encode() + b"\r\n\r\n"
        rs = send_raw(e, data)
        if not rs:
            continue  # the server may just close on a request line it cannot parse
        if rs[0].status == 200 and target in (b"http://evil.example/v1/health",):
            continue  # absolute-form targets are allowed by RFC 9112
        check_raw_problem(rs[0], where=repr(target[:40]))


SQLI = ["' OR '1'='1", "\" OR \"\"=\"", "'; DROP TABLE secrets; --", "1; SELECT * FROM users --",
        "/* comment */", "admin'--", "%00", "\\'", "1 OR 1=1", "' UNION SELECT value, 1 FROM "
        "secret_versions --", "'||(SELECT sqlite_version())||'", "%' OR '%'='", "_", "%", "*",
        "app/%", "app/_b", "\x00", "`", "$1"]


def test_sql_metacharacters_in_query_parameters(env):
    e = env
    list_url = f"{e.base}/vaults/{e.vault}/secrets"
    for payload in SQLI:
        for param in ("prefix", "after", "limit", "unknown' OR 1=1--"):
            r = e.admin.get(list_url, params={param: payload})
            if r.status_code == 200:
                assert param in ("prefix", "after")
                items = r.json()["secrets"]
                # Only secrets whose path literally starts with the prefix (none do), or all of
                # them for an `after` cursor: never a wildcard match.
                if param == "prefix":
                    assert all(i["path"].startswith(payload) for i in items), f"prefix {payload!r}"
                    assert payload not in ("%", "_", "app/%", "app/_b", "%' OR '%'='") or \
                        not items, f"prefix {payload!r} matched as a LIKE pattern"
            else:
                check_req_problem(r, where=f"list {param}={payload!r}")
        for param in ("vault_id", "actor_id", "action", "since", "until", "after", "limit",
                      "x' OR 1=1 --"):
            r = e.admin.get(e.base + "/audit", params={param: payload})
            if r.status_code == 200:
                assert param in ("vault_id", "actor_id", "action")
                assert r.json()["events"] == [], f"audit {param}={payload!r} matched events"
            else:
                check_req_problem(r, where=f"audit {param}={payload!r}")


def test_numbers_out_of_range_in_query_parameters(env):
    e = env
    cases = ["-1", "0", "9223372036854775808", "-9223372036854775809", "1e3", "1.5", "0x10",
             "+5", " 5", "5 ", "", "NaN", "99999999999999999999999999"]
    for value in cases:
        for route, param in ((f"/vaults/{e.vault}/secrets", "limit"), ("/audit", "limit"),
                             ("/audit", "after")):
            r = e.admin.get(e.base + route, params={param: value})
            if r.status_code == 200:
                # Only what an integer parser may fairly take.
                fair = param == "after" and value in ("0", "-1")
                assert fair, f"{route}?{param}={value!r} accepted"
            else:
                check_req_problem(r, allowed=(400,), where=f"{route}?{param}={value!r}")


def test_invalid_utf8_in_query_strings(env, request):
    e = env
    known_postgres_bug(request, e, NON_UTF8_ON_POSTGRES)
    for raw in ("%FF", "%C0%AF", "%ED%A0%80", "%C3%28", "%00", "a%00b", "%", "%zz", "%%",
                "%0d%0aSet-Cookie:x=1"):
        for route, param in ((f"/v1/vaults/{e.vault}/secrets", "prefix"),
                             ("/v1/audit", "action"), ("/v1/audit", "vault_id")):
            r = raw_call(e, "GET", f"{route}?{param}={raw}")
            if r.status == 200:
                body = r.json()
                assert not body.get("secrets") and not body.get("events")
            else:
                check_raw_problem(r, where=f"{route}?{param}={raw}")
            assert "set-cookie" not in r.headers


def test_sql_metacharacters_in_string_fields_are_stored_verbatim_or_refused(env):
    e = env
    for name in ENDPOINTS:
        _, _, _, valid, types = body_endpoints(e)[name]
        for field, kind in types.items():
            if kind != "s":
                continue
            for payload in SQLI:
                body = dict(valid)
                body[field] = payload
                if name in ("vault.create", "user.create", "agent.create") and field != "name":
                    body["name"] = "sq-" + uuid.uuid4().hex[:10]
                if name == "agent.self_rotate":
                    body[field] = payload  # never the real secret: never rotates
                r = call(e, name, json.dumps(body).encode())
                where = f"{name}.{field}={payload!r}"
                if r.status_code in (200, 201):
                    assert (name, field) in ALLOWED_VERBATIM, f"{where} accepted"
                    check_verbatim(e, name, field, payload, r)
                else:
                    check_req_problem(r, allowed=(400, 401, 404, 409, 429), where=where)
    # Secret values and metadata hold anything, and come back exactly.
    url = f"{e.base}/vaults/{e.vault}/secrets/hostile/sqli"
    for payload in SQLI:
        expect(e.admin.put(url, json={"type": "note", "value": payload,
                                      "metadata": {payload: payload}}), 201)
        got = expect(e.admin.get(url), 200).json()
        assert got["value"] == payload and got["metadata"] == {payload: payload}


# Free text, and names whose payload happens to be a valid name ("_", "--"): stored as sent.
ALLOWED_VERBATIM = {("vault.create", "description"), ("agent.create", "description"),
                    ("secret.put", "value"), ("vault.create", "name"), ("agent.create", "name"),
                    ("user.create", "name"), ("apikey.create", "name"),
                    ("policy.create", "secret_path_pattern")}


def check_verbatim(e, name, field, payload, r):
    __tracebackhide__ = True
    created = r.json()
    if name in ("user.create", "apikey.create", "policy.create"):
        got = created
    elif name == "vault.create":
        got = expect(e.admin.get(f"{e.base}/vaults/{created['id']}"), 200).json()
    elif name == "agent.create":
        got = expect(e.admin.get(f"{e.base}/agents/{created['id']}"), 200).json()
    else:
        got = expect(e.admin.get(f"{e.base}/vaults/{e.vault}/secrets/hostile/put"), 200).json()
    if got.get(field) != payload:
        pytest.fail(f"{name}.{field} not stored verbatim")


def test_hostile_bearer_tokens_are_401(env):
    e = env
    valid = e.srv.admin_key
    for token in SQLI + ["cfr_key_' OR 1=1--", "cfr_key_" + "A" * 12 + "_' OR '1'='1",
                         valid[:-1] + "'", valid + "' OR '1'='1", valid.replace("_", "%5F"),
                         "cfr_key_%00", "x" * 15000, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA", "Basic YTpi"]:
        try:
            # Each from its own address: what is tested is the parse, not the budget of
            # refused credentials (test_auth_failure_limit.py).
            r = requests.get(e.base + "/me", headers={"Authorization": "Bearer " + token,
                                                      "X-Forwarded-For": fresh_ip()}, timeout=10)
        except (ValueError, requests.RequestException):
            continue  # the client library refused to send it
        check_req_problem(r, allowed=(400, 401), where="hostile bearer")
    for header in ("Bearer", "Bearer ", "bearer " + valid + " " + valid, "Token " + valid,
                   "Bearer\t" + valid + "\x7f"):
        data = request_bytes("GET", "/v1/me", headers={"Authorization": header,
                                                       "X-Forwarded-For": fresh_ip()})
        rs = send_raw(e, data)
        if rs and rs[0].status == 200:
            continue  # a lenient but exact parse of a valid key is fine
        if rs:
            check_raw_problem(rs[0], where="odd Authorization")


# ---------------------------------------------------------------------------------------------
# Headers, connections and framing.


def test_enormous_headers_are_431(env):
    e = env
    huge = request_bytes("GET", "/v1/health", headers={"X-Big": "a" * (MAX_HEADER + 100)})
    check_raw_problem(send_raw(e, huge)[0], allowed=(431,), where="one huge header")
    many = request_bytes("GET", "/v1/health", headers={f"X-H{i}": "v" * 10 for i in range(2000)})
    check_raw_problem(send_raw(e, many)[0], allowed=(431,), where="many headers")
    long_target = request_bytes("GET", "/v1/vaults/" + "a" * (MAX_HEADER + 10))
    check_raw_problem(send_raw(e, long_target)[0], allowed=(414, 431), where="long target")
    # Under the limit: a big (wrong) credential is just a 401, many small headers are fine.
    r = send_raw(e, request_bytes("GET", "/v1/me", token="x" * (MAX_HEADER - 1000)))[0]
    check_raw_problem(r, allowed=(401,), where="big credential")
    r = send_raw(e, request_bytes("GET", "/v1/health",
                                  headers={f"X-H{i}": "v" for i in range(200)}))[0]
    assert r.status == 200


def test_malformed_header_lines_are_400(env):
    e = env
    for data in (b"GET /v1/health HTTP/1.1\r\nHost c\r\n\r\n",
                 b"GET /v1/health HTTP/1.1\r\nX: a\x00b\r\n\r\n",
                 b"GET /v1/health HTTP/1.1\r\n X: folded\r\n\r\n",
                 b"GET /v1/health HTTP/1.1\r\nX : sp\r\n\r\n",
                 b"GET /v1/health HTTP/1.1\r\n\xff: v\r\n\r\n",
                 b"GET  /v1/health  HTTP/1.1\r\n\r\n",
                 b"GET /v1/health HTTP/1.1\nHost: c\n\n\x00",
                 b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                 b"GET /v1/health HTTP/9.9\r\n\r\n",
                 b"GET /v1/health\r\n\r\n",
                 b"G\xffT /v1/health HTTP/1.1\r\n\r\n",
                 b"\r\n\r\n\r\n"):
        rs = send_raw(e, data)
        if rs and rs[0].status == 200 and data.startswith(b"GET /v1/health HTTP/1.1\nHost"):
            continue  # bare LF line endings are tolerated by the parser
        if rs:
            check_raw_problem(rs[0], allowed=range(400, 506), where=repr(data[:30]))
            assert rs[0].status != 500


def test_hostile_request_ids_are_replaced_not_echoed(env):
    e = env
    for rid in ("a\r\nSet-Cookie: x=1", "' OR 1=1 --", "x" * 65, "<script>", "a b", "\xff\xfe",
                "../../etc", "%0d%0a"):
        data = request_bytes("GET", "/v1/health", headers={"X-Request-Id": rid})
        rs = send_raw(e, data)
        if not rs:
            continue
        r = rs[0]
        assert "set-cookie" not in r.headers
        got = r.headers.get("x-request-id", "")
        assert got and got != rid and all(ch.isalnum() or ch in "._-" for ch in got), \
            "hostile X-Request-Id echoed"


def test_http_1_0_is_answered_and_closed(env):
    e = env
    with connect(e) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.0\r\n\r\n")
        r = read_response(sock, [b""])
        assert r.status == 200 and r.version == "HTTP/1.0"
        assert closed_by_server(sock, 5)
    data = request_bytes("GET", f"/v1/vaults/{e.vault}/secrets/app/db", version="HTTP/1.0",
                         token=e.srv.admin_key)
    r = send_raw(e, data)[0]
    assert r.status == 200 and r.json()["value"] == SECRET_VALUE
    r = send_raw(e, request_bytes("GET", "/v1/nope", version="HTTP/1.0"))[0]
    check_raw_problem(r, allowed=(404,))


def test_pipelined_requests_are_answered_in_order(env):
    e = env
    tok = e.srv.admin_key
    reqs = [
        request_bytes("GET", "/v1/health", headers={"X-Request-Id": "pipe-1"}),
        request_bytes("GET", f"/v1/vaults/{e.vault}/secrets/app/db", token=tok,
                      headers={"X-Request-Id": "pipe-2"}),
        request_bytes("PUT", f"/v1/vaults/{e.vault}/secrets/hostile/pipe", token=tok,
                      body=b'{"type":"note","value":"p"}', headers={"X-Request-Id": "pipe-3"}),
        request_bytes("GET", "/v1/nope", headers={"X-Request-Id": "pipe-4"}),
        request_bytes("GET", f"/v1/vaults/{e.vault}/secrets/hostile/pipe", token=tok,
                      headers={"X-Request-Id": "pipe-5"}),
    ]
    rs = send_raw(e, b"".join(reqs), count=len(reqs))
    assert [r.headers.get("x-request-id") for r in rs] == [f"pipe-{i}" for i in range(1, 6)]
    assert [r.status for r in rs] == [200, 200, 201, 404, 200]
    assert rs[1].json()["value"] == SECRET_VALUE and rs[4].json()["value"] == "p"
    check_raw_problem(rs[3], allowed=(404,))
    # A malformed request in the middle: the ones before it are answered, it gets a 400, and
    # the connection ends there (what follows is never taken as a request).
    bad = b"GET /v1/health HTTP/1.1\r\nContent-Length: zz\r\n\r\n"
    rs = send_raw(e, reqs[0] + bad + reqs[1], count=3)
    assert rs[0].status == 200
    assert len(rs) == 2
    check_raw_problem(rs[1], allowed=(400,))
    # Many pipelined requests in one write.
    rs = send_raw(e, reqs[0] * 200, count=200)
    assert len(rs) == 200 and all(r.status == 200 for r in rs)


def test_absurd_content_length_and_framing(env):
    e = env
    tok = e.srv.admin_key
    route = f"/v1/vaults/{e.vault}/secrets/hostile/cl"
    for value, allowed in (("99999999999999999999999999", (400, 413)),
                           ("18446744073709551615", (400, 413)), ("1073741824", (413,)),
                           (str(MAX_BODY + 1), (413,)), ("-1", (400,)), ("abc", (400,)),
                           ("1e3", (400,)), ("0x10", (400,)), ("5, 6", (400,))):
        data = request_bytes("PUT", route, token=tok, headers={"Content-Length": value,
                                                               "Content-Type": "application/json"})
        rs = send_raw(e, data)
        assert rs, f"Content-Length {value}: no answer"
        check_raw_problem(rs[0], allowed=allowed, where=f"Content-Length {value}")
    # Two different lengths, and a length together with chunked (request smuggling).
    for headers in ({"Content-Length": "2\r\nContent-Length: 30"},
                    {"Content-Length": "5", "Transfer-Encoding": "chunked"},
                    {"Transfer-Encoding": "chunked\r\nTransfer-Encoding: chunked"},
                    {"Transfer-Encoding": "gzip"},
                    {"Transfer-Encoding": "chunked, gzip"},
                    {"Transfer-Encoding": "xchunked"}):
        data = request_bytes("PUT", route, token=tok,
                             headers={"Content-Type": "application/json", **headers}) + \
            b'5\r\n{"a":\r\n0\r\n\r\n'
        rs = send_raw(e, data, count=2)
        assert rs, f"{headers}: no answer"
        check_raw_problem(rs[0], allowed=(400, 411, 413, 415, 501), where=str(headers))
        assert len(rs) == 1 or rs[1].status >= 400  # nothing smuggled through as a 2xx


# Transfer-Encoding other than exactly "chunked" (RFC 9112 §6.3): 400 and close, so the bytes
# after the header are never read as a request of their own. Each entry: the request's version
# and its framing fields.
BAD_FRAMING = {
    "chunked then identity": ("HTTP/1.1", {"Transfer-Encoding": "chunked, identity"}),
    "gzip": ("HTTP/1.1", {"Transfer-Encoding": "gzip"}),
    "identity": ("HTTP/1.1", {"Transfer-Encoding": "identity"}),
    "quoted chunked": ("HTTP/1.1", {"Transfer-Encoding": '"chunked"'}),
    "chunked twice in one field": ("HTTP/1.1", {"Transfer-Encoding": "chunked, chunked"}),
    "gzip then chunked": ("HTTP/1.1", {"Transfer-Encoding": "gzip, chunked"}),
    "chunked in two fields": ("HTTP/1.1",
                              {"Transfer-Encoding": "chunked\r\nTransfer-Encoding: chunked"}),
    "gzip with a length": ("HTTP/1.1", {"Transfer-Encoding": "gzip", "Content-Length": "0"}),
    "chunked with a length": ("HTTP/1.1",
                              {"Content-Length": "0", "Transfer-Encoding": "chunked"}),
    "chunked in HTTP/1.0": ("HTTP/1.0", {"Transfer-Encoding": "chunked"}),
}


@pytest.mark.parametrize("version,fields", BAD_FRAMING.values(), ids=BAD_FRAMING.keys())
def test_transfer_coding_other_than_chunked_is_400_and_nothing_is_smuggled(env, version, fields):
    e = env
    tok = e.srv.admin_key
    path = f"hostile/smuggled-{uuid.uuid4().hex[:8]}"
    smuggled = request_bytes("PUT", f"/v1/vaults/{e.vault}/secrets/{path}", token=tok,
                             body=b'{"type":"note","value":"smuggled"}')
    # Read as a request without a body, the smuggled PUT right after the header would be the
    # connection's next request.
    rs = send_raw(e, request_bytes("GET", "/v1/health", headers=fields, version=version) +
                  smuggled, count=2)
    assert len(rs) == 1, f"{len(rs)} answers"
    check_raw_problem(rs[0], allowed=(400,), where=str(fields))
    assert rs[0].headers.get("connection", "").lower() == "close"
    assert "Transfer-Encoding" in rs[0].json()["detail"]
    expect(e.admin.get(f"{e.base}/vaults/{e.vault}/secrets/{path}"), 404)


def test_chunked_trailer_fields_never_act_as_headers(env):
    e = env
    tok = e.srv.admin_key
    name = f"trailer-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"name": name}).encode()
    te = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    # The admin's key in the trailer does not authenticate the request.
    trailer = f"Authorization: Bearer {tok}\r\n".encode()
    rs = send_raw(e, request_bytes("POST", "/v1/vaults", headers=te) +
                  chunked(body)[:-2] + trailer + b"\r\n")
    check_raw_problem(rs[0], allowed=(401,), where="Authorization in the trailer")
    names = [v["name"] for v in expect(e.admin.get(e.base + "/vaults"), 200).json()["vaults"]]
    assert name not in names
    # Content-Type in the trailer does not make a text/plain body JSON.
    trailer = b"Content-Type: application/json\r\n"
    rs = send_raw(e, request_bytes("POST", "/v1/vaults", token=tok,
                                   headers={**te, "Content-Type": "text/plain"}) +
                  chunked(body)[:-2] + trailer + b"\r\n")
    check_raw_problem(rs[0], allowed=(415,), where="Content-Type in the trailer")
    # The same request with its fields in the header works.
    rs = send_raw(e, request_bytes("POST", "/v1/vaults", token=tok, headers=te) + chunked(body))
    assert rs[0].status == 201


def chunked(body, size=1000):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_bodies(env):
    e = env
    tok = e.srv.admin_key
    route = f"/v1/vaults/{e.vault}/secrets/hostile/chunked"
    te = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    ok = chunked(b'{"type":"note","value":"chunky"}', size=3)
    r = send_raw(e, request_bytes("PUT", route, token=tok, headers=te) + ok)[0]
    assert r.status == 201
    assert expect(e.admin.get(e.base + route[3:]), 200).json()["value"] == "chunky"
    # Over the body limit in small chunks: 413.
    big = b'{"type":"note","value":"' + b"a" * MAX_BODY + b'"}'
    rs = send_raw(e, request_bytes("PUT", route, token=tok, headers=te) + chunked(big, 65536))
    check_raw_problem(rs[0], allowed=(413,), where="chunked over limit")
    # A chunk size over the limit, absurd, negative or not hex.
    for head in (b"200000\r\n", b"FFFFFFFFFFFFFFFFFFFFFFFF\r\n", b"-1\r\n", b"zz\r\n",
                 b"5;" + b"x" * 20000 + b"\r\n", b"\r\n"):
        rs = send_raw(e, request_bytes("PUT", route, token=tok, headers=te) + head + b"abcde\r\n")
        if not rs:
            continue  # waiting for more bytes: cut off by the read timeout (tested below)
        check_raw_problem(rs[0], allowed=(400, 413, 431), where=repr(head[:20]))
    # Deeply nested JSON in chunks.
    rs = send_raw(e, request_bytes("PUT", route, token=tok, headers=te) +
                  chunked(b"[" * 100_000, 997))
    check_raw_problem(rs[0], allowed=(400,), where="chunked nesting")


def test_oversized_body_on_a_route_without_one_is_413(env):
    e = env
    data = request_bytes("GET", "/v1/health", body=b"x" * (MAX_BODY + 1),
                         headers={"Content-Length": str(MAX_BODY + 1)})
    check_raw_problem(send_raw(e, data)[0], allowed=(413,), where="GET with huge body")
    data = request_bytes("POST", "/v1/nope", body=b"[" * 1000)
    check_raw_problem(send_raw(e, data)[0], allowed=(404,), where="unknown route")


def test_slow_and_half_open_clients_are_cut_off_while_others_are_served(env):
    e = env
    cutoff = READ_TIMEOUT_MS / 1000 + 2.5
    results = {}

    def slowloris(label, prefix, trickle):
        # Sends `prefix`, then one byte of `trickle` per second until the server closes.
        with connect(e) as sock:
            start = time.monotonic()
            sock.sendall(prefix)
            closed = False
            for b in trickle:
                time.sleep(1.0)
                try:
                    sock.sendall(bytes([b]))
                except OSError:
                    closed = True
                    break
                if time.monotonic() - start > cutoff + 2:
                    break
            if not closed:
                closed = closed_by_server(sock, 0.5)
            results[label] = (closed, time.monotonic() - start)

    def half_open(label, data):
        with connect(e) as sock:
            start = time.monotonic()
            sock.sendall(data)
            closed = closed_by_server(sock, cutoff)
            results[label] = (closed, time.monotonic() - start)

    tok = e.srv.admin_key
    threads = [
        threading.Thread(target=slowloris, args=(
            "header trickle", b"GET /v1/health HTTP/1.1\r\nHost: c\r\n", b"X-Slow: abcdefghij")),
        threading.Thread(target=slowloris, args=(
            "body trickle", request_bytes("PUT", f"/v1/vaults/{e.vault}/secrets/hostile/slow",
                                          token=tok, headers={"Content-Length": "30",
                                                              "Content-Type": "application/json"}),
            b'{"type":"note","value":"slow"}')),
        threading.Thread(target=half_open, args=("half request line", b"GET /v1/hea")),
        threading.Thread(target=half_open, args=(
            "half headers", b"GET /v1/health HTTP/1.1\r\nHost: c\r\n")),
        threading.Thread(target=half_open, args=(
            "half body", request_bytes("POST", "/v1/vaults", token=tok,
                                       headers={"Content-Length": "100",
                                                "Content-Type": "application/json"}) + b'{"na')),
        threading.Thread(target=half_open, args=(
            "half chunked", request_bytes("POST", "/v1/vaults", token=tok,
                                          headers={"Transfer-Encoding": "chunked",
                                                   "Content-Type": "application/json"})
            + b"10\r\n{\"name\":")),
    ]
    # And a crowd of half-open connections at once.
    for i in range(40):
        threads.append(threading.Thread(target=half_open, args=(f"crowd {i}", b"POST /v1/vau")))
    for t in threads:
        t.start()
    time.sleep(0.3)
    # A normal client is served while they hang.
    latencies = []
    s = e.srv.session()
    while any(t.is_alive() for t in threads[:6]):
        start = time.monotonic()
        r = s.get(f"{e.base}/vaults/{e.vault}/secrets/app/db", timeout=10)
        latencies.append(time.monotonic() - start)
        assert r.status_code == 200 and r.json()["value"] == SECRET_VALUE
        time.sleep(0.1)
    for t in threads:
        t.join(30)
    assert len(latencies) >= 5
    assert sorted(latencies)[len(latencies) // 2] < 1.0 * SLOW, "normal requests slowed down"
    for label, (closed, took) in results.items():
        assert closed, f"{label}: the server never cut the connection"
        assert took < cutoff + 2, f"{label}: cut off only after {took:.1f} s"
    assert len(results) == len(threads)
    # Nothing half-sent was stored.
    expect(e.admin.get(f"{e.base}/vaults/{e.vault}/secrets/hostile/slow"), 404)


def test_idle_connection_is_closed_after_the_idle_timeout(env):
    with connect(env) as sock:
        start = time.monotonic()
        assert closed_by_server(sock, IDLE_TIMEOUT_MS / 1000 + 3)
        assert time.monotonic() - start >= IDLE_TIMEOUT_MS / 1000 - 0.5


def test_many_connections_at_once(env):
    e = env
    socks = []
    try:
        # All from 127.0.0.1, so below its 256 connections (the per-address limit, which
        # test_connection_floods.py tests), with room for the watcher and admin sessions.
        for _ in range(200):
            socks.append(connect(e))
        r = e.admin.get(f"{e.base}/vaults/{e.vault}/secrets/app/db", timeout=10)
        assert r.status_code == 200
        for sock in socks[:50]:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: c\r\n\r\n")
        for sock in socks[:50]:
            assert read_response(sock, [b""]).status == 200
    finally:
        for sock in socks:
            sock.close()


@pytest.fixture
def flood_env(tmp_path, store):
    """A server of its own with the default read timeout: 16 uploads of up to 1 MiB at once, on a
    loaded machine under a sanitizer, can take longer than the module server's 1.5 s, which is
    there for the slow-client tests (the connection is then closed mid-upload, as it should be)."""
    data = str(tmp_path / "data")
    srv = Server(data, init_data_dir(data, store), store=store)
    try:
        admin = srv.session()
        base = srv.url + "/v1"
        vault = expect(admin.post(base + "/vaults", json={"name": "flood"}), 201).json()["id"]
        expect(admin.put(f"{base}/vaults/{vault}/secrets/app/db",
                         json={"type": "password", "value": SECRET_VALUE}), 201)
        yield Bag(srv=srv, base=base, vault=vault)
    finally:
        srv.stop()


def test_concurrent_floods_of_hostile_bodies(flood_env):
    """16 clients at once, each sending huge, nested and over-limit bodies, while a normal client
    reads: every hostile request gets its 4xx and the normal reads stay fast."""
    e = flood_env
    payloads = [b'{"type":"note","value":"' + b"a" * (MAX_BODY - 100) + b'"}',
                b"[" * 100_000, b'{"name":"' + b"a" * MAX_BODY + b'"}', b"\xff" * 1000]
    errors = []

    def flood(i):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + e.srv.admin_key
        for k in range(6):
            data = payloads[(i + k) % len(payloads)]
            try:
                r = s.put(f"{e.base}/vaults/{e.vault}/secrets/hostile/flood{i}", data=data,
                          headers={"Content-Type": "application/json"}, timeout=30)
                if not 400 <= r.status_code < 500:
                    errors.append(r.status_code)
            except requests.RequestException as ex:
                errors.append(type(ex).__name__)

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    latencies = []
    s = e.srv.session()
    while any(t.is_alive() for t in threads):
        start = time.monotonic()
        r = s.get(f"{e.base}/vaults/{e.vault}/secrets/app/db", timeout=10)
        latencies.append(time.monotonic() - start)
        assert r.status_code == 200
        time.sleep(0.02)
    for t in threads:
        t.join(60)
    assert not errors, f"hostile requests answered {errors[:5]}"
    if latencies:
        assert sorted(latencies)[len(latencies) // 2] < 1.0 * SLOW, "normal reads slowed down"


def test_zz_server_kept_serving_throughout(env):
    """The watcher's reads all succeeded, the server is alive, and the audit chain verifies."""
    w = env.watcher
    assert env.srv.proc.poll() is None, "server exited"
    assert w.ok >= 5, f"only {w.ok} watcher reads"
    assert not w.failures, f"watcher failures: {w.failures[:5]}"
    assert w.max_latency < 5 * SLOW, f"a normal read took {w.max_latency:.1f} s"
    r = expect(env.admin.get(env.base + "/audit/verify"), 200).json()
    assert r.get("ok", r.get("valid", True)) is True, redact(json.dumps(r))
