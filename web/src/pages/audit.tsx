// The audit trail: filter by actor, action, vault and time, page through it, and verify the hash
// chain (the result, and where it breaks). The admin sees everything; a user must pick a vault.
import { useState } from "preact/hooks";
import { get, query, type AuditEvent, type AuditVerification, type Session, type Vault } from "../api";
import { DataTable, fmtTime, LoadError, Message, Pager, useAction, useLoad } from "../ui";

const PAGE = 50;

interface Filters {
  actor_id: string;
  action: string;
  vault_id: string;
  since: string;
  until: string;
}

const iso = (local: string) => (local ? new Date(local).toISOString() : "");

export function AuditPage({ session }: { session: Session }) {
  const vaults = useLoad(() => get<{ vaults: Vault[] }>("/v1/vaults"), []);
  const empty: Filters = { actor_id: "", action: "", vault_id: "", since: "", until: "" };
  const [form, setForm] = useState<Filters>(empty);
  const [applied, setApplied] = useState<Filters>(empty);
  const [cursors, setCursors] = useState<number[]>([0]);
  const after = cursors[cursors.length - 1];
  const mustPickVault = !session.principal.is_admin && !applied.vault_id;
  const { data, error } = useLoad(
    () =>
      mustPickVault
        ? Promise.resolve(null)
        : get<{ events: AuditEvent[]; next_after: number | null }>(
            `/v1/audit${query({ ...applied, since: iso(applied.since), until: iso(applied.until), after: after || undefined, limit: PAGE })}`,
          ),
    [applied, after],
  );
  const [msg, run] = useAction();
  const [verify, setVerify] = useState<AuditVerification | null>(null);
  const field = (k: keyof Filters) => ({
    id: `audit-${k}`,
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value }),
  });
  return (
    <section>
      <h1 tabIndex={-1}>Audit trail</h1>
      <form
        class="inline-form"
        role="search"
        aria-label="Filter the audit trail"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(form);
          setCursors([0]);
        }}
      >
        <label for="audit-actor_id">Actor id</label>
        <input {...field("actor_id")} />
        <label for="audit-action">Action</label>
        <input {...field("action")} placeholder="e.g. secret.read" />
        <label for="audit-vault_id">Vault</label>
        <select id="audit-vault_id" value={form.vault_id} onChange={(e) => setForm({ ...form, vault_id: e.currentTarget.value })}>
          <option value="">{session.principal.is_admin ? "any" : "choose…"}</option>
          {vaults.data?.vaults.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
            </option>
          ))}
        </select>
        <label for="audit-since">From</label>
        <input {...field("since")} type="datetime-local" />
        <label for="audit-until">Until</label>
        <input {...field("until")} type="datetime-local" />
        <button type="submit">Filter</button>
      </form>
      {mustPickVault && <p>Choose one of your vaults to see its events.</p>}
      <LoadError error={error} />
      {data && (
        <DataTable caption="Audit events" testId="audit-table" cols={["Seq", "At", "Actor", "Action", "Vault / path", "Outcome"]}>
            {data.events.map((e) => (
              <tr key={e.seq} class={e.outcome === "success" ? "" : "refused"}>
                <td>{e.seq}</td>
                <td>{fmtTime(e.at)}</td>
                <td>
                  {e.actor_type} <code>{e.actor_id ?? ""}</code>
                </td>
                <td>{e.action}</td>
                <td>
                  {e.vault_id ? <code>{e.vault_id.slice(0, 8)}</code> : ""} {e.path ?? ""}
                  {e.version ? ` v${e.version}` : ""}
                </td>
                <td>
                  {e.outcome} ({e.http_status})
                </td>
              </tr>
            ))}
          </DataTable>
      )}
      <Pager page={cursors.length} hasNext={!!data?.next_after} onPrev={() => setCursors(cursors.slice(0, -1))} onNext={() => data?.next_after && setCursors([...cursors, data.next_after])} />
      <h2>Hash chain</h2>
      <button type="button" onClick={() => run(async () => setVerify(await get<AuditVerification>("/v1/audit/verify")))}>
        Verify chain
      </button>
      <Message msg={msg} />
      {verify && (
        <p class={verify.ok ? "msg msg-ok" : "msg msg-error"} role="status" data-testid="verify-result">
          {verify.ok
            ? `The chain is intact: ${verify.events_checked} events checked, head ${verify.head_hash.slice(0, 16)}…`
            : `The chain breaks at event ${verify.first_broken_seq ?? "?"}: ${verify.reason ?? "hash mismatch"} (${verify.events_checked} events checked).`}
        </p>
      )}
    </section>
  );
}
