"""Connection floods: 10 000 idle connections from one address must not keep another client
waiting. The server runs with an open-file limit below the flood (4096, as a small
LimitNOFILE would set), so without limits of its own it runs out of descriptors and stops
accepting. With them, connections over --max-connections-per-address are closed as soon as
accepted, at --max-connections the connection idle the longest makes room, and a connection that
sends no request header within --first-request-timeout-ms is closed (docs/security.md,
"Connection floods"). The flood comes from 127.0.0.1, the other client from 127.0.0.2 and
127.0.0.3 (all of 127/8 is loopback on Linux).

The test raises its own RLIMIT_NOFILE for the flood's sockets; with a hard limit under 10 500 the
flood shrinks to fit (it never does under the sanitizers on their own)."""
import os
import resource
import select
import socket
import struct
import tempfile
import threading
import time

import pytest
import requests

from conftest import Server, init_data_dir

SERVER_FILES = 4096  # the server's open-file limit, soft and hard
FLOOD = 10_000
PER_ADDRESS = 256   # the default --max-connections-per-address
SLOW = 5 if os.environ.get("COFFER_SANITIZER") else 1
ANSWER_WITHIN = 1.0  # seconds, for the other client, sanitizers included


def limit_server_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FILES, SERVER_FILES))


@pytest.fixture(scope="module")
def flood_size():
    """Raises this process's soft open-file limit for the flood; returns how many to open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        wanted = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield min(FLOOD, wanted - 500)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def start_server(tmp, *args):
    data = os.path.join(tmp, "data")
    return Server(data, init_data_dir(data), extra_args=list(args), preexec_fn=limit_server_files)


def host_port(srv):
    host, port = srv.url.rsplit("//", 1)[1].rsplit(":", 1)
    return host, int(port)


def new_socket(source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Closing sends a reset: no TIME_WAIT, so repeated runs do not run out of ports.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.bind((source, 0))
    return s


def open_flood(srv, n, within):
    """Starts `n` connections from 127.0.0.1 without waiting for any; stops early at `within`."""
    addr = host_port(srv)
    socks = []
    deadline = time.monotonic() + within
    while len(socks) < n and time.monotonic() < deadline:
        s = new_socket("127.0.0.1")
        s.setblocking(False)
        s.connect_ex(addr)
        socks.append(s)
    return socks


def census(socks):
    """(open, closed, pending): connected and untouched by the server, closed or reset by it,
    not connected yet."""
    poller = select.poll()
    by_fd = {}
    for s in socks:
        poller.register(s.fileno(), select.POLLIN | select.POLLOUT)
        by_fd[s.fileno()] = s
    open_, closed = 0, 0
    for fd, events in poller.poll(0):
        if events & (select.POLLIN | select.POLLERR | select.POLLHUP):
            closed += 1
        elif events & select.POLLOUT:
            open_ += 1
    return open_, closed, len(socks) - open_ - closed


def settle(socks, most_open, within):
    """Waits until every connection is up and at most `most_open` are still open; returns the
    last census."""
    deadline = time.monotonic() + within
    while True:
        counts = census(socks)
        if (counts[0] <= most_open and counts[2] == 0) or time.monotonic() > deadline:
            return counts
        time.sleep(0.1)


def close_all(socks):
    for s in socks:
        s.close()


def health_from(srv, source, timeout=5.0):
    """GET /v1/health from `source`; returns (status or None, seconds taken)."""
    start = time.monotonic()
    s = new_socket(source)
    s.settimeout(timeout)
    try:
        s.connect(host_port(srv))
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: coffer\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None, time.monotonic() - start
    finally:
        s.close()
    took = time.monotonic() - start
    if not data.startswith(b"HTTP/1.1 "):
        return None, took
    return int(data.split(b" ", 2)[1]), took


class Silent(threading.Thread):
    """A connection from `source` that sends `data` (maybe nothing) and then waits; records how
    long until the server closed it (None if it did not within `within`)."""

    def __init__(self, srv, source, data, within):
        super().__init__(daemon=True)
        self.sock = new_socket(source)
        self.sock.settimeout(within)
        self.sock.connect(host_port(srv))
        self.start_time = time.monotonic()
        if data:
            self.sock.sendall(data)
        self.closed_after = None

    def run(self):
        try:
            while self.sock.recv(65536):
                pass
            self.closed_after = time.monotonic() - self.start_time
        except ConnectionResetError:
            self.closed_after = time.monotonic() - self.start_time
        except OSError:
            pass
        finally:
            self.sock.close()


def test_a_flood_from_one_address_leaves_others_served(flood_size):
    with tempfile.TemporaryDirectory(prefix="coffer-flood-") as tmp:
        srv = start_server(tmp)  # the defaults: 256 per address, 5 s for a first request
        socks = []
        try:
            # Silent connections from a third address, timed from before the flood.
            silent = Silent(srv, "127.0.0.3", b"", within=20 * SLOW)
            half = Silent(srv, "127.0.0.3", b"GET /v1/health HTTP/1.1\r\nHost: c\r\n",
                          within=20 * SLOW)
            silent.start()
            half.start()

            socks = open_flood(srv, flood_size, within=10)
            assert len(socks) == flood_size
            open_, closed, pending = settle(socks, PER_ADDRESS, within=10 * SLOW)
            status, took = health_from(srv, "127.0.0.2")
            assert status == 200, f"no answer to another client within {took:.2f} s"
            assert took < ANSWER_WITHIN, f"another client waited {took:.2f} s"
            # The flood's excess was closed at once, the first PER_ADDRESS kept.
            assert pending == 0 and open_ <= PER_ADDRESS, (open_, closed, pending)

            # Nothing sent (or half a header) within the first request timeout: closed.
            silent.join(20 * SLOW)
            half.join(20 * SLOW)
            for t in (silent, half):
                assert t.closed_after is not None, "an idle connection was never closed"
                assert 4.5 <= t.closed_after <= 5 + 2 * SLOW, t.closed_after
        finally:
            close_all(socks)
            srv.stop()


def test_at_the_total_limit_idle_connections_make_room(flood_size):
    total = 2000
    with tempfile.TemporaryDirectory(prefix="coffer-flood-") as tmp:
        # No per-address limit (as behind a proxy): the total limit alone keeps room.
        srv = start_server(tmp, "--max-connections-per-address", "0",
                           "--max-connections", str(total),
                           "--first-request-timeout-ms", "60000")
        socks = []
        try:
            socks = open_flood(srv, flood_size, within=10)
            open_, closed, pending = settle(socks, total, within=10 * SLOW)
            status, took = health_from(srv, "127.0.0.2")
            assert status == 200, f"no answer to another client within {took:.2f} s"
            assert took < ANSWER_WITHIN, f"another client waited {took:.2f} s"
            assert pending == 0 and open_ <= total, (open_, closed, pending)
            evicted = connection_counters(srv).get("coffer_http_connections_evicted_total", 0)
            assert evicted >= flood_size - total, evicted
        finally:
            close_all(socks)
            srv.stop()


def connection_counters(srv):
    """The server's connection counters from /metrics."""
    text = requests.get(srv.url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("coffer_http_connections_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out
