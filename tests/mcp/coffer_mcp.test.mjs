// Drives `coffer mcp` through the official MCP TypeScript SDK client over stdio, as an agent's
// MCP host would. Run by tests/integration/test_cli_mcp.py, which starts a Coffer server and
// passes COFFER_BIN, COFFER_ADDR, COFFER_TOKEN (admin), AGENT_TOKEN, AGENT_ID and VAULT_NAME, and
// UPSTREAM_URL and UPSTREAM_SECRET: the agent's binding "echo" to a loopback upstream that answers
// with JSON describing the request (its Authorization header included), with that credential.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const {
  COFFER_BIN, COFFER_ADDR, COFFER_TOKEN, AGENT_TOKEN, AGENT_ID, VAULT_NAME, UPSTREAM_URL,
  UPSTREAM_SECRET,
} = process.env;

// `coffer mcp`, with `args` after it (e.g. ['--vault', 'prod']).
async function connect(token, args = []) {
  const transport = new StdioClientTransport({
    command: COFFER_BIN,
    args: ['mcp', ...args],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, COFFER_ADDR, COFFER_TOKEN: token },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'coffer-mcp-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

function text(result) {
  assert.equal(result.content.length, 1);
  assert.equal(result.content[0].type, 'text');
  return result.content[0].text;
}

async function call(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  assert.notEqual(result.isError, true, `${name} failed: ${text(result)}`);
  return JSON.parse(text(result));
}

describe('coffer mcp with the admin token', () => {
  let client;
  before(async () => { client = await connect(COFFER_TOKEN); });
  after(async () => { await client.close(); });

  it('initializes with the tools capability', async () => {
    assert.equal(client.getServerVersion().name, 'coffer');
    assert.ok(client.getServerCapabilities().tools);
    await client.ping();
  });

  it('lists every tool with a JSON Schema for its input', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['create_vault', 'delete_secret', 'describe_secret', 'disable_version',
      'execute_http', 'get_env_bundle', 'get_secret', 'grant_access', 'list_bindings',
      'list_secrets', 'list_usage', 'list_vaults', 'list_versions', 'promote', 'put_secret',
      'rollback', 'rotate_secret', 'schedule_rotation', 'set_alias', 'share_secret']);
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object', tool.name);
      assert.ok(tool.description.length > 10, tool.name);
    }
    const get = tools.find((t) => t.name === 'get_secret');
    assert.deepEqual(get.inputSchema.required, ['vault', 'path']);
  });

  it('lists vaults', async () => {
    const { vaults } = await call(client, 'list_vaults', {});
    assert.ok(vaults.some((v) => v.name === VAULT_NAME));
  });

  it('puts, reads, rotates, lists versions and disables a version', async () => {
    const put = await call(client, 'put_secret', {
      vault: VAULT_NAME, path: 'api-keys/mcp', value: 'sk-mcp-test-1', type: 'api_key',
      metadata: { via: 'mcp' },
    });
    assert.equal(put.version, 1);
    assert.equal(put.value, undefined, 'put_secret must not echo the value');
    assert.deepEqual(put.metadata, { via: 'mcp' });

    const got = await call(client, 'get_secret', { vault: VAULT_NAME, path: 'api-keys/mcp' });
    assert.equal(got.value, 'sk-mcp-test-1');
    assert.equal(got.type, 'api_key');

    const rotated = await call(client, 'rotate_secret', {
      vault: VAULT_NAME, path: 'api-keys/mcp', length: 24, charset: 'alphanumeric',
    });
    assert.equal(rotated.version, 2);
    assert.equal(rotated.value, undefined);
    const fresh = await call(client, 'get_secret', { vault: VAULT_NAME, path: 'api-keys/mcp' });
    assert.match(fresh.value, /^[A-Za-z0-9]{24}$/);

    const { versions } = await call(client, 'list_versions', { vault: VAULT_NAME, path: 'api-keys/mcp' });
    assert.deepEqual(versions.map((v) => v.version), [2, 1]);

    const disabled = await call(client, 'disable_version', {
      vault: VAULT_NAME, path: 'api-keys/mcp', version: 2,
    });
    assert.equal(disabled.is_disabled, true);
    const back = await call(client, 'get_secret', { vault: VAULT_NAME, path: 'api-keys/mcp' });
    assert.equal(back.version, 1);
    assert.equal(back.value, 'sk-mcp-test-1');
    const pinned = await call(client, 'get_secret', { vault: VAULT_NAME, path: 'api-keys/mcp', version: 1 });
    assert.equal(pinned.value, 'sk-mcp-test-1');

    const { secrets } = await call(client, 'list_secrets', { vault: VAULT_NAME, prefix: 'api-keys/' });
    assert.ok(secrets.some((s) => s.path === 'api-keys/mcp'));
    assert.ok(secrets.every((s) => s.value === undefined));
  });

  it('returns API failures as tool errors with the problem detail', async () => {
    const missing = await client.callTool({
      name: 'get_secret', arguments: { vault: VAULT_NAME, path: 'no/such' },
    });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /secret not found/);

    const gone = await client.callTool({
      name: 'get_secret', arguments: { vault: VAULT_NAME, path: 'api-keys/mcp', version: 2 },
    });
    assert.equal(gone.isError, true);
    assert.match(text(gone), /Gone \(HTTP 410\)/);

    const invalid = await client.callTool({
      name: 'put_secret', arguments: { vault: VAULT_NAME, path: 'bad path', value: 'x' },
    });
    assert.equal(invalid.isError, true);
    assert.match(text(invalid), /HTTP 400/);

    const noVault = await client.callTool({ name: 'list_secrets', arguments: {} });
    assert.equal(noVault.isError, true);
    assert.match(text(noVault), /vault/);
  });

  it('answers an unknown tool with a protocol error', async () => {
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
      /Unknown tool/);
  });
});

describe('coffer mcp with an agent token', () => {
  let client;
  before(async () => { client = await connect(AGENT_TOKEN); });
  after(async () => { await client.close(); });

  it('acts under the agent\'s policies only', async () => {
    const got = await call(client, 'get_secret', { vault: VAULT_NAME, path: 'api-keys/openai' });
    assert.equal(got.value, 'sk-agent-visible');
    const denied = await client.callTool({
      name: 'get_secret', arguments: { vault: VAULT_NAME, path: 'db/password' },
    });
    assert.equal(denied.isError, true);
    assert.match(text(denied), /Permission denied \(HTTP 403\)/);
    const write = await client.callTool({
      name: 'put_secret', arguments: { vault: VAULT_NAME, path: 'api-keys/openai', value: 'x' },
    });
    assert.equal(write.isError, true);
  });

  it('lists its bindings and calls through one with execute_http, never seeing the credential',
    async () => {
      const listed = await client.callTool({ name: 'list_bindings', arguments: {} });
      assert.ok(!text(listed).includes(UPSTREAM_SECRET));
      const { bindings } = JSON.parse(text(listed));
      assert.deepEqual(bindings.map((b) => b.name), ['echo']);
      assert.equal(bindings[0].base_url, UPSTREAM_URL);
      assert.equal(bindings[0].is_active, true);

      const result = await client.callTool({
        name: 'execute_http',
        arguments: {
          binding: 'echo', method: 'POST', path: 'v1/echo', query: { q: 'a b' },
          headers: { 'x-test': 'mcp' }, body: { hello: 'world' },
        },
      });
      assert.notEqual(result.isError, true, text(result));
      assert.ok(!text(result).includes(UPSTREAM_SECRET), 'the credential reached the tool result');
      const out = JSON.parse(text(result));
      assert.equal(out.status, 'success');
      assert.equal(out.status_code, 200);
      assert.ok(out.redactions_applied >= 1);
      const echoed = out.json ?? JSON.parse(out.body);
      assert.equal(echoed.method, 'POST');
      assert.ok(echoed.path.startsWith('/v1/echo?q='), echoed.path);
      assert.equal(echoed.x_test, 'mcp');
      assert.deepEqual(JSON.parse(echoed.body), { hello: 'world' });
      assert.match(echoed.authorization, /\[REDACTED\]/);

      const missing = await client.callTool({
        name: 'execute_http', arguments: { binding: 'nope', method: 'GET', path: 'x' },
      });
      assert.equal(missing.isError, true);
    });
});

// The tools agents know from the seeds' MCP server, with the same argument names; the secret tools
// take only `path` when `coffer mcp --vault` names the vault.
describe('coffer mcp --vault with the seeds\' tools', () => {
  let client;
  before(async () => { client = await connect(COFFER_TOKEN, ['--vault', VAULT_NAME]); });
  after(async () => { await client.close(); });

  it('needs no vault argument and says so in the schemas', async () => {
    const { tools } = await client.listTools();
    const get = tools.find((t) => t.name === 'get_secret');
    assert.deepEqual(get.inputSchema.required, ['path']);
    const got = await call(client, 'get_secret', { path: 'api-keys/openai' });
    assert.equal(got.value, 'sk-agent-visible');
  });

  it('describes a secret without spending an access, reads an env bundle, deletes', async () => {
    await call(client, 'put_secret', { path: 'once/token', value: 'one-read-only', max_access_count: 1 });
    const described = await call(client, 'describe_secret', { path: 'once/token' });
    assert.equal(described.path, 'once/token');
    assert.equal(described.value, undefined);
    assert.equal((await call(client, 'describe_secret', { path: 'once/token' })).version, 1);
    assert.equal((await call(client, 'get_secret', { path: 'once/token' })).value, 'one-read-only');

    await call(client, 'put_secret', {
      path: 'env/app', type: 'env_bundle',
      value: '# app settings\nDATABASE_URL=postgres://db/app\n\nexport API_KEY="sk-bundle"\n',
    });
    assert.deepEqual(await call(client, 'get_env_bundle', { path: 'env/app' }),
      { DATABASE_URL: 'postgres://db/app', API_KEY: 'sk-bundle' });

    const deleted = await call(client, 'delete_secret', { path: 'env/app' });
    assert.equal(deleted.deleted, true);
    const after = await client.callTool({ name: 'describe_secret', arguments: { path: 'env/app' } });
    assert.equal(after.isError, true);
    assert.match(text(after), /no secret at 'env\/app'/);
  });

  it('creates a vault and grants an agent access to it', async () => {
    const vault = await call(client, 'create_vault', { name: 'mcp-made', description: 'by a tool' });
    assert.equal(vault.name, 'mcp-made');
    assert.equal(vault.description, 'by a tool');
    await call(client, 'put_secret', { vault: 'mcp-made', path: 'shared/key', value: 'sk-granted' });
    const policy = await call(client, 'grant_access', {
      vault_id: vault.id, principal_type: 'agent', principal_id: AGENT_ID,
      secret_path_pattern: 'shared/*',
    });
    assert.deepEqual(policy.permissions, ['read']);
    assert.equal(policy.secret_path_pattern, 'shared/*');
    const agent = await connect(AGENT_TOKEN, ['--vault', 'mcp-made']);
    try {
      assert.equal((await call(agent, 'get_secret', { path: 'shared/key' })).value, 'sk-granted');
    } finally {
      await agent.close();
    }
  });

  it('stages a version with set_alias, promotes it and rolls it back', async () => {
    await call(client, 'put_secret', { path: 'staged/key', value: 'sk-one' });
    await call(client, 'put_secret', { path: 'staged/key', value: 'sk-two' });
    assert.deepEqual(await call(client, 'set_alias', { path: 'staged/key', alias: 'current',
      version: 1 }), { path: 'staged/key', aliases: { current: 1 } });
    await call(client, 'set_alias', { path: 'staged/key', alias: 'pending', version: 2 });
    assert.equal((await call(client, 'get_secret', { path: 'staged/key' })).value, 'sk-one');
    const promoted = await call(client, 'promote', { path: 'staged/key' });
    assert.deepEqual(promoted.aliases, { current: 2, previous: 1 });
    assert.equal((await call(client, 'get_secret', { path: 'staged/key' })).value, 'sk-two');
    const rolled = await call(client, 'rollback', { path: 'staged/key' });
    assert.deepEqual(rolled.aliases, { current: 1, pending: 2 });
    assert.equal((await call(client, 'get_secret', { path: 'staged/key' })).value, 'sk-one');
    const refused = await client.callTool({
      name: 'set_alias', arguments: { path: 'staged/key', alias: 'current', version: 9 },
    });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /HTTP 404/);
  });

  it('schedules a rotation, shows when it is due, and removes it', async () => {
    await call(client, 'put_secret', { path: 'rotated/key', value: 'sk-old' });
    const schedule = await call(client, 'schedule_rotation', {
      path: 'rotated/key', rotation_policy: { interval: '30d', generate: { length: 40 } },
    });
    assert.equal(schedule.path, 'rotated/key');
    // The server's clock and this process's may differ by a few milliseconds: allow a second.
    const due = Date.parse(schedule.next_rotation_at) - Date.now();
    assert.ok(due > 29 * 86400e3 && due <= 30 * 86400e3 + 1000, schedule.next_rotation_at);
    const bad = await client.callTool({
      name: 'schedule_rotation', arguments: { path: 'rotated/key', rotation_policy: { every: 1 } },
    });
    assert.equal(bad.isError, true);
    assert.match(text(bad), /HTTP 400/);
    assert.deepEqual(await call(client, 'schedule_rotation', { path: 'rotated/key',
      rotation_policy: null }), { path: 'rotated/key', scheduled: false });
    const { versions } = await call(client, 'list_versions', { path: 'rotated/key' });
    assert.equal(versions.length, 1);
  });

  it('shares a secret as a link redeemed at most max_access_count times', async () => {
    await call(client, 'put_secret', { path: 'handoff/key', value: 'sk-shared-by-link' });
    const { id } = await call(client, 'describe_secret', { path: 'handoff/key' });
    const expires = new Date(Date.now() + 3600 * 1000).toISOString();
    const share = await call(client, 'share_secret', {
      secret_id: id, recipient_type: 'anyone_with_link', expires_at: expires, max_access_count: 2,
    });
    assert.ok(share.id);
    assert.match(share.share_url, /^https?:\/\//);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(share.share_url);
      assert.equal(r.status, 200);
      assert.equal((await r.json()).value, 'sk-shared-by-link');
    }
    assert.equal((await fetch(share.share_url)).status, 410);
    const refused = await client.callTool({
      name: 'share_secret',
      arguments: { secret_id: id, recipient_type: 'external_email', expires_at: expires },
    });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /HTTP 400/);
  });
});
