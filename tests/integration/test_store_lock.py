"""One `coffer server` per SQLite store: a second one on the same store (by any path) refuses to
start and names the process that holds it; once that one is gone (SIGTERM or kill -9) a new one
starts. The commands meant to run beside a server (backup, keys) still do; migrate from a live
store is refused the same way. (A server keeps credentials, vaults and policies in memory and
hears only of its own changes: two servers on one file would serve revoked keys.)"""
import os
import re
import subprocess

from conftest import COFFER_BIN, Server, init_data_dir

IN_USE_RE = re.compile(r"^error: the store (\S+) is in use by coffer server \(pid (\d+)\); ",
                       re.M)


def start_second(data_dir, *extra):
    return subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen",
                           "127.0.0.1:0", *extra], capture_output=True, text=True, timeout=60)


def refused_by(out, pid):
    """Asserts `out` is a refusal naming server `pid`; returns the store path it named."""
    assert out.returncode == 1, (out.returncode, out.stderr[-500:])
    assert "listening" not in out.stdout
    m = IN_USE_RE.search(out.stderr)
    assert m, out.stderr[-500:]
    assert int(m.group(2)) == pid
    return m.group(1)


def test_a_second_server_on_the_same_store_is_refused_with_the_holders_pid(data_dir, tmp_path):
    key = init_data_dir(data_dir)
    first = Server(data_dir, key)
    try:
        store = refused_by(start_second(data_dir), first.proc.pid)
        assert store == os.path.realpath(os.path.join(data_dir, "coffer.db"))
        # The same directory through a symlink, and the file named by --store: one store.
        link = tmp_path / "link"
        link.symlink_to(data_dir)
        refused_by(start_second(str(link)), first.proc.pid)
        refused_by(start_second(str(tmp_path / "elsewhere"), "--root-key-file",
                                os.path.join(data_dir, "root.key"), "--store",
                                "sqlite:" + str(link / "coffer.db")), first.proc.pid)
        # The first server was not disturbed.
        r = first.session().get(first.url + "/v1/me", timeout=10)
        assert r.status_code == 200
    finally:
        first.stop()


def test_a_new_server_starts_once_the_holder_stopped_or_was_killed(data_dir):
    key = init_data_dir(data_dir)
    server = Server(data_dir, key)
    server.stop()  # SIGTERM
    server = Server(data_dir, key)
    try:
        refused_by(start_second(data_dir), server.proc.pid)
    finally:
        server.kill()  # kill -9: the kernel releases the lock with the process
    server = Server(data_dir, key)
    try:
        r = server.session().get(server.url + "/v1/me", timeout=10)
        assert r.status_code == 200
    finally:
        server.stop()


def test_backup_and_keys_run_beside_a_server_and_migrate_from_it_is_refused(data_dir, tmp_path):
    key = init_data_dir(data_dir)
    server = Server(data_dir, key)
    try:
        out = subprocess.run([COFFER_BIN, "backup", "--data-dir", data_dir, "--out",
                              str(tmp_path / "copy.db")], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr[-500:]
        out = subprocess.run([COFFER_BIN, "keys", "status", "--data-dir", data_dir],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-500:]
        out = subprocess.run([COFFER_BIN, "migrate", "--from",
                              "sqlite:" + os.path.join(data_dir, "coffer.db"), "--to",
                              "sqlite:" + str(tmp_path / "new.db")],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        assert re.search(r"^error: the store \S+ is in use by coffer server \(pid "
                         rf"{server.proc.pid}\); stop it first", out.stderr, re.M), out.stderr
        assert not (tmp_path / "new.db").exists()
        # Nor may a migration write into the store a server holds.
        out = subprocess.run([COFFER_BIN, "migrate", "--from", "sqlite:" + str(tmp_path / "copy.db"),
                              "--to", "sqlite:" + os.path.join(data_dir, "coffer.db")],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and "in use by coffer server" in out.stderr
    finally:
        server.stop()
    # With the server stopped, the same migration runs.
    out = subprocess.run([COFFER_BIN, "migrate", "--from",
                          "sqlite:" + os.path.join(data_dir, "coffer.db"), "--to",
                          "sqlite:" + str(tmp_path / "new.db")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
