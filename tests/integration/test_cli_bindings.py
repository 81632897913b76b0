"""`coffer bindings` and `coffer run --binding` against a real server that may reach a loopback
upstream (--egress-allow 127.0.0.1/32): create, list, get, update, test, delete; an agent's
execute printing the upstream's status and body with the echoed credential redacted; the
executions list; and a child of `coffer run` calling the proxy with the variables it was given.
No output of the client ever carries the secret."""
import json
import os
import sys

import pytest

from cli_support import EXIT_NOT_FOUND, EXIT_USAGE, Cli, EchoUpstream, table_rows
from conftest import check_absent

SECRET = "sk-upstream-Zx81q2-binding-value"
ALLOW_LOOPBACK = ["--egress-allow", "127.0.0.1/32"]


@pytest.fixture
def upstream():
    u = EchoUpstream()
    yield u
    u.close()


@pytest.fixture
def world(make_server, upstream, tmp_path):
    """A server allowed to reach loopback; the admin's CLI; vault prod with api-keys/up = SECRET;
    agent gw-bot with `use` on api-keys/*, and its own CLI (the agent's key as COFFER_TOKEN)."""
    server = make_server(extra_args=ALLOW_LOOPBACK)
    home = tmp_path / "home"
    home.mkdir()
    admin = Cli(server, server.admin_key, str(home))
    admin.ok("vaults", "create", "prod")
    admin.ok("secrets", "put", "prod", "api-keys/up", "--type", "api_key", input=SECRET)
    agent = json.loads(admin.ok("agents", "create", "gw-bot", "--json"))
    admin.ok("policies", "add", "prod", "--agent", "gw-bot", "--path", "api-keys/*", "--allow",
             "use")
    agent_cli = Cli(server, agent["api_key"], str(home))

    class World:
        def __repr__(self):
            return "<World>"
    w = World()
    w.server, w.admin, w.agent, w.upstream = server, admin, agent_cli, upstream
    w.agent_id, w.agent_key = agent["id"], agent["api_key"]
    return w


def create(world, name="up", *more):
    return world.admin.ok("bindings", "create", "--agent", "gw-bot", "--name", name,
                          "--base-url", world.upstream.url, "--secret", "prod/api-keys/up", *more)


def test_bindings_create_list_get_update_test_delete(world):
    out = create(world, "up", "--allow-method", "GET", "--allow-method", "POST",
                 "--allow-path", "echo/**", "--rpm", "100", "-H", "X-Fixed: yes")
    assert out.startswith("Created binding up (")
    check_absent(out, [SECRET], "create output")

    rows = table_rows(world.admin.ok("bindings", "list", "--agent", "gw-bot"))
    assert rows[0] == ["NAME", "ID", "BASE URL", "AUTH", "SECRET", "STATE"]
    assert len(rows) == 2 and rows[1][0] == "up" and rows[1][2] == world.upstream.url
    assert rows[1][4].endswith("/api-keys/up") and rows[1][5] == "active"
    binding_id = rows[1][1]

    got = json.loads(world.admin.ok("bindings", "get", "--agent", "gw-bot", "up", "--json"))
    assert got["id"] == binding_id and got["agent_id"] == world.agent_id
    assert got["config"]["base_url"] == world.upstream.url
    assert got["config"]["headers"] == {"X-Fixed": "yes"} or got["config"]["headers"] == {
        "x-fixed": "yes"}
    assert got["guardrails"]["allowed_methods"] == ["GET", "POST"]
    assert got["guardrails"]["allowed_paths"] == ["echo/**"]
    assert got["guardrails"]["max_requests_per_minute"] == 100
    assert got["credential_path"] == "api-keys/up" and got["credential_set"] is True
    # By id as well as by name, and the agent (by its id) sees its own.
    assert json.loads(world.admin.ok("bindings", "get", "--agent", world.agent_id, binding_id,
                                     "--json"))["name"] == "up"
    mine = json.loads(world.agent.ok("bindings", "list", "--json"))["bindings"]
    assert [b["name"] for b in mine] == ["up"]
    human = world.admin.ok("bindings", "get", "--agent", "gw-bot", "up")
    assert "echo/**" in human and "GET,POST" in human

    # update changes only what is given.
    out = world.admin.ok("bindings", "update", "--agent", "gw-bot", "up", "--rpm", "7",
                         "--inactive")
    assert out.startswith("Updated binding up")
    got = json.loads(world.admin.ok("bindings", "get", "--agent", "gw-bot", "up", "--json"))
    assert got["is_active"] is False and got["guardrails"]["max_requests_per_minute"] == 7
    assert got["guardrails"]["allowed_paths"] == ["echo/**"]
    world.admin.ok("bindings", "update", "--agent", "gw-bot", "up", "--active")
    assert json.loads(world.admin.ok("bindings", "get", "--agent", "gw-bot", "up",
                                     "--json"))["is_active"] is True
    r = world.admin.fails(EXIT_USAGE, "bindings", "update", "--agent", "gw-bot", "up")
    assert "nothing to change" in r.stderr

    out = world.admin.ok("bindings", "test", "--agent", "gw-bot", "up")
    assert "answered in" in out

    # An agent may not create one; a missing binding is a 404.
    world.agent.fails(3, "bindings", "create", "--agent", "self", "--name", "mine",
                      "--base-url", world.upstream.url, "--secret", "prod/api-keys/up")
    r = world.admin.fails(EXIT_NOT_FOUND, "bindings", "get", "--agent", "gw-bot", "nope")
    assert "no binding named 'nope'" in r.stderr

    world.admin.ok("bindings", "delete", "--agent", "gw-bot", "up")
    assert table_rows(world.admin.ok("bindings", "list", "--agent", "gw-bot"))[1:] == []


def test_create_refuses_bad_flags(world):
    r = world.admin.fails(EXIT_USAGE, "bindings", "create", "--agent", "gw-bot", "--name", "x",
                          "--base-url", world.upstream.url)
    assert "--secret" in r.stderr
    r = world.admin.fails(EXIT_USAGE, "bindings", "create", "--agent", "gw-bot", "--name", "x",
                          "--base-url", world.upstream.url, "--secret", "prod/api-keys/up#1")
    assert "current version" in r.stderr
    world.admin.fails(EXIT_USAGE, "bindings", "create", "--agent", "gw-bot", "--name", "x",
                      "--base-url", world.upstream.url, "--secret", "prod/api-keys/up",
                      "-H", "no colon")
    world.admin.fails(EXIT_USAGE, "bindings", "create", "--agent", "gw-bot", "--name", "x",
                      "--base-url", world.upstream.url, "--secret", "prod/api-keys/up",
                      "--auth", "magic")


def test_execute_prints_status_and_body_redacted_and_is_listed(world):
    create(world, "up")
    out = world.agent.run("bindings", "execute", "up", "POST", "echo/x?q=1&r=a%20b",
                          "-H", "X-Test: hello", "--data", '{"hi":1}')
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith("HTTP 200 (")
    check_absent(out.stdout + out.stderr, [SECRET], "execute output")
    echoed = json.loads(out.stdout)
    assert echoed["method"] == "POST" and echoed["path"].startswith("/echo/x?")
    assert "q=1" in echoed["path"] and echoed["x_test"] == "hello"
    assert echoed["body"] == '{"hi":1}'
    assert SECRET not in echoed["authorization"] and "[REDACTED]" in echoed["authorization"]
    # What the upstream got: the real credential, attached by the server.
    assert world.upstream.seen[-1]["authorization"] == "Bearer " + SECRET

    full = world.agent.run("bindings", "execute", "up", "GET", "echo/y", "--json")
    assert full.returncode == 0, full.stderr
    check_absent(full.stdout, [SECRET], "execute --json output")
    answer = json.loads(full.stdout)
    assert answer["status"] == "success" and answer["result"]["status_code"] == 200
    assert answer["redactions_applied"] >= 1

    rows = table_rows(world.admin.ok("bindings", "executions", "--agent", "gw-bot"))
    assert rows[0][:6] == ["CREATED", "ID", "BINDING", "MODE", "METHOD", "PATH"]
    assert len(rows) == 3
    events = json.loads(world.admin.ok("bindings", "executions", "--agent", "gw-bot",
                                       "--json"))["events"]
    assert [e["request_summary"]["method"] for e in events] == ["GET", "POST"]
    check_absent(json.dumps(events), [SECRET], "executions")
    mine = json.loads(world.agent.ok("bindings", "executions", "--json"))["events"]
    assert len(mine) == 2

    # A binding the agent does not have.
    r = world.agent.run("bindings", "execute", "nope", "GET", "x")
    assert r.returncode != 0 and SECRET not in r.stdout + r.stderr


CHILD = r"""
import json, os, sys, urllib.request
prefix = sys.argv[1]
base, key = os.environ[prefix + "_BASE_URL"], os.environ[prefix + "_API_KEY"]
req = urllib.request.Request(base + "/echo/child", headers={"Authorization": "Bearer " + key})
with urllib.request.urlopen(req, timeout=20) as r:
    body = json.loads(r.read())
print(json.dumps({"base": base, "key_is_agent_key": key == os.environ["EXPECT_KEY"],
                  "path": body["path"], "auth": body["authorization"]}))
"""


def test_run_binding_points_the_child_at_the_proxy(world, tmp_path):
    create(world, "up")
    create(world, "my-api")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {"EXPECT_KEY": world.agent_key}
    for spec, prefix, name in (("up", "UP", "up"), ("my-api", "MY_API", "my-api"),
                               ("up=OPENAI", "OPENAI", "up")):
        out = world.agent.run("run", "--binding", spec, "--", sys.executable, str(script), prefix,
                              env=env)
        assert out.returncode == 0, out.stderr
        seen = json.loads(out.stdout)
        assert seen["base"] == f"{world.server.url}/v1/proxy/{name}"
        assert seen["key_is_agent_key"] is True
        assert seen["path"] == "/echo/child"
        assert SECRET not in seen["auth"]
        check_absent(out.stdout + out.stderr, [SECRET, world.agent_key], "run output")
        assert world.upstream.seen[-1]["authorization"] == "Bearer " + SECRET

    r = world.agent.fails(EXIT_USAGE, "run", "--binding", "nope", "--", "true")
    assert "no binding named 'nope'" in r.stderr
    r = world.agent.fails(EXIT_USAGE, "run", "--binding", "bad name", "--", "true")
    r = world.agent.fails(EXIT_USAGE, "run", "--binding", "up=1X", "--", "true")
    assert "prefix" in r.stderr
    # Without --binding nothing of the proxy is set.
    out = world.agent.ok("run", "--", sys.executable, "-c",
                         "import os; print(sorted(k for k in os.environ if k.endswith('_BASE_URL')))")
    assert out.strip() == "[]"
    assert os.path.exists(str(script))
