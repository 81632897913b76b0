// Small shared pieces: the hash router, status messages (aria-live), the confirmation dialog
// (native <dialog>: focus moves in and comes back), copy buttons and shown-once credentials.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./api";

export function useHashRoute(): string[] {
  const read = () =>
    (location.hash.replace(/^#\/?/, "") || "vaults").split("/").map((s) => decodeURIComponent(s));
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => setParts(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return parts;
}

export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}

export function fmtTime(t: string | null | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  return isNaN(d.getTime()) ? t : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export interface Msg {
  kind: "ok" | "error";
  text: string;
}

/** A status line read out by screen readers; errors use role=alert. */
export function Message({ msg }: { msg: Msg | null }) {
  return (
    <div class={msg ? `msg msg-${msg.kind}` : "msg"} role={msg?.kind === "error" ? "alert" : "status"} aria-live="polite">
      {msg?.text ?? ""}
    </div>
  );
}

/** Runs an action, reporting its success text or its error as a Msg. */
export function useAction(): [Msg | null, (fn: () => Promise<unknown>, ok?: string) => Promise<boolean>, (m: Msg | null) => void] {
  const [msg, setMsg] = useState<Msg | null>(null);
  const run = async (fn: () => Promise<unknown>, ok?: string) => {
    setMsg(null);
    try {
      await fn();
      if (ok) setMsg({ kind: "ok", text: ok });
      return true;
    } catch (e) {
      setMsg({ kind: "error", text: errorText(e) });
      return false;
    }
  };
  return [msg, run, setMsg];
}

/** Loads data for a page; reload() fetches again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    fn().then(
      (d) => live && setData(d),
      (e) => {
        if (live) {
          setData(null);
          setError(errorText(e));
        }
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

export function LoadError({ error }: { error: string | null }) {
  return error ? (
    <p class="msg msg-error" role="alert">
      {error}
    </p>
  ) : null;
}

/**
 * A modal confirmation. With `typed`, the confirm button stays disabled until the user types
 * that exact text (for deleting vaults, secrets, agents).
 */
export function ConfirmDialog(props: {
  title: string;
  body: ComponentChildren;
  typed?: string;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState("");
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => opener?.focus?.();
  }, []);
  const ok = !props.typed || text === props.typed;
  return (
    <dialog ref={ref} aria-labelledby="dlg-title" onClose={props.onClose} class="dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (ok) props.onConfirm();
        }}
      >
        <h2 id="dlg-title">{props.title}</h2>
        <div>{props.body}</div>
        {props.typed && (
          <p>
            <label for="dlg-typed">
              Type <strong>{props.typed}</strong> to confirm
            </label>
            <input id="dlg-typed" value={text} onInput={(e) => setText(e.currentTarget.value)} autoComplete="off" autoFocus />
          </p>
        )}
        <div class="row">
          <button type="submit" class="danger" disabled={!ok}>
            {props.confirmLabel}
          </button>
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Copies a string to the clipboard without showing it; `get` may fetch it (a read). */
export function CopyButton({ label, get, onDone }: { label: string; get: () => Promise<string> | string; onDone?: (m: Msg) => void }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          let v: string | null = await get();
          await navigator.clipboard.writeText(v);
          v = null;
          setState("copied");
          onDone?.({ kind: "ok", text: "Copied to the clipboard." });
        } catch (e) {
          setState("failed");
          onDone?.({ kind: "error", text: errorText(e) });
        }
      }}
    >
      {state === "copied" ? `${label} ✓` : label}
    </button>
  );
}

/** Credentials shown once, each with a copy button; gone from the page once dismissed. */
export function ShownOnce({ items, onDismiss }: { items: { label: string; value: string }[]; onDismiss: () => void }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <section class="once" aria-labelledby="once-title" tabIndex={-1} ref={ref}>
      <h3 id="once-title">Copy these now: you will not see this again.</h3>
      {items.map((it) => (
        <div class="once-item" key={it.label}>
          <span class="once-label">{it.label}</span>
          <code class="once-value" data-testid="once-value">
            {it.value}
          </code>
          <CopyButton label={`Copy ${it.label}`} get={() => it.value} />
        </div>
      ))}
      <button type="button" onClick={onDismiss}>
        I have stored them
      </button>
    </section>
  );
}

/** A table with a caption for screen readers and column headers. */
export function DataTable({ caption, cols, testId, children }: { caption: string; cols: string[]; testId?: string; children: ComponentChildren }) {
  return (
    <table data-testid={testId}>
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          {cols.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** Previous/next paging over a cursor-paged list. */
export function Pager({ page, hasNext, onPrev, onNext }: { page: number; hasNext: boolean; onPrev: () => void; onNext: () => void }) {
  return (
    <div class="row" aria-label="Pages">
      <button type="button" disabled={page < 2} onClick={onPrev}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        Next page
      </button>
    </div>
  );
}
