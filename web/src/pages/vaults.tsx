// The vaults page: the vaults the caller may see, create one, delete one (typed confirmation).
import { useState } from "preact/hooks";
import { del, get, post, type Vault } from "../api";
import { ConfirmDialog, DataTable, fmtTime, href, LoadError, Message, useAction, useLoad } from "../ui";

export function VaultsPage() {
  const { data, error, reload } = useLoad(() => get<{ vaults: Vault[] }>("/v1/vaults"), []);
  const [msg, run] = useAction();
  const [name, setName] = useState("");
  const [desc, setDesc] = useState("");
  const [deleting, setDeleting] = useState<Vault | null>(null);
  return (
    <section>
      <h1 tabIndex={-1}>Vaults</h1>
      <LoadError error={error} />
      <form
        class="inline-form"
        aria-label="Create a vault"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await run(() => post("/v1/vaults", { name, description: desc }), `Vault ${name} created.`)) {
            setName("");
            setDesc("");
            reload();
          }
        }}
      >
        <label for="vault-name">Name</label>
        <input id="vault-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <label for="vault-desc">Description</label>
        <input id="vault-desc" value={desc} onInput={(e) => setDesc(e.currentTarget.value)} />
        <button type="submit">Create vault</button>
      </form>
      <Message msg={msg} />
      {data && data.vaults.length === 0 && <p>No vaults yet.</p>}
      {data && data.vaults.length > 0 && (
        <DataTable caption="Vaults" cols={["Name", "Description", "Created", "Actions"]}>
            {data.vaults.map((v) => (
              <tr key={v.id}>
                <td>
                  <a href={href("vaults", v.id)}>{v.name}</a>
                </td>
                <td>{v.description}</td>
                <td>{fmtTime(v.created_at)}</td>
                <td>
                  <button type="button" class="danger" onClick={() => setDeleting(v)} aria-label={`Delete vault ${v.name}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete vault ${deleting.name}?`}
          body={<p>Every secret and policy in it is deleted for good.</p>}
          typed={deleting.name}
          confirmLabel="Delete vault"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            const v = deleting;
            setDeleting(null);
            if (await run(() => del(`/v1/vaults/${v.id}`), `Vault ${v.name} deleted.`)) reload();
          }}
        />
      )}
    </section>
  );
}
