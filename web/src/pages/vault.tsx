// One vault: its secrets (filter, paging, new secret), its policies (add with a live preview of
// the paths a glob matches, remove), its activity per hour, and its retention setting.
import { useEffect, useState } from "preact/hooks";
import {
  del,
  get,
  patch,
  post,
  query,
  type ActivityBucket,
  type Agent,
  type Policy,
  type SecretMeta,
  type Session,
  type User,
  type Vault,
} from "../api";
import { ActivityChart } from "../charts";
import { DataTable, fmtTime, href, LoadError, Message, Pager, useAction, useLoad } from "../ui";
import { ValueForm } from "./secret";

const PAGE = 20;

export function VaultPage({ vaultId, tab, session }: { vaultId: string; tab: string; session: Session }) {
  const { data: vault, error, reload } = useLoad(() => get<Vault>(`/v1/vaults/${vaultId}`), [vaultId]);
  const tabs: [string, string][] = [
    ["secrets", "Secrets"],
    ["policies", "Policies"],
    ["activity", "Activity"],
    ["settings", "Retention"],
  ];
  return (
    <section>
      <p class="crumbs">
        <a href={href("vaults")}>Vaults</a> /
      </p>
      <h1 tabIndex={-1}>{vault ? `Vault ${vault.name}` : "Vault"}</h1>
      <LoadError error={error} />
      {vault?.description && <p>{vault.description}</p>}
      <nav aria-label="Vault sections" class="tabs">
        {tabs.map(([k, label]) => (
          <a key={k} href={href("vaults", vaultId, k)} aria-current={tab === k ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {tab === "secrets" && <SecretsTab vaultId={vaultId} />}
      {tab === "policies" && <PoliciesTab vaultId={vaultId} session={session} />}
      {tab === "activity" && <ActivityTab vaultId={vaultId} />}
      {tab === "settings" && vault && <RetentionTab vault={vault} onSaved={reload} />}
    </section>
  );
}

function SecretsTab({ vaultId }: { vaultId: string }) {
  const [prefix, setPrefix] = useState("");
  const [applied, setApplied] = useState("");
  const [unused, setUnused] = useState("");
  const [unusedApplied, setUnusedApplied] = useState("");
  const [cursors, setCursors] = useState<string[]>([""]); // the `after` of each page seen
  const after = cursors[cursors.length - 1];
  const { data, error, reload } = useLoad(
    () =>
      get<{ secrets: SecretMeta[]; next_after: string | null }>(
        `/v1/vaults/${vaultId}/secrets${query({
          prefix: applied,
          after,
          limit: PAGE,
          unused_since: unusedApplied ? new Date(unusedApplied).toISOString() : "",
        })}`,
      ),
    [vaultId, applied, after, unusedApplied],
  );
  const [creating, setCreating] = useState(false);
  return (
    <div>
      <h2>Secrets</h2>
      <form
        class="inline-form"
        role="search"
        aria-label="Filter secrets"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(prefix);
          setUnusedApplied(unused);
          setCursors([""]);
        }}
      >
        <label for="secret-prefix">Path prefix</label>
        <input id="secret-prefix" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} placeholder="e.g. api-keys/" />
        <label for="secret-unused">Not read since</label>
        <input id="secret-unused" type="datetime-local" value={unused} onInput={(e) => setUnused(e.currentTarget.value)} />
        <button type="submit">Filter</button>
      </form>
      <LoadError error={error} />
      {data && data.secrets.length === 0 && <p>No secrets here.</p>}
      {data && data.secrets.length > 0 && (
        <DataTable caption="Secrets" cols={["Path", "Type", "Version", "State", "Updated", "Reads"]}>
            {data.secrets.map((s) => (
              <tr key={s.id}>
                <td>
                  <a href={href("vaults", vaultId, "secret", ...s.path.split("/"))}>{s.path}</a>
                </td>
                <td>{s.type}</td>
                <td>{s.version}</td>
                <td>{s.is_disabled ? "disabled" : s.expires_at && Date.parse(s.expires_at) < Date.now() ? "expired" : "active"}</td>
                <td>{fmtTime(s.created_at)}</td>
                <td>{s.secret_usage?.access_count ?? s.access_count}</td>
              </tr>
            ))}
          </DataTable>
      )}
      <Pager page={cursors.length} hasNext={!!data?.next_after} onPrev={() => setCursors(cursors.slice(0, -1))} onNext={() => data?.next_after && setCursors([...cursors, data.next_after])} />
      {creating ? (
        <ValueForm
          vaultId={vaultId}
          onDone={() => {
            setCreating(false);
            reload();
          }}
        />
      ) : (
        <button type="button" onClick={() => setCreating(true)}>
          New secret
        </button>
      )}
    </div>
  );
}

const PERMS = ["read", "write", "rotate", "delete", "list", "use"];

function PoliciesTab({ vaultId, session }: { vaultId: string; session: Session }) {
  const { data, error, reload } = useLoad(() => get<{ policies: Policy[] }>(`/v1/vaults/${vaultId}/policies`), [vaultId]);
  const agents = useLoad(() => get<{ agents: Agent[] }>("/v1/agents"), []);
  const users = useLoad(
    () => (session.principal.is_admin ? get<{ users: User[] }>("/v1/users") : Promise.resolve({ users: [] as User[] })),
    [],
  );
  const [msg, run] = useAction();
  const [ptype, setPtype] = useState<"agent" | "user">("agent");
  const [pid, setPid] = useState("");
  const [pattern, setPattern] = useState("");
  const [perms, setPerms] = useState<string[]>(["read"]);
  const [effect, setEffect] = useState("allow");
  const [preview, setPreview] = useState<{ matches: string[]; truncated: boolean } | null>(null);
  const [previewErr, setPreviewErr] = useState<string | null>(null);

  // The live preview: asks the server which paths the glob matches (the policy engine's matcher).
  useEffect(() => {
    if (!pattern) {
      setPreview(null);
      setPreviewErr(null);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      get<{ matches: string[]; truncated: boolean }>(`/v1/vaults/${vaultId}/policy-preview${query({ pattern })}`).then(
        (p) => live && (setPreview(p), setPreviewErr(null)),
        (e) => live && (setPreview(null), setPreviewErr(e instanceof Error ? e.message : String(e))),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [pattern, vaultId]);

  const nameOf = (p: Policy) =>
    (p.principal_type === "agent" ? agents.data?.agents : users.data?.users)?.find((x) => x.id === p.principal_id)?.name ?? p.principal_id;
  const choices = ptype === "agent" ? agents.data?.agents ?? [] : users.data?.users ?? [];
  return (
    <div>
      <h2>Policies</h2>
      <LoadError error={error} />
      {data && data.policies.length === 0 && <p>No policies.</p>}
      {data && data.policies.length > 0 && (
        <DataTable caption="Policies" cols={["Who", "Paths", "Permissions", "Effect", "Expires", "Actions"]}>
            {data.policies.map((p) => (
              <tr key={p.id}>
                <td>
                  {p.principal_type} {nameOf(p)}
                </td>
                <td>
                  <code>{p.secret_path_pattern}</code>
                </td>
                <td>{p.permissions.join(", ")}</td>
                <td>{p.effect ?? "allow"}</td>
                <td>{fmtTime(p.expires_at)}</td>
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Remove policy on ${p.secret_path_pattern} for ${nameOf(p)}`}
                    onClick={async () => (await run(() => del(`/v1/vaults/${vaultId}/policies/${p.id}`), "Policy removed.")) && reload()}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
      )}
      <form
        class="stack-form"
        aria-labelledby="add-policy-title"
        onSubmit={async (e) => {
          e.preventDefault();
          const body = { principal_type: ptype, principal_id: pid, secret_path_pattern: pattern, permissions: perms, effect };
          if (await run(() => post(`/v1/vaults/${vaultId}/policies`, body), "Policy added.")) {
            setPattern("");
            reload();
          }
        }}
      >
        <h3 id="add-policy-title">Add a policy</h3>
        <label for="pol-type">Principal type</label>
        <select id="pol-type" value={ptype} onChange={(e) => (setPtype(e.currentTarget.value as "agent" | "user"), setPid(""))}>
          <option value="agent">agent</option>
          <option value="user">user</option>
        </select>
        <label for="pol-principal">Principal</label>
        {choices.length ? (
          <select id="pol-principal" value={pid} onChange={(e) => setPid(e.currentTarget.value)} required>
            <option value="">choose…</option>
            {choices.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        ) : (
          <input id="pol-principal" value={pid} onInput={(e) => setPid(e.currentTarget.value)} placeholder="principal id" required />
        )}
        <label for="pol-pattern">Secret path pattern</label>
        <input
          id="pol-pattern"
          value={pattern}
          onInput={(e) => setPattern(e.currentTarget.value)}
          placeholder="e.g. api-keys/*"
          aria-describedby="pol-preview"
          required
        />
        <div id="pol-preview" class="preview" aria-live="polite" data-testid="policy-preview">
          {previewErr && <span class="msg-error">{previewErr}</span>}
          {preview && (
            <>
              <span>
                {preview.matches.length} matching secret{preview.matches.length === 1 ? "" : "s"}
                {preview.truncated ? " (first 200 shown)" : ""}
              </span>
              <ul>
                {preview.matches.map((m) => (
                  <li key={m}>
                    <code>{m}</code>
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
        <fieldset>
          <legend>Permissions</legend>
          {PERMS.map((p) => (
            <label key={p} class="check">
              <input
                type="checkbox"
                checked={perms.includes(p)}
                onChange={(e) => setPerms(e.currentTarget.checked ? [...perms, p] : perms.filter((x) => x !== p))}
              />
              {p}
            </label>
          ))}
        </fieldset>
        <label for="pol-effect">Effect</label>
        <select id="pol-effect" value={effect} onChange={(e) => setEffect(e.currentTarget.value)}>
          <option value="allow">allow</option>
          <option value="deny">deny</option>
        </select>
        <button type="submit">Add policy</button>
      </form>
      <Message msg={msg} />
    </div>
  );
}

function ActivityTab({ vaultId }: { vaultId: string }) {
  const [hours, setHours] = useState(72);
  const { data, error } = useLoad(
    () => get<{ hours: number; buckets: ActivityBucket[] }>(`/v1/vaults/${vaultId}/activity${query({ hours })}`),
    [vaultId, hours],
  );
  return (
    <div>
      <h2>Activity per hour</h2>
      <div class="inline-form">
        <label for="act-hours">Period</label>
        <select id="act-hours" value={hours} onChange={(e) => setHours(Number(e.currentTarget.value))}>
          <option value={24}>last day</option>
          <option value={72}>last 3 days</option>
          <option value={168}>last 7 days</option>
          <option value={720}>last 30 days</option>
        </select>
      </div>
      <LoadError error={error} />
      {data && <ActivityChart buckets={data.buckets} />}
    </div>
  );
}

function RetentionTab({ vault, onSaved }: { vault: Vault; onSaved: () => void }) {
  const [max, setMax] = useState(String(vault.max_versions ?? 0));
  const [msg, run] = useAction();
  return (
    <form
      class="stack-form"
      aria-labelledby="ret-title"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await run(() => patch(`/v1/vaults/${vault.id}`, { max_versions: Number(max) }), "Retention saved.")) onSaved();
      }}
    >
      <h2 id="ret-title">Retention</h2>
      <label for="ret-max">Versions each secret keeps (0: no limit)</label>
      <input id="ret-max" type="number" min={0} max={1000000} value={max} onInput={(e) => setMax(e.currentTarget.value)} />
      <p class="hint">Older versions (never those current or pending name) are destroyed at the secret's next write.</p>
      <button type="submit">Save retention</button>
      <Message msg={msg} />
    </form>
  );
}
