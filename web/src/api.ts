// The dashboard's one way to call the API: same-origin fetch with the session cookie and the
// CSRF token, which lives only in this module's variable (never storage, never the URL).
// Errors come back as ApiError carrying the problem+json title/detail for plain display.

export interface Principal {
  type: "user";
  id: string;
  name: string;
  email?: string | null;
  is_admin: boolean;
}

export interface Session {
  csrf_token: string;
  expires_at: string;
  principal: Principal;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let onSignedOut: (() => void) | null = null;

/** Called when the server answers 401 to a call made within a session (expired or ended). */
export function setSignedOutHandler(fn: () => void): void {
  onSignedOut = fn;
}

async function problemMessage(res: Response): Promise<string> {
  try {
    const p = (await res.json()) as { title?: string; detail?: string };
    if (p.detail && p.title) return `${p.title}: ${p.detail}`;
    return p.detail || p.title || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

/** Encodes a secret path for a URL: each segment on its own, the slashes kept. */
export function encPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (!res.ok) {
    const msg = await problemMessage(res);
    if (res.status === 401 && csrfToken) {
      csrfToken = null;
      onSignedOut?.();
    }
    throw new ApiError(res.status, msg);
  }
  if (res.status === 204) return null as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => call<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => call<T>("PUT", path, body);
export const patch = <T>(path: string, body: unknown) => call<T>("PATCH", path, body);
export const del = <T = null>(path: string) => call<T>("DELETE", path);

export async function signIn(apiKey: string): Promise<Session> {
  csrfToken = null;
  const s = await call<Session>("POST", "/v1/auth/session", { api_key: apiKey });
  csrfToken = s.csrf_token;
  return s;
}

/** After a reload: the cookie (HttpOnly, invisible here) may still name a live session. */
export async function resume(): Promise<Session | null> {
  try {
    const s = await call<Session>("GET", "/v1/auth/session");
    csrfToken = s.csrf_token;
    return s;
  } catch {
    return null;
  }
}

export async function signOut(): Promise<void> {
  try {
    await call<null>("DELETE", "/v1/auth/session");
  } finally {
    csrfToken = null;
  }
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return `Not allowed: ${e.message}`;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

// --- Shapes the pages use (docs/openapi.yaml) -------------------------------------------------

export interface Vault {
  id: string;
  name: string;
  description?: string;
  created_by: string;
  created_at: string;
  max_versions?: number;
}

export interface SecretUsage {
  access_count: number;
  last_read_at: string | null;
  last_read_by: string | null;
}

export interface SecretMeta {
  id: string;
  path: string;
  type: string;
  version: number;
  metadata: Record<string, unknown> | null;
  created_at: string;
  created_by: string;
  expires_at?: string;
  vault_id: string;
  max_access_count: number;
  access_count: number;
  is_disabled: boolean;
  rotation_policy: Record<string, unknown> | null;
  next_rotation_at?: string;
  aliases?: Record<string, number>;
  max_versions?: number;
  last_read_at?: string | null;
  last_read_by?: string | null;
  secret_usage?: SecretUsage;
}

export interface VersionEntry {
  version: number;
  type: string;
  is_disabled: boolean;
  disabled_at: string | null;
  created_at: string;
  created_by: string;
  expires_at?: string;
  max_access_count: number;
  access_count: number;
  aliases?: string[];
  is_destroyed?: boolean;
  destroyed_at?: string | null;
  last_read_at?: string | null;
}

export interface Agent {
  id: string;
  name: string;
  description?: string;
  created_by: string;
  created_at: string;
  is_revoked: boolean;
  is_active: boolean;
  last_used_at?: string | null;
}

export interface User {
  id: string;
  name: string;
  is_admin: boolean;
  created_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  created_at: string;
  revoked_at: string | null;
}

export interface Policy {
  id: string;
  principal_type: "agent" | "user";
  principal_id: string;
  secret_path_pattern: string;
  permissions: string[];
  effect?: string;
  expires_at?: string;
}

export interface Binding {
  id: string;
  name: string;
  binding_type: string;
  config: { base_url: string; auth_type?: string };
  is_active: boolean;
  credential_vault_id?: string;
  credential_path?: string;
}

export interface AuditEvent {
  seq: number;
  at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  vault_id: string | null;
  path: string | null;
  version: number | null;
  outcome: string;
  http_status: number;
}

export interface AuditVerification {
  ok: boolean;
  events_checked: number;
  first_broken_seq: number | null;
  reason: string | null;
  head_hash: string;
}

export interface ActivityBucket {
  start: string;
  reads: number;
  writes: number;
  refusals: number;
}
