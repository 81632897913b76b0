// Agents: create one (its API key and rotation secret shown once, with copy buttons), rotate its
// key, deactivate and reactivate, revoke; and per agent, its gateway bindings (create, switch
// off/on, test, delete).
import { useState } from "preact/hooks";
import { del, get, patch, post, type Agent, type Binding, type Vault } from "../api";
import { ConfirmDialog, DataTable, fmtTime, href, LoadError, Message, ShownOnce, useAction, useLoad } from "../ui";

interface Credentials {
  api_key: string;
  rotation_secret: string;
}

export function AgentsPage() {
  const { data, error, reload } = useLoad(() => get<{ agents: Agent[] }>("/v1/agents"), []);
  const [msg, run] = useAction();
  const [name, setName] = useState("");
  const [desc, setDesc] = useState("");
  const [creds, setCreds] = useState<Credentials | null>(null);
  const [revoking, setRevoking] = useState<Agent | null>(null);
  const [rotating, setRotating] = useState<Agent | null>(null);
  const showCreds = (c: Credentials) => setCreds({ api_key: c.api_key, rotation_secret: c.rotation_secret });
  return (
    <section>
      <h1 tabIndex={-1}>Agents</h1>
      <LoadError error={error} />
      <form
        class="inline-form"
        aria-label="Create an agent"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => {
            showCreds(await post<Credentials>("/v1/agents", { name, description: desc }));
            setName("");
            setDesc("");
            reload();
          }, `Agent ${name} created.`);
        }}
      >
        <label for="agent-name">Name</label>
        <input id="agent-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <label for="agent-desc">Description</label>
        <input id="agent-desc" value={desc} onInput={(e) => setDesc(e.currentTarget.value)} />
        <button type="submit">Create agent</button>
      </form>
      <Message msg={msg} />
      {creds && (
        <ShownOnce
          items={[
            { label: "API key", value: creds.api_key },
            { label: "rotation secret", value: creds.rotation_secret },
          ]}
          onDismiss={() => setCreds(null)}
        />
      )}
      {data && data.agents.length === 0 && <p>No agents yet.</p>}
      {data && data.agents.length > 0 && (
        <DataTable caption="Agents" cols={["Name", "State", "Created", "Last used", "Actions"]}>
            {data.agents.map((a) => (
              <tr key={a.id} data-testid={`agent-${a.name}`}>
                <td>
                  <a href={href("agents", a.id)}>{a.name}</a>
                </td>
                <td>{a.is_revoked ? "revoked" : a.is_active ? "active" : "deactivated"}</td>
                <td>{fmtTime(a.created_at)}</td>
                <td>{fmtTime(a.last_used_at)}</td>
                <td>
                  {!a.is_revoked && (
                    <>
                      <button type="button" aria-label={`Rotate key of ${a.name}`} onClick={() => setRotating(a)}>
                        Rotate key
                      </button>
                      <button
                        type="button"
                        aria-label={`${a.is_active ? "Deactivate" : "Reactivate"} ${a.name}`}
                        onClick={async () =>
                          (await run(() => patch(`/v1/agents/${a.id}`, { is_active: !a.is_active }), `Agent ${a.name} ${a.is_active ? "deactivated" : "reactivated"}.`)) &&
                          reload()
                        }
                      >
                        {a.is_active ? "Deactivate" : "Reactivate"}
                      </button>
                      <button type="button" class="danger" aria-label={`Revoke ${a.name}`} onClick={() => setRevoking(a)}>
                        Revoke
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
      )}
      {rotating && (
        <ConfirmDialog
          title={`Rotate the key of ${rotating.name}?`}
          body={<p>The old key stops working at once; the agent needs the new key and rotation secret.</p>}
          confirmLabel="Rotate key"
          onClose={() => setRotating(null)}
          onConfirm={async () => {
            const a = rotating;
            setRotating(null);
            await run(async () => {
              showCreds(await post<Credentials>(`/v1/agents/${a.id}/rotate-key`, { grace_seconds: 0 }));
              reload();
            }, `New credentials for ${a.name}.`);
          }}
        />
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke agent ${revoking.name}?`}
          body={<p>Its keys stop working for good.</p>}
          typed={revoking.name}
          confirmLabel="Revoke agent"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            const a = revoking;
            setRevoking(null);
            if (await run(() => del(`/v1/agents/${a.id}`), `Agent ${a.name} revoked.`)) reload();
          }}
        />
      )}
    </section>
  );
}

export function AgentPage({ agentId }: { agentId: string }) {
  const agent = useLoad(() => get<Agent>(`/v1/agents/${agentId}`), [agentId]);
  const bindings = useLoad(() => get<{ bindings: Binding[] }>(`/v1/agents/${agentId}/bindings`), [agentId]);
  const vaults = useLoad(() => get<{ vaults: Vault[] }>("/v1/vaults"), []);
  const [msg, run] = useAction();
  const [name, setName] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [authType, setAuthType] = useState("bearer");
  const [authHeader, setAuthHeader] = useState("");
  const [vaultId, setVaultId] = useState("");
  const [path, setPath] = useState("");
  const [methods, setMethods] = useState("");
  const [deleting, setDeleting] = useState<Binding | null>(null);
  const base = `/v1/agents/${agentId}/bindings`;
  const vaultName = (id?: string) => vaults.data?.vaults.find((v) => v.id === id)?.name ?? id;
  return (
    <section>
      <p class="crumbs">
        <a href={href("agents")}>Agents</a> /
      </p>
      <h1 tabIndex={-1}>Agent {agent.data?.name ?? ""}</h1>
      <LoadError error={agent.error} />
      {agent.data && <p>{agent.data.description}</p>}
      <h2>Bindings</h2>
      <p class="hint">A binding lets the agent call an upstream API through Coffer with a secret it never sees (docs/gateway.md).</p>
      <LoadError error={bindings.error} />
      <Message msg={msg} />
      {bindings.data && bindings.data.bindings.length === 0 && <p>No bindings.</p>}
      {bindings.data && bindings.data.bindings.length > 0 && (
        <DataTable caption="Bindings" cols={["Name", "Base URL", "Credential", "State", "Actions"]}>
            {bindings.data.bindings.map((b) => (
              <tr key={b.id} data-testid={`binding-${b.name}`}>
                <td>{b.name}</td>
                <td>
                  <code>{b.config.base_url}</code> ({b.config.auth_type ?? "bearer"})
                </td>
                <td>
                  {vaultName(b.credential_vault_id)} / {b.credential_path}
                </td>
                <td>{b.is_active ? "active" : "off"}</td>
                <td>
                  <button
                    type="button"
                    aria-label={`${b.is_active ? "Switch off" : "Switch on"} binding ${b.name}`}
                    onClick={async () => (await run(() => patch(`${base}/${b.id}`, { is_active: !b.is_active }), `Binding ${b.name} ${b.is_active ? "switched off" : "switched on"}.`)) && bindings.reload()}
                  >
                    {b.is_active ? "Switch off" : "Switch on"}
                  </button>
                  <button
                    type="button"
                    aria-label={`Test binding ${b.name}`}
                    onClick={() =>
                      run(async () => {
                        const r = await post<{ success: boolean; latency_ms?: number; error?: string }>(`${base}/${b.id}/test`, {});
                        if (!r.success) throw new Error(`No answer from ${b.config.base_url}: ${r.error ?? "failed"}`);
                      }, `Binding ${b.name}: the upstream answers.`)
                    }
                  >
                    Test
                  </button>
                  <button type="button" class="danger" aria-label={`Delete binding ${b.name}`} onClick={() => setDeleting(b)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
      )}
      <form
        class="stack-form"
        aria-labelledby="bind-title"
        onSubmit={async (e) => {
          e.preventDefault();
          const config: Record<string, unknown> = { base_url: baseUrl, auth_type: authType };
          if (authType === "header") config.auth_header = authHeader;
          const body: Record<string, unknown> = {
            name,
            binding_type: "http",
            config,
            credential_source: { type: "vault_ref", vault_id: vaultId, path },
          };
          const m = methods.split(/[\s,]+/).filter(Boolean);
          if (m.length) body.guardrails = { allowed_methods: m.map((x) => x.toUpperCase()) };
          if (await run(() => post(base, body), `Binding ${name} created.`)) {
            setName("");
            bindings.reload();
          }
        }}
      >
        <h3 id="bind-title">New binding</h3>
        <label for="bind-name">Name</label>
        <input id="bind-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <label for="bind-url">Base URL</label>
        <input id="bind-url" type="url" value={baseUrl} onInput={(e) => setBaseUrl(e.currentTarget.value)} placeholder="https://api.example.com" required />
        <label for="bind-auth">Authentication</label>
        <select id="bind-auth" value={authType} onChange={(e) => setAuthType(e.currentTarget.value)}>
          <option value="bearer">bearer</option>
          <option value="basic">basic</option>
          <option value="header">header</option>
          <option value="query">query</option>
        </select>
        {authType === "header" && (
          <>
            <label for="bind-header">Header name</label>
            <input id="bind-header" value={authHeader} onInput={(e) => setAuthHeader(e.currentTarget.value)} required />
          </>
        )}
        <label for="bind-vault">Credential's vault</label>
        <select id="bind-vault" value={vaultId} onChange={(e) => setVaultId(e.currentTarget.value)} required>
          <option value="">choose…</option>
          {vaults.data?.vaults.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
            </option>
          ))}
        </select>
        <label for="bind-path">Credential's secret path</label>
        <input id="bind-path" value={path} onInput={(e) => setPath(e.currentTarget.value)} required />
        <label for="bind-methods">Allowed methods (optional, e.g. GET POST)</label>
        <input id="bind-methods" value={methods} onInput={(e) => setMethods(e.currentTarget.value)} />
        <button type="submit">Create binding</button>
      </form>
      {deleting && (
        <ConfirmDialog
          title={`Delete binding ${deleting.name}?`}
          body={<p>The agent can no longer call through it.</p>}
          confirmLabel="Delete binding"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            const b = deleting;
            setDeleting(null);
            if (await run(() => del(`${base}/${b.id}`), `Binding ${b.name} deleted.`)) bindings.reload();
          }}
        />
      )}
    </section>
  );
}
