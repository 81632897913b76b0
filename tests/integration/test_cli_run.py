"""`coffer run`: coffer:// references and --bundle secrets in a child's environment, exit codes and
signals passed through, and --watch picking up a new version (restart, or a signal)."""
import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

from cli_support import EXIT_NOT_FOUND, EXIT_USAGE, cli  # noqa: F401  (cli is a fixture)
from conftest import COFFER_BIN, check_absent

KEY_V1 = "sk-run-test-value-one"
KEY_V2 = "sk-run-test-value-two"

# A child that records its environment and the signals it gets, one JSON line per event, in
# $OUT; it exits 42 on SIGTERM.
CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    out = os.environ["OUT"]
    names = os.environ.get("NAMES", "").split(",")
    def record(**event):
        event["pid"] = os.getpid()
        with open(out, "a") as f:
            f.write(json.dumps(event) + "\\n")
    def on_term(sig, frame):
        record(signal="TERM")
        sys.exit(42)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR1, lambda s, f: record(signal="USR1"))
    signal.signal(signal.SIGHUP, lambda s, f: record(signal="HUP"))
    record(env={n: os.environ.get(n) for n in names if n})
    if os.environ.get("EXIT_AT_ONCE"):
        sys.exit(int(os.environ["EXIT_AT_ONCE"]))
    while True:
        time.sleep(0.05)
""")


@pytest.fixture
def child(tmp_path):
    path = tmp_path / "child.py"
    path.write_text(CHILD)
    return str(path)


def events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_for(path, predicate, what, timeout=15):
    __tracebackhide__ = True
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [e for e in events(path) if predicate(e)]
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def same(a, b, what):
    """Compares two secret-bearing values without printing them."""
    __tracebackhide__ = True
    if a != b:
        pytest.fail(f"{what}: the child did not get the expected value")


def test_run_replaces_references_and_passes_the_exit_code(cli, child, tmp_path):
    vault = json.loads(cli.ok("vaults", "create", "prod", "--json"))["id"]
    cli.ok("secrets", "put", "prod", "api-keys/openai", "--type", "api_key", input=KEY_V1)
    cli.ok("secrets", "put", "prod", "api-keys/openai", "--type", "api_key", input=KEY_V2)
    out = str(tmp_path / "events")
    env = {"OUT": out, "NAMES": "LATEST,PINNED,BY_ID,PLAIN", "EXIT_AT_ONCE": "7",
           "LATEST": "coffer://prod/api-keys/openai",
           "PINNED": "coffer://prod/api-keys/openai#1",
           "BY_ID": f"coffer://{vault}/api-keys/openai",
           "PLAIN": "not-a-reference"}
    r = cli.run("run", "--", "/usr/bin/python3", child, env=env)
    assert r.returncode == 7
    check_absent(r.stdout + r.stderr, [KEY_V1, KEY_V2], "coffer run output")
    seen = events(out)[0]["env"]
    same(seen["LATEST"], KEY_V2, "LATEST")
    same(seen["PINNED"], KEY_V1, "PINNED (#1)")
    same(seen["BY_ID"], KEY_V2, "BY_ID (vault id)")
    assert seen["PLAIN"] == "not-a-reference"


def test_run_expands_env_bundles(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "env/agent", "--type", "env_bundle",
           input=f"# agent\nOPENAI_API_KEY={KEY_V1}\nexport MODEL=\"gpt-x\"\nPLAIN=overridden\n")
    cli.ok("secrets", "put", "prod", "not-a-bundle", input="x")
    out = str(tmp_path / "events")
    env = {"OUT": out, "NAMES": "OPENAI_API_KEY,MODEL,PLAIN", "EXIT_AT_ONCE": "0",
           "PLAIN": "inherited"}
    r = cli.run("run", "--bundle", "prod/env/agent", "--", "/usr/bin/python3", child, env=env)
    assert r.returncode == 0
    check_absent(r.stdout + r.stderr, [KEY_V1], "coffer run output")
    seen = events(out)[0]["env"]
    same(seen["OPENAI_API_KEY"], KEY_V1, "OPENAI_API_KEY from the bundle")
    assert seen["MODEL"] == "gpt-x" and seen["PLAIN"] == "overridden"

    r = cli.run("run", "--bundle", "prod/not-a-bundle", "--", "true", env=env)
    assert r.returncode == EXIT_USAGE
    assert "not env_bundle" in r.stderr


def test_run_exit_codes_stdio_and_failures_before_start(cli, tmp_path):
    cli.ok("vaults", "create", "prod")
    assert cli.run("run", "--", "sh", "-c", "exit 3").returncode == 3
    assert cli.run("run", "--", "sh", "-c", "kill -KILL $$").returncode == 128 + 9
    assert cli.run("run", "--", "sh", "-c", "kill -TERM $$").returncode == 128 + 15
    # stdin and stdout are the child's own.
    r = cli.run("run", "--", "cat", input="through the pipe")
    assert r.returncode == 0 and r.stdout == "through the pipe"
    # Arguments that look like flags belong to the command.
    r = cli.run("run", "sh", "-c", "echo $0 $1", "x", "--watch")
    assert r.stdout.strip() == "x --watch"

    r = cli.run("run", "--", "no-such-command-anywhere")
    assert r.returncode == 127 and "no-such-command-anywhere" in r.stderr

    marker = tmp_path / "started"
    r = cli.run("run", "--", "touch", str(marker), env={"K": "coffer://prod/missing"})
    assert r.returncode == EXIT_NOT_FOUND
    assert "K=coffer://prod/missing: Not found (HTTP 404): secret not found" in r.stderr
    assert not marker.exists()
    r = cli.run("run", "--", "true", env={"K": "coffer://prod"})
    assert r.returncode == EXIT_USAGE and "K:" in r.stderr
    assert cli.run("run").returncode == EXIT_USAGE


def start_run(cli, args, env):
    return subprocess.Popen([COFFER_BIN, "run", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli.env(env))


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate(timeout=30)
    return out, err


def test_run_forwards_signals(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "k", input=KEY_V1)
    out = str(tmp_path / "events")
    proc = start_run(cli, ["--", "/usr/bin/python3", child],
                     {"OUT": out, "NAMES": "K", "K": "coffer://prod/k"})
    try:
        wait_for(out, lambda e: "env" in e, "the child to start")
        # coffer's own argv and environment hold the reference, never the value.
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            check_absent(f.read().decode(errors="replace"), [KEY_V1], "coffer's argv")
        with open(f"/proc/{proc.pid}/environ", "rb") as f:
            own_env = f.read().decode(errors="replace")
        check_absent(own_env, [KEY_V1], "coffer's environment")
        assert "K=coffer://prod/k" in own_env

        proc.send_signal(signal.SIGUSR1)
        wait_for(out, lambda e: e.get("signal") == "USR1", "SIGUSR1 to reach the child")
        proc.send_signal(signal.SIGHUP)
        wait_for(out, lambda e: e.get("signal") == "HUP", "SIGHUP to reach the child")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 42  # the child's own exit code after its SIGTERM handler
    finally:
        stdout, stderr = stop(proc)
    check_absent(stdout + stderr, [KEY_V1], "coffer run output")
    assert len({e["pid"] for e in events(out)}) == 1


def test_run_watch_restarts_the_child_on_a_new_version(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "api-keys/openai", input=KEY_V1)
    out = str(tmp_path / "events")
    proc = start_run(cli, ["--watch", "--interval", "0.2", "--", "/usr/bin/python3", child],
                     {"OUT": out, "NAMES": "OPENAI_API_KEY",
                      "OPENAI_API_KEY": "coffer://prod/api-keys/openai"})
    try:
        first = wait_for(out, lambda e: "env" in e, "the child to start")[0]
        same(first["env"]["OPENAI_API_KEY"], KEY_V1, "first child")
        cli.ok("secrets", "put", "prod", "api-keys/openai", input=KEY_V2)
        second = wait_for(out, lambda e: "env" in e and e["pid"] != first["pid"],
                          "the restarted child")[0]
        same(second["env"]["OPENAI_API_KEY"], KEY_V2, "restarted child")
        # The old child was stopped with SIGTERM first.
        assert {"signal": "TERM", "pid": first["pid"]} in events(out)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 42
    finally:
        stdout, stderr = stop(proc)
    assert "prod/api-keys/openai version 1 -> 2; restarting" in stderr
    check_absent(stdout + stderr, [KEY_V1, KEY_V2], "coffer run output")


def test_run_watch_can_signal_instead_of_restarting(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "db/password", input=KEY_V1)
    cli.ok("secrets", "put", "prod", "pinned", input=KEY_V1)
    out = str(tmp_path / "events")
    proc = start_run(cli, ["--watch", "--interval", "0.2", "--signal", "USR1", "--",
                           "/usr/bin/python3", child],
                     {"OUT": out, "NAMES": "DB", "DB": "coffer://prod/db/password",
                      "PIN": "coffer://prod/pinned#1"})
    try:
        first = wait_for(out, lambda e: "env" in e, "the child to start")[0]
        cli.ok("secrets", "put", "prod", "pinned", input=KEY_V2)  # pinned: no effect
        cli.ok("secrets", "rotate", "prod", "db/password")
        wait_for(out, lambda e: e.get("signal") == "USR1", "SIGUSR1 after the rotation")
        assert {e["pid"] for e in events(out)} == {first["pid"]}  # not restarted
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 42
    finally:
        stdout, stderr = stop(proc)
    assert "sending SIGUSR1" in stderr and "pinned" not in stderr


# --- What a secret may set, and what coffer keeps to itself ----------------------------------

def put_bundle(cli, path, text):
    cli.ok("secrets", "put", "prod", path, "--type", "env_bundle", input=text)


def test_run_refuses_a_bundle_that_changes_how_the_command_starts(cli, tmp_path):
    """An env_bundle that sets BASH_ENV, LD_PRELOAD or PATH is refused and nothing runs: whoever
    can write the bundle does not get to run code in the command's shell."""
    cli.ok("vaults", "create", "prod")
    hook = tmp_path / "hook.sh"
    pwned = tmp_path / "pwned"
    hook.write_text(f"touch {pwned}\n")
    marker = tmp_path / "started"
    cases = {
        "BASH_ENV": str(hook),  # bash sources it before running the command
        "LD_PRELOAD": str(tmp_path / "evil.so"),
        "PATH": str(tmp_path),
    }
    for name, value in cases.items():
        put_bundle(cli, f"env/{name.lower()}", f"OPENAI_API_KEY={KEY_V1}\n{name}={value}\n")
        r = cli.run("run", "--bundle", f"prod/env/{name.lower()}", "--",
                    "/bin/bash", "-c", f"touch {marker}")
        assert r.returncode == EXIT_USAGE, (name, r.returncode, r.stderr)
        assert not marker.exists() and not pwned.exists(), f"{name}: the command ran"
        assert f"set {name}:" in r.stderr and f"--allow-env {name}" in r.stderr, r.stderr
        assert f"--bundle prod/env/{name.lower()}" in r.stderr and "was not started" in r.stderr
        check_absent(r.stdout + r.stderr, [KEY_V1, value], "coffer run output")


def test_watch_keeps_the_command_when_a_new_version_would_set_bash_env(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    put_bundle(cli, "env/agent", f"OPENAI_API_KEY={KEY_V1}\n")
    hook = tmp_path / "hook.sh"
    pwned = tmp_path / "pwned"
    hook.write_text(f"touch {pwned}\n")
    out = str(tmp_path / "events")
    proc = start_run(cli, ["--watch", "--interval", "0.2", "--bundle", "prod/env/agent", "--",
                           "/bin/bash", "-c", f"exec /usr/bin/python3 {child}"],
                     {"OUT": out, "NAMES": "OPENAI_API_KEY"})
    try:
        first = wait_for(out, lambda e: "env" in e, "the child to start")[0]
        put_bundle(cli, "env/agent", f"OPENAI_API_KEY={KEY_V2}\nBASH_ENV={hook}\n")
        # Wait until coffer has read version 2 (its audit event), then for one more poll.
        deadline = time.time() + 15
        while time.time() < deadline:
            listed = json.loads(cli.ok("audit", "list", "--vault", "prod", "--action",
                                       "secret.read", "--json"))
            if any(e.get("path") == "env/agent" and e.get("version") == 2
                   for e in listed["events"]):
                break
            time.sleep(0.1)
        else:
            pytest.fail("coffer run never read the new version")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 42
    finally:
        stdout, stderr = stop(proc)
    assert {e["pid"] for e in events(out)} == {first["pid"]}, "the command was restarted"
    assert not pwned.exists()
    assert "refusing to let a secret set BASH_ENV" in stderr
    assert "keeping the running command" in stderr
    check_absent(stdout + stderr, [KEY_V1, KEY_V2], "coffer run output")


def test_run_refuses_a_reference_in_a_startup_variable(cli, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "lib", input=str(tmp_path / "evil.so"))
    marker = tmp_path / "started"
    r = cli.run("run", "--", "touch", str(marker), env={"LD_PRELOAD": "coffer://prod/lib"})
    assert r.returncode == EXIT_USAGE and not marker.exists()
    assert "LD_PRELOAD=coffer://prod/lib: refusing to let a secret set LD_PRELOAD" in r.stderr
    # An inherited variable that is not a reference is the user's own and passes untouched.
    r = cli.run("run", "--", "sh", "-c", 'printf %s "$SHELLOPTS_FREE"',
                env={"SHELLOPTS_FREE": "x"})
    assert r.returncode == 0 and r.stdout == "x"


def test_allow_env_lets_exactly_the_named_variable_through(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    tools = tmp_path / "tools"
    tools.mkdir()
    path_value = f"{tools}:/usr/bin:/bin"
    put_bundle(cli, "env/path", f"PATH={path_value}\nMODEL=m1\n")
    put_bundle(cli, "env/both", f"PATH={path_value}\nBASH_ENV=/dev/null\n")
    out = str(tmp_path / "events")
    env = {"OUT": out, "NAMES": "PATH,MODEL", "EXIT_AT_ONCE": "0"}
    r = cli.run("run", "--allow-env", "PATH", "--bundle", "prod/env/path", "--",
                "/usr/bin/python3", child, env=env)
    assert r.returncode == 0, r.stderr
    seen = events(out)[0]["env"]
    assert seen == {"PATH": path_value, "MODEL": "m1"}
    # Allowing PATH does not allow BASH_ENV in the same bundle; the run stops before starting.
    marker = tmp_path / "started"
    r = cli.run("run", "--allow-env", "PATH", "--bundle", "prod/env/both", "--",
                "touch", str(marker))
    assert r.returncode == EXIT_USAGE and not marker.exists()
    assert "--allow-env BASH_ENV" in r.stderr
    # Names are exact: a prefix or another case allows nothing.
    r = cli.run("run", "--allow-env", "path", "--allow-env", "PAT", "--bundle", "prod/env/path",
                "--", "touch", str(marker))
    assert r.returncode == EXIT_USAGE and not marker.exists()
    assert cli.run("run", "--allow-env", "A=B", "--", "true").returncode == EXIT_USAGE


def test_run_does_not_pass_its_own_token_unless_asked(cli, child, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "k", input=KEY_V1)
    out = str(tmp_path / "events")
    names = "COFFER_TOKEN,COFFER_ADDR,K"
    env = {"OUT": out, "NAMES": names, "EXIT_AT_ONCE": "0", "K": "coffer://prod/k"}
    r = cli.run("run", "--", "/usr/bin/python3", child, env=env)
    assert r.returncode == 0, r.stderr
    seen = events(out)[-1]["env"]
    if seen["COFFER_TOKEN"] is not None:
        pytest.fail("the child got coffer's token")  # (the value is not printed)
    same(seen["K"], KEY_V1, "K")
    assert seen["COFFER_ADDR"] == cli.server.url  # not a credential: inherited as it was

    r = cli.run("run", "--pass-token", "--", "/usr/bin/python3", child, env=env)
    assert r.returncode == 0, r.stderr
    seen = events(out)[-1]["env"]
    same(seen["COFFER_TOKEN"], cli.token, "COFFER_TOKEN with --pass-token")
    assert seen["COFFER_ADDR"] == cli.server.url

    # A token given as --token (or saved by `coffer login`) is passed the same way when asked,
    # with the address it belongs to.
    r = cli.run("run", "--addr", cli.server.url, "--token", cli.token, "--pass-token", "--",
                "/usr/bin/python3", child, env=env, with_token=False, with_addr=False)
    assert r.returncode == 0, r.stderr
    seen = events(out)[-1]["env"]
    same(seen["COFFER_TOKEN"], cli.token, "COFFER_TOKEN from --token")
    assert seen["COFFER_ADDR"] == cli.server.url
    check_absent(r.stdout + r.stderr, [cli.token, KEY_V1], "coffer run output")


def test_vault_names_differing_only_in_case_fail_closed(cli, tmp_path):
    """A vault name means one vault, compared ignoring case. Where the server still holds two
    vaults whose names differ only in case, the client refuses to pick one."""
    api = cli.server.session()
    first = api.post(cli.server.url + "/v1/vaults", json={"name": "prod"})
    assert first.status_code == 201, first.text
    cli.ok("secrets", "put", "prod", "k", input=KEY_V1)
    second = api.post(cli.server.url + "/v1/vaults", json={"name": "Prod"})
    marker = tmp_path / "started"
    if second.status_code == 409:
        # The server keeps names unique ignoring case: any case names the one vault.
        r = cli.run("run", "--", "sh", "-c", f'[ "$K" = "{KEY_V1}" ] && touch {marker}',
                    env={"K": "coffer://PROD/k"})
        assert r.returncode == 0 and marker.exists(), r.stderr
        return
    assert second.status_code == 201, second.text
    ids = {first.json()["id"], second.json()["id"]}
    for name in ("prod", "Prod", "PROD"):
        r = cli.run("run", "--", "touch", str(marker), env={"K": f"coffer://{name}/k"})
        assert r.returncode == 1 and not marker.exists(), (name, r.stderr)
        assert "more than one vault is named" in r.stderr
        assert all(i in r.stderr for i in ids), r.stderr
        r = cli.run("secrets", "get", name, "k")
        assert r.returncode == 1 and "more than one vault" in r.stderr
        check_absent(r.stdout, [KEY_V1], "secrets get output")
    # The id still names one vault.
    r = cli.run("secrets", "get", first.json()["id"], "k")
    assert r.returncode == 0
    same(r.stdout, KEY_V1, "secrets get by id")


def test_the_refused_names_in_help_and_docs_agree():
    """`coffer run --help` prints the table the code uses; docs/security.md must list the same
    names, so neither can drift from the other."""
    import re
    out = subprocess.run([COFFER_BIN, "run", "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    listed = out.split("Refused names", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
    in_help = set(listed.split())
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "security.md")
    with open(docs) as f:
        text = f.read()
    section = text.split("### Variables a secret may not set", 1)[1].split("\n## ", 1)[0]
    in_docs = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            in_docs.update(re.findall(r"`([A-Za-z0-9_]+\*?)`", line.split(" | ")[0]))
    assert {"LD_*", "BASH_ENV", "ENV", "PATH", "NODE_OPTIONS", "PYTHONPATH"} <= in_help
    assert in_help == in_docs, (sorted(in_help - in_docs), sorted(in_docs - in_help))


# Durations of the client commands are finite numbers within bounds: `--interval nan` used to
# pass the range check (every comparison with NaN is false) and reach the poll loop.
@pytest.mark.parametrize("args,message", [
    (["run", "--interval", "nan", "--", "true"],
     "--interval: must be a number of seconds between 0.05 and 86400 (got nan)"),
    (["run", "--interval", "inf", "--", "true"], "--interval: must be a number of seconds"),
    (["run", "--interval", "-1", "--", "true"], "--interval: must be a number of seconds"),
    (["run", "--interval", "1e400", "--", "true"], "--interval: must be a number of seconds"),
    (["run", "--grace", "nan", "--", "true"],
     "--grace: must be a number of seconds between 0 and 3600 (got nan)"),
    (["run", "--grace", "-3", "--", "true"], "--grace: must be a number of seconds"),
    (["vaults", "list", "--timeout", "inf"],
     "--timeout: must be a number of seconds between 0.1 and 3600 (got inf)"),
    (["vaults", "list", "--timeout", "0"], "--timeout: must be a number of seconds"),
])
def test_duration_options_must_be_bounded_numbers(tmp_path, args, message):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "COFFER_ADDR": "http://127.0.0.1:9"}
    out = subprocess.run([COFFER_BIN, *args], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == EXIT_USAGE, out.stderr
    assert message in out.stderr, out.stderr


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def generations(path):
    """The (wrapper pid, background child pid) pair each generation wrote, in order."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(int(p) for p in line.split()) for line in f if len(line.split()) == 2]


def wait_generations(path, count, what):
    __tracebackhide__ = True
    deadline = time.time() + 15
    while time.time() < deadline:
        gens = generations(path)
        if len(gens) >= count:
            return gens
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


# A start script that does not exec: the agent runs in the background of a shell that waits.
WRAPPER = 'sleep 1000 & echo "$$ $!" >> "$PIDS"; wait'


def test_run_restart_and_stop_end_every_process_of_the_generation(cli, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "k", input=KEY_V1)
    pids = str(tmp_path / "pids")
    proc = start_run(cli, ["--watch", "--interval", "0.2", "--grace", "5", "--",
                           "sh", "-c", WRAPPER], {"PIDS": pids, "K": "coffer://prod/k"})
    try:
        first = wait_generations(pids, 1, "the first generation")[0]
        assert all(alive(p) for p in first)
        cli.ok("secrets", "put", "prod", "k", input=KEY_V2)
        second = wait_generations(pids, 2, "the restarted generation")[1]
        # The new generation starts only once nothing of the old one is left.
        assert not any(alive(p) for p in first), "a process of the old generation survived"
        assert all(alive(p) for p in second)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 128 + signal.SIGTERM
        assert not any(alive(p) for p in second), "a process survived coffer run's SIGTERM"
    finally:
        stdout, stderr = stop(proc)
    check_absent(stdout + stderr, [KEY_V1, KEY_V2], "coffer run output")


def test_run_ends_what_the_command_leaves_behind(cli, tmp_path):
    pids = str(tmp_path / "pids")
    # The command exits at once, leaving a background process in its group; one that ignores
    # SIGTERM is killed after --grace.
    r = cli.run("run", "--grace", "0.5", "--", "sh", "-c",
                'sleep 1000 & echo "$$ $!" >> "$PIDS"; '
                'sh -c \'trap "" TERM; echo "$$ $$" >> "$PIDS"; sleep 1000\' & '
                'while [ "$(wc -l < "$PIDS")" -lt 2 ]; do sleep 0.01; done; exit 3',
                env={"PIDS": pids})
    assert r.returncode == 3
    gens = generations(pids)
    assert len(gens) == 2
    assert not any(alive(p) for g in gens for p in g), "a process of the command's group survived"


def test_run_in_a_terminal_gives_the_command_the_terminal(cli, tmp_path):
    """In the foreground of a terminal the command's group owns it: it reads the terminal (a
    background group could not) and ^C reaches it."""
    import fcntl
    import pty
    import select
    import termios

    master, slave = pty.openpty()

    def take_terminal():  # runs in the child after setsid: the pty becomes its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([COFFER_BIN, "run", "--", "sh", "-c",
                             'read line; echo "got:$line"; exec sleep 1000'],
                            stdin=slave, stdout=slave, stderr=slave, env=cli.env(),
                            start_new_session=True, preexec_fn=take_terminal)
    os.close(slave)
    seen = b""

    def read_until(needle):
        nonlocal seen
        deadline = time.time() + 15
        while needle not in seen and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        return needle in seen

    try:
        os.write(master, b"hello\n")
        assert read_until(b"got:hello"), "the command could not read the terminal"
        os.write(master, b"\x03")  # ^C
        assert proc.wait(timeout=15) == 128 + signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_run_refuses_a_value_holding_nul(cli, tmp_path):
    cli.ok("vaults", "create", "prod")
    cli.ok("secrets", "put", "prod", "with-nul", input="abc\0def")
    cli.ok("secrets", "put", "prod", "env/nul", "--type", "env_bundle",
           input="GOOD=fine\nBAD=abc\0def\n")
    marker = tmp_path / "started"
    r = cli.run("run", "--", "touch", str(marker), env={"SECRET_K": "coffer://prod/with-nul"})
    assert r.returncode == EXIT_USAGE
    assert "SECRET_K" in r.stderr and "NUL" in r.stderr
    assert "coffer secrets get prod with-nul > FILE" in r.stderr
    assert "abc" not in r.stderr and "def" not in r.stderr
    assert not marker.exists()

    r = cli.run("run", "--bundle", "prod/env/nul", "--", "touch", str(marker))
    assert r.returncode == EXIT_USAGE
    assert "--bundle prod/env/nul" in r.stderr and "BAD" in r.stderr and "NUL" in r.stderr
    assert not marker.exists()


def test_run_leaves_the_commands_arguments_and_coffer_config_alone(cli, tmp_path):
    # The child's own --config flags are the child's; COFFER_CONFIG is the server's, and a
    # client command does not read it.
    for child_args in (["--config=/nonexistent/app.toml"], ["--config", "/nonexistent/app.toml"]):
        r = cli.run("run", "--", "sh", "-c", 'echo "ran $*"', "sh", *child_args)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "ran " + " ".join(child_args)
    r = cli.run("vaults", "list", env={"COFFER_CONFIG": "/nonexistent/coffer.toml"})
    assert r.returncode == 0, r.stderr
