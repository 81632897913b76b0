"""HTTPS: a throwaway CA made here signs the server's certificate; TLS 1.2+ with forward-secret
AEAD ciphers only; clients that verify (Python, curl --cacert) connect; a certificate replaced
on disk is served after SIGHUP while an open keep-alive connection carries on."""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import COFFER_BIN, Server, init_data_dir

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl CLI")


def run(*args, cwd):
    subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d):
    run(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
        "/CN=Coffer test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return os.path.join(d, "ca.pem")


def make_leaf(d, name, ca_dir):
    """A server certificate for 127.0.0.1/localhost signed by the CA; returns (cert, key)."""
    key, csr, cert = f"{name}.key", f"{name}.csr", f"{name}.pem"
    run(OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run(OPENSSL, "x509", "-req", "-in", csr, "-CA", os.path.join(ca_dir, "ca.pem"), "-CAkey",
        os.path.join(ca_dir, "ca.key"), "-CAcreateserial", "-out", cert, "-days", "2",
        "-extfile", ext, cwd=d)
    return os.path.join(d, cert), os.path.join(d, key)


def peer_cn(sock):
    subject = dict(x[0] for x in sock.getpeercert()["subject"])
    return subject["commonName"]


@pytest.fixture
def pki(tmp_path):
    d = str(tmp_path / "pki")
    os.makedirs(d)
    ca = make_ca(d)
    cert, key = make_leaf(d, "coffer-one", d)
    return {"dir": d, "ca": ca, "cert": cert, "key": key}


@pytest.fixture
def tls_server(data_dir, pki):
    key = init_data_dir(data_dir)
    srv = Server(data_dir, key, extra_args=["--tls-cert", pki["cert"], "--tls-key", pki["key"]])
    yield srv
    srv.stop()


def host_port(url):
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    return host, int(port)


def verifying_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def test_https_with_a_verifying_client(tls_server, pki):
    assert tls_server.url.startswith("https://127.0.0.1:")
    host, port = host_port(tls_server.url)
    conn = http.client.HTTPSConnection(host, port, context=verifying_context(pki["ca"]),
                                       timeout=10)
    conn.request("GET", "/v1/health")
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["status"] == "healthy"
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    conn.close()


def test_curl_with_cacert(tls_server, pki):
    out = subprocess.run(["curl", "-sS", "--fail", "--cacert", pki["ca"],
                          "-H", "Authorization: Bearer " + tls_server.admin_key,
                          tls_server.url + "/v1/me"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert '"is_admin":true' in out.stdout
    # Without the CA the certificate is not trusted, and curl says so.
    out = subprocess.run(["curl", "-sS", tls_server.url + "/v1/health"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0 and "certificate" in out.stderr


def test_plain_http_to_the_tls_port_gets_no_answer(tls_server):
    host, port = host_port(tls_server.url)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("GET", "/v1/health")
        conn.getresponse()
    conn.close()


def handshake(url, ctx):
    host, port = host_port(url)
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return s.version(), s.cipher()


def test_old_protocols_and_weak_ciphers_are_refused(tls_server, pki):
    # TLS 1.1 (the client is told to allow it, at security level 0).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki["ca"])
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        handshake(tls_server.url, ctx)
    # TLS 1.2 with CBC or non-forward-secret suites only.
    for weak in ("ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-SHA384"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(pki["ca"])
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(weak)
        with pytest.raises(ssl.SSLError):
            handshake(tls_server.url, ctx)
    # TLS 1.2 with a modern suite works.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki["ca"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = handshake(tls_server.url, ctx)
    assert version == "TLSv1.2" and "GCM" in cipher[0] or "CHACHA20" in cipher[0]


def test_sighup_reloads_the_certificate_and_keeps_open_connections(tls_server, pki):
    host, port = host_port(tls_server.url)
    ctx = verifying_context(pki["ca"])
    kept = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    kept.request("GET", "/v1/health")
    assert json.loads(kept.getresponse().read())["status"] == "healthy"
    kept_sock = kept.sock
    assert peer_cn(kept_sock) == "coffer-one"

    # Replace both files in place (as certbot or an operator would), then SIGHUP.
    new_cert, new_key = make_leaf(pki["dir"], "coffer-two", pki["dir"])
    shutil.copyfile(new_cert, pki["cert"])
    shutil.copyfile(new_key, pki["key"])
    tls_server.proc.send_signal(signal.SIGHUP)

    deadline = time.time() + 5
    served = None
    while time.time() < deadline:
        fresh = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
        fresh.request("GET", "/v1/health")
        fresh.getresponse().read()
        served = peer_cn(fresh.sock)
        fresh.close()
        if served == "coffer-two":
            break
        time.sleep(0.1)
    assert served == "coffer-two"

    # The connection opened before the reload is the same socket and still answers.
    kept.request("GET", "/v1/ready")
    r = kept.getresponse()
    assert r.status == 200 and r.read() == b'{"status":"ready"}'
    assert kept.sock is kept_sock and peer_cn(kept.sock) == "coffer-one"
    kept.close()
    assert "TLS certificate and key reloaded" in tls_server.read_log()


def test_a_broken_replacement_keeps_the_old_certificate(tls_server, pki):
    with open(pki["cert"], "w") as f:
        f.write("not a certificate\n")
    tls_server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "TLS reload failed" not in tls_server.read_log() and time.time() < deadline:
        time.sleep(0.1)
    assert "TLS reload failed" in tls_server.read_log()
    host, port = host_port(tls_server.url)
    conn = http.client.HTTPSConnection(host, port, context=verifying_context(pki["ca"]),
                                       timeout=10)
    conn.request("GET", "/v1/health")
    assert conn.getresponse().status == 200
    assert peer_cn(conn.sock) == "coffer-one"
    conn.close()


def test_bad_tls_files_stop_the_start(data_dir, pki):
    init_data_dir(data_dir)
    other_cert, _ = make_leaf(pki["dir"], "coffer-other", pki["dir"])
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                          "--tls-cert", other_cert, "--tls-key", pki["key"]],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "TLS private key" in out.stderr
    assert "mismatch" in out.stderr or "does not match" in out.stderr
    out = subprocess.run([COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                          "--tls-cert", os.path.join(pki["dir"], "missing.pem"),
                          "--tls-key", pki["key"]], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "missing.pem" in out.stderr
    assert "PRIVATE KEY" not in out.stderr


def test_tls_on_a_public_address_needs_no_insecure_flag(data_dir, pki):
    from test_operations import start_on, stop
    init_data_dir(data_dir)
    proc, port = start_on(data_dir, "0.0.0.0:0", "--tls-cert", pki["cert"], "--tls-key",
                          pki["key"])
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port,
                                           context=verifying_context(pki["ca"]), timeout=10)
        conn.request("GET", "/v1/health")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        stop(proc)


def test_a_tls_key_others_can_read_is_refused_at_start(data_dir, pki):
    """The TLS private key is held to the root key's rule (here the server's user owns it, so
    0600; a root-owned key may be 0640, see docs/operations.md)."""
    key = init_data_dir(data_dir)
    args = [COFFER_BIN, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
            "--tls-cert", pki["cert"], "--tls-key", pki["key"]]
    for mode in (0o644, 0o640, 0o604, 0o660):
        os.chmod(pki["key"], mode)
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, (oct(mode), out.stderr)
        assert f"TLS private key {pki['key']} may be" in out.stderr
        assert f"(mode {mode:04o})" in out.stderr and f"chmod 600 {pki['key']}" in out.stderr
        assert "PRIVATE KEY" not in out.stderr
    os.chmod(pki["key"], 0o600)
    srv = Server(data_dir, key, extra_args=["--tls-cert", pki["cert"], "--tls-key", pki["key"]])
    try:
        assert srv.url.startswith("https://")
    finally:
        srv.stop()


def test_a_reload_refuses_a_key_others_can_read(tls_server, pki):
    new_cert, new_key = make_leaf(pki["dir"], "coffer-three", pki["dir"])
    shutil.copyfile(new_cert, pki["cert"])
    shutil.copyfile(new_key, pki["key"])
    os.chmod(pki["key"], 0o644)
    tls_server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "TLS reload failed" not in tls_server.read_log() and time.time() < deadline:
        time.sleep(0.1)
    log = tls_server.read_log()
    assert "TLS reload failed" in log and "chmod 600" in log and "mode 0644" in log
    assert "TLS certificate and key reloaded" not in log
    host, port = host_port(tls_server.url)
    conn = http.client.HTTPSConnection(host, port, context=verifying_context(pki["ca"]),
                                       timeout=10)
    conn.request("GET", "/v1/health")
    assert conn.getresponse().status == 200
    assert peer_cn(conn.sock) == "coffer-one"  # still the old certificate and key
    conn.close()
