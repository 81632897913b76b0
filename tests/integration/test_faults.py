"""Storage faults on the SQLite store: disk full, read-only and failed fsync.

The server runs with tests/fault/storage_fault_shim.cc preloaded (LD_PRELOAD, no root needed):
while a control file exists, the write-side calls SQLite makes on <data-dir>/coffer.db* fail
with the errno it names (all of them, only the syncs, or only what would grow a file, as a
really full file system does). What must hold:
  - every write fails cleanly: 503 problem+json whose type names the cause
    (urn:coffer:problem:storage-full / storage-read-only / storage-io-error), no value in it;
  - reads keep working: a request that changes nothing is still audited, and while the store
    cannot take its event the event goes to the server log instead (an ALERT line
    audit_event_not_in_store, counted by coffer_audit_fallback_events_total), so it is never
    served unaudited; a counted read changes the store (its count), so it gets the same 503 and
    is never handed out uncounted. /v1/health and /metrics keep answering;
  - nothing is corrupted: PRAGMA integrity_check, GET /v1/audit/verify, every earlier value;
  - a write that got 503 left nothing behind (write and ENOSPC faults);
  - the server recovers WITHOUT a restart as soon as the fault is gone, also after a fault hit
    writes in the middle of a busy group commit;
  - kill -9 while the store fails, then a restart: nothing acknowledged is lost.
"""
import concurrent.futures
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

from conftest import (COFFER_BIN, Caller, Server, admin_caller, create_agent, create_vault,
                      expect, expect_problem, init_data_dir, put_secret, redact)

SHIM = os.environ.get("COFFER_FAULT_SHIM",
                      os.path.join(os.path.dirname(os.path.abspath(COFFER_BIN)),
                                   "libcoffer_fault_shim.so"))
# CI (scripts/test.sh sets COFFER_WITH_TEST_TOOLS) builds the shim and must run these tests.
pytestmark = pytest.mark.skipif(
    not os.path.exists(SHIM) and not os.environ.get("COFFER_WITH_TEST_TOOLS"),
    reason=f"{SHIM} not built (tests/fault, COFFER_BUILD_TESTS=ON)")

CANARY = "canary-value-7d1f0c9e-must-not-leak"
SLUG = {"ENOSPC": "storage-full", "EROFS": "storage-read-only", "EIO": "storage-io-error",
        "EIO sync": "storage-io-error", "ENOSPC grow": "storage-full"}


def preload(binary):
    """LD_PRELOAD for `binary`: a sanitizer runtime it links dynamically must come first."""
    libs = []
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30).stdout
        libs = re.findall(r"=>\s*(\S*lib(?:asan|tsan|ubsan|lsan)\.so\S*)", out)
    except OSError:
        pass
    return " ".join(libs + [SHIM])


class Fault:
    """The control file of one server's shim: on(kind) starts failing, off() ends it."""

    def __init__(self, directory):
        self.control = os.path.join(directory, "fault-control")
        self.log = os.path.join(directory, "fault.log")

    def on(self, kind):
        with open(self.control + ".tmp", "w") as f:
            f.write(kind)
        os.replace(self.control + ".tmp", self.control)

    def off(self):
        if os.path.exists(self.control):
            os.remove(self.control)

    def calls(self):
        """The intercepted functions that were made to fail, with counts."""
        if not os.path.exists(self.log):
            return {}
        counts = {}
        with open(self.log) as f:
            for line in f:
                counts[line.strip()] = counts.get(line.strip(), 0) + 1
        return counts


@pytest.fixture
def faulty():
    """A server whose store can be made to fail: (server, fault, data_dir)."""
    assert os.path.exists(SHIM), f"{SHIM} is not built"
    with tempfile.TemporaryDirectory(prefix="coffer-fault-") as d:
        data_dir = os.path.join(d, "data")
        key = init_data_dir(data_dir)
        fault = Fault(d)
        env = {"LD_PRELOAD": preload(COFFER_BIN),
               "COFFER_FAULT_PREFIX": os.path.realpath(os.path.join(data_dir, "coffer.db")),
               "COFFER_FAULT_CONTROL": fault.control, "COFFER_FAULT_LOG": fault.log}
        server = Server(data_dir, key, env=env)
        try:
            yield server, fault, data_dir
        finally:
            fault.off()
            server.stop()


def storage_problem(r, kind):
    """A 503 problem+json naming the fault, without the canary."""
    __tracebackhide__ = True
    body = expect_problem(r, 503)
    if body["type"] != "urn:coffer:problem:" + SLUG[kind]:
        pytest.fail(f"503 type {body['type']!r}, expected {SLUG[kind]!r}: {redact(r.text)}")
    if CANARY in r.text:
        pytest.fail("a secret value appears in the 503 body")
    return body


def integrity_check(data_dir):
    con = sqlite3.connect(os.path.join(data_dir, "coffer.db"))
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


def audit_ok(caller):
    body = expect(caller.get("/audit/verify"), 200).json()
    assert body["ok"] is True, (body.get("first_broken_seq"), body.get("reason"))
    return body["events_checked"]


def test_the_shim_intercepts_debians_sqlite(tmp_path):
    """The same libsqlite3 the server links: its pwrite64 and fdatasync are intercepted."""
    assert os.path.exists(SHIM), f"{SHIM} is not built"
    fault = Fault(str(tmp_path))
    db = str(tmp_path / "probe.db")
    script = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "con.execute('PRAGMA journal_mode=WAL'); con.execute('PRAGMA synchronous=FULL')\n"
        "con.execute('CREATE TABLE t (v TEXT)')\n"
        "open(sys.argv[2], 'w').write(sys.argv[3])\n"
        "try:\n"
        "    con.execute('INSERT INTO t VALUES (?)', ('x' * 10000,))\n"
        "    print('ok')\n"
        "except sqlite3.Error as e:\n"
        "    print(e)\n")
    results = {}
    for kind in ("ENOSPC", "EROFS", "EIO sync"):
        fault.off()
        if os.path.exists(db):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
        env = dict(os.environ, LD_PRELOAD=SHIM, COFFER_FAULT_PREFIX=os.path.realpath(db),
                   COFFER_FAULT_CONTROL=fault.control, COFFER_FAULT_LOG=fault.log)
        out = subprocess.run([sys.executable, "-c", script, db, fault.control, kind], env=env,
                             capture_output=True, text=True, timeout=60)
        results[kind] = out.stdout.strip()
    fault.off()
    assert results["ENOSPC"] == "database or disk is full", results
    assert results["EROFS"] == "disk I/O error", results
    assert results["EIO sync"] == "disk I/O error", results
    calls = fault.calls()
    assert calls.get("pwrite64", 0) >= 2 and calls.get("fdatasync", 0) >= 1, calls


@pytest.mark.parametrize("kind", ["ENOSPC", "EROFS", "EIO sync"])
def test_writes_fail_with_503_nothing_is_corrupted_and_the_server_recovers(faulty, kind):
    server, fault, data_dir = faulty
    admin = admin_caller(server)
    vault = create_vault(admin, "faults")
    before = {f"keep/{i}": f"{CANARY}-{i}" for i in range(5)}
    for path, value in before.items():
        put_secret(admin, vault, path, value=value)
    put_secret(admin, vault, "counted/once", value=CANARY + "-counted", max_access_count=2)
    expect(admin.get(f"/vaults/{vault}/secrets/counted/once"), 200)
    agent = create_agent(admin, "fault-bot")
    events_before = audit_ok(admin)

    fault.on(kind)
    # Every kind of write, several at once so they meet in one group commit.
    writes = [lambda i=i: admin.put(f"/vaults/{vault}/secrets/keep/{i}",
                                    json={"type": "password", "value": CANARY + "-new"})
              for i in range(5)]
    writes += [lambda i=i: admin.put(f"/vaults/{vault}/secrets/fresh/{i}",
                                     json={"type": "password", "value": CANARY})
               for i in range(5)]
    writes += [lambda: admin.post(f"/vaults/{vault}/secret-rotate/keep/0", json={}),
               lambda: admin.delete(f"/vaults/{vault}/secrets/keep/1"),
               lambda: admin.post(f"/agents/{agent['id']}/rotate-key"),
               lambda: admin.post("/vaults", json={"name": "new"})]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda call: call(), writes))
    for r in answers:
        storage_problem(r, kind)
    # Reads keep working, audited in the log while the store cannot take their events; the
    # counted read changes the store, so it is refused the same way as a write and not handed out.
    for path, value in before.items():
        got = expect(admin.get(f"/vaults/{vault}/secrets/{path}"), 200).json()
        assert got["value"] == value, f"a read of {path} during the fault returned another value"
    storage_problem(admin.get(f"/vaults/{vault}/secrets/counted/once"), kind)
    expect(Caller(server, agent["api_key"]).me(), 200)
    expect_problem(Caller(server, "cfr_key_wrong").me(), 401)
    # Unaudited endpoints keep answering, and the server is alive.
    assert requests.get(server.url + "/v1/health", timeout=10).status_code == 200
    metrics = requests.get(server.url + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert re.search(r"^coffer_audit_write_failures_total [1-9]", metrics.text, re.M)
    assert re.search(r"^coffer_audit_fallback_events_total [1-9]", metrics.text, re.M)
    fallback_lines = [line for line in server.read_log().splitlines()
                      if '"audit_event_not_in_store"' in line]
    assert any('"action":"secret.read"' in line and '"path":"keep/2"' in line
               for line in fallback_lines), 'the reads during the fault left no audit line'

    assert server.proc.poll() is None
    assert fault.calls(), "the shim failed no call: the fault was not injected"

    fault.off()
    # Recovery without a restart: the very next write works.
    expect(admin.put(f"/vaults/{vault}/secrets/after", json={"type": "note", "value": "a"}), 201)
    for path, value in before.items():
        r = expect(admin.get(f"/vaults/{vault}/secrets/{path}"), 200).json()
        assert r["value"] == value, path
    if "sync" not in kind:
        # Nothing of a refused write was kept: one version each, no new secrets, no new vault.
        for i in range(5):
            versions = expect(admin.get(f"/vaults/{vault}/secret-versions/keep/{i}"), 200).json()
            assert len(versions["versions"]) == 1, f"keep/{i}"
            expect_problem(admin.get(f"/vaults/{vault}/secrets/fresh/{i}"), 404)
        expect(Caller(server, agent["api_key"]).me(), 200)
        vaults = expect(admin.get("/vaults"), 200).json()
        names = [v["name"] for v in (vaults["vaults"] if isinstance(vaults, dict) else vaults)]
        assert "new" not in names
    counted = expect(admin.get(f"/vaults/{vault}/secret-versions/counted/once"), 200).json()
    # The refused counted read was not spent (unless a sync-only fault kept the transaction).
    assert counted["versions"][0]["access_count"] in ((1,) if "sync" not in kind else (1, 2))
    assert audit_ok(admin) > events_before
    server.stop()
    assert integrity_check(data_dir) == [("ok",)]
    check_no_canary_in_log(server)


def check_no_canary_in_log(server):
    log = server.read_log()
    assert CANARY not in log, "a secret value appears in the server log"


def lost_writes(caller, vault, acked):
    """The paths of `acked` ({path: value}) whose value the server no longer returns."""
    def lost(item):
        r = caller.get(f"/vaults/{vault}/secrets/{item[0]}")
        return r.status_code != 200 or r.json().get("value") != item[1]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        flags = list(pool.map(lost, acked.items()))
    return [p for p, f in zip(acked, flags) if f]


def test_faults_toggled_under_concurrent_load_lose_no_acknowledged_write(faulty):
    """Writers run while the fault is switched on and off: each write is either acknowledged
    (and then durable and readable) or refused with a storage 503; the writer never sticks."""
    server, fault, data_dir = faulty
    admin = admin_caller(server)
    vault = create_vault(admin, "load")
    acked, refused, other = {}, [0], []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(i):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + server.admin_key
        n = 0
        while not stop.is_set():
            path = f"w{i}/n{n}"
            value = f"{CANARY}-{i}-{n}"
            try:
                r = s.put(f"{server.url}/v1/vaults/{vault}/secrets/{path}",
                          json={"type": "password", "value": value}, timeout=30)
            except requests.RequestException as e:
                with lock:
                    other.append(f"no answer: {type(e).__name__}")
                return
            with lock:
                if r.status_code == 201:
                    acked[path] = value
                elif r.status_code == 503 and r.json().get("type", "").startswith(
                        "urn:coffer:problem:storage-"):
                    refused[0] += 1
                else:
                    other.append(f"{r.status_code} {redact(r.text, 200)}")
            n += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        for kind in ["ENOSPC", "EIO sync", "EROFS", "ENOSPC grow", "EIO"] * 2:
            time.sleep(0.25)
            fault.on(kind)
            time.sleep(0.25)
            fault.off()
        time.sleep(0.5)
    finally:
        fault.off()
        stop.set()
        for t in threads:
            t.join(60)
    assert not other, other[:5]
    assert refused[0] > 0 and len(acked) > 20, (refused[0], len(acked))
    # The writer is healthy again at once.
    expect(admin.put(f"/vaults/{vault}/secrets/final", json={"type": "note", "value": "f"}), 201)
    lost = lost_writes(admin, vault, acked)
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
    audit_ok(admin)
    # And after a restart too, with the database intact.
    server.stop()
    assert integrity_check(data_dir) == [("ok",)]
    server.start()
    lost = lost_writes(admin, vault, acked)
    assert not lost, f"{len(lost)} acknowledged writes lost after restart, e.g. {lost[:5]}"
    audit_ok(admin)
    print(f"\n{len(acked)} writes acknowledged, {refused[0]} refused with a storage 503")
    check_no_canary_in_log(server)


def test_a_really_full_disk_still_serves_reads_while_the_log_has_room(faulty):
    """A full file system refuses only what would grow a file ("ENOSPC grow"). SQLite reuses
    its write-ahead log from the start after a checkpoint, so while that space lasts, reads
    (whose audit events are small) and small writes keep working; once the log would have to
    grow, writes get 503 storage-full and reads go on, their audit events in the log. Every 201
    is kept either way."""
    server, fault, data_dir = faulty
    admin = admin_caller(server)
    vault = create_vault(admin, "full")
    before = {f"keep/{i}": f"{CANARY}-{i}" for i in range(5)}
    for path, value in before.items():
        put_secret(admin, vault, path, value=value)
    filler = "f" * 100_000
    for i in range(12):  # about 1.2 MB of log, below the 1000-page autocheckpoint
        put_secret(admin, vault, f"filler/{i}", value=filler, type_="note")
    con = sqlite3.connect(os.path.join(data_dir, "coffer.db"))
    try:
        busy, log, done = con.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    finally:
        con.close()
    assert busy == 0 and log == done and log > 100, (busy, log, done)

    fault.on("ENOSPC grow")
    for _ in range(3):
        for path, value in before.items():
            assert expect(admin.get(f"/vaults/{vault}/secrets/{path}"), 200).json()["value"] == value
    acked = {"small": "s"}
    expect(admin.put(f"/vaults/{vault}/secrets/small", json={"type": "note", "value": "s"}), 201)
    refused = None
    for i in range(40):  # 4 MB: more than the log holds
        r = admin.put(f"/vaults/{vault}/secrets/big/{i}",
                      json={"type": "note", "value": f"{i}-{filler}"})
        if r.status_code == 201:
            acked[f"big/{i}"] = f"{i}-{filler}"
            continue
        refused = storage_problem(r, "ENOSPC")
        break
    assert refused is not None, "the log never had to grow"
    for path, value in before.items():
        assert expect(admin.get(f"/vaults/{vault}/secrets/{path}"), 200).json()["value"] == value
    assert fault.calls(), "the shim failed no call"

    fault.off()
    expect(admin.put(f"/vaults/{vault}/secrets/after", json={"type": "note", "value": "a"}), 201)
    assert not lost_writes(admin, vault, {**before, **acked})
    audit_ok(admin)
    server.stop()
    assert integrity_check(data_dir) == [("ok",)]


def test_kill_9_while_the_store_fails_loses_nothing_acknowledged(faulty):
    """The server is killed with SIGKILL while faults of every kind come and go under
    concurrent writes, then restarted with the fault gone: every acknowledged write is there,
    the database is intact and the audit chain verifies."""
    server, fault, data_dir = faulty
    admin = admin_caller(server)
    vault = create_vault(admin, "kill")
    acked, other = {}, []
    lock = threading.Lock()
    kinds = ["ENOSPC", "EIO sync", "EROFS", "ENOSPC grow", "EIO"]
    for cycle in range(3):
        stop = threading.Event()

        def writer(i, cycle=cycle, stop=stop):
            s = requests.Session()
            s.headers["Authorization"] = "Bearer " + server.admin_key
            n = 0
            while not stop.is_set():
                path, value = f"c{cycle}/w{i}/n{n}", f"{CANARY}-{cycle}-{i}-{n}"
                n += 1
                try:
                    r = s.put(f"{server.url}/v1/vaults/{vault}/secrets/{path}",
                              json={"type": "password", "value": value}, timeout=30)
                except requests.RequestException:
                    return  # killed
                with lock:
                    if r.status_code == 201:
                        acked[path] = value
                    elif not (r.status_code == 503 and r.json().get("type", "").startswith(
                            "urn:coffer:problem:storage-")):
                        other.append(f"{r.status_code} {redact(r.text, 200)}")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for step in range(3 + cycle):
            time.sleep(0.1)
            fault.on(kinds[(cycle + step) % len(kinds)])
            time.sleep(0.1)
            if step < 2 + cycle:
                fault.off()
        server.kill()  # with the fault still on
        stop.set()
        for t in threads:
            t.join(60)
        fault.off()
        server.start()  # recovers the write-ahead log itself; then the check reads beside it
        assert integrity_check(data_dir) == [("ok",)]
        assert not other, other[:5]
        lost = lost_writes(admin, vault, acked)
        assert not lost, f"cycle {cycle}: {len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
        audit_ok(admin)
    assert len(acked) > 10, len(acked)


def test_a_failing_wal_sync_is_counted_and_later_reads_are_audited_in_the_log(faulty):
    """A read's event needs no fsync of its own; the sync that follows within 20 ms fails. That is
    counted (coffer_store_wal_sync_failures_total), and from then on every commit is synced: the
    next read's event fails to commit and goes to the log, and the server recovers."""
    server, fault, _ = faulty
    admin = admin_caller(server)
    vault = create_vault(admin, "sync-fault")
    put_secret(admin, vault, "keep/a", value=CANARY)
    fault.on("EIO sync")
    try:
        expect(admin.get(f"/vaults/{vault}/secrets/keep/a"), 200)
        deadline = time.monotonic() + 10
        failures = 0.0
        while time.monotonic() < deadline and failures < 1:
            metrics = requests.get(server.url + "/metrics", timeout=10).text
            found = re.search(r"^coffer_store_wal_sync_failures_total (\S+)", metrics, re.M)
            failures = float(found.group(1)) if found else 0.0
            time.sleep(0.05)
        assert failures >= 1, "the failing WAL sync was not counted"
        got = expect(admin.get(f"/vaults/{vault}/secrets/keep/a"), 200).json()
        assert got["value"] == CANARY
        lines = [line for line in server.read_log().splitlines()
                 if '"audit_event_not_in_store"' in line and '"action":"secret.read"' in line]
        assert lines, "a read after the failed sync was not audited in the log"
    finally:
        fault.off()
    # Recovered: writes and the store's own audit work again.
    put_secret(admin, vault, "keep/b", value=CANARY + "-b")
    expect(admin.get(f"/vaults/{vault}/secrets/keep/b"), 200)

