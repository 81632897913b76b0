"""init, start-up checks, configuration, timeouts and shutdown of the real binary."""
import os
import resource
import socket
import stat
import subprocess
import time

import pytest
import requests

from conftest import COFFER_BIN, KEY_RE, Server, init_data_dir


def test_init_creates_private_key_file_and_refuses_a_second_time(data_dir):
    key = init_data_dir(data_dir)
    mode = stat.S_IMODE(os.stat(os.path.join(data_dir, "root.key")).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    before = open(os.path.join(data_dir, "root.key")).read()
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir], capture_output=True, text=True)
    assert out.returncode != 0 and "already initialized" in out.stderr
    assert "cfr_key_" not in out.stdout + out.stderr
    assert open(os.path.join(data_dir, "root.key")).read() == before
    assert key not in out.stdout


def test_server_refuses_wrong_root_key(data_dir):
    init_data_dir(data_dir)
    with open(os.path.join(data_dir, "root.key"), "w") as f:
        f.write("ab" * 32 + "\n")
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "root key does not match" in out.stderr


def test_server_refuses_uninitialized_dir(tmp_path):
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", str(tmp_path / "none"),
                          "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "coffer init" in out.stderr


def test_world_readable_key_file_is_refused(data_dir):
    init_data_dir(data_dir)
    os.chmod(os.path.join(data_dir, "root.key"), 0o644)
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "chmod 600" in out.stderr


def test_store_files_others_can_read_or_change_are_refused(data_dir):
    key = init_data_dir(data_dir)
    db = os.path.join(data_dir, "coffer.db")
    args = [COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0"]
    for mode in (0o666, 0o644, 0o640, 0o620):
        os.chmod(db, mode)
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert out.returncode != 0, oct(mode)
        assert f"store file {db} may be" in out.stderr and f"(mode {mode:04o})" in out.stderr
        assert f"chmod 600 {db}" in out.stderr
    os.chmod(db, 0o600)
    # A data directory others can write to: they could swap the files in it.
    os.chmod(data_dir, 0o777)
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and f"chmod go-w {data_dir}" in out.stderr
    os.chmod(data_dir, 0o700)
    srv = Server(data_dir, key)
    try:
        assert srv.session().get(srv.url + "/v1/health").status_code == 200
    finally:
        srv.stop()


def test_init_makes_private_files_whatever_the_umask(tmp_path):
    data_dir = str(tmp_path / "data")
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir], capture_output=True,
                         text=True, timeout=60, preexec_fn=lambda: os.umask(0))
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    for name in ("root.key", "coffer.db"):
        assert stat.S_IMODE(os.stat(os.path.join(data_dir, name)).st_mode) == 0o600, name
    key = KEY_RE.search(out.stdout).group(1)
    srv = Server(data_dir, key)
    try:
        srv.session().post(srv.url + "/v1/vaults", json={"name": "v"})
        # SQLite gives the WAL files the database's mode.
        for name in ("coffer.db-wal", "coffer.db-shm"):
            path = os.path.join(data_dir, name)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name
    finally:
        srv.stop()


def test_toml_config_and_env(data_dir, tmp_path):
    key = init_data_dir(data_dir)
    cfg = tmp_path / "coffer.toml"
    cfg.write_text(f'data_dir = "{data_dir}"\nmax_body_bytes = 2048\n')
    srv = Server(data_dir, key, extra_args=["--config", str(cfg)])
    try:
        s = srv.session()
        v = s.post(srv.url + "/v1/vaults", json={"name": "cfg"}).json()["id"]
        r = s.put(f"{srv.url}/v1/vaults/{v}/secrets/x", json={"type": "note", "value": "y" * 4000})
        assert r.status_code == 413
    finally:
        srv.stop()
    cfg.write_text('no_such_key = 1\n')
    out = subprocess.run([COFFER_BIN, "server", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode != 0 and "no_such_key" in out.stderr
    srv = Server(data_dir, key, env={"COFFER_MAX_BODY_BYTES": "1024"})
    try:
        s = srv.session()
        r = s.post(srv.url + "/v1/vaults", json={"name": "e", "description": "d" * 2000})
        assert r.status_code == 413
    finally:
        srv.stop()


def lower_soft_open_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))


def open_files_limits(pid):
    limits = open(f"/proc/{pid}/limits").read()
    line = [l for l in limits.splitlines() if l.startswith("Max open files")][0]
    return line.split()[3:5]


def test_connection_limits_from_toml_env_and_flags(data_dir, tmp_path):
    key = init_data_dir(data_dir)
    cfg = tmp_path / "coffer.toml"
    cfg.write_text('max_connections_per_address = 2\nfirst_request_timeout_ms = 60000\n')
    # Started with a soft open-file limit of 512: the server raises it to the hard limit.
    srv = Server(data_dir, key, extra_args=["--config", str(cfg)],
                 env={"COFFER_MAX_CONNECTIONS": "100"}, preexec_fn=lower_soft_open_file_limit)
    socks = []
    try:
        soft, hard = open_files_limits(srv.proc.pid)
        assert soft == hard, (soft, hard)
        deadline = time.time() + 10  # logged just after the listening line
        while "at most 100 connections at once, 2 per client address" not in srv.read_log():
            assert time.time() < deadline, "the connection limits were not logged"
            time.sleep(0.05)
        host, port = srv.url.rsplit("//", 1)[1].split(":")
        for _ in range(2):
            socks.append(socket.create_connection((host, int(port)), timeout=5))
        excess = socket.create_connection((host, int(port)), timeout=5)
        socks.append(excess)
        try:
            assert excess.recv(1) == b""  # closed (or reset) at once, not after a timeout
        except ConnectionResetError:
            pass
        for s in socks[:2]:  # the first two stay open: the first request timeout is 60 s
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
    finally:
        for s in socks:
            s.close()
        srv.stop()
    srv = Server(data_dir, key, extra_args=["--first-request-timeout-ms", "300"])
    try:
        host, port = srv.url.rsplit("//", 1)[1].split(":")
        silent = socket.create_connection((host, int(port)), timeout=10)
        start = time.time()
        assert silent.recv(1) == b""
        assert time.time() - start < 5  # far below the 60 s idle timeout
        silent.close()
    finally:
        srv.stop()
    for flag in ("--max-connections", "--max-connections-per-address"):
        out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen",
                              "127.0.0.1:0", flag, "-1"], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 2 and f"{flag}: must be between 0 and" in out.stderr, out.stderr


# Every number of `coffer server` goes through one table of bounds, from a flag, a COFFER_*
# variable or the TOML file alike, and the refusal names the bound (docs/operations.md). Before,
# --token-ttl-seconds 10000000000000 overflowed into tokens dated in the year -3496, and
# worker_threads = -4294967295 in the file became 1.
@pytest.mark.parametrize("source,key,value,message", [
    ("flag", "token_ttl_seconds", "10000000000000",
     "--token-ttl-seconds: must be between 60 and 86400 seconds (got 10000000000000)"),
    ("flag", "token_ttl_seconds", "99999999999999999999999",
     "must be between 60 and 86400 seconds (got 99999999999999999999999)"),
    ("env", "token_ttl_seconds", "0", "must be between 60 and 86400 seconds (got 0)"),
    ("toml", "token_ttl_seconds", "10000000000000",
     "token_ttl_seconds must be between 60 and 86400 seconds (got 10000000000000)"),
    ("toml", "worker_threads", "-4294967295",
     "worker_threads must be between 1 and 1024 threads (got -4294967295)"),
    ("env", "worker_threads", "4294967297", "must be between 1 and 1024 threads"),
    ("flag", "io_threads", "-1", "must be between 0 and 256 threads (got -1)"),
    ("flag", "read_timeout_ms", "0", "must be between 100 and 3600000 ms (got 0)"),
    ("toml", "idle_timeout_ms", "9223372036854775807", "must be between 100 and 3600000 ms"),
    ("flag", "max_body_bytes", "1e9", "must be an integer between 1024 and 67108864"),
    ("toml", "max_body_bytes", "1e9", "max_body_bytes must be an integer between"),
    ("flag", "auth_failure_burst", "0", "must be between 1 and 1000000 (got 0)"),
    ("env", "auth_failures_per_minute", "-5", "must be between 1 and 1000000 (got -5)"),
    ("toml", "log_level", '"Loud"',
     "log_level must be one of trace, debug, info, warn, error, critical, off (got Loud)"),
    ("flag", "log_level", "Loud", "must be one of trace, debug, info, warn, error"),
])
def test_out_of_bounds_options_refuse_to_start_naming_the_bound(data_dir, tmp_path, source, key,
                                                                 value, message):
    init_data_dir(data_dir)
    args = [COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0"]
    env = dict(os.environ)
    if source == "flag":
        args += ["--" + key.replace("_", "-"), value]
    elif source == "env":
        env["COFFER_" + key.upper()] = value
    else:
        cfg = tmp_path / "coffer.toml"
        cfg.write_text(f"{key} = {value}\n")
        args += ["--config", str(cfg)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr, out.stderr
    assert "coffer listening" not in out.stdout


def test_log_level_is_case_insensitive(data_dir, tmp_path):
    """"Info" in the file used to switch every log line off, ALERTs included."""
    key = init_data_dir(data_dir)
    cfg = tmp_path / "coffer.toml"
    cfg.write_text('log_level = "Info"\n')
    srv = Server(data_dir, key, extra_args=["--config", str(cfg)])
    try:
        assert srv.session().get(srv.url + "/v1/me").status_code == 200
    finally:
        srv.stop()
    assert '"msg":"request"' in srv.read_log()
    srv = Server(data_dir, key, env={"COFFER_LOG_LEVEL": "WARN"})
    try:
        assert srv.session().get(srv.url + "/v1/me").status_code == 200
    finally:
        srv.stop()
    assert srv.read_log().count('"msg":"request"') == 1, "WARN hides the access lines"


def test_core_dumps_disabled(server):
    limits = open(f"/proc/{server.proc.pid}/limits").read()
    line = [l for l in limits.splitlines() if l.startswith("Max core file size")][0]
    assert line.split()[4:6] == ["0", "0"]


def test_idle_and_slow_clients_are_cut_off(data_dir):
    key = init_data_dir(data_dir)
    srv = Server(data_dir, key, extra_args=["--read-timeout-ms", "500", "--idle-timeout-ms", "500"])
    try:
        host, port = srv.url.rsplit("//", 1)[1].split(":")
        idle = socket.create_connection((host, int(port)))
        slow = socket.create_connection((host, int(port)))
        start = time.time()
        slow.sendall(b"GET /v1/health HTTP/1.1\r\n")
        for _ in range(12):  # a header byte every 100 ms: never completes in time
            try:
                slow.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
        idle.settimeout(5)
        assert idle.recv(1) == b""  # closed by the server
        assert time.time() - start < 5
        # Others are served meanwhile.
        assert requests.get(srv.url + "/v1/health").status_code == 200
    finally:
        srv.stop()


def test_sigterm_exits_cleanly_and_data_persists(data_dir):
    key = init_data_dir(data_dir)
    srv = Server(data_dir, key)
    s = srv.session()
    v = s.post(srv.url + "/v1/vaults", json={"name": "p"}).json()["id"]
    assert s.put(f"{srv.url}/v1/vaults/{v}/secrets/k", json={"type": "note", "value": "kept"}).status_code == 201
    srv.stop()
    assert srv.proc.returncode == 0
    srv = Server(data_dir, key)
    try:
        assert srv.session().get(f"{srv.url}/v1/vaults/{v}/secrets/k").json()["value"] == "kept"
    finally:
        srv.stop()


def test_no_secret_in_server_log(data_dir):
    key = init_data_dir(data_dir)
    srv = Server(data_dir, key)
    canary = "CANARY-LOG-9c2e1f"
    try:
        s = srv.session()
        v = s.post(srv.url + "/v1/vaults", json={"name": "l"}).json()["id"]
        s.put(f"{srv.url}/v1/vaults/{v}/secrets/k", json={"type": "note", "value": canary})
        s.get(f"{srv.url}/v1/vaults/{v}/secrets/k")
        s.put(f"{srv.url}/v1/vaults/{v}/secrets/k", json={"type": "bad", "value": canary})
        requests.get(srv.url + "/v1/vaults", headers={"Authorization": "Bearer " + canary})
    finally:
        srv.stop()
    log = srv.read_log()
    assert canary not in log and key not in log
