// The dashboard's entry: sign-in (an API key exchanged for a cookie session), the navigation and
// the hash router that picks a page. The session's CSRF token lives in api.ts's variable only.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import "./app.css";
import { errorText, resume, setSignedOutHandler, signIn, signOut, type Session } from "./api";
import { AgentPage, AgentsPage } from "./pages/agents";
import { AuditPage } from "./pages/audit";
import { SecretPage } from "./pages/secret";
import { UsersPage } from "./pages/users";
import { VaultPage } from "./pages/vault";
import { VaultsPage } from "./pages/vaults";
import { href, Message, useHashRoute, type Msg } from "./ui";

function SignIn({ onSession, note }: { onSession: (s: Session) => void; note: string | null }) {
  const [msg, setMsg] = useState<Msg | null>(note ? { kind: "error", text: note } : null);
  const [busy, setBusy] = useState(false);
  const keyRef = useRef<HTMLInputElement>(null);
  useEffect(() => keyRef.current?.focus(), []);
  return (
    <main class="signin">
      <h1>Coffer</h1>
      <form
        aria-labelledby="signin-title"
        onSubmit={async (e) => {
          e.preventDefault();
          const input = keyRef.current!;
          setBusy(true);
          setMsg(null);
          try {
            const s = await signIn(input.value);
            input.value = "";
            onSession(s);
          } catch (err) {
            setMsg({ kind: "error", text: errorText(err) });
            input.focus();
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2 id="signin-title">Sign in</h2>
        <label for="api-key">Your API key</label>
        <input id="api-key" name="api-key" type="password" autoComplete="off" spellcheck={false} required ref={keyRef} />
        <p class="hint">The key is exchanged for a session of limited life; it is not kept in the browser.</p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <Message msg={msg} />
      </form>
    </main>
  );
}

function Page({ route, session }: { route: string[]; session: Session }) {
  const [head, a, b, ...rest] = route;
  if (head === "vaults" && a && b === "secret" && rest.length) return <SecretPage vaultId={a} path={rest.join("/")} />;
  if (head === "vaults" && a) return <VaultPage vaultId={a} tab={b || "secrets"} session={session} />;
  if (head === "agents" && a) return <AgentPage agentId={a} />;
  if (head === "agents") return <AgentsPage />;
  if (head === "users") return <UsersPage session={session} userId={a} />;
  if (head === "audit") return <AuditPage session={session} />;
  return <VaultsPage />;
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);
  const [note, setNote] = useState<string | null>(null);
  const route = useHashRoute();
  const mainRef = useRef<HTMLElement>(null);

  useEffect(() => {
    setSignedOutHandler(() => {
      setSession(null);
      setNote("Your session ended; sign in again.");
    });
    resume().then((s) => {
      setSession(s);
      setChecking(false);
    });
  }, []);
  // Moves focus to the page's heading on navigation, so keyboard and screen reader users land there.
  useEffect(() => {
    mainRef.current?.querySelector("h1")?.focus();
  }, [route.join("/"), session?.principal.id]);

  if (checking) return <p class="loading">Loading…</p>;
  if (!session) return <SignIn onSession={(s) => (setNote(null), setSession(s))} note={note} />;
  const top = route[0];
  const cur = (name: string) => (top === name ? "page" : undefined);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), mainRef.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Coffer</span>
        <nav aria-label="Main">
          <a href={href("vaults")} aria-current={cur("vaults")}>
            Vaults
          </a>
          <a href={href("agents")} aria-current={cur("agents")}>
            Agents
          </a>
          {session.principal.is_admin && (
            <a href={href("users")} aria-current={cur("users")}>
              Users
            </a>
          )}
          <a href={href("audit")} aria-current={cur("audit")}>
            Audit
          </a>
        </nav>
        <span class="who">
          {session.principal.name}
          {session.principal.is_admin ? " (admin)" : ""}
        </span>
        <button
          type="button"
          onClick={async () => {
            try {
              await signOut();
            } finally {
              setNote(null);
              setSession(null);
              location.hash = "#/vaults";
            }
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Page route={route} session={session} />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
