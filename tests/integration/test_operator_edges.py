"""What an operator meets at the edges: files that are not regular files (a config directory, a
FIFO as root key, TLS certificate or config), a database password on the command line, a 500
whose cause must be in the log, and a backup that cannot read the store saying why."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import (COFFER_BIN, KEY_RE, Server, admin_caller, create_vault, init_data_dir,
                      put_secret, redact)

PASSWORD = "hunter2-must-not-show"


def coffer(*args, env=None, timeout=30):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    full_env.update(env or {})
    return subprocess.run([COFFER_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def test_a_config_path_that_is_not_a_regular_file_is_an_error_naming_it(tmp_path):
    data = str(tmp_path / "data")
    fifo = str(tmp_path / "coffer.toml")
    os.mkfifo(fifo)
    for path, kind in ((str(tmp_path), "a directory"), (fifo, "a FIFO (named pipe)")):
        for args, env in ((["--config", path], None), ([], {"COFFER_CONFIG": path})):
            # A FIFO used to block the server forever: the timeout would fail the test.
            r = coffer("server", "--data-dir", data, "--listen", "127.0.0.1:0", *args, env=env)
            assert r.returncode == 2, r.stderr
            assert f"config file {path} is {kind}, not a regular file" in r.stderr
    r = coffer("init", "--data-dir", data, "--config", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "missing.toml does not exist" in r.stderr


def test_a_fifo_as_root_key_or_tls_file_stops_the_start_at_once(tmp_path):
    data = str(tmp_path / "data")
    init_data_dir(data)
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    r = coffer("server", "--data-dir", data, "--listen", "127.0.0.1:0", "--root-key-file", fifo)
    assert r.returncode != 0
    assert f"key file {fifo} is a FIFO (named pipe), not a regular file" in r.stderr

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl CLI for a certificate")
    from test_tls import make_ca, make_leaf
    pki = str(tmp_path / "pki")
    os.makedirs(pki)
    make_ca(pki)
    cert, key = make_leaf(pki, "edge", pki)
    for flags, what in ((["--tls-cert", fifo, "--tls-key", key], "TLS certificate"),
                        (["--tls-cert", cert, "--tls-key", fifo], "TLS private key")):
        r = coffer("server", "--data-dir", data, "--listen", "127.0.0.1:0", *flags)
        assert r.returncode != 0
        assert f"{what} {fifo} is a FIFO (named pipe), not a regular file" in r.stderr


def test_a_store_password_is_refused_on_the_command_line_and_taken_from_the_environment(
        tmp_path):
    data = str(tmp_path / "data")
    url = f"postgres://coffer:{PASSWORD}@127.0.0.1:1/coffer"
    query_url = f"postgres://coffer@127.0.0.1:1/coffer?password={PASSWORD}"
    commands = [["init", "--data-dir", data, "--store"],
                ["server", "--data-dir", data, "--store"],
                ["backup", "--data-dir", data, "--out", str(tmp_path / "b.db"), "--store"],
                ["keys", "status", "--data-dir", data, "--store"]]
    for command in commands:
        for bad in (url, query_url):
            r = coffer(*command, bad)
            assert r.returncode == 2, (command, redact(r.stderr))
            assert "--store: the URL holds a password" in r.stderr
            assert "COFFER_STORE" in r.stderr and ".pgpass" in r.stderr
            assert PASSWORD not in r.stdout + r.stderr
    for flag in ("--from", "--to"):
        args = {"--from": "sqlite:" + str(tmp_path / "x.db"), "--to": "sqlite:/dev/null"}
        args[flag] = url
        r = coffer("migrate", "--from", args["--from"], "--to", args["--to"])
        assert r.returncode == 2 and f"{flag}: the URL holds a password" in r.stderr
        assert PASSWORD not in r.stdout + r.stderr
    assert not os.path.exists(data)

    # From the environment the same URL is taken (it then fails to connect: nothing listens on
    # port 1), and the password is not repeated.
    r = coffer("init", "--data-dir", data, env={"COFFER_STORE": url}, timeout=60)
    assert r.returncode != 0 and "holds a password" not in r.stderr
    assert "PostgreSQL" in r.stderr, redact(r.stderr)
    assert PASSWORD not in r.stdout + r.stderr


def as_nobody():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as another user")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", COFFER_BIN]


@pytest.fixture
def open_dir():
    """A temp dir that another user can enter (pytest's own are under a 0700 directory)."""
    d = tempfile.mkdtemp(prefix="coffer-edge-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def sanitizer_env_for_nobody(open_dir):
    """The environment for a command run as nobody: under a sanitizer, its reports go to a
    directory nobody may write to (the suite's own report directory is root's). Returns the
    environment and that directory, which must stay empty."""
    reports = open_dir / "sanitizer-reports"
    reports.mkdir()
    os.chmod(reports, 0o777)
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        if "log_path=" in env.get(var, ""):
            env[var] = re.sub(r"log_path=[^:]*", f"log_path={reports}/{var[:-8].lower()}",
                              env[var])
    return env, reports


def test_backup_names_permission_denied(open_dir):
    prefix = as_nobody()
    tmp_path = open_dir
    env, reports = sanitizer_env_for_nobody(open_dir)
    data = str(tmp_path / "data")
    init_data_dir(data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    os.chmod(out_dir, 0o777)
    db = os.path.join(data, "coffer.db")

    # The data directory is the server user's own (0700): not "no database".
    r = subprocess.run([*prefix, "backup", "--data-dir", data, "--out", str(out_dir / "b1.db")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0
    assert f"cannot read {db}: Permission denied" in r.stderr or \
        f"cannot enter the directory {data}: Permission denied" in r.stderr, r.stderr
    assert "no database" not in r.stderr

    # The file may be read, but SQLite must create coffer.db-shm beside it to read a WAL
    # database: SQLite itself only said "attempt to write a readonly database".
    os.chmod(data, 0o755)
    os.chmod(db, 0o644)
    r = subprocess.run([*prefix, "backup", "--data-dir", data, "--out", str(out_dir / "b2.db")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0
    assert f"cannot create {db}-shm: Permission denied" in r.stderr, r.stderr

    # The destination: the real cause too.
    r = subprocess.run([*prefix, "backup", "--data-dir", data, "--out", str(tmp_path / "b3.db")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "b3.db.partial: Permission denied" in r.stderr, r.stderr
    assert not any(out_dir.iterdir())
    found = {p.name: p.read_text()[-3000:] for p in reports.iterdir()}
    assert not found, f"sanitizer reports: {found}"


def test_backup_names_a_read_only_file_system(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a read-only bind mount")
    data = str(tmp_path / "data")
    init_data_dir(data)
    ro = tmp_path / "ro"
    ro.mkdir()
    # The mount lives in a mount namespace of its own and ends with it: nothing is left behind.
    script = (f'mount --bind "{data}" "{ro}" && mount -o remount,bind,ro "{ro}" || exit 99; '
              f'"{COFFER_BIN}" backup --data-dir "{ro}" --out "{tmp_path}/b.db"')
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 99:
        pytest.skip("cannot make a read-only bind mount here: " + r.stderr[-300:])
    assert r.returncode != 0
    assert f"cannot create {ro}/coffer.db-shm: Read-only file system" in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "b.db")


PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    return out.stdout.strip()


def with_user_and_db(url, user, db):
    parts = urlsplit(url)
    netloc = user + "@" + parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, "/" + db, parts.query, parts.fragment))


@pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set (scripts/test.sh starts a "
                                       "PostgreSQL cluster and sets it)")
def test_a_500_logs_its_cause_with_the_request_id(tmp_path):
    """A store error the client sees as 500 "internal error" (here: a role that lost SELECT on a
    table) is in the server's log at error level with its cause and the request id."""
    name = "coffer_edge_" + uuid.uuid4().hex[:12]
    psql(PG_URL, f"CREATE ROLE {name} LOGIN")
    psql(PG_URL, f"CREATE DATABASE {name} OWNER {name}")
    url = with_user_and_db(PG_URL, name, name)
    server = None
    try:
        data = str(tmp_path / "data")
        r = coffer("init", "--data-dir", data, "--store", url, timeout=60)
        assert r.returncode == 0, redact(r.stderr)
        server = Server(data, KEY_RE.search(r.stdout).group(1), env={"COFFER_STORE": url},
                        extra_args=["--log-level", "warn"])
        admin = admin_caller(server)
        vault = create_vault(admin, "edge")
        put_secret(admin, vault, "db/password", value=PASSWORD)
        psql(with_user_and_db(PG_URL, urlsplit(PG_URL).username, name),
             f"REVOKE SELECT ON secret_versions FROM {name}")
        got = admin.get(f"/vaults/{vault}/secrets/db/password")
        assert got.status_code == 500
        assert got.json()["detail"] == "internal error"
        request_id = got.headers["X-Request-Id"]
        server.stop()
        log = server.read_log()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        failed = [e for e in lines if e.get("request_id") == request_id]
        assert len(failed) == 1, redact(log[-2000:])
        assert failed[0]["level"] == "error" and failed[0]["status"] == 500
        assert "permission denied for table secret_versions" in failed[0]["error"]
        assert PASSWORD not in log
    finally:
        if server is not None:
            server.stop()
        psql(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(PG_URL, f"DROP ROLE IF EXISTS {name}")
