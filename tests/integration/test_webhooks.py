"""Webhooks (docs/webhooks.md) against the real binary, on SQLite and PostgreSQL, with a real
receiver on 127.0.0.1: a PUT produces one signed secret.version_created delivery whose signature
verifies (checked here independently with hmac/base64), whose body carries no value; a receiver
answering 500 then 200 sees the retry; a loopback receiver is refused without --egress-allow and
the delivery log and the server log say why; bad requests are 400s naming the field."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest

from conftest import (Caller, Server, create_agent, create_user, create_vault, expect,
                      expect_problem, init_data_dir, put_secret)

VALUE = "webhook-test-value-7f3c9a"  # must never reach a receiver


class Receiver:
    """An HTTP receiver on 127.0.0.1 (port 0) answering POSTs with the queued statuses (200 once
    they run out) and keeping every request it got."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.requests.append((dict(self.headers.items()), body))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.05)
        pytest.fail(f"the receiver got {len(self.requests)} requests, expected {n}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def start_server(data_dir, store, *args):
    return Server(data_dir, init_data_dir(data_dir, store), store=store,
                  extra_args=["--webhook-allow-http", "--webhook-first-retry-ms", "300", *args])


@pytest.fixture
def allowed(data_dir, store):
    """A server whose egress guard lets 127.0.0.1 through, with a 300 ms first retry."""
    srv = start_server(data_dir, store, "--egress-allow", "127.0.0.1/32")
    yield srv
    srv.stop()


@pytest.fixture
def guarded(data_dir, store):
    """A server with the default egress guard (loopback refused)."""
    srv = start_server(data_dir, store)
    yield srv
    srv.stop()


def verify(secret, headers, body):
    """Standard Webhooks verification, written here from the spec, independent of Coffer."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ")
                  if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in signatures)


def add_webhook(caller, vault, url, events=("secret.version_created",)):
    return expect(caller.post(f"/vaults/{vault}/webhooks",
                              json={"url": url, "events": list(events), "description": "t"}),
                  201).json()


def deliveries(caller, vault, hook_id):
    return expect(caller.get(f"/vaults/{vault}/webhooks/{hook_id}/deliveries"), 200).json()[
        "deliveries"]


def wait_delivery(caller, vault, hook_id, done, timeout=15, every=False):
    """The delivery log once `done` holds for its newest entry (every entry with `every`); the
    log returned is the one `done` was checked on."""
    deadline = time.time() + timeout
    log = []
    while time.time() < deadline:
        log = deliveries(caller, vault, hook_id)
        if log and (all(done(d) for d in log) if every else done(log[0])):
            return log
        time.sleep(0.1)
    pytest.fail(f"delivery log did not settle: {log}")


def test_a_put_is_delivered_once_signed_and_without_its_value(allowed, receiver):
    admin = Caller(allowed, allowed.admin_key)
    vault = create_vault(admin, "hooked")
    hook = add_webhook(admin, vault, receiver.url)
    assert hook["secret"].startswith("whsec_")
    assert hook["events"] == ["secret.version_created"]
    listed = expect(admin.get(f"/vaults/{vault}/webhooks"), 200).json()["webhooks"]
    assert [w["id"] for w in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in expect(admin.get(f"/vaults/{vault}/webhooks/{hook['id']}"), 200).json()

    put_secret(admin, vault, "db/password", value=VALUE)
    (headers, body), = receiver.wait_for(1)
    headers = {k.lower(): v for k, v in headers.items()}
    assert verify(hook["secret"], headers, body)
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-id"].startswith("msg_")
    assert VALUE.encode() not in body
    event = json.loads(body)
    assert event["type"] == "secret.version_created"
    assert event["data"]["vault_id"] == vault
    assert event["data"]["path"] == "db/password"
    assert event["data"]["version"] == 1
    assert event["data"]["actor"]["kind"] == "user"
    log = wait_delivery(admin, vault, hook["id"], lambda d: d["state"] == "delivered")
    assert len(log) == 1
    assert log[0]["attempts"] == 1 and log[0]["last_status_code"] == 200
    assert log[0]["id"] == headers["webhook-id"]
    assert log[0]["next_attempt_at"] is None
    time.sleep(1.5)  # a second delivery of the same event would have arrived by now
    assert len(receiver.requests) == 1
    # The audit trail names the webhook's creation; the secret is in no event.
    events = expect(admin.get("/audit", params={"action": "webhook.create"}), 200).json()
    assert hook["secret"] not in json.dumps(events)
    expect(admin.delete(f"/vaults/{vault}/webhooks/{hook['id']}"), 204)
    expect_problem(admin.get(f"/vaults/{vault}/webhooks/{hook['id']}/deliveries"), 404)


def test_a_receiver_answering_500_gets_the_event_again(allowed):
    receiver = Receiver(statuses=[500, 200])
    try:
        admin = Caller(allowed, allowed.admin_key)
        vault = create_vault(admin, "retried")
        hook = add_webhook(admin, vault, receiver.url, ["secret.rotated", "secret.version_created"])
        expect(admin.post(f"/vaults/{vault}/secret-rotate/api/token", json={"length": 24}), 201)
        # A rotation is secret.rotated and secret.version_created: two deliveries, one failing
        # first; the failed one is retried with the same id.
        got = receiver.wait_for(3)
        ids = [h.get("webhook-id") or h.get("Webhook-Id") for h, _ in got]
        assert len(set(ids)) == 2
        types = sorted({json.loads(b)["type"] for _, b in got})
        assert types == ["secret.rotated", "secret.version_created"]
        for h, b in got:
            assert verify(hook["secret"], {k.lower(): v for k, v in h.items()}, b)
        # (The log checked is the log kept: one fetched before the retry ended would still say
        # one attempt for both.)
        log = wait_delivery(admin, vault, hook["id"], lambda d: d["state"] == "delivered",
                            every=True)
        assert len(log) == 2
        assert sorted(d["attempts"] for d in log) == [1, 2]
    finally:
        receiver.close()


def test_loopback_is_refused_without_the_allow_list_and_the_logs_say_why(guarded, receiver):
    admin = Caller(guarded, guarded.admin_key)
    vault = create_vault(admin, "guarded")
    hook = add_webhook(admin, vault, receiver.url)
    queued = expect(admin.post(f"/vaults/{vault}/webhooks/{hook['id']}/test"), 202).json()
    assert queued["event_type"] == "webhook.test" and queued["state"] == "pending"
    log = wait_delivery(admin, vault, hook["id"], lambda d: d["attempts"] >= 1)
    assert "loopback" in log[0]["last_error"] and "--egress-allow" in log[0]["last_error"]
    assert log[0]["last_status_code"] is None
    assert log[0]["state"] == "pending" and log[0]["next_attempt_at"] is not None
    assert receiver.requests == []
    deadline = time.time() + 10
    while "loopback" not in guarded.read_log() and time.time() < deadline:
        time.sleep(0.1)
    assert "loopback" in guarded.read_log()


REFUSALS = [
    ({"url": "https://hooks.example.com/", "events": ["secret.read"]}, "events"),
    ({"url": "https://hooks.example.com/", "events": []}, "events"),
    ({"url": "https://hooks.example.com/"}, "events"),
    ({"url": "https://user:pw@hooks.example.com/", "events": ["secret.rotated"]}, "url"),
    ({"url": "ftp://hooks.example.com/", "events": ["secret.rotated"]}, "url"),
    ({"events": ["secret.rotated"]}, "url"),
    ({"url": "https://hooks.example.com/", "events": ["secret.rotated"], "secret": "x"}, "secret"),
]


def test_bad_requests_name_the_field_and_only_owner_or_admin_manage(guarded):
    admin = Caller(guarded, guarded.admin_key)
    vault = create_vault(admin, "checked")
    for body, field in REFUSALS:
        problem = expect_problem(admin.post(f"/vaults/{vault}/webhooks", json=body), 400)
        assert field in problem["detail"], (body, problem["detail"])
        assert "pw" not in problem["detail"]
    assert expect(admin.get(f"/vaults/{vault}/webhooks"), 200).json()["webhooks"] == []
    expect_problem(admin.get(f"/vaults/{vault}/webhooks/not-a-uuid"), 400)
    _, mallory = create_user(guarded, "mallory")
    expect_problem(mallory.get(f"/vaults/{vault}/webhooks"), 403)
    expect_problem(mallory.post(f"/vaults/{vault}/webhooks",
                                json={"url": "https://x.example.com/", "events": ["secret.rotated"]}),
                   403)
    bot = create_agent(admin, "bot")
    expect_problem(Caller(guarded, bot["api_key"]).get(f"/vaults/{vault}/webhooks"), 403)


def test_the_cli_adds_lists_tests_shows_deliveries_and_removes(allowed, receiver, tmp_path):
    from cli_support import Cli
    cli = Cli(allowed, allowed.admin_key, str(tmp_path))
    cli.ok("vaults", "create", "clihooks")
    out = cli.ok("webhooks", "add", "--vault", "clihooks", receiver.url,
                 "--events", "secret.version_created,secret.rotated", "--description", "cli")
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = json.loads(cli.ok("webhooks", "list", "--vault", "clihooks", "--json"))["webhooks"]
    assert len(listed) == 1 and listed[0]["events"] == ["secret.rotated",
                                                         "secret.version_created"]
    hook_id = listed[0]["id"]
    assert hook_id in cli.ok("webhooks", "list", "--vault", "clihooks")
    cli.ok("webhooks", "test", "--vault", "clihooks", hook_id)
    (headers, body), = receiver.wait_for(1)
    assert json.loads(body)["type"] == "webhook.test"
    assert verify(secret, {k.lower(): v for k, v in headers.items()}, body)
    deadline = time.time() + 10
    while time.time() < deadline:
        table = cli.ok("webhooks", "deliveries", "--vault", "clihooks", hook_id)
        if "delivered" in table:
            break
        time.sleep(0.1)
    assert "webhook.test" in table and "delivered" in table
    cli.fails(2, "webhooks", "add", "--vault", "clihooks", receiver.url, "--events", "nope")
    cli.ok("webhooks", "rm", "--vault", "clihooks", hook_id)
    assert json.loads(cli.ok("webhooks", "list", "--vault", "clihooks", "--json"))[
        "webhooks"] == []
