"""A token that stops answering is a clear answer, not a hang: the server's root key is in a
SoftHSM2 token reached through tests/fault/slow_pkcs11_module.cc, which stalls the calls that use
the key while a control file exists. A read that needs the token answers 503
key-provider-unavailable within --key-provider-timeout-ms, /v1/ready says why, /metrics counts
it, and the server recovers by itself once the token answers again."""
import os
import time

import pytest
import requests

from conftest import (COFFER_BIN, KEY_RE, Server, admin_caller, create_vault, expect, put_secret)
from test_pkcs11 import MODULE, PIN, coffer, ok, token, wait_for  # noqa: F401 (token: a fixture)

SLOW_MODULE = os.environ.get("COFFER_SLOW_PKCS11",
                             os.path.join(os.path.dirname(os.path.abspath(COFFER_BIN)),
                                          "libcoffer_slow_pkcs11.so"))
pytestmark = pytest.mark.skipif(
    not os.path.exists(SLOW_MODULE) and not os.environ.get("COFFER_WITH_TEST_TOOLS"),
    reason=f"{SLOW_MODULE} not built (tests/fault, COFFER_BUILD_TESTS=ON)")

TIMEOUT_MS = 300


def test_a_slow_token_is_a_503_at_the_deadline_and_the_server_recovers(token, data_dir, tmp_path):
    control = str(tmp_path / "stall")
    env = {**token.env, "COFFER_SLOW_PKCS11_CONTROL": control}
    slow_uri = token.uri().replace(f"module-path={MODULE}", f"module-path={SLOW_MODULE}")
    out = ok(coffer("init", "--data-dir", data_dir, "--root-key-uri", slow_uri, env=env))
    admin_key = KEY_RE.search(out.stdout).group(1)
    srv = Server(data_dir, admin_key, env=env, extra_args=[
        "--root-key-uri", slow_uri, "--key-provider-timeout-ms", str(TIMEOUT_MS)])
    try:
        admin = admin_caller(srv)
        vault = create_vault(admin, "slow")
        put_secret(admin, vault, "held", value="held-key")
        # The token stops answering the server; the CLI reaches it directly (not slowed) to put
        # the value under a data key the server does not hold yet.
        open(control, "w").close()
        direct = ["--data-dir", data_dir, "--root-key-uri", token.uri()]
        ok(coffer("keys", "rotate", *direct, env=token.env))
        ok(coffer("keys", "reencrypt", *direct, env=token.env))
        started = time.time()
        r = admin.get(f"/vaults/{vault}/secrets/held")
        took = time.time() - started
        assert r.status_code == 503, r.text
        assert r.json()["type"] == "urn:coffer:problem:key-provider-unavailable"
        # The deadline, at most twice over (behind the periodic check), plus slack: not a hang.
        assert took < 4 * TIMEOUT_MS / 1000 + 1.5, took
        # While the stuck call has not returned, further reads fail at once.
        started = time.time()
        assert admin.get(f"/vaults/{vault}/secrets/held").status_code == 503
        assert time.time() - started < TIMEOUT_MS / 1000 + 0.5

        def not_ready():
            ready = admin.get("/ready")
            return ready.status_code == 503 and (
                f"did not answer within {TIMEOUT_MS} ms" in ready.text or
                f"has not returned after {TIMEOUT_MS} ms" in ready.text)
        assert wait_for(not_ready), admin.get("/ready").text
        metrics = requests.get(srv.url + "/metrics", timeout=10).text
        line = [x for x in metrics.splitlines()
                if x.startswith("coffer_key_provider_failures_total ")]
        assert line and float(line[0].split()[1]) > 0, line
        # The token answers again: the server recovers by itself, nothing lost.
        os.unlink(control)
        assert wait_for(lambda: admin.get("/ready").status_code == 200), admin.get("/ready").text
        assert wait_for(lambda: admin.get(f"/vaults/{vault}/secrets/held").status_code == 200)
        assert expect(admin.get(f"/vaults/{vault}/secrets/held"), 200).json()["value"] == \
            "held-key"
    finally:
        if os.path.exists(control):
            os.unlink(control)
        srv.stop()
    assert PIN not in srv.read_log()
