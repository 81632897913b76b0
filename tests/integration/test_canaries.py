"""Canaries: unique values planted as secret values, generated values, agent
API keys and rotation secrets, user API keys, JWTs, in request bodies that fail validation, in
credential headers and in query strings, through success, 4xx and audit paths, /metrics, the
ops endpoints and the CLI; then none may appear in the server's output (stdout and stderr at
--log-level trace), in any error body or header, in audit events, in /metrics, or in a core file
after a crash signal (the server makes itself undumpable and sets RLIMIT_CORE to 0).

Canaries are never printed: every check names where a canary was found, never the canary.
"""
import json
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
import requests

from conftest import COFFER_BIN, LISTEN_RE, Bag, init_data_dir


CANARY_TAGS = ("value", "value2", "env", "counted", "bad_body", "rot_body", "rot_key", "header",
               "query", "cli", "corrupt")


def canary(tag):
    # Shaped like nothing the server generates, unique per run, easy to search in bytes.
    return f"CNRY{tag}{uuid.uuid4().hex}"


class Recorder:
    """Remembers every response (status, headers, body) for the final scan."""

    def __init__(self):
        self.responses = []  # (where, status, headers text, body text, value_allowed)

    def add(self, where, r, value_allowed=False):
        headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        self.responses.append((where, r.status_code, headers, r.text, value_allowed))
        return r


def start_server(data_dir, cwd, extra=()):
    """`coffer server` at trace level with stdout and stderr in files, in `cwd` (where a core
    file would land); returns (proc, url, out_path, err_path)."""
    out_path, err_path = os.path.join(cwd, "server.out"), os.path.join(cwd, "server.err")
    out, err = open(out_path, "wb"), open(err_path, "wb")
    proc = subprocess.Popen([COFFER_BIN, "server", "--data-dir", data_dir, "--listen",
                             "127.0.0.1:0", "--log-level", "trace", "--trusted-proxies",
                             "127.0.0.1", *extra], stdout=out, stderr=err, cwd=cwd)
    out.close()
    err.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        with open(out_path, "rb") as f:
            m = LISTEN_RE.search(f.read().decode(errors="replace"))
        if m:
            return proc, m.group(1), out_path, err_path
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.fail("server did not start")


def scan(label, data, canaries):
    """Fails naming `label` and the canary's tag if any canary occurs in `data` (str or bytes)."""
    __tracebackhide__ = True
    if isinstance(data, str):
        data = data.encode(errors="replace")
    for tag, value in canaries.items():
        if value.encode() in data:
            pytest.fail(f"canary '{tag}' found in {label}")


@pytest.fixture
def core_limit():
    """Core files allowed for children (soft limit raised to the hard one), restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    except (ValueError, OSError):
        pass
    yield resource.getrlimit(resource.RLIMIT_CORE)[0]
    resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def flip_ciphertext_byte(db_path, path):
    """Flips one byte in the middle of the stored blob of `path` (SQLite store, WAL mode)."""
    db = sqlite3.connect(db_path, timeout=10)
    try:
        row = db.execute("SELECT v.secret_id, v.version, v.ciphertext FROM secret_versions v "
                         "JOIN secrets s ON s.id = v.secret_id WHERE s.path = ?",
                         (path,)).fetchone()
        blob = bytearray(row[2])
        blob[len(blob) // 2] ^= 0x01
        db.execute("UPDATE secret_versions SET ciphertext = ? WHERE secret_id = ? AND version = ?",
                   (bytes(blob), row[0], row[1]))
        db.commit()
    finally:
        db.close()


def exercise(url, admin_key, rec, c, db_path):
    """Runs every path with canaries planted; returns the canaries the server handed out."""
    issued = {}
    base = url + "/v1"
    admin = requests.Session()
    admin.headers["Authorization"] = "Bearer " + admin_key

    def A(method, route, where, value_allowed=False, **kw):
        kw.setdefault("timeout", 30)
        return rec.add(where, admin.request(method, base + route, **kw), value_allowed)

    vault = A("POST", "/vaults", "vault create", json={"name": "canaries"}).json()["id"]
    s = f"/vaults/{vault}/secrets"
    # Values stored (success) and read back (the only answers allowed to hold them).
    A("PUT", s + "/app/db", "put password", json={"type": "password", "value": c["value"],
                                                  "metadata": {"team": "ml"}})
    A("PUT", s + "/app/db", "put password v2", json={"type": "password", "value": c["value2"]})
    A("PUT", s + "/app/env", "put env bundle", json={"type": "env_bundle",
                                                     "value": "A=" + c["env"]})
    A("GET", s + "/app/db", "get", value_allowed=True)
    A("GET", f"/vaults/{vault}/secret-version/app/db/1", "get version", value_allowed=True)
    A("GET", f"/vaults/{vault}/secret-versions/app/db", "versions")
    A("GET", s, "list", params={"prefix": "app"})
    A("POST", f"/vaults/{vault}/secret-version/app/db/1/disable", "disable")
    A("GET", f"/vaults/{vault}/secret-version/app/db/1", "get disabled version")
    # A server-generated value: read once (allowed), then it is a canary too.
    A("POST", f"/vaults/{vault}/secret-rotate/app/gen", "secret-rotate",
      json={"length": 48, "charset": "alphanumeric"})
    issued["generated"] = A("GET", s + "/app/gen", "get generated",
                            value_allowed=True).json()["value"]
    # A counted read: exhausted after one.
    A("PUT", s + "/app/once", "put counted", json={"type": "note", "value": c["counted"],
                                                   "max_access_count": 1})
    A("GET", s + "/app/once", "counted read", value_allowed=True)
    A("GET", s + "/app/once", "exhausted read")
    # A 5xx: a stored blob corrupted behind the server's back fails to decrypt (and is alerted
    # on in the log), and neither the answer nor the log may hold the value.
    A("PUT", s + "/app/corrupt", "put to corrupt", json={"type": "note", "value": c["corrupt"]})
    flip_ciphertext_byte(db_path, "app/corrupt")
    A("GET", s + "/app/corrupt", "read corrupted")
    A("GET", f"/vaults/{vault}/secret-version/app/corrupt/1", "read corrupted version")

    # Bodies that fail validation, with canaries in every value.
    A("PUT", s + "/app/bad", "put bad type", json={"type": "nope", "value": c["bad_body"]})
    A("PUT", s + "/app/bad", "put unknown field", json={"type": "note", "value": c["bad_body"],
                                                        "valeu": c["bad_body"]})
    A("PUT", s + "/app/bad", "put bad expiry", json={"type": "note", "value": c["bad_body"],
                                                     "expires_at": "yesterday"})
    A("PUT", s + "/app/bad", "put bad count", json={"type": "note", "value": c["bad_body"],
                                                    "max_access_count": -1})
    A("PUT", s + "/app/bad", "put truncated JSON", data='{"type":"note","value":"'
      + c["bad_body"], headers={"Content-Type": "application/json"})
    A("PUT", s + "/app/bad", "put text/plain", data='{"value":"' + c["bad_body"] + '"}',
      headers={"Content-Type": "text/plain"})
    A("PUT", s + "/app/bad", "put duplicate key", data='{"type":"note","value":"x","value":"'
      + c["bad_body"] + '"}', headers={"Content-Type": "application/json"})
    A("PUT", s + "/app/bad", "put wrong type", json={"type": "note", "value": [c["bad_body"]]})
    A("PUT", s + "/app/bad", "put over limit", json={"type": "note",
                                                     "value": c["bad_body"] * 30000})
    A("PUT", s + "/" + "x" * 2000, "put long path", json={"type": "note",
                                                          "value": c["bad_body"]})
    A("POST", "/vaults", "vault bad name", json={"name": "bad name!", "description":
                                                 c["bad_body"]})

    # Credentials issued by the server: agents (api_key, rotation_secret), users (api_key), JWTs.
    agent = A("POST", "/agents", "agent create", value_allowed=True,
              json={"name": "canary-agent"}).json()
    issued["agent_key"], issued["agent_rot"] = agent["api_key"], agent["rotation_secret"]
    A("POST", f"/vaults/{vault}/policies", "policy", json={
        "principal_type": "agent", "principal_id": agent["id"], "secret_path_pattern": "app/**",
        "permissions": ["read"]})
    user = A("POST", "/users", "user create", json={"name": "canary-user"}).json()
    ukey = A("POST", f"/users/{user['id']}/api-keys", "user key", value_allowed=True,
             json={"name": "k"}).json()
    issued["user_key"] = ukey["api_key"]
    tok = rec.add("token", requests.post(base + "/auth/token", json={"api_key": ukey["api_key"]},
                                         timeout=30), value_allowed=True)
    issued["jwt"] = tok.json()["access_token"]
    rec.add("me by jwt", requests.get(base + "/me", headers={
        "Authorization": "Bearer " + issued["jwt"]}, timeout=30))
    rec.add("agent read", requests.get(base + s + "/app/env", headers={
        "Authorization": "Bearer " + agent["api_key"]}, timeout=30), value_allowed=True)
    rec.add("agent denied", requests.get(base + f"/vaults/{vault}/secrets/other", headers={
        "Authorization": "Bearer " + agent["api_key"]}, timeout=30))

    # Self-rotation: wrong secret, canary secret, then a real one (old and new are canaries).
    def self_rotate(where, key, body, ip, value_allowed=False):
        return rec.add(where, requests.post(base + "/agents/self/rotate-key", json=body, headers={
            "Authorization": "Bearer " + key, "X-Forwarded-For": ip}, timeout=30),
            value_allowed)
    self_rotate("self-rotate canary secret", agent["api_key"], {"rotationSecret": c["rot_body"]},
                "10.9.0.1")
    self_rotate("self-rotate wrong type", agent["api_key"], {"rotationSecret": [c["rot_body"]]},
                "10.9.0.2")
    self_rotate("self-rotate canary key", c["rot_key"], {"rotationSecret": agent[
        "rotation_secret"]}, "10.9.0.3")
    r = self_rotate("self-rotate", agent["api_key"], {"rotationSecret": agent["rotation_secret"]},
                    "10.9.0.4", value_allowed=True).json()
    issued["agent_key2"], issued["agent_rot2"] = r["apiKey"], r["rotationSecret"]
    self_rotate("self-rotate old creds", agent["api_key"], {"rotationSecret": agent[
        "rotation_secret"]}, "10.9.0.5")
    r = A("POST", f"/agents/{agent['id']}/rotate-key", "admin rotate", value_allowed=True).json()
    issued["agent_key3"], issued["agent_rot3"] = r["api_key"], r["rotation_secret"]

    # Canaries where credentials go, and where they should never go.
    for where, headers in (
            ("bearer canary", {"Authorization": "Bearer " + c["header"]}),
            ("bearer cfr canary", {"Authorization": "Bearer cfr_key_" + c["header"]}),
            ("basic canary", {"Authorization": "Basic " + c["header"]}),
            ("cookie canary", {"Cookie": "session=" + c["header"]}),
            ("proxy auth canary", {"Proxy-Authorization": "Bearer " + c["header"]}),
            ("x-api-key canary", {"X-Api-Key": c["header"], "X-Vault-Token": c["header"]})):
        rec.add(where, requests.get(base + s + "/app/db", headers=headers, timeout=30))
    rec.add("token canary body", requests.post(base + "/auth/token",
                                               json={"api_key": c["bad_body"]}, timeout=30))
    rec.add("token canary key", requests.post(base + "/auth/token",
                                              json={"api_key": "cfr_key_" + c["bad_body"]},
                                              timeout=30))
    # (A list prefix or an audit filter is a name, not a secret: the audit event of a list records
    # its prefix by design, so those parameters carry no canary.)
    A("GET", s, "list canary query", params={"prefix": "app", "token": c["query"]})
    A("GET", s, "list canary after", params={"after": c["query"]})
    A("GET", "/audit", "audit canary query", params={"action": "x", "token": c["query"]})
    A("GET", "/audit", "audit canary unknown", params={"api_key": c["query"]})
    rec.add("unknown route canary query", requests.get(base + "/nope?api_key=" + c["query"],
                                                       timeout=30))

    # Reads of everything an operator looks at.
    after = None
    for _ in range(100):
        params = {"limit": 1000}
        if after:
            params["after"] = after
        page = A("GET", "/audit", "audit page", params=params).json()
        after = page.get("next_after")
        if not after:
            break
    A("GET", "/audit/verify", "audit verify")
    rec.add("metrics", requests.get(url + "/metrics", timeout=30))
    rec.add("ready", requests.get(base + "/ready", timeout=30))
    rec.add("health", requests.get(base + "/health", timeout=30))
    A("GET", "/agents", "agents list")
    A("GET", f"/users/{user['id']}/api-keys", "user keys list")
    A("GET", f"/vaults/{vault}/policies", "policies list")
    return issued, vault


def cli_outputs(url, admin_key, c, home, vault_name="canaries"):
    """The client's output on error paths, where no canary may show: (label, text) pairs. `home`
    is the client's HOME (an empty temp dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), COFFER_ADDR=url)
    outs = []

    def run(label, *args, token=admin_key, stdin=None):
        e = dict(env, COFFER_TOKEN=token)
        p = subprocess.run([COFFER_BIN, *args], input=stdin, capture_output=True, text=True,
                           env=e, timeout=60)
        outs.append((label, p.stdout + p.stderr))
        return p

    run("cli put bad type", "secrets", "put", vault_name, "cli/x", "--type", "nope",
        stdin=c["cli"])
    run("cli put over limit", "secrets", "put", vault_name, "cli/x", "--type", "note",
        stdin=c["cli"] * 30000)
    run("cli wrong token", "secrets", "get", vault_name, "app/db", token=c["header"])
    run("cli cfr wrong token", "vaults", "list", "--json", token="cfr_key_" + c["header"])
    run("cli list json", "secrets", "list", vault_name, "--json")
    run("cli versions json", "secrets", "versions", vault_name, "app/db", "--json")
    run("cli audit json", "audit", "list", "--all", "--json")
    run("cli agents json", "agents", "list", "--json")
    return outs


def test_canaries_never_leak(tmp_path, core_limit):
    c = {tag: canary(tag) for tag in CANARY_TAGS}
    data = str(tmp_path / "data")
    admin_key = init_data_dir(data)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc, url, out_path, err_path = start_server(data, str(cwd))
    rec = Recorder()
    try:
        issued, vault = exercise(url, admin_key, rec, c, os.path.join(data, "coffer.db"))
        home = tmp_path / "home"
        home.mkdir()
        cli = cli_outputs(url, admin_key, c, str(home))
        # The server is undumpable from the start, with no core size.
        limits = open(f"/proc/{proc.pid}/limits").read()
        line = [l for l in limits.splitlines() if l.startswith("Max core file size")][0]
        assert line.split()[4:6] == ["0", "0"], "RLIMIT_CORE is not 0 in the server"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    everything = dict(c)
    everything.update(issued)
    everything["admin_key"] = admin_key
    assert len(rec.responses) > 60

    # Every answer: headers always; bodies unless it is the one answer meant to carry a value.
    statuses = set()
    for where, status, headers, body, value_allowed in rec.responses:
        statuses.add(status // 100)
        scan(f"the headers of '{where}' ({status})", headers, everything)
        if not value_allowed:
            scan(f"the body of '{where}' ({status})", body, everything)
    assert statuses >= {2, 4, 5}
    # The server's output at trace level, and the client's error output.
    with open(out_path, "rb") as f:
        scan("server stdout", f.read(), everything)
    with open(err_path, "rb") as f:
        log = f.read()
    scan("server stderr (log)", log, everything)
    assert len(log.splitlines()) > 50, "the server logged (almost) nothing at trace level"
    for label, text in cli:
        scan(f"'{label}' output", text, {k: v for k, v in everything.items()
                                         if k not in ("admin_key",)})
    # And nothing on disk next to the server but its own output.
    assert sorted(os.listdir(cwd)) == ["server.err", "server.out"]


CONTROL = r"""
import os, signal, sys, time
held = (sys.argv[1] * 4).encode()  # in memory, as a server would hold a secret
print("ready", flush=True)
time.sleep(30)
"""


def core_files(directory):
    return [os.path.join(directory, n) for n in os.listdir(directory) if n.startswith("core")]


def test_crash_signals_leave_no_core_with_secrets(tmp_path, core_limit):
    """SIGSEGV / SIGABRT to a server holding canaries: no core file (or none holding them).
    A control process in the same conditions shows that this kernel does write core files
    here and that the scan would find a canary in one."""
    if os.environ.get("COFFER_SANITIZER"):
        pytest.skip("a sanitizer catches the signal itself (and reports it as a crash)")
    if core_limit == 0:
        pytest.skip("core files cannot be enabled here (hard RLIMIT_CORE is 0)")
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip("core_pattern does not write a core file into the working directory")
    control_dir = tmp_path / "control"
    control_dir.mkdir()
    secret = canary("control")
    p = subprocess.Popen([sys.executable, "-c", CONTROL, secret], cwd=control_dir,
                         stdout=subprocess.PIPE)
    p.stdout.readline()
    p.send_signal(signal.SIGSEGV)
    p.wait(30)
    p.stdout.close()
    time.sleep(0.2)
    cores = core_files(control_dir)
    if not cores:
        pytest.skip("this kernel wrote no core file for a crashing control process")
    with open(cores[0], "rb") as f:
        found = secret.encode() in f.read()
    for core in cores:
        os.remove(core)
    assert found, "the control core file does not hold the control canary: the scan is blind"

    for sig in (signal.SIGSEGV, signal.SIGABRT):
        c = {tag: canary(tag) for tag in CANARY_TAGS}
        run_dir = tmp_path / f"run-{sig.name}"
        run_dir.mkdir()
        data = str(run_dir / "data")
        admin_key = init_data_dir(data)
        cwd = run_dir / "cwd"
        cwd.mkdir()
        proc, url, _, _ = start_server(data, str(cwd))
        try:
            issued, _ = exercise(url, admin_key, Recorder(), c, os.path.join(data, "coffer.db"))
        finally:
            proc.send_signal(sig)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert proc.returncode == -sig, f"the server did not die of {sig.name}"
        time.sleep(0.2)
        everything = dict(c, admin_key=admin_key, **issued)
        for core in core_files(str(cwd)):
            with open(core, "rb") as f:
                scan(f"a core file after {sig.name}", f.read(), everything)
        assert not core_files(str(cwd)), f"{sig.name} left a core file"
