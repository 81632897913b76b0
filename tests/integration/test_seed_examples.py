"""The curl examples of the vendor documents (../shared/seeds), run as written with only the
host replaced and $VAULT_ID/$TOKEN set, in the order a reader would follow them."""
import json
import os
import re
import subprocess

SEEDS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "seeds")
FALLBACK_EXAMPLES = [
    # Kept in the repository so the test runs even without ../shared beside it.
    'curl -X PUT "https://api.1claw.xyz/v1/vaults/$VAULT_ID/secrets/api-keys/openai" '
    '-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" '
    '-d \'{"type":"api_key","value":"sk-proj-NEW..."}\'',
]


def seed_curl_commands():
    """Every multi-line `curl …` command in the seeds whose URL is under /v1/vaults."""
    commands = []
    if not os.path.isdir(SEEDS):
        return FALLBACK_EXAMPLES
    for name in sorted(os.listdir(SEEDS)):
        text = open(os.path.join(SEEDS, name), encoding="utf-8").read()
        for m in re.finditer(r"^curl .*?(?=\n\s*\n|\n```|\n[A-Z][a-z]|\Z)", text, re.S | re.M):
            cmd = m.group(0).strip()
            if "/v1/vaults/" in cmd:
                commands.append(cmd)
    return commands


def test_seed_curl_examples_work_as_written(server, api):
    vault = api.post(api.base + "/v1/vaults", json={"name": "seed"}).json()["id"]
    commands = seed_curl_commands()
    assert len(commands) >= 5
    # The versioned examples read version 3 and disable version 2 of api-keys/openai.
    for value in ("sk-proj-1", "sk-proj-2"):
        api.put(f"{api.base}/v1/vaults/{vault}/secrets/api-keys/openai",
                json={"type": "api_key", "value": value})
    env = dict(os.environ, VAULT_ID=vault, TOKEN=server.admin_key)
    for cmd in commands:
        cmd = cmd.replace("https://api.1claw.xyz", server.url)
        cmd = cmd.replace("ae370174-9aee-4b02-ba7c-d1519930c709", vault)
        cmd = cmd.replace("<token>", server.admin_key)
        out = subprocess.run(["bash", "-c", cmd + " -sS -w '\\n%{http_code}'"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        body, status = out.stdout.rsplit("\n", 1)
        assert status in ("200", "201"), (cmd, status, body)
        assert json.loads(body)
