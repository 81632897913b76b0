"""kill -9 at random moments under mixed concurrent load, many times.

Concurrent clients PUT new versions, read counted secrets (small and large max_access_count),
secret-rotate, rotate agents' keys and delete secrets, each recording exactly what was
ACKNOWLEDGED (a 2xx received). The server is killed with SIGKILL at a random moment, restarted on
the same store, and then:
  - every acknowledged version is present with its value (and the latest is no older);
  - every acknowledged secret-rotate version exists and is readable;
  - every acknowledged delete stays deleted;
  - every acknowledged agent key rotation is effective: the new key works, every older key is
    refused (an unacknowledged rotation may or may not have happened; the test re-rotates);
  - no counted secret was handed out more often than its max_access_count, summed over all
    restarts, and the stored access_count is at least the number of values received (one
    secret with a large max read in every cycle, one with max 3, and each cycle a fresh one
    with max 1-3 read in that cycle and the next, so the kill often lands on its last reads);
  - GET /v1/audit/verify says the chain is intact.
SQLite runs COFFER_CRASH_CYCLES cycles (default 25); PostgreSQL (when COFFER_TEST_PG_URL is set)
COFFER_CRASH_PG_CYCLES (default 8). COFFER_CRASH_SEED replays one run's kill timings. Failures
name paths and counts, never a key or a value.
"""
import concurrent.futures
import os
import random
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests

from conftest import (COFFER_BIN, KEY_RE, Caller, Server, admin_caller, create_agent,
                      create_vault, expect, grant, init_data_dir, put_secret, redact)

CYCLES = int(os.environ.get("COFFER_CRASH_CYCLES", "25"))
PG_CYCLES = int(os.environ.get("COFFER_CRASH_PG_CYCLES", "8"))
PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")

PUTTERS = 4
PUT_PATHS_PER_PUTTER = 3
ROTATORS = 2
DELETERS = 2
AGENTS = 3
COUNTED = {"counted/small": 3, "counted/large": 100000}  # created once, read in every cycle
SMALL_LIMITS = (1, 2, 3)  # each cycle also creates counted/c<cycle> with one of these
COUNTED_READERS = 4


class Ledger:
    """What the server acknowledged, across every cycle. Thread-safe through .lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions = {}      # path -> {version: value}, acknowledged PUTs
        self.rotated = {}       # path -> set of versions from acknowledged secret-rotates
        self.deleted = set()    # paths whose DELETE was acknowledged
        self.limits = dict(COUNTED)  # counted path -> max_access_count
        self.received = {p: 0 for p in COUNTED}  # counted path -> values handed out (200s)
        self.anomalies = []     # unexpected answers during the load, as short strings
        self.fresh = set()      # (kind, path[, version]) acknowledged since the last verification

    def note(self, what):
        with self.lock:
            if len(self.anomalies) < 50:
                self.anomalies.append(what)


class Agent:
    """An agent whose key the test rotates. keys: every key acknowledged, oldest first.
    uncertain: a rotation was sent but not acknowledged, so the last key may or may not work."""

    def __init__(self, agent_id, key, path):
        self.id = agent_id
        self.keys = [key]
        self.uncertain = False
        self.path = path
        self.checked = 0  # keys[:checked] were already seen refused after a restart

    def __repr__(self):
        return f"<Agent {self.id} keys={len(self.keys)} uncertain={self.uncertain}>"


def http_session():
    s = requests.Session()
    s.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4))
    return s


class Load:
    """The client threads of one cycle against `server`."""

    def __init__(self, server, vault, ledger, agents, cycle, rng):
        self.base = f"{server.url}/v1/vaults/{vault}"
        self.url = server.url
        self.auth = {"Authorization": "Bearer " + server.admin_key}
        self.ledger = ledger
        self.agents = agents
        self.cycle = cycle
        self.rng = rng
        self.stop = threading.Event()
        self.threads = []

    def call(self, s, method, url, **kw):
        """The response, or None once the server is gone (then the thread ends)."""
        kw.setdefault("headers", self.auth)
        try:
            return s.request(method, url, timeout=15, **kw)
        except requests.RequestException:
            self.stop.set()
            return None

    def unexpected(self, what, r):
        self.ledger.note(f"{what}: {r.status_code} {redact(r.text, 200)}")

    def putter(self, i):
        s = http_session()
        n = 0
        while not self.stop.is_set():
            path = f"load/put/{i}/{n % PUT_PATHS_PER_PUTTER}"
            value = f"c{self.cycle}-p{i}-n{n}-{uuid.uuid4().hex}"
            r = self.call(s, "PUT", f"{self.base}/secrets/{path}",
                          json={"type": "password", "value": value})
            if r is None:
                return
            if r.status_code == 201:
                with self.ledger.lock:
                    version = r.json()["version"]
                    self.ledger.versions.setdefault(path, {})[version] = value
                    self.ledger.fresh.add(("put", path, version))
            else:
                self.unexpected(f"PUT {path}", r)
            n += 1

    def counted_reader(self, i):
        s = http_session()
        # The long-lived ones, and this cycle's and the previous cycle's small one.
        paths = sorted(COUNTED) + [f"counted/c{c}" for c in (self.cycle, self.cycle - 1)
                                   if f"counted/c{c}" in self.ledger.limits]
        while not self.stop.is_set():
            path = paths[self.rng.randrange(len(paths))]
            r = self.call(s, "GET", f"{self.base}/secrets/{path}")
            if r is None:
                return
            if r.status_code == 200:
                if r.json().get("value") != "counted-" + path:
                    self.ledger.note(f"GET {path}: wrong value")
                with self.ledger.lock:
                    self.ledger.received[path] += 1
            elif r.status_code != 410:
                self.unexpected(f"GET {path}", r)

    def rotator(self, i):
        s = http_session()
        path = f"load/rotate/{i}"
        while not self.stop.is_set():
            r = self.call(s, "POST", f"{self.base}/secret-rotate/{path}",
                          json={"length": 24, "charset": "alphanumeric"})
            if r is None:
                return
            if r.status_code == 201:
                with self.ledger.lock:
                    self.ledger.rotated.setdefault(path, set()).add(r.json()["version"])
                    self.ledger.fresh.add(("rotate", path))
            else:
                self.unexpected(f"secret-rotate {path}", r)

    def deleter(self, i):
        s = http_session()
        n = 0
        while not self.stop.is_set():
            path = f"load/delete/c{self.cycle}/{i}/{n}"
            n += 1
            r = self.call(s, "PUT", f"{self.base}/secrets/{path}",
                          json={"type": "note", "value": "to be deleted"})
            if r is None:
                return
            if r.status_code != 201:
                self.unexpected(f"PUT {path}", r)
                continue
            r = self.call(s, "DELETE", f"{self.base}/secrets/{path}")
            if r is None:
                return
            if r.status_code == 204:
                with self.ledger.lock:
                    self.ledger.deleted.add(path)
                    self.ledger.fresh.add(("delete", path))
            else:
                self.unexpected(f"DELETE {path}", r)

    def agent_rotator(self, agent):
        """Reads the agent's secret with its current key, then has the admin rotate the key."""
        s = http_session()
        while not self.stop.is_set():
            key = agent.keys[-1]
            r = self.call(s, "GET", f"{self.base}/secrets/{agent.path}",
                          headers={"Authorization": "Bearer " + key})
            if r is None:
                return
            if r.status_code != 200:
                self.unexpected(f"agent {agent.id} read", r)
            agent.uncertain = True  # until the answer arrives
            r = self.call(s, "POST", f"{self.url}/v1/agents/{agent.id}/rotate-key")
            if r is None:
                return
            if r.status_code == 200:
                agent.keys.append(r.json()["api_key"])
                agent.uncertain = False
            else:
                agent.uncertain = False
                self.unexpected(f"rotate-key {agent.id}", r)

    def start(self):
        targets = [(self.putter, (i,)) for i in range(PUTTERS)]
        targets += [(self.counted_reader, (i,)) for i in range(COUNTED_READERS)]
        targets += [(self.rotator, (i,)) for i in range(ROTATORS)]
        targets += [(self.deleter, (i,)) for i in range(DELETERS)]
        targets += [(self.agent_rotator, (a,)) for a in self.agents]
        self.threads = [threading.Thread(target=t, args=a, daemon=True) for t, a in targets]
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
            assert not t.is_alive(), "a client thread did not end after the kill"


def fail(seed, cycle, message):
    pytest.fail(f"[seed {seed}, cycle {cycle}] {message}")


def verify(server, vault, ledger, agents, seed, cycle, everything, rng):
    """Checks the ledger against the restarted server: the facts acknowledged since the last
    verification, or all of them when `everything`."""
    admin = admin_caller(server)
    base = f"/vaults/{vault}"
    with ledger.lock:
        fresh = set(ledger.fresh)
        ledger.fresh.clear()
        versions = {p: dict(v) for p, v in ledger.versions.items()}
        rotated = {p: set(v) for p, v in ledger.rotated.items()}
        deleted = set(ledger.deleted)
        received = dict(ledger.received)
        limits = dict(ledger.limits)

    def check_put(path):
        problems = []
        acked = {v: value for v, value in versions[path].items()
                 if everything or ("put", path, v) in fresh}
        latest = admin.get(f"{base}/secrets/{path}")
        if latest.status_code != 200 or latest.json()["version"] < max(acked):
            problems.append(f"{path}: latest is {latest.status_code} "
                            f"v{latest.json().get('version') if latest.ok else '-'}, "
                            f"acknowledged up to v{max(acked)}")
        for version, value in acked.items():
            r = admin.get(f"{base}/secret-version/{path}/{version}")
            if r.status_code != 200:
                problems.append(f"{path} v{version}: acknowledged, now {r.status_code}")
            elif r.json().get("value") != value:
                problems.append(f"{path} v{version}: acknowledged value changed")
        return problems

    def check_rotate(path):
        r = admin.get(f"{base}/secret-versions/{path}")
        if r.status_code != 200:
            return [f"{path}: versions {r.status_code}"]
        present = {v["version"] for v in r.json()["versions"]}
        missing = sorted(rotated[path] - present)
        problems = [f"{path}: acknowledged rotations lost: {missing[:10]}"] if missing else []
        for version in sorted(rotated[path])[-3:]:
            got = admin.get(f"{base}/secret-version/{path}/{version}")
            if got.status_code != 200 or len(got.json().get("value", "")) != 24:
                problems.append(f"{path} v{version}: rotated value not readable "
                                f"({got.status_code})")
        return problems

    def check_delete(path):
        r = admin.get(f"{base}/secrets/{path}")
        return [] if r.status_code == 404 else [f"{path}: deleted, now {r.status_code}"]

    checks = []
    for path in versions:
        if everything or any(f[:2] == ("put", path) for f in fresh):
            checks.append((check_put, path))
    for path in rotated:
        if everything or ("rotate", path) in fresh:
            checks.append((check_rotate, path))
    for path in deleted:
        if everything or ("delete", path) in fresh:
            checks.append((check_delete, path))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        problems = [p for ps in pool.map(lambda c: c[0](c[1]), checks) for p in ps]
    if problems:
        fail(seed, cycle, f"{len(problems)} acknowledged facts lost; first: {problems[:5]}")

    def spent(path):
        return admin.get(f"{base}/secret-versions/{path}").json()["versions"][0]["access_count"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        spent_by_path = dict(zip(limits, pool.map(spent, limits)))
    for path, limit in limits.items():
        if received[path] > limit:
            fail(seed, cycle, f"{path}: handed out {received[path]} times, max_access_count "
                              f"is {limit}")
        if not received[path] <= spent_by_path[path] <= limit:
            fail(seed, cycle, f"{path}: access_count {spent_by_path[path]}, values received "
                              f"{received[path]}, max {limit}")

    for agent in agents:
        check_agent(server, agent, seed, cycle, rng)

    body = expect(admin.get("/audit/verify"), 200).json()
    if body.get("ok") is not True:
        fail(seed, cycle, f"audit chain broken at {body.get('first_broken_seq')}: "
                          f"{body.get('reason')}")
    return body["events_checked"]


def check_agent(server, agent, seed, cycle, rng):
    """Every key but the newest is refused (each one is checked after the first restart that
    follows its rotation, and a few older ones again); the newest works unless its successor's
    rotation was in flight at the kill, in which case the admin rotates once more to know the key
    again."""
    def status(key):
        return Caller(server, key).me().status_code

    older = list(range(agent.checked, len(agent.keys) - 1))
    older += rng.sample(range(agent.checked), min(3, agent.checked))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        refused = list(pool.map(lambda i: status(agent.keys[i]) == 401, older))
    for i, ok in zip(older, refused):
        if not ok:
            fail(seed, cycle, f"agent {agent.id}: key #{i} of {len(agent.keys)} still works after "
                              f"an acknowledged rotation")
    agent.checked = len(agent.keys) - 1
    last = status(agent.keys[-1])
    if agent.uncertain:
        if last not in (200, 401):
            fail(seed, cycle, f"agent {agent.id}: newest key answers {last}")
        fresh = expect(admin_caller(server).post(f"/agents/{agent.id}/rotate-key"), 200).json()
        agent.keys.append(fresh["api_key"])
        agent.uncertain = False
        agent.checked = len(agent.keys) - 1
        if status(agent.keys[-2]) != 401:
            fail(seed, cycle, f"agent {agent.id}: the key before a rotation still works")
    elif last != 200:
        fail(seed, cycle, f"agent {agent.id}: acknowledged key refused ({last})")


def setup_store(server):
    """A vault with counted secrets and agents allowed to read their own secret."""
    admin = admin_caller(server)
    vault = create_vault(admin, "crash")
    for path, limit in COUNTED.items():
        put_secret(admin, vault, path, value="counted-" + path, type_="password",
                   max_access_count=limit)
    agents = []
    for j in range(AGENTS):
        created = create_agent(admin, f"crash-agent-{j}")
        path = f"agents/{j}/token"
        put_secret(admin, vault, path, value=f"agent-{j}")
        grant(admin, vault, created["id"], f"agents/{j}/**", ["read"])
        agents.append(Agent(created["id"], created["api_key"], path))
    return vault, agents


def received_summary(ledger):
    small = [p for p in ledger.limits if p not in COUNTED]
    exhausted = sum(ledger.received[p] == ledger.limits[p] for p in small)
    return (f"large {ledger.received['counted/large']}, small {ledger.received['counted/small']}"
            f"/{COUNTED['counted/small']}, {exhausted} of {len(small)} per-cycle ones exhausted")


def run_cycles(data_dir, admin_key, cycles, extra_args=(), env=None):
    # Every retired key is checked to be refused (401), hundreds from one address: the budget of
    # refused credentials is raised so none of them is answered 429 instead.
    extra_args = ["--auth-failure-burst", "1000000", *extra_args]
    seed = int(os.environ.get("COFFER_CRASH_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    ledger = Ledger()
    server = Server(data_dir, admin_key, extra_args=extra_args, env=env)
    try:
        vault, agents = setup_store(server)
        for cycle in range(cycles):
            small = f"counted/c{cycle}"
            limit = rng.choice(SMALL_LIMITS)
            put_secret(admin_caller(server), vault, small, value="counted-" + small,
                       type_="password", max_access_count=limit)
            with ledger.lock:
                ledger.limits[small] = limit
                ledger.received[small] = 0
            load = Load(server, vault, ledger, agents, cycle, random.Random(rng.random()))
            load.start()
            # Mostly mid-load; sometimes right at the start, while connections are being opened.
            time.sleep(rng.choice([rng.uniform(0.0, 0.1), rng.uniform(0.2, 1.0),
                                   rng.uniform(0.2, 1.0)]))
            server.kill()
            load.join()
            if ledger.anomalies:
                fail(seed, cycle, f"unexpected answers under load: {ledger.anomalies[:5]}")
            server = Server(data_dir, admin_key, extra_args=extra_args, env=env)
            verify(server, vault, ledger, agents, seed, cycle, everything=cycle == cycles - 1,
                   rng=random.Random(seed * 1000 + cycle))
        acked = sum(len(v) for v in ledger.versions.values())
        rotations = sum(len(a.keys) - 1 for a in agents)
        # The load must have had something to lose.
        assert acked >= cycles, f"[seed {seed}] only {acked} PUTs acknowledged in {cycles} cycles"
        print(f"\n[seed {seed}] {cycles} kill -9 cycles: {acked} PUTs, "
              f"{sum(len(v) for v in ledger.rotated.values())} secret-rotates, "
              f"{len(ledger.deleted)} deletes, {rotations} agent key rotations acknowledged; "
              f"counted reads handed out {received_summary(ledger)}")
    finally:
        server.stop()


def test_kill9_under_mixed_load_sqlite(data_dir):
    run_cycles(data_dir, init_data_dir(data_dir), CYCLES)


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", PG_URL,
                          "-c", sql], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, redact(out.stderr)
    return out.stdout.strip()


@pytest.mark.skipif(not PG_URL, reason="COFFER_TEST_PG_URL is not set (scripts/test.sh starts "
                                       "a PostgreSQL cluster and sets it)")
def test_kill9_under_mixed_load_postgres():
    name = "coffer_crash_" + uuid.uuid4().hex[:16]
    psql(f"CREATE DATABASE {name}")
    head, _, _ = PG_URL.partition("?")
    url = head.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory(prefix="coffer-crash-pg-") as d:
            data_dir = os.path.join(d, "data")
            out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir, "--store", url],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, redact(out.stderr)
            admin_key = KEY_RE.search(out.stdout).group(1)
            run_cycles(data_dir, admin_key, PG_CYCLES, env={"COFFER_STORE": url})
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
