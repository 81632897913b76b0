// One secret: metadata and usage, reveal (30 s) and copy of its value, versions with state and
// their actions (disable, destroy, aliases, promote, rollback), a new version (masked input or a
// file), server-side rotation, the rotation schedule, the timeline, and deletion. A value lives
// only in a component's state while shown and is dropped when hidden; never in the URL/storage.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  del,
  encPath,
  errorText,
  get,
  post,
  put,
  query,
  type AuditEvent,
  type SecretMeta,
  type VersionEntry,
} from "../api";
import { Timeline } from "../charts";
import { ConfirmDialog, CopyButton, DataTable, fmtTime, href, LoadError, Message, type Msg, useAction, useLoad } from "../ui";

export const REVEAL_MS = 30_000;
const TYPES = ["password", "api_key", "private_key", "certificate", "file", "note", "ssh_key", "env_bundle", "generic", "env"];
const CHARSETS = ["alphanumeric", "hex", "base64", "ascii"];
const MAX_VALUE = 512 * 1024;

function valueUrl(vaultId: string, path: string) {
  return `/v1/vaults/${vaultId}/secrets/${encPath(path)}`;
}

async function readValue(vaultId: string, path: string): Promise<string> {
  const r = await get<{ value: string }>(valueUrl(vaultId, path));
  return r.value;
}

/** Shows the current value on an explicit click (a read) and hides it again after 30 s. */
function Reveal({ vaultId, path }: { vaultId: string; path: string }) {
  const [value, setValue] = useState<string | null>(null);
  const [msg, setMsg] = useState<Msg | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const hide = () => {
    clearTimeout(timer.current);
    setValue(null);
  };
  useEffect(() => hide, []);
  return (
    <div class="reveal">
      <div class="row">
        {value === null ? (
          <button
            type="button"
            onClick={async () => {
              setMsg(null);
              try {
                setValue(await readValue(vaultId, path));
                clearTimeout(timer.current);
                timer.current = window.setTimeout(hide, REVEAL_MS);
              } catch (e) {
                setMsg({ kind: "error", text: errorText(e) });
              }
            }}
          >
            Reveal value
          </button>
        ) : (
          <button type="button" onClick={hide}>
            Hide value
          </button>
        )}
        <CopyButton label="Copy value" get={() => readValue(vaultId, path)} onDone={setMsg} />
      </div>
      {value !== null && (
        <div>
          <code class="value" data-testid="secret-value">
            {value}
          </code>
          <p class="hint">Hidden again 30 seconds after it was shown.</p>
        </div>
      )}
      <Message msg={msg} />
    </div>
  );
}

/** A new secret (with a path field) or a new version of `path`: masked input or a file. */
export function ValueForm({ vaultId, path, type, onDone }: { vaultId: string; path?: string; type?: string; onDone: () => void }) {
  const [msg, run] = useAction();
  const [newPath, setNewPath] = useState("");
  const [stype, setType] = useState(type ?? "password");
  const [mode, setMode] = useState<"text" | "file">("text");
  const valueRef = useRef<HTMLInputElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const [metadata, setMetadata] = useState("");
  const [expires, setExpires] = useState("");
  const [maxReads, setMaxReads] = useState("0");
  const [stage, setStage] = useState("");
  const [maxVersions, setMaxVersions] = useState("");
  const target = path ?? newPath;
  const idp = path ? "nv" : "ns";
  return (
    <form
      class="stack-form"
      aria-labelledby={`${idp}-title`}
      onSubmit={async (e) => {
        e.preventDefault();
        await run(async () => {
          let value: string;
          if (mode === "file") {
            const f = fileRef.current?.files?.[0];
            if (!f) throw new Error("Choose a file.");
            if (f.size > MAX_VALUE) throw new Error("The file is larger than 512 KiB.");
            value = await f.text();
          } else {
            value = valueRef.current?.value ?? "";
          }
          const body: Record<string, unknown> = { type: stype, value, max_access_count: Number(maxReads) || 0 };
          if (metadata.trim()) {
            try {
              body.metadata = JSON.parse(metadata);
            } catch {
              throw new Error("Metadata is not a JSON object.");
            }
          }
          if (expires) body.expires_at = new Date(expires).toISOString();
          if (stage) body.stage = stage;
          if (maxVersions !== "") body.max_versions = Number(maxVersions);
          await put(valueUrl(vaultId, target), body);
          if (valueRef.current) valueRef.current.value = "";
          if (fileRef.current) fileRef.current.value = "";
          onDone();
        }, path ? "New version stored." : `Secret ${target} created.`);
      }}
    >
      <h3 id={`${idp}-title`}>{path ? "New version" : "New secret"}</h3>
      {!path && (
        <>
          <label for="ns-path">Path</label>
          <input id="ns-path" value={newPath} onInput={(e) => setNewPath(e.currentTarget.value)} placeholder="e.g. api-keys/openai" required />
        </>
      )}
      <label for={`${idp}-type`}>Type</label>
      <select id={`${idp}-type`} value={stype} onChange={(e) => setType(e.currentTarget.value)}>
        {TYPES.map((t) => (
          <option key={t}>{t}</option>
        ))}
      </select>
      <fieldset>
        <legend>Value from</legend>
        <label class="check">
          <input type="radio" name={`${idp}-mode`} checked={mode === "text"} onChange={() => setMode("text")} /> typed (hidden)
        </label>
        <label class="check">
          <input type="radio" name={`${idp}-mode`} checked={mode === "file"} onChange={() => setMode("file")} /> a file
        </label>
      </fieldset>
      {mode === "text" ? (
        <>
          <label for={`${idp}-value`}>Value</label>
          <input id={`${idp}-value`} type="password" autoComplete="new-password" spellcheck={false} ref={valueRef} required />
        </>
      ) : (
        <>
          <label for={`${idp}-file`}>File (at most 512 KiB)</label>
          <input id={`${idp}-file`} type="file" ref={fileRef} required />
        </>
      )}
      <label for={`${idp}-meta`}>Metadata (JSON object, optional)</label>
      <textarea id={`${idp}-meta`} rows={2} value={metadata} onInput={(e) => setMetadata(e.currentTarget.value)} />
      <label for={`${idp}-expires`}>Expires at (optional)</label>
      <input id={`${idp}-expires`} type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
      <label for={`${idp}-reads`}>Reads allowed (0: unlimited)</label>
      <input id={`${idp}-reads`} type="number" min={0} value={maxReads} onInput={(e) => setMaxReads(e.currentTarget.value)} />
      <label for={`${idp}-stage`}>Stage</label>
      <select id={`${idp}-stage`} value={stage} onChange={(e) => setStage(e.currentTarget.value)}>
        <option value="">default</option>
        <option value="current">current</option>
        <option value="pending">pending</option>
      </select>
      <label for={`${idp}-maxv`}>Versions this secret keeps (optional, 0: no limit)</label>
      <input id={`${idp}-maxv`} type="number" min={0} value={maxVersions} onInput={(e) => setMaxVersions(e.currentTarget.value)} />
      <div class="row">
        <button type="submit">{path ? "Store new version" : "Create secret"}</button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <Message msg={msg} />
    </form>
  );
}

function RotateForm({ vaultId, path, onDone }: { vaultId: string; path: string; onDone: () => void }) {
  const [msg, run] = useAction();
  const [length, setLength] = useState("32");
  const [charset, setCharset] = useState("alphanumeric");
  const [stage, setStage] = useState("");
  return (
    <form
      class="stack-form"
      aria-labelledby="rot-title"
      onSubmit={async (e) => {
        e.preventDefault();
        const body: Record<string, unknown> = { length: Number(length), charset };
        if (stage) body.stage = stage;
        if (await run(() => post(`/v1/vaults/${vaultId}/secret-rotate/${encPath(path)}`, body), "Rotated: a new value was generated on the server.")) onDone();
      }}
    >
      <h3 id="rot-title">Rotate on the server</h3>
      <label for="rot-length">Length</label>
      <input id="rot-length" type="number" min={1} max={4096} value={length} onInput={(e) => setLength(e.currentTarget.value)} />
      <label for="rot-charset">Characters</label>
      <select id="rot-charset" value={charset} onChange={(e) => setCharset(e.currentTarget.value)}>
        {CHARSETS.map((c) => (
          <option key={c}>{c}</option>
        ))}
      </select>
      <label for="rot-stage">Stage</label>
      <select id="rot-stage" value={stage} onChange={(e) => setStage(e.currentTarget.value)}>
        <option value="">default</option>
        <option value="current">current</option>
        <option value="pending">pending</option>
      </select>
      <button type="submit">Rotate now</button>
      <Message msg={msg} />
    </form>
  );
}

function ScheduleForm({ vaultId, path, next, onDone }: { vaultId: string; path: string; next: string | null; onDone: (next: string | null) => void }) {
  const [msg, run] = useAction();
  const [every, setEvery] = useState("30d");
  const [action, setAction] = useState("rotate");
  const [length, setLength] = useState("32");
  const [charset, setCharset] = useState("alphanumeric");
  const [prev, setPrev] = useState("keep");
  const [grace, setGrace] = useState("0");
  const url = `/v1/vaults/${vaultId}/secret-schedule/${encPath(path)}`;
  return (
    <form
      class="stack-form"
      aria-labelledby="sch-title"
      onSubmit={async (e) => {
        e.preventDefault();
        const body = {
          interval: every,
          action,
          generate: { length: Number(length), charset },
          previous: prev === "disable" ? { action: prev, grace_seconds: Number(grace) } : { action: prev },
        };
        await run(async () => onDone((await put<{ next_rotation_at: string }>(url, body)).next_rotation_at), "Schedule saved.");
      }}
    >
      <h3 id="sch-title">Rotation schedule</h3>
      <p data-testid="schedule-state">
        {next ? `Next rotation: ${fmtTime(next)}` : "No schedule known."}
      </p>
      <label for="sch-interval">Interval (e.g. 30d, 12h)</label>
      <input id="sch-interval" value={every} onInput={(e) => setEvery(e.currentTarget.value)} required />
      <label for="sch-action">At each due time</label>
      <select id="sch-action" value={action} onChange={(e) => setAction(e.currentTarget.value)}>
        <option value="rotate">rotate</option>
        <option value="notify">notify only</option>
      </select>
      <label for="sch-length">Length</label>
      <input id="sch-length" type="number" min={1} value={length} onInput={(e) => setLength(e.currentTarget.value)} />
      <label for="sch-charset">Characters</label>
      <select id="sch-charset" value={charset} onChange={(e) => setCharset(e.currentTarget.value)}>
        {CHARSETS.map((c) => (
          <option key={c}>{c}</option>
        ))}
      </select>
      <label for="sch-prev">Previous version</label>
      <select id="sch-prev" value={prev} onChange={(e) => setPrev(e.currentTarget.value)}>
        <option value="keep">keep</option>
        <option value="disable">disable</option>
      </select>
      <label for="sch-grace">Grace before disabling (seconds)</label>
      <input id="sch-grace" type="number" min={0} value={grace} onInput={(e) => setGrace(e.currentTarget.value)} />
      <div class="row">
        <button type="submit">Save schedule</button>
        <button type="button" onClick={async () => (await run(() => del(url), "Schedule removed.")) && onDone(null)}>
          Remove schedule
        </button>
      </div>
      <Message msg={msg} />
    </form>
  );
}

function versionState(v: VersionEntry): string {
  const s: string[] = [];
  if (v.aliases?.length) s.push(...v.aliases);
  if (v.is_destroyed) s.push("destroyed");
  else if (v.is_disabled) s.push("disabled");
  else if (v.expires_at && Date.parse(v.expires_at) < Date.now()) s.push("expired");
  else if (v.max_access_count && v.access_count >= v.max_access_count) s.push("used up");
  else s.push("enabled");
  return s.join(", ");
}

async function secretEvents(vaultId: string, path: string, since: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for (const action of ["secret.rotate", "secret.rotated"]) {
    try {
      const p = await get<{ events: AuditEvent[] }>(`/v1/audit${query({ vault_id: vaultId, action, since, limit: 1000 })}`);
      out.push(...p.events.filter((e) => e.path === path));
    } catch {
      // The audit trail is for the vault's owner and the admin; without it the timeline shows versions only.
    }
  }
  return out;
}

export function SecretPage({ vaultId, path }: { vaultId: string; path: string }) {
  const meta = useLoad(async () => {
    const r = await get<{ secrets: SecretMeta[] }>(`/v1/vaults/${vaultId}/secrets${query({ prefix: path, limit: 1 })}`);
    const s = r.secrets.find((x) => x.path === path);
    if (!s) throw new Error("No such secret, or not one you may list.");
    return s;
  }, [vaultId, path]);
  const versions = useLoad(
    () => get<{ versions: VersionEntry[] }>(`/v1/vaults/${vaultId}/secret-versions/${encPath(path)}`),
    [vaultId, path],
  );
  const [tick, setTick] = useState(0);
  const events = useLoad(async () => {
    const vs = versions.data?.versions;
    if (!vs?.length) return [];
    const first = vs.reduce((a, v) => (v.created_at < a ? v.created_at : a), vs[0].created_at);
    return secretEvents(vaultId, path, first);
  }, [versions.data, tick]);
  const [msg, run] = useAction();
  const [form, setForm] = useState<"" | "version" | "rotate" | "schedule">("");
  const [confirm, setConfirm] = useState<null | { kind: "delete" } | { kind: "destroy"; version: number }>(null);
  const [aliasName, setAliasName] = useState("");
  // The schedule as last saved here (undefined: as the metadata says; null: removed).
  const [schedule, setSchedule] = useState<string | null | undefined>(undefined);
  const [aliasVersion, setAliasVersion] = useState("");
  const reload = () => {
    meta.reload();
    versions.reload();
    setTick((t) => t + 1);
  };
  const act = (fn: () => Promise<unknown>, ok: string) => run(fn, ok).then((done) => done && reload());
  const base = `/v1/vaults/${vaultId}`;
  const m = meta.data;
  const nextRotation = schedule === undefined ? m?.next_rotation_at ?? null : schedule;
  // The aliases, from the versions (each names its aliases) or else the secret's metadata.
  const aliases: Record<string, number> = { ...(m?.aliases ?? {}) };
  for (const v of versions.data?.versions ?? []) for (const a of v.aliases ?? []) aliases[a] = v.version;
  return (
    <section>
      <p class="crumbs">
        <a href={href("vaults")}>Vaults</a> / <a href={href("vaults", vaultId)}>vault</a> /
      </p>
      <h1 tabIndex={-1}>Secret {path}</h1>
      <LoadError error={meta.error} />
      <Message msg={msg} />
      {m && (
        <dl class="meta">
          <dt>Type</dt>
          <dd>{m.type}</dd>
          <dt>Latest version</dt>
          <dd>{m.version}</dd>
          <dt>Aliases</dt>
          <dd data-testid="aliases">
            {Object.keys(aliases).length
              ? Object.entries(aliases).map(([a, v]) => (
                  <span key={a} class="alias">
                    {a} → v{v}{" "}
                    <button type="button" class="link" aria-label={`Remove alias ${a}`} onClick={() => act(() => del(`${base}/secret-alias/${encPath(path)}/${a}`), `Alias ${a} removed.`)}>
                      remove
                    </button>
                  </span>
                ))
              : "none"}
          </dd>
          <dt>Metadata</dt>
          <dd>
            <code>{m.metadata ? JSON.stringify(m.metadata) : "—"}</code>
          </dd>
          <dt>Created</dt>
          <dd>{fmtTime(m.created_at)}</dd>
          <dt>Expires</dt>
          <dd>{fmtTime(m.expires_at)}</dd>
          <dt>Reads (all versions)</dt>
          <dd data-testid="usage">
            {m.secret_usage ? `${m.secret_usage.access_count}, last ${fmtTime(m.secret_usage.last_read_at)}` : m.access_count}
          </dd>
          <dt>Rotation</dt>
          <dd data-testid="rotation">{nextRotation ? `scheduled, next ${fmtTime(nextRotation)}` : schedule === null ? "not scheduled" : "no schedule known (set one to see its next time)"}</dd>
          <dt>Versions kept</dt>
          <dd>{m.max_versions ? m.max_versions : "vault default"}</dd>
        </dl>
      )}
      <h2>Value</h2>
      <Reveal vaultId={vaultId} path={path} />
      <div class="row actions">
        <button type="button" onClick={() => setForm("version")}>
          New version
        </button>
        <button type="button" onClick={() => setForm("rotate")}>
          Rotate…
        </button>
        <button type="button" onClick={() => setForm("schedule")}>
          Schedule…
        </button>
        <button type="button" onClick={() => act(() => post(`${base}/secret-promote/${encPath(path)}`), "Pending version promoted.")}>
          Promote pending
        </button>
        <button type="button" onClick={() => act(() => post(`${base}/secret-rollback/${encPath(path)}`), "Rolled back.")}>
          Roll back
        </button>
        <button type="button" class="danger" onClick={() => setConfirm({ kind: "delete" })}>
          Delete secret
        </button>
      </div>
      {form === "version" && <ValueForm vaultId={vaultId} path={path} type={m?.type} onDone={() => (setForm(""), reload())} />}
      {form === "rotate" && <RotateForm vaultId={vaultId} path={path} onDone={() => (setForm(""), reload())} />}
      {form === "schedule" && (
        <ScheduleForm vaultId={vaultId} path={path} next={nextRotation} onDone={(next) => (setSchedule(next), setForm(""), reload())} />
      )}
      <h2>Versions</h2>
      <LoadError error={versions.error} />
      {versions.data && (
        <>
          <Timeline versions={versions.data.versions} events={events.data ?? []} />
          <DataTable caption="Versions" cols={["Version", "State", "Created", "Expires", "Reads", "Actions"]}>
              {versions.data.versions.map((v) => (
                <tr key={v.version} data-testid={`version-${v.version}`}>
                  <td>v{v.version}</td>
                  <td>{versionState(v)}</td>
                  <td>{fmtTime(v.created_at)}</td>
                  <td>{fmtTime(v.expires_at)}</td>
                  <td>
                    {v.access_count}
                    {v.max_access_count ? ` / ${v.max_access_count}` : ""}
                  </td>
                  <td>
                    {!v.is_disabled && (
                      <button
                        type="button"
                        aria-label={`Disable version ${v.version}`}
                        onClick={() => act(() => post(`${base}/secret-version/${encPath(path)}/${v.version}/disable`), `Version ${v.version} disabled.`)}
                      >
                        Disable
                      </button>
                    )}
                    {!v.is_destroyed && (
                      <button type="button" class="danger" aria-label={`Destroy version ${v.version}`} onClick={() => setConfirm({ kind: "destroy", version: v.version })}>
                        Destroy
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </DataTable>
          <form
            class="inline-form"
            aria-label="Point an alias at a version"
            onSubmit={(e) => {
              e.preventDefault();
              act(() => post(`${base}/secret-alias/${encPath(path)}/${aliasName}`, { version: Number(aliasVersion) }), `Alias ${aliasName} set.`);
            }}
          >
            <label for="alias-name">Alias</label>
            <input id="alias-name" value={aliasName} onInput={(e) => setAliasName(e.currentTarget.value)} placeholder="current" pattern="[a-z][a-z0-9_\-]{0,31}" required />
            <label for="alias-version">Version</label>
            <input id="alias-version" type="number" min={1} value={aliasVersion} onInput={(e) => setAliasVersion(e.currentTarget.value)} required />
            <button type="submit">Set alias</button>
          </form>
        </>
      )}
      {confirm?.kind === "delete" && (
        <ConfirmDialog
          title={`Delete secret ${path}?`}
          body={<p>Every version is deleted for good.</p>}
          typed={path}
          confirmLabel="Delete secret"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            setConfirm(null);
            if (await run(() => del(valueUrl(vaultId, path)), "Secret deleted.")) location.hash = href("vaults", vaultId);
          }}
        />
      )}
      {confirm?.kind === "destroy" && (
        <ConfirmDialog
          title={`Destroy version ${confirm.version}?`}
          body={<p>Its value is erased for good.</p>}
          confirmLabel="Destroy version"
          onClose={() => setConfirm(null)}
          onConfirm={() => {
            const v = confirm.version;
            setConfirm(null);
            act(() => post(`${base}/secret-version/${encPath(path)}/${v}/destroy`), `Version ${v} destroyed.`);
          }}
        />
      )}
    </section>
  );
}
