"""Data key rotation and webhook signing secrets end to end: a data key that only a webhook
endpoint's sealed secret still names cannot be retired; `coffer keys reencrypt` moves the secret
to the active key, the old key is retired, and after a restart (a keyring without the old key)
the endpoint still signs with the secret it showed at creation."""
from conftest import Caller, create_vault, put_secret
from test_keys import keys, ok, retire
from test_webhooks import add_webhook, allowed, receiver, verify  # noqa: F401 (fixtures)


def webhook_key_ids(server):
    """{webhook id: data key id named by its sealed secret}."""
    blob = "hex(sealed_secret)" if server.store.kind == "sqlite" else "encode(sealed_secret, 'hex')"
    return {i: int(h[2:10], 16) for i, h in server.sql(f"SELECT id, {blob} FROM webhooks")}


def test_a_webhook_secret_holds_its_key_until_reencrypted_and_still_signs_after(allowed, receiver):
    admin = Caller(allowed, allowed.admin_key)
    vault = create_vault(admin, "hooked")
    hook = add_webhook(admin, vault, receiver.url)
    (old_key,) = set(webhook_key_ids(allowed).values())

    out = ok(keys(allowed, "rotate"))
    new_key = int(out.stdout.split("Data key ", 1)[1].split(" ", 1)[0])
    assert new_key != old_key
    # Nothing but the webhook's secret names the old key: it still cannot be retired.
    out = retire(allowed, old_key)
    assert out.returncode != 0 and "1 webhook signing secrets" in out.stderr
    assert "keys reencrypt" in out.stderr

    out = ok(keys(allowed, "reencrypt"))
    assert "0 left" in out.stdout
    assert webhook_key_ids(allowed) == {hook["id"]: new_key}
    ok(retire(allowed, old_key))

    allowed.stop()
    allowed.start()
    admin = Caller(allowed, allowed.admin_key)
    put_secret(admin, vault, "db/password", value="after-retire-value")
    (headers, body), = receiver.wait_for(1)
    headers = {k.lower(): v for k, v in headers.items()}
    assert verify(hook["secret"], headers, body)
    assert hook["secret"] not in allowed.read_log()
