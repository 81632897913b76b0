"""Operating the server: readiness, Prometheus metrics, the served OpenAPI description, the
JSON access log (with planted canaries that must never reach it) and the plain-HTTP listen rule."""
import json
import os
import re
import subprocess
import threading
import time

import requests

from conftest import (COFFER_BIN, Caller, Server, admin_caller, check_absent, create_agent,
                      expect, expect_problem, init_data_dir, raw_request, self_rotate)
from test_version import project_version

REPO = os.path.join(os.path.dirname(__file__), "..", "..")

# One Prometheus text-format sample: name{labels} value
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{name: [(labels dict, value)]}; fails on any line that is not valid text format."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        samples.setdefault(m.group(1), []).append((labels, float(m.group(4))))
    return samples


def metrics_once(server, settled, timeout=5.0):
    """GET /metrics once `settled(samples)` holds (or the time is up): a request is counted just
    after its answer is sent, so the answer can reach the test before the count is made."""
    deadline = time.time() + timeout
    while True:
        r = requests.get(server.url + "/metrics", timeout=10)
        samples = parse_metrics(r.text)
        if settled(samples) or time.time() > deadline:
            return r, samples
        time.sleep(0.02)


def value(samples, name, **labels):
    return sum(v for l, v in samples.get(name, []) if all(l.get(k) == x for k, x in labels.items()))


def test_health_and_ready(server):
    r = requests.get(server.url + "/v1/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "healthy", "version": project_version()}
    r = requests.get(server.url + "/v1/ready", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_ready_is_503_when_the_store_cannot_be_read(server):
    # Break the store under the running server: reads of users fail from now on.
    if server.store.kind == "sqlite":
        db = os.path.join(server.data_dir, "coffer.db")
        subprocess.run(["sqlite3", db,
                        "PRAGMA foreign_keys=OFF; ALTER TABLE users RENAME TO gone;"],
                       check=True, timeout=30)
    else:
        server.sql("ALTER TABLE users RENAME TO gone")
    r = requests.get(server.url + "/v1/ready", timeout=10)
    body = expect_problem(r, 503)
    assert body["type"] == "urn:coffer:problem:not-ready"
    assert "store" in body["detail"]
    # Liveness still answers 200, and says the server is degraded.
    r = requests.get(server.url + "/v1/health", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "degraded"


def test_openapi_served_is_the_documented_file(server):
    r = requests.get(server.url + "/v1/openapi.yaml", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/yaml")
    with open(os.path.join(REPO, "docs", "openapi.yaml"), "rb") as f:
        assert r.content == f.read()


def test_metrics_count_requests_by_route_template(server, vault):
    admin = admin_caller(server)
    secret_path = "metric-canary/deep/path"
    expect(admin.put(f"/vaults/{vault}/secrets/{secret_path}",
                     json={"type": "note", "value": "metric-canary-value"}), 201)
    for _ in range(3):
        expect(admin.get(f"/vaults/{vault}/secrets/{secret_path}"), 200)
    expect(admin.get(f"/vaults/{vault}/secrets/no-such"), 404)
    raw_request(server.url, "GET", "/v1/no-such-route/metric-canary")

    r, samples = metrics_once(server, lambda s: value(s, "coffer_http_requests_total",
                                                       route="unmatched", status="404") >= 1)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.text
    route = "/v1/vaults/{vault_id}/secrets/{*path}"
    assert value(samples, "coffer_http_requests_total", method="GET", route=route,
                 status="200") == 3
    assert value(samples, "coffer_http_requests_total", method="GET", route=route,
                 status="404") == 1
    assert value(samples, "coffer_http_requests_total", method="PUT", route=route,
                 status="201") == 1
    assert value(samples, "coffer_http_requests_total", route="unmatched", status="404") >= 1
    assert value(samples, "coffer_http_request_duration_seconds_count", method="GET",
                 route=route) == 4
    # Histogram buckets are cumulative and end at +Inf == count.
    buckets = [(l["le"], v) for l, v in samples["coffer_http_request_duration_seconds_bucket"]
               if l.get("route") == route and l.get("method") == "GET"]
    assert buckets[-1] == ("+Inf", 4)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert value(samples, "coffer_store_operation_duration_seconds_count",
                 operation="PutSecretVersion") >= 1
    assert value(samples, "coffer_store_operation_duration_seconds_count",
                 operation="GetSecretVersion") >= 3
    if server.store.kind == "sqlite":
        # SQLite's group commit (docs/operations.md, "Metrics"); PostgreSQL has none.
        assert value(samples, "coffer_store_commits_total") >= 1
        assert value(samples, "coffer_store_write_ops_total") >= value(
            samples, "coffer_store_commits_total")
    else:
        assert "coffer_store_commits_total" not in samples
    assert value(samples, "coffer_http_active_connections") >= 1
    assert value(samples, "coffer_audit_write_failures_total") == 0
    # No path, id or value in any label.
    for needle in ("metric-canary", vault, "no-such"):
        assert needle not in text


def test_metrics_count_rate_limit_refusals(server):
    admin = admin_caller(server)
    agent = create_agent(admin, "metrics-bot")
    statuses = [self_rotate(server, agent["api_key"], "cfr_rot_wrong").status_code
                for _ in range(4)]
    assert statuses[-1] == 429
    _, samples = metrics_once(server, lambda s: value(s, "coffer_http_requests_total",
                                                       route="/v1/agents/self/rotate-key",
                                                       status="429") >= 1)
    assert value(samples, "coffer_rate_limit_refusals_total", limit="agent-self-rotate") == 1
    assert value(samples, "coffer_http_requests_total",
                 route="/v1/agents/self/rotate-key", status="429") == 1


def test_audit_write_failures_are_counted(server, vault):
    admin = admin_caller(server)
    expect(admin.put(f"/vaults/{vault}/secrets/a", json={"type": "note", "value": "x"}), 201)
    # Make the audit table refuse inserts: the next audited request fails closed.
    if server.store.kind == "sqlite":
        db = os.path.join(server.data_dir, "coffer.db")
        subprocess.run(["sqlite3", db, "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
                        "BEGIN SELECT RAISE(ABORT, 'audit disabled by test'); END;"],
                       check=True, timeout=30)
    else:
        server.sql("CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$BEGIN RAISE EXCEPTION 'audit disabled by test'; END$$",
                   "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
                   "FOR EACH ROW EXECUTE FUNCTION no_audit()")
    r = admin.get(f"/vaults/{vault}/secrets/a")
    expect_problem(r, 503)
    samples = parse_metrics(requests.get(server.url + "/metrics", timeout=10).text)
    assert value(samples, "coffer_audit_write_failures_total") >= 1


def test_access_log_is_json_with_route_template_and_no_canary(make_server):
    server = make_server(extra_args=["--log-level", "trace"])
    admin = admin_caller(server)
    canaries = ["CANARY-secret-value-7f3a9", "canary-path-q8z", "CANARY-metadata-k2p",
                "CANARY-bad-body-x1", "canary-query-m4", "CANARY-header-v9", server.admin_key]
    vault = expect(admin.post("/vaults", json={"name": "log-test"}), 201).json()["id"]
    expect(admin.put(f"/vaults/{vault}/secrets/canary-path-q8z/key",
                     json={"type": "api_key", "value": canaries[0],
                           "metadata": {"note": canaries[2]}}), 201)
    expect(admin.get(f"/vaults/{vault}/secrets/canary-path-q8z/key"), 200)
    expect(admin.get(f"/vaults/{vault}/secrets", params={"prefix": canaries[4]}), 200)
    r = admin.put(f"/vaults/{vault}/secrets/x", data='{"type": "' + canaries[3],
                  headers={"Content-Type": "application/json"})
    expect(r, 400)
    expect(Caller(server, "cfr_key_" + canaries[5]).get("/me"), 401)
    raw_request(server.url, "GET", "/v1/canary-path-q8z/unknown")
    agent = create_agent(admin, "log-bot")
    canaries += [agent["api_key"], agent["rotation_secret"]]
    rotated = expect(self_rotate(server, agent["api_key"], agent["rotation_secret"]), 200).json()
    canaries += [rotated["apiKey"], rotated["rotationSecret"]]
    token = expect(Caller(server).post("/auth/token", json={"api_key": server.admin_key}),
                   200).json()["access_token"]
    canaries.append(token)
    me = expect(Caller(server, token).get("/me", headers={"X-Request-Id": "log-test-rid-1"}),
                200).json()
    server.stop()

    log = server.read_log()
    check_absent(log, canaries, where="server log")
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for entry in lines:
        assert {"time", "level", "msg"} <= entry.keys()
    access = [e for e in lines if e["msg"] == "request"]
    assert len(access) >= 9
    for e in access:
        assert e["level"] == "info"
        assert {"request_id", "method", "route", "status", "duration_ms", "actor_id"} <= e.keys()
    by_id = {e["request_id"]: e for e in access}
    me_line = by_id["log-test-rid-1"]
    assert me_line["route"] == "/v1/me" and me_line["status"] == 200
    assert me_line["actor_id"] == me["id"]
    assert isinstance(me_line["duration_ms"], float)
    secret_reads = [e for e in access if e["route"] == "/v1/vaults/{vault_id}/secrets/{*path}"]
    assert {e["status"] for e in secret_reads} >= {200, 201}
    assert all(e["actor_id"] == me["id"] for e in secret_reads)
    unmatched = [e for e in access if e["route"] is None]
    assert unmatched and unmatched[0]["status"] == 404
    rotation = [e for e in access if e["route"] == "/v1/agents/self/rotate-key"]
    assert rotation and rotation[0]["actor_id"] == agent["id"]


def test_log_level_warn_hides_access_lines(make_server):
    server = make_server(extra_args=["--log-level", "warn"])
    expect(admin_caller(server).get("/me"), 200)
    server.stop()
    assert '"msg":"request"' not in server.read_log()


def test_plain_http_off_loopback_is_refused_unless_insecure_listen(data_dir):
    init_data_dir(data_dir)
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "0.0.0.0:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "refusing to serve plain HTTP on 0.0.0.0" in out.stderr
    assert "--tls-cert" in out.stderr and "--insecure-listen" in out.stderr
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "[::1]:0",
                          "--tls-cert", "/nonexistent.pem"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "--tls-key" in out.stderr


def start_on(data_dir, listen, *extra):
    """Starts a server on `listen` (the Server fixture always uses 127.0.0.1); returns
    (process, port). The caller stops it."""
    proc = subprocess.Popen([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", listen,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode()
    m = re.search(r"listening on \S+:(\d+)", line)
    if not m:
        proc.kill()
        proc.wait()
        raise AssertionError("server did not start")
    return proc, int(m.group(1))


def stop(proc):
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def test_insecure_listen_allows_plain_http_on_any_address(data_dir):
    init_data_dir(data_dir)
    proc, port = start_on(data_dir, "0.0.0.0:0", "--insecure-listen")
    try:
        r = requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=10)
        assert r.status_code == 200
    finally:
        stop(proc)
