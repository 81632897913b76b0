"""sqlmap against the real server: runs scripts/sqlmap.sh --quick (level 2,
risk 1, one target per route family: secrets list query, secret path segments, secret PUT body,
vault and policy bodies, audit query, auth/token body, self-rotation body), which starts its own
server on port 0, and fails if sqlmap reports any injection or gives no verdict on a target.
The full run (level 3, risk 2, every route) is `scripts/sqlmap.sh` without --quick.
"""
import os
import shutil
import subprocess

import pytest

from conftest import COFFER_BIN, redact

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "sqlmap.sh")


def test_sqlmap_finds_no_injection():
    if shutil.which("sqlmap") is None:
        pytest.fail("sqlmap is not installed (scripts/install-deps.sh with "
                    "COFFER_WITH_TEST_TOOLS=1 installs it)")
    env = dict(os.environ, COFFER_BIN=os.path.abspath(COFFER_BIN))
    env.pop("SQLMAP_KEEP", None)
    out = subprocess.run(["bash", SCRIPT, "--quick"], capture_output=True, text=True, env=env,
                         timeout=420, stdin=subprocess.DEVNULL)
    print(redact(out.stdout, 4000))
    assert out.returncode == 0, redact(out.stdout[-3000:] + out.stderr[-1000:], 4000)
    assert "0 with an injection, 0 without a verdict" in out.stdout
