"""Data key rotation end to end: `coffer keys rotate` makes a new data key
active for new writes while old values stay readable, running servers switch to it without a
restart, `coffer keys reencrypt` moves every stored value to it (batched, safe to kill -9 and
rerun, correct while a server writes), and `coffer keys retire` drops the old key only once
nothing uses it. Key ids are checked in the database itself (bytes 1..4 of each blob)."""
import collections
import fcntl
import os
import random
import secrets
import signal
import subprocess
import threading
import time

import pytest

F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Python 3.10+ names it; Linux's value)

from conftest import (COFFER_BIN, Server, admin_caller, audit_pages, check_absent, create_vault, expect,
                      init_data_dir, put_secret, redact)


def keys(data_dir, *args, store=None, env=None, timeout=120):
    """Runs `coffer keys ARGS` on `data_dir` (and `store`, a URL), or on a Server's data dir and
    store."""
    if isinstance(data_dir, Server):
        data_dir, store = data_dir.data_dir, data_dir.store.url
    cmd = [COFFER_BIN, "keys", *args, "--data-dir", data_dir]
    if store:
        cmd += ["--store", store]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)


def ok(out):
    __tracebackhide__ = True
    if out.returncode != 0:
        pytest.fail(f"coffer keys failed ({out.returncode}): {redact(out.stderr)}")
    return out


def key_ids(server):
    """{(vault id, path, version): key id} of every version in the server's store."""
    blob = "hex(v.ciphertext)" if server.store.kind == "sqlite" else "encode(v.ciphertext, 'hex')"
    rows = server.sql(f"SELECT s.vault_id, s.path, v.version, {blob} FROM secret_versions v"
                      " JOIN secrets s ON s.id = v.secret_id")
    return {(v, p, int(n)): int(h[2:10], 16) for v, p, n, h in rows}


def retire(data_dir, key_id, store=None, deadline=15):
    """Retires `key_id`, waiting out the grace after a rotation (a few seconds)."""
    __tracebackhide__ = True
    end = time.time() + deadline
    while True:
        out = keys(data_dir, "retire", "--key-id", str(key_id), store=store)
        if out.returncode == 0 or "try again in" not in out.stderr or time.time() > end:
            return out
        time.sleep(0.5)


class Data:
    """A server with secrets of known random values, and what was written where."""

    def __init__(self, server, paths=10):
        self.server = server
        self.admin = admin_caller(server)
        self.vault = create_vault(self.admin, "keys")
        self.latest = {}
        self.all = {}  # (path, version) -> value
        for i in range(paths):
            self.put(f"app/s{i}")

    def __repr__(self):
        return "<Data>"

    def put(self, path):
        value = "canary-" + secrets.token_hex(10)
        meta = put_secret(self.admin, self.vault, path, value)
        self.latest[path] = value
        self.all[(path, meta["version"])] = value
        return meta["version"]

    def check_all_readable(self):
        """Every version of every secret reads back its own value."""
        __tracebackhide__ = True
        for (path, version), value in self.all.items():
            r = expect(self.admin.get(f"/vaults/{self.vault}/secret-version/{path}/{version}"), 200)
            if r.json()["value"] != value:
                pytest.fail(f"{path} v{version} reads back another value")
        for path, value in self.latest.items():
            r = expect(self.admin.get(f"/vaults/{self.vault}/secrets/{path}"), 200)
            if r.json()["value"] != value:
                pytest.fail(f"{path} latest reads back another value")


def wait_for_new_key(data, key_id, key_ids, timeout=8):
    """Writes versions until one is sealed under `key_id` (the server switched); returns how
    long that took."""
    __tracebackhide__ = True
    start = time.time()
    while time.time() - start < timeout:
        version = data.put("probe")
        if key_ids()[(data.vault, "probe", version)] == key_id:
            return time.time() - start
        time.sleep(0.2)
    pytest.fail(f"the running server did not switch to data key {key_id} in {timeout} s")


@pytest.fixture
def data(server):
    return Data(server)


def test_rotate_makes_new_writes_use_a_new_key_and_old_values_stay_readable(data):
    d = data.server
    ids = key_ids(d)
    assert set(ids.values()) == {1}
    out = ok(keys(d, "rotate"))
    assert "Data key 4 is now active" in out.stdout
    # The running server picks the new key up without a restart (within its 2 s refresh).
    assert wait_for_new_key(data, 4, lambda: key_ids(d)) < 5
    data.put("app/s0")
    ids = key_ids(d)
    assert ids[(data.vault, "app/s0", 2)] == 4
    assert ids[(data.vault, "app/s1", 1)] == 1
    data.check_all_readable()
    status = ok(keys(d, "status")).stdout
    assert "4        active" in status and "1        old" in status
    # The old key cannot be retired while values use it, nor the active one at all.
    out = retire(d, 1)
    assert out.returncode != 0 and "keys reencrypt" in out.stderr
    out = keys(d, "retire", "--key-id", "4")
    assert out.returncode != 0 and "active" in out.stderr
    check_absent(out.stdout + out.stderr + status, list(data.all.values()), "keys output")


def test_reencrypt_moves_every_version_then_the_old_key_is_retired(data):
    d = data.server
    data.put("app/s3")
    ok(keys(d, "rotate"))
    out = ok(keys(d, "reencrypt", "--batch-size", "4"))
    assert "11 moved, 0 left" in out.stdout  # 11 versions, in batches of 4: progress lines
    assert out.stdout.count("reencrypt: ") == 3
    assert set(key_ids(d).values()) == {4}
    data.check_all_readable()
    # A second run finds nothing to do.
    assert "Re-encrypted 0 secret versions" in ok(keys(d, "reencrypt")).stdout
    out = ok(retire(d, 1))
    assert "Data key 1 is retired" in out.stdout
    assert "1        " not in ok(keys(d, "status")).stdout.split("\n", 1)[1]
    # Still served, and after a restart with a keyring without key 1.
    wait_for_new_key(data, 4, lambda: key_ids(d))
    data.check_all_readable()
    data.server.stop()
    data.server.start()
    data.check_all_readable()
    check_absent(data.server.read_log(), list(data.all.values()), "server log")
    # Each key operation is in the audit chain, which still verifies.
    events, _ = audit_pages(data.admin)
    actions = [(e["action"], e["path"]) for e in events if e["action"].startswith("keys.")]
    assert actions == [("keys.rotate", "keyring/data/4"), ("keys.reencrypt", "keyring/data/4"),
                       ("keys.reencrypt", "keyring/data/4"), ("keys.retire", "keyring/data/1")]
    assert expect(data.admin.get("/audit/verify"), 200).json()["ok"] is True


def test_reencrypt_killed_mid_run_and_rerun_leaves_everything_readable_on_the_new_key(server):
    data = Data(server, paths=250)
    d = server
    ok(keys(d, "rotate"))
    # Batches of one row (one transaction each) and a one-page stdout pipe read byte by byte up
    # to a chosen progress line (COFFER_TEST_SEED picks it): the run can then get at most one
    # pipe's worth (~135 lines) further before its writes block, so it is killed part-way
    # (mid-transaction or between two), with rows left on both keys.
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(read_fd, F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen([COFFER_BIN, "keys", "reencrypt", "--batch-size", "1", "--data-dir",
                             d.data_dir, *d.store.args],
                            stdout=write_fd, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    stop_after = random.Random(int(os.environ.get("COFFER_TEST_SEED", "8"))).randint(5, 50)
    try:
        lines = 0
        while lines < stop_after:
            byte = os.read(read_fd, 1)
            if not byte:
                break
            lines += byte == b"\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(read_fd)
    assert proc.returncode == -signal.SIGKILL, "reencrypt ended before it could be killed"
    counts = collections.Counter(key_ids(d).values())
    assert counts[4] >= stop_after and counts[1] > 0, f"not a mid-run kill: {dict(counts)}"
    data.check_all_readable()  # part moved, all readable
    out = ok(keys(d, "reencrypt"))
    assert "0 left" in out.stdout
    assert set(key_ids(d).values()) == {4}
    assert ok(retire(d, 1)).returncode == 0
    data.check_all_readable()


def test_reencrypt_while_the_server_writes_and_reads_loses_nothing(server):
    data = Data(server, paths=60)
    d = server
    ok(keys(d, "rotate"))
    errors, stop = [], threading.Event()
    lock = threading.Lock()

    def traffic():
        i = 0
        while not stop.is_set():
            path = f"app/s{i % 60}"
            try:
                with lock:
                    data.put(path)
                r = data.admin.get(f"/vaults/{data.vault}/secrets/{path}")
                if r.status_code != 200:
                    errors.append(r.status_code)
            except Exception as e:  # noqa: BLE001 (any failure counts)
                errors.append(type(e).__name__)
            i += 1

    t = threading.Thread(target=traffic)
    t.start()
    try:
        out = keys(d, "reencrypt", "--batch-size", "5")
    finally:
        stop.set()
        t.join()
    assert not errors, errors[:5]
    # Versions a server wrote before it switched may be left: a rerun moves them.
    if out.returncode != 0:
        assert "run it again" in out.stderr
        ok(keys(d, "reencrypt"))
    ok(keys(d, "reencrypt"))
    assert set(key_ids(d).values()) == {4}
    data.check_all_readable()


def test_values_moved_to_a_new_key_are_readable_at_once_by_a_running_server(data):
    # Rotate and reencrypt as fast as possible, then read before the server's periodic refresh
    # can have run: the read meets an unknown key id and reloads the keyring on the spot.
    d = data.server
    for key_id in (4, 5, 6):
        ok(keys(d, "rotate"))
        ok(keys(d, "reencrypt"))
        assert set(key_ids(d).values()) == {key_id}
        data.check_all_readable()
    assert "ciphertext_integrity_failure" not in data.server.read_log()


def test_rotate_refuses_a_wrong_root_key_and_changes_nothing(data, tmp_path):
    d = data.server
    wrong = tmp_path / "wrong.key"
    wrong.write_text("cd" * 32 + "\n")
    os.chmod(wrong, 0o600)
    out = keys(d, "rotate", "--root-key-file", str(wrong), timeout=60)
    assert out.returncode != 0 and "root key does not match" in out.stderr
    out = keys(d, "reencrypt", "--root-key-file", str(wrong), timeout=60)
    assert out.returncode != 0 and "root key does not match" in out.stderr
    assert "4 " not in ok(keys(d, "status")).stdout
    data.check_all_readable()


def test_keys_commands_are_in_help():
    out = subprocess.run([COFFER_BIN, "--help"], capture_output=True, text=True, timeout=30)
    assert "keys" in out.stdout
    out = subprocess.run([COFFER_BIN, "keys", "--help"], capture_output=True, text=True,
                         timeout=30)
    for word in ("status", "rotate", "reencrypt", "retire"):
        assert word in out.stdout


# --- PostgreSQL: two servers on one database pick up a rotation done by the CLI ---------------

PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")


@pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set (scripts/test.sh sets it)")
def test_rotation_on_postgres_with_two_servers(tmp_path):
    import shutil
    import uuid

    def psql(sql, url=PG_URL):
        out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url,
                              "-c", sql], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    name = "coffer_keys_" + uuid.uuid4().hex[:16]
    psql(f"CREATE DATABASE {name}")
    url = PG_URL.partition("?")[0].rsplit("/", 1)[0] + "/" + name
    servers = []
    try:
        a_dir, b_dir = str(tmp_path / "a"), str(tmp_path / "b")
        admin_key = init_data_dir_on(a_dir, url)
        os.makedirs(b_dir, mode=0o700)
        shutil.copy2(os.path.join(a_dir, "root.key"), os.path.join(b_dir, "root.key"))
        servers.append(Server(a_dir, admin_key, env={"COFFER_STORE": url}))
        servers.append(Server(b_dir, admin_key, env={"COFFER_STORE": url}))
        data = Data(servers[0], paths=8)

        def key_ids():
            rows = psql("SELECT s.vault_id || ' ' || s.path || ' ' || v.version || ' ' ||"
                        " ('x' || encode(substring(v.ciphertext from 2 for 4), 'hex'))::bit(32)::int"
                        " FROM secret_versions v JOIN secrets s ON s.id = v.secret_id", url)
            out = {}
            for line in rows.splitlines():
                v, p, n, k = line.split(" ")
                out[(v, p, int(n))] = int(k)
            return out

        assert set(key_ids().values()) == {1}
        ok(keys(a_dir, "rotate", store=url))
        # Both servers switch: writes through B carry key 4 too.
        wait_for_new_key(data, 4, key_ids)
        data_b = Data.__new__(Data)
        data_b.__dict__.update(data.__dict__)
        data_b.server, data_b.admin = servers[1], admin_caller(servers[1])
        wait_for_new_key(data_b, 4, key_ids)
        data.check_all_readable()
        data_b.check_all_readable()
        out = ok(keys(b_dir, "reencrypt", "--batch-size", "3", store=url))
        assert "0 left" in out.stdout
        assert set(key_ids().values()) == {4}
        ok(retire(a_dir, 1, store=url))
        data.check_all_readable()
        data_b.check_all_readable()
    finally:
        for s in servers:
            s.stop()
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def init_data_dir_on(data_dir, store_url):
    from conftest import KEY_RE
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir, "--store", store_url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    return KEY_RE.search(out.stdout).group(1)
