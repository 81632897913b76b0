// Users (the admin): create a user, and per user list, issue (shown once), rotate and revoke API
// keys. A non-admin sees a plain "not allowed" from the API's own 403.
import { useState } from "preact/hooks";
import { del, get, post, type ApiKey, type Session, type User } from "../api";
import { ConfirmDialog, DataTable, fmtTime, href, LoadError, Message, ShownOnce, useAction, useLoad } from "../ui";

export function UsersPage({ session, userId }: { session: Session; userId?: string }) {
  return userId ? <UserKeys userId={userId} /> : <UserList session={session} />;
}

function UserList({ session }: { session: Session }) {
  const { data, error, reload } = useLoad(() => get<{ users: User[] }>("/v1/users"), []);
  const [msg, run] = useAction();
  const [name, setName] = useState("");
  return (
    <section>
      <h1 tabIndex={-1}>Users</h1>
      <LoadError error={error} />
      {session.principal.is_admin && (
        <form
          class="inline-form"
          aria-label="Create a user"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await run(() => post("/v1/users", { name }), `User ${name} created; issue an API key for them below.`)) {
              setName("");
              reload();
            }
          }}
        >
          <label for="user-name">Name</label>
          <input id="user-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          <button type="submit">Create user</button>
        </form>
      )}
      <Message msg={msg} />
      {data && (
        <DataTable caption="Users" cols={["Name", "Role", "Created"]}>
            {data.users.map((u) => (
              <tr key={u.id}>
                <td>
                  <a href={href("users", u.id)}>{u.name}</a>
                </td>
                <td>{u.is_admin ? "admin" : "user"}</td>
                <td>{fmtTime(u.created_at)}</td>
              </tr>
            ))}
          </DataTable>
      )}
    </section>
  );
}

function UserKeys({ userId }: { userId: string }) {
  const user = useLoad(() => get<User>(`/v1/users/${userId}`), [userId]);
  const { data, error, reload } = useLoad(() => get<{ api_keys: ApiKey[] }>(`/v1/users/${userId}/api-keys`), [userId]);
  const [msg, run] = useAction();
  const [name, setName] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const base = `/v1/users/${userId}/api-keys`;
  return (
    <section>
      <p class="crumbs">
        <a href={href("users")}>Users</a> /
      </p>
      <h1 tabIndex={-1}>API keys of {user.data?.name ?? "user"}</h1>
      <LoadError error={user.error || error} />
      <form
        class="inline-form"
        aria-label="Issue an API key"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => {
            const k = await post<{ api_key: string }>(base, { name });
            setShown(k.api_key);
            setName("");
            reload();
          }, "API key issued.");
        }}
      >
        <label for="key-name">Key name</label>
        <input id="key-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <button type="submit">Issue key</button>
      </form>
      <Message msg={msg} />
      {shown && <ShownOnce items={[{ label: "API key", value: shown }]} onDismiss={() => setShown(null)} />}
      {data && (
        <DataTable caption="API keys" cols={["Name", "Id", "Created", "Revoked", "Actions"]}>
            {data.api_keys.map((k) => (
              <tr key={k.id} data-testid={`key-${k.name}`}>
                <td>{k.name}</td>
                <td>
                  <code>{k.id}</code>
                </td>
                <td>{fmtTime(k.created_at)}</td>
                <td>{fmtTime(k.revoked_at)}</td>
                <td>
                  {!k.revoked_at && (
                    <>
                      <button
                        type="button"
                        aria-label={`Rotate key ${k.name}`}
                        onClick={() =>
                          run(async () => {
                            const r = await post<{ api_key: string }>(`${base}/${k.id}/rotate`, { grace_seconds: 0 });
                            setShown(r.api_key);
                            reload();
                          }, `Key ${k.name} replaced.`)
                        }
                      >
                        Rotate
                      </button>
                      <button type="button" class="danger" aria-label={`Revoke key ${k.name}`} onClick={() => setRevoking(k)}>
                        Revoke
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke key ${revoking.name}?`}
          body={<p>It stops working at once.</p>}
          confirmLabel="Revoke key"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            const k = revoking;
            setRevoking(null);
            if (await run(() => del(`${base}/${k.id}`), `Key ${k.name} revoked.`)) reload();
          }}
        />
      )}
    </section>
  );
}
