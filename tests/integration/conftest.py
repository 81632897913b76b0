"""Fixtures that start the real coffer binary on port 0 in a temp data dir and stop it after.

`server` (and `api`, `vault`, `make_server` and every fixture built on them) runs each test twice,
once per store: `[sqlite]` (coffer.db in the data dir) and `[postgres]` (a fresh database of its
own on COFFER_TEST_PG_URL's cluster). "Stores" below says how, which tests stay SQLite-only and
how COFFER_TEST_STORES chooses the stores of a run."""
import atexit
import contextlib
import datetime
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import requests

COFFER_BIN = os.environ.get(
    "COFFER_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "coffer"))

KEY_RE = re.compile(r"^\s*(cfr_key_[A-Za-z0-9_]+)\s*$", re.M)
LISTEN_RE = re.compile(r"coffer listening on (https?://\S+)")


def init_data_dir(data_dir, store=None):
    """Runs `coffer init` (on `store`, a Store; SQLite in `data_dir` if None) and returns the
    admin API key it printed."""
    if store is not None and store.kind != "sqlite":
        return store.init(data_dir)
    out = subprocess.run([COFFER_BIN, "init", "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    m = KEY_RE.search(out.stdout)
    assert m, "init printed no admin API key"
    return m.group(1)


class Server:
    """A running `coffer server`; use .url, .admin_key, .session(), .stop(), .kill().
    .store is where it keeps its data (a Store: SQLite in data_dir unless one is given)."""

    def __init__(self, data_dir, admin_key, extra_args=(), env=None, preexec_fn=None, store=None):
        self.data_dir = data_dir
        self.admin_key = admin_key
        self.store = store or SQLITE
        self.extra_args = list(extra_args)
        self.env = env
        self.preexec_fn = preexec_fn  # run in the child before exec (e.g. to set rlimits)
        self.proc = None
        self.url = None
        self.start()

    def start(self):
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(
            [COFFER_BIN, "server", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
             *self.store.args, *self.extra_args],
            stdout=subprocess.PIPE, stderr=self.log, env=env, preexec_fn=self.preexec_fn)
        deadline = time.time() + 20
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = LISTEN_RE.search(line.decode())
            if m:
                self.url = m.group(1)
                return
        self.kill()
        raise RuntimeError("server did not start: " + self.read_log()[-2000:])

    def sql(self, *statements):
        """Runs `statements` in one transaction on this server's store (Store.sql)."""
        __tracebackhide__ = True
        return self.store.sql(self.data_dir, *statements)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def session(self, token=None):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + (token or self.admin_key)
        return s

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        note_sanitizer_exit(self.proc, "server")
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if not self.log.closed:
            self.log.close()


# --- Stores ---------------------------------------------------------------------------------------
# Every test that uses `server`, `make_server`, `store` or `store_kind`, directly or through another
# fixture (`api`, `vault`, a module's `world`, ...), runs once per store kind: pytest_generate_tests
# below parametrizes `store_kind`, so test ids end in [sqlite] or [postgres].
#
# A PostgreSQL store is a database of its own, never shared, on the cluster COFFER_TEST_PG_URL names
# (its user may CREATE DATABASE; scripts/pg-cluster.sh starts one, scripts/test.sh and
# scripts/test-sanitizers.sh do for every run). Each test process (pytest-xdist worker) has its own
# databases, all copies (CREATE DATABASE ... TEMPLATE) of one that `coffer init` initialized once
# in that process; a data dir gets that init's root key and admin key. A database a test is done
# with is not dropped but reset, in the background, to the state init left (its rows deleted and
# init's put back, from a pg_dump of the template; its other sessions ended first), and the next
# test gets it: PostgreSQL 15 checkpoints on every DROP DATABASE, so a drop and a copy per test
# cost ~2 s of a busy 2-core machine's I/O, a reset ~0.1 s. One whose schema or settings the test
# changed (Server.sql can do anything) is dropped instead; so is every one when the user is not a
# superuser (a reset skips the audit table's append-only triggers). Tests that run `coffer init`
# on PostgreSQL itself: test_postgres_multi.py, test_postgres_migrate.py, test_keys.py.
#
# COFFER_TEST_STORES (comma-separated, default "sqlite,postgres") chooses the kinds a run covers;
# tests that are not store-parametrized run whatever it says. Left unset, the [postgres] variants
# skip, saying why, when COFFER_TEST_PG_URL is unset (a run by hand); set, every kind it names is
# required: naming postgres without COFFER_TEST_PG_URL stops the run before the first test. So
# does COFFER_WITH_TEST_TOOLS (scripts/test.sh, CI) without it, as for test_faults.py's shim.
#
# A test that cannot run on PostgreSQL (it edits the SQLite file, holds the store lock, ...) is
# marked @pytest.mark.sqlite_only("why") (or by its module's pytestmark) and runs as [sqlite] only.

STORE_KINDS = ("sqlite", "postgres")


def parse_stores(stores_env):
    """The store kinds COFFER_TEST_STORES=`stores_env` names (None: both), as given."""
    return [k.strip() for k in (stores_env or ",".join(STORE_KINDS)).split(",") if k.strip()]


def stores_problem(stores_env, pg_url, with_test_tools):
    """Why a run with COFFER_TEST_STORES=`stores_env` (None: unset), COFFER_TEST_PG_URL=`pg_url`
    and COFFER_WITH_TEST_TOOLS=`with_test_tools` cannot go on, or None. As for test_faults.py's
    shim: where the PostgreSQL variants must run (COFFER_TEST_STORES names postgres, or
    COFFER_WITH_TEST_TOOLS, which scripts/test.sh sets for CI), a missing cluster stops the run
    instead of skipping them."""
    stores = parse_stores(stores_env)
    if not stores or any(k not in STORE_KINDS for k in stores):
        return (f"COFFER_TEST_STORES={stores_env!r}: a comma-separated list of "
                f"{', '.join(STORE_KINDS)}")
    if (stores_env or with_test_tools) and "postgres" in stores and not pg_url:
        why = "COFFER_TEST_STORES names postgres" if stores_env else "COFFER_WITH_TEST_TOOLS is set"
        return f"{why} but COFFER_TEST_PG_URL is not set (scripts/pg-cluster.sh start sets it)"
    return None


PG_URL = os.environ.get("COFFER_TEST_PG_URL", "")
_STORES_ENV = os.environ.get("COFFER_TEST_STORES")
STORES = parse_stores(_STORES_ENV)


class Store:
    """Where a server keeps its data: kind "sqlite", coffer.db in its data dir (coffer's default,
    so no flag), or kind "postgres", the database at .url. .args name it to a coffer command."""

    def __init__(self, kind, url=None, database=None):
        self.kind, self.url, self.database = kind, url, database

    def __repr__(self):
        return f"<Store {self.kind}{' ' + self.database if self.database else ''}>"

    @property
    def args(self):
        return ["--store", self.url] if self.url else []

    def init(self, data_dir):
        """Makes `data_dir` a data dir on this store; returns the admin API key."""
        if self.kind == "sqlite":
            return init_data_dir(data_dir)
        template = _pg_template()
        os.makedirs(data_dir, mode=0o700)
        root_key = os.path.join(data_dir, "root.key")
        shutil.copyfile(template.root_key, root_key)
        os.chmod(root_key, 0o600)
        return template.admin_key

    def sql(self, data_dir, *statements):
        """Runs `statements` in one transaction on the store of `data_dir` (the server's data dir,
        for SQLite); the rows they return, each a tuple of strings (NULL is "")."""
        __tracebackhide__ = True
        if self.kind != "sqlite":
            return pg_sql(*statements, url=self.url)
        db = sqlite3.connect(os.path.join(data_dir, "coffer.db"), timeout=10)
        try:
            with db:
                rows = [row for statement in statements for row in db.execute(statement)]
        finally:
            db.close()
        return [tuple("" if c is None else str(c) for c in row) for row in rows]

    def close(self):
        """Gives the database back (reset or dropped in the background); a no-op for SQLite (the
        data dir goes with its temp dir)."""
        if self.database:
            _release_database(self.database)
            self.database = None


SQLITE = Store("sqlite")


def pg_sql(*statements, url=None):
    """Runs `statements` with psql on `url` (COFFER_TEST_PG_URL's database by default), several
    in one transaction; the rows they return, each a tuple of strings (NULL is "")."""
    __tracebackhide__ = True
    cmd = ["psql", "-X", "-q", "-t", "-A", "-F", "\x1f", "-R", "\x1e", "-v", "ON_ERROR_STOP=1",
           url or PG_URL]
    if len(statements) > 1:
        cmd.append("--single-transaction")
    for statement in statements:
        cmd += ["-c", statement]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.fail(f"psql failed: {redact(out.stderr)}")
    text = out.stdout.rstrip("\n")
    return [tuple(row.split("\x1f")) for row in text.split("\x1e")] if text else []


def pg_database_url(name):
    """COFFER_TEST_PG_URL with its database replaced by `name`."""
    return PG_URL.partition("?")[0].rsplit("/", 1)[0] + "/" + name


def new_store(kind):
    """A fresh store of `kind`: SQLITE, or a PostgreSQL database in the state `coffer init` left
    (skips the test when COFFER_TEST_PG_URL is unset). Store.close() gives it back."""
    __tracebackhide__ = True
    if kind == "sqlite":
        return SQLITE
    if not PG_URL:
        pytest.skip("COFFER_TEST_PG_URL is not set (scripts/pg-cluster.sh start sets it; "
                    "COFFER_TEST_STORES=sqlite runs the SQLite variants only)")
    failed = _reap_drops()
    if failed:
        pytest.fail("dropping a test database failed: " + "; ".join(failed))
    name = _acquire_database()
    return Store("postgres", pg_database_url(name), name)


class _Template:
    """The database `coffer init` initialized once in this process, which the others copy."""

    def __init__(self):
        self.database = "coffer_tpl_" + uuid.uuid4().hex[:16]
        self.url = pg_database_url(self.database)
        self.dir = tempfile.mkdtemp(prefix="coffer-tpl-")
        self.root_key = os.path.join(self.dir, "data", "root.key")
        self.admin_key = None
        self.reset_script = None  # the psql script that resets a copy; None: copies are dropped
        self.schema = None  # md5 of the template's schema and settings (_SCHEMA_FINGERPRINT)
        self.content = None  # md5 of its rows and sequences (_content_fingerprint)


_template = None
_pool = []  # (database, psql process resetting it): databases the next tests get, oldest first
_drops = []  # (database, psql process) of the DROP DATABASEs still running

# What a reset cannot put back: the schema (tables, columns, constraints, indexes, triggers and
# whether they are enabled, functions, privileges) and the database's settings, as one md5.
_SCHEMA_FINGERPRINT = """SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM (
  SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  UNION ALL SELECT 'class ' || c.oid::regclass || ' ' || c.relkind::text || ' '
    || coalesce(c.relacl::text, '') FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'column ' || a.attrelid::regclass || ' ' || a.attname || ' '
    || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
   WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'trigger ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL SELECT 'function ' || oid::regprocedure || ' ' || md5(prosrc) FROM pg_proc
   WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'setting ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS s(x)"""


def _pg_template():
    __tracebackhide__ = True
    global _template
    if _template is None:
        template = _Template()
        pg_sql(f"CREATE DATABASE {template.database}")
        try:
            out = subprocess.run([COFFER_BIN, "init", "--data-dir",
                                  os.path.join(template.dir, "data"), "--store", template.url],
                                 capture_output=True, text=True, timeout=60)
            m = KEY_RE.search(out.stdout)
            if out.returncode != 0 or not m:
                pytest.fail(f"coffer init on PostgreSQL failed ({out.returncode}): "
                            f"{redact(out.stderr)}")
            template.admin_key = m.group(1)
            if pg_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                      url=template.url) == [("t",)]:
                _write_reset_script(template)
        except BaseException:
            pg_sql(f"DROP DATABASE IF EXISTS {template.database} WITH (FORCE)")
            shutil.rmtree(template.dir, ignore_errors=True)
            raise
        _template = template
    return _template


def _content_fingerprint(tables, sequences):
    """A query for the md5 of every row of `tables` and the state of `sequences`."""
    parts = [f"(SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
             f" FROM public.{name} t)" for name in tables]
    parts += [f"(SELECT last_value || ':' || is_called FROM public.{name})" for name in sequences]
    return "SELECT md5(concat_ws(' ', " + ", ".join(parts) + "))"


def _write_reset_script(template):
    """The psql script that returns a copy of `template` to its state, if its schema and settings
    are the template's: other sessions ended, rows deleted (the append-only triggers skipped),
    the template's rows and sequence values put back (pg_dump --data-only --inserts). It prints
    "reset|" and the content fingerprint, or "changed" (and resets nothing)."""
    __tracebackhide__ = True
    tables = [name for (name,) in pg_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", url=template.url)]
    sequences = [name for (name,) in pg_sql(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
        url=template.url)]
    content = _content_fingerprint(tables, sequences)
    dump = subprocess.run(["pg_dump", "--data-only", "--inserts", "--no-owner", "--no-privileges",
                           template.url], capture_output=True, text=True, timeout=60)
    if dump.returncode != 0:
        pytest.fail(f"pg_dump of the template failed: {redact(dump.stderr)}")
    # \restrict and \unrestrict (newer pg_dump) guard a dump from another source; this is ours.
    rows = "\n".join(line for line in dump.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))
    [(template.schema,)] = pg_sql("SET search_path = ''", _SCHEMA_FINGERPRINT, url=template.url)
    [(template.content,)] = pg_sql("SET search_path = ''", content, url=template.url)
    path = os.path.join(template.dir, "reset.sql")
    with open(path, "w") as f:
        f.write("SELECT count(pg_terminate_backend(pid, 30000)) FROM pg_stat_activity\n"
                " WHERE datname = current_database() AND pid <> pg_backend_pid();\n"
                f"SET search_path = '';\nSELECT ({_SCHEMA_FINGERPRINT}) = '{template.schema}'"
                " AS coffer_same_schema \\gset\n\\if :coffer_same_schema\n"
                "SET session_replication_role = replica;\nBEGIN;\n")
        f.writelines(f"DELETE FROM public.{name};\n" for name in tables)
        f.write(f"{rows}\nCOMMIT;\nSET search_path = '';\nSELECT 'reset', ({content});\n"
                "\\else\nSELECT 'changed';\n\\endif\n")
    template.reset_script = path


def _acquire_database():
    """The name of a database in the template's state: the oldest reset one, or a new copy."""
    __tracebackhide__ = True
    template = _pg_template()
    while _pool:
        name, proc = _pool.pop(0)
        out, err = proc.communicate(timeout=120)
        last = out.split()[-1:]
        if proc.returncode != 0 or not last:
            _drop_database(name)
            pytest.fail(f"resetting test database {name} failed: {redact(err)}")
        if last == ["changed"]:
            _drop_database(name)  # its test changed its schema or settings: not reused
            continue
        if last != [f"reset|{template.content}"]:
            _drop_database(name)
            pytest.fail(f"the reset of test database {name} left other rows than init's")
        return name
    name = "coffer_it_" + uuid.uuid4().hex[:16]
    pg_sql(f"CREATE DATABASE {name} TEMPLATE {template.database}")
    return name


def _release_database(name):
    if _template is None or _template.reset_script is None:
        _drop_database(name)
        return
    _pool.append((name, subprocess.Popen(
        ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-f", _template.reset_script,
         pg_database_url(name)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))


def _drop_database(name):
    _drops.append((name, subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_URL, "-c",
         f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))


def _reap_drops(wait=False):
    """Collects the finished drops (all of them if `wait`); a description of each that failed."""
    failed, running = [], []
    for name, proc in _drops:
        if wait:
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.poll() is None:
            running.append((name, proc))
            continue
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if proc.returncode != 0:
            failed.append(f"{name}: {redact(err, 300)}")
    _drops[:] = running
    return failed


@pytest.fixture(scope="module")
def store_kind(request):
    """"sqlite" or "postgres": the store kind of this variant of the test (pytest_generate_tests).
    Module-scoped, so that module-scoped fixtures may build on it too."""
    return request.param


@pytest.fixture
def store(store_kind):
    """A fresh store of the test's kind, given back afterwards (Store.close)."""
    s = new_store(store_kind)
    yield s
    s.close()


def pytest_generate_tests(metafunc):
    if "store_kind" not in metafunc.fixturenames:
        return
    only = metafunc.definition.get_closest_marker("sqlite_only")
    if only is not None and not (only.args and str(only.args[0]).strip()):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.sqlite_only needs "
                                "the reason as its argument")
    kinds = [k for k in STORES if only is None or k == "sqlite"]
    if not kinds:
        reason = f"SQLite only ({only.args[0]}); COFFER_TEST_STORES={_STORES_ENV} leaves it out"
        kinds = [pytest.param("sqlite", marks=pytest.mark.skip(reason=reason))]
    metafunc.parametrize("store_kind", kinds, indirect=True, scope="module")


def _drop_all():
    """Drops this process's test databases and template; a description of each drop that failed.
    Run at the end of the session, and at exit (a run that never reached its end, or the
    tests/sanitizers module run on its own)."""
    global _template
    for name, proc in _pool:
        proc.communicate(timeout=120)
        _drop_database(name)
    del _pool[:]
    failed = _reap_drops(wait=True)
    if _template is not None:
        out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_URL, "-c",
                              f"DROP DATABASE IF EXISTS {_template.database} WITH (FORCE)"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            failed.append(f"{_template.database}: {redact(out.stderr, 300)}")
        shutil.rmtree(_template.dir, ignore_errors=True)
        _template = None
    for f in failed:
        print(f"conftest.py: dropping a test database failed: {f}", file=sys.stderr)
    return failed


atexit.register(_drop_all)


def pytest_sessionfinish(session):
    if _drop_all() and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory(prefix="coffer-test-") as d:
        yield os.path.join(d, "data")


@pytest.fixture
def server(data_dir, store):
    """A server on a fresh store, once per store kind (test ids [sqlite] and [postgres])."""
    srv = Server(data_dir, init_data_dir(data_dir, store), store=store)
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    """A requests.Session with the admin key and a base URL helper."""
    s = server.session()
    s.base = server.url
    return s


@pytest.fixture
def vault(api):
    r = api.post(api.base + "/v1/vaults", json={"name": "test-vault"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


class RawResponse:
    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.text = body.decode(errors="replace")

    def json(self):
        import json
        return json.loads(self.text)


def raw_request(base_url, method, target, body=None, headers=None):
    """Sends `target` exactly as given (no dot-segment or percent normalisation)."""
    import http.client
    import json as _json
    host = base_url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=10)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = _json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, target, body=data, headers=hdrs)
    resp = conn.getresponse()
    out = RawResponse(resp.status, requests.structures.CaseInsensitiveDict(resp.getheaders()),
                      resp.read())
    conn.close()
    return out


# --- Helpers for the identity tests (users, agents, policies, audit) ------------------------------
# Assertions here fail through pytest.fail with redacted text, never a bare `assert`, and the
# helpers hide their frames (__tracebackhide__), because pytest prints every frame's arguments:
# a failure must not print an API key, rotation secret or JWT into the test output.

import types  # noqa: E402  (kept with the helpers below)

API_KEY_RE = re.compile(r"cfr_key_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}")
# Agent API keys: the prefix the seeds' clients recognise, the same parts and checksum.
AGENT_KEY_RE = re.compile(r"ocv_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}")
ROTATION_SECRET_RE = re.compile(r"cfr_rot_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RFC3339_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SECRETISH_RE = re.compile(r"cfr_(key|rot|shr)_[0-9A-Za-z_]+|ocv_[0-9A-Za-z_]+|eyJ[\w-]+\.[\w-]+\.[\w-]*")


def when(rfc3339):
    """An RFC 3339 time as a datetime. Coffer leaves out a fraction of zero, so its time strings
    do not sort as strings ("...:49Z" would follow "...:49.5Z")."""
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


def redact(text, limit=600):
    """`text` with anything that looks like a credential or JWT masked, cut to `limit`."""
    __tracebackhide__ = True
    return _SECRETISH_RE.sub(lambda m: m.group(0)[:8] + "<redacted>", str(text))[:limit]

def run_keys(server, *args):
    """`coffer keys ARGS` on a running server's data dir and store; the completed process."""
    cmd = [COFFER_BIN, "keys", *args, "--data-dir", server.data_dir, *server.store.args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def keys_command(server, *args):
    """run_keys that must succeed: a failure fails the test, its stderr redacted."""
    __tracebackhide__ = True
    out = run_keys(server, *args)
    if out.returncode != 0:
        pytest.fail(f"coffer keys {args[0]} failed ({out.returncode}): {redact(out.stderr)}")
    return out


def wait_for(predicate, what, deadline=15):
    """predicate()'s first truthy value, polled until `deadline` seconds have passed."""
    __tracebackhide__ = True
    end = time.time() + deadline
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")



def expect(r, *statuses):
    """Fails unless the response status is one of `statuses`; returns the response."""
    __tracebackhide__ = True
    if r.status_code not in statuses:
        method = r.request.method if getattr(r, "request", None) is not None else ""
        pytest.fail(f"{method} {redact(getattr(r, 'url', ''), 200)}: expected "
                    f"{' or '.join(map(str, statuses))}, got {r.status_code}: {redact(r.text)}")
    return r


def expect_problem(r, status, detail_re=None):
    """An RFC 9457 problem answer with `status`; returns its body."""
    __tracebackhide__ = True
    expect(r, status)
    ctype = r.headers.get("Content-Type", "")
    if not ctype.startswith("application/problem+json"):
        pytest.fail(f"expected application/problem+json, got {ctype!r}")
    body = r.json()
    if body.get("status") != status or not str(body.get("type", "")).startswith(
            "urn:coffer:problem:"):
        pytest.fail(f"bad problem body: {redact(r.text)}")
    if detail_re and not re.search(detail_re, body.get("detail", "")):
        pytest.fail(f"detail {redact(body.get('detail'))!r} does not match {detail_re!r}")
    return body


def check_credential(value, kind):
    """Fails unless `value` is a well-formed credential of `kind` ("key": a user's API key,
    "agent": an agent's, "rot": a rotation secret)."""
    __tracebackhide__ = True
    pattern = {"key": API_KEY_RE, "agent": AGENT_KEY_RE}.get(kind, ROTATION_SECRET_RE)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shape = f"{type(value).__name__} of length {len(value) if isinstance(value, str) else '-'}"
        pytest.fail(f"not a {kind} credential ({shape}, starts {redact(str(value)[:8])!r})")


def check_absent(text, needles, where="response"):
    """Fails if any of `needles` (secrets) occurs in `text`; names only the needle's index."""
    __tracebackhide__ = True
    for i, needle in enumerate(needles):
        if needle and needle in text:
            pytest.fail(f"secret #{i} ({redact(needle[:8])}…) appears in the {where}")


def check_different(a, b, what):
    __tracebackhide__ = True
    if a == b:
        pytest.fail(f"{what}: the new value equals the old one")


def public_id(credential):
    """The public id of a cfr_<kind>_<public id>_<secret>_<checksum> credential or of an
    ocv_<public id>_<secret>_<checksum> agent key."""
    __tracebackhide__ = True
    return credential.split("_")[-3]


class Bag(types.SimpleNamespace):
    """A namespace for fixtures whose repr names only its fields: pytest prints test arguments
    in tracebacks, and these hold credentials."""

    def __repr__(self):
        return f"<{type(self).__name__} {' '.join(sorted(vars(self)))}>"


class TransportError(Exception):
    """A request that got no answer (e.g. the server died); says nothing about its headers."""


class Caller:
    """Calls the /v1 API of `server` as one principal; token None means unauthenticated."""

    def __init__(self, server, token=None, headers=None):
        self.server = server
        self.token = token
        self.headers = dict(headers or {})
        self.http = requests.Session()

    def __repr__(self):
        return f"<Caller {'anonymous' if self.token is None else 'with a token'}>"

    def request(self, method, route, **kwargs):
        __tracebackhide__ = True
        headers = dict(self.headers)
        if self.token is not None:
            headers["Authorization"] = "Bearer " + self.token
        headers.update(kwargs.pop("headers", None) or {})
        kwargs.setdefault("timeout", 30)
        try:
            return self.http.request(method, self.server.url + "/v1" + route, headers=headers,
                                     **kwargs)
        except requests.RequestException as e:
            raise TransportError(f"{method} /v1{redact(route, 200)}: {type(e).__name__}") from None

    def get(self, route, **kw):
        __tracebackhide__ = True
        return self.request("GET", route, **kw)

    def post(self, route, **kw):
        __tracebackhide__ = True
        return self.request("POST", route, **kw)

    def put(self, route, **kw):
        __tracebackhide__ = True
        return self.request("PUT", route, **kw)

    def delete(self, route, **kw):
        __tracebackhide__ = True
        return self.request("DELETE", route, **kw)

    def me(self):
        __tracebackhide__ = True
        return self.get("/me")


def admin_caller(server):
    __tracebackhide__ = True
    return Caller(server, server.admin_key)


@contextlib.contextmanager
def two_servers(store):
    """Two servers on one store (a PostgreSQL database), each with its own data dir holding the
    same root key; yields (a, b, admin_key) and stops both."""
    with tempfile.TemporaryDirectory(prefix="coffer-pg-") as d:
        a_dir, b_dir = os.path.join(d, "a"), os.path.join(d, "b")
        admin_key = store.init(a_dir)
        os.makedirs(b_dir, mode=0o700)
        shutil.copy2(os.path.join(a_dir, "root.key"), os.path.join(b_dir, "root.key"))
        a = Server(a_dir, admin_key, store=store)
        try:
            b = Server(b_dir, admin_key, store=store)
        except BaseException:
            a.stop()
            raise
        try:
            yield a, b, admin_key
        finally:
            a.stop()
            b.stop()


def create_user(server, name):
    """The admin creates user `name` and a first API key for it; returns (user, Caller)."""
    __tracebackhide__ = True
    admin = admin_caller(server)
    user = expect(admin.post("/users", json={"name": name}), 201).json()
    key = expect(admin.post(f"/users/{user['id']}/api-keys", json={"name": "first"}), 201).json()
    return user, Caller(server, key["api_key"])


def create_vault(caller, name):
    __tracebackhide__ = True
    return expect(caller.post("/vaults", json={"name": name}), 201).json()["id"]


def put_secret(caller, vault, path, value="v", type_="api_key", **extra):
    __tracebackhide__ = True
    return expect(caller.put(f"/vaults/{vault}/secrets/{path}",
                             json={"type": type_, "value": value, **extra}), 201).json()


def create_agent(caller, name, description=None):
    """Creates an agent; returns its 201 body (with api_key and rotation_secret)."""
    __tracebackhide__ = True
    body = {"name": name}
    if description is not None:
        body["description"] = description
    return expect(caller.post("/agents", json=body), 201).json()


def grant(caller, vault, principal_id, pattern, permissions, principal_type="agent",
          expires_at=None):
    """Creates a policy; returns its 201 body."""
    __tracebackhide__ = True
    body = {"principal_type": principal_type, "principal_id": principal_id,
            "secret_path_pattern": pattern, "permissions": list(permissions)}
    if expires_at is not None:
        body["expires_at"] = expires_at
    return expect(caller.post(f"/vaults/{vault}/policies", json=body), 201).json()


def exchange(server, api_key):
    """POST /auth/token with `api_key`; returns the JWT."""
    __tracebackhide__ = True
    r = expect(Caller(server).post("/auth/token", json={"api_key": api_key}), 200)
    return r.json()["access_token"]


def self_rotate(server, api_key, rotation_secret, headers=None, body=None):
    """POST /agents/self/rotate-key on a fresh connection; `body` overrides the JSON body."""
    __tracebackhide__ = True
    payload = {"rotationSecret": rotation_secret} if body is None else body
    return Caller(server, api_key, headers).post("/agents/self/rotate-key", json=payload)


def audit_pages(caller, limit=100, **params):
    """Every page of GET /audit with `params`, following next_after; returns (events, texts)."""
    __tracebackhide__ = True
    events, texts, after = [], [], None
    for _ in range(1000):
        query = dict(params, limit=limit)
        if after is not None:
            query["after"] = after
        r = expect(caller.get("/audit", params=query), 200)
        texts.append(r.text)
        page = r.json()
        events.extend(page["events"])
        after = page.get("next_after")
        if after is None or not page["events"]:
            return events, texts
    pytest.fail("GET /audit pagination did not end")


@pytest.fixture
def make_server(store_kind):
    """A factory for more servers, each in its own fresh data dir and store (of the test's store
    kind), all stopped afterwards: make_server(extra_args=[...], env={...}) -> Server."""
    started, dirs, stores = [], [], []

    def make(extra_args=(), env=None):
        d = tempfile.TemporaryDirectory(prefix="coffer-test-")
        dirs.append(d)
        store = new_store(store_kind)
        stores.append(store)
        data = os.path.join(d.name, "data")
        srv = Server(data, init_data_dir(data, store), extra_args=extra_args, env=env, store=store)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
    for store in stores:
        store.close()
    for d in dirs:
        d.cleanup()


# --- Sanitizer builds (scripts/test-sanitizers.sh) ------------------------------------------------
# There every sanitizer report is fatal, exits 66 and is written to a file in
# $COFFER_SANITIZER_REPORT_DIR (log_path). A test fails if, by its end, a process it started
# exited 66 or wrote a report, so a data race, leak or UB in the server fails the test that caused
# it even when the test never looks at the server's exit code.

SANITIZER_EXIT_CODE = 66
SANITIZER_REPORT_DIR = os.environ.get("COFFER_SANITIZER_REPORT_DIR")
_sanitizer_exits = []
# Run 2-wide (pytest-xdist), each worker's processes write their reports to a subdir of their own,
# so a report fails the test that caused it rather than the one running beside it on the other
# worker (scripts/test-sanitizers.sh still fails the run on a report in any subdir).
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if SANITIZER_REPORT_DIR and _XDIST_WORKER:
    _worker_dir = os.path.join(SANITIZER_REPORT_DIR, _XDIST_WORKER)
    os.makedirs(_worker_dir, exist_ok=True)
    for _var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        if _var in os.environ:
            os.environ[_var] = os.environ[_var].replace(f"log_path={SANITIZER_REPORT_DIR}/",
                                                        f"log_path={_worker_dir}/")
    SANITIZER_REPORT_DIR = _worker_dir


def note_sanitizer_exit(proc, what):
    """Records `proc` if it exited with the sanitizers' exit code (checked after each test)."""
    if proc is not None and proc.poll() == SANITIZER_EXIT_CODE:
        _sanitizer_exits.append(f"{what} (pid {proc.pid}) exited {SANITIZER_EXIT_CODE}")


def sanitizer_reports(pid=None):
    """Paths of the sanitizer reports written so far (by process `pid` if given)."""
    if not SANITIZER_REPORT_DIR or not os.path.isdir(SANITIZER_REPORT_DIR):
        return []
    names = sorted(os.listdir(SANITIZER_REPORT_DIR))
    if pid is not None:
        names = [n for n in names if n.endswith(f".{pid}")]
    return [os.path.join(SANITIZER_REPORT_DIR, n) for n in names]


@pytest.fixture(autouse=True)
def _no_sanitizer_reports():
    before = set(sanitizer_reports())
    del _sanitizer_exits[:]
    yield
    new = [p for p in sanitizer_reports() if p not in before]
    if new or _sanitizer_exits:
        texts = []
        for path in new:
            with open(path, errors="replace") as f:
                texts.append(f"--- {os.path.basename(path)}\n{f.read()[-6000:]}")
        pytest.fail("sanitizer report(s): " + "; ".join(_sanitizer_exits) + "\n" +
                    "\n".join(texts), pytrace=False)


# --- Parallel runs (pytest-xdist) -----------------------------------------------------------------
# scripts/test.sh and scripts/test-sanitizers.sh run the suite in two passes: everything not marked
# `serial` two files at a time (`-m "not serial" -n 2 --dist loadfile`: a file's tests stay on one
# worker, in order, with its module-scoped servers), then the `serial` tests alone (`-m serial`).
# Serial are the tests that measure time or load the machine on purpose and need it to themselves.
# Every fixture is safe in parallel: temp dirs, servers on port 0, a private HOME for the CLI, and
# PostgreSQL databases named by uuid4.
SERIAL_MODULES = {
    "test_constant_time.py": "compares response times",
    "test_crash_kill9.py": "kill -9 cycles under concurrent load",
    "test_concurrency_and_crash.py": "concurrent load and kill -9",
    "test_sqlmap.py": "sqlmap's time-based checks",
    "test_connection_floods.py": "10 000 connections at once, answer time measured",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "serial: runs alone, after the parallel pass "
                            "(conftest.py SERIAL_MODULES)")
    config.addinivalue_line("markers", "sqlite_only(reason): runs as [sqlite] only, not on "
                            "PostgreSQL (conftest.py, \"Stores\")")
    problem = stores_problem(_STORES_ENV, PG_URL, os.environ.get("COFFER_WITH_TEST_TOOLS"))
    if problem:
        raise pytest.UsageError(problem)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)
