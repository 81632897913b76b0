// Test fixtures: a real `coffer server` per worker (init in a temp dir, port 0, the admin key read
// from init's output, as tests/integration/conftest.py does), an admin API client, and a page that
// records console errors, page errors, CSP violations and every request URL, checked after each
// test. Every process started here is stopped here.
import { test as base, expect, type Page } from "@playwright/test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(here, "artifacts");
const BIN = process.env.COFFER_BIN || join(here, "..", "..", "build", "coffer");
const KEY_RE = /^\s*(cfr_key_[A-Za-z0-9_]+)\s*$/m;
const LISTEN_RE = /coffer listening on (https?:\/\/\S+)/;

export interface Coffer {
  url: string;
  adminKey: string;
  dataDir: string;
  /** Calls the API as `key` (the admin by default); throws on a non-2xx answer. */
  api<T = any>(method: string, path: string, body?: unknown, key?: string): Promise<T>;
}

/** `coffer init` in a new temp dir: the dir and the admin API key init printed. */
export function initDataDir(): { dataDir: string; adminKey: string } {
  const dataDir = mkdtempSync(join(tmpdir(), "coffer-ui-"));
  const init = spawnSync(BIN, ["init", "--data-dir", dataDir], { encoding: "utf8", timeout: 60_000 });
  if (init.status !== 0) throw new Error(`coffer init failed (exit ${init.status})`);
  const m = KEY_RE.exec(init.stdout);
  if (!m) throw new Error("coffer init printed no admin API key");
  return { dataDir, adminKey: m[1] };
}

/** Starts `coffer server` on 127.0.0.1 port 0 over `dataDir` (a fresh one when absent). */
export async function startServer(existing?: { dataDir: string; adminKey: string }): Promise<{ coffer: Coffer; proc: ChildProcess }> {
  const { dataDir, adminKey } = existing ?? initDataDir();
  const log = openSync(join(dataDir, "server.log"), "a");
  const proc = spawn(BIN, ["server", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", log],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("coffer server did not start")), 20_000);
    proc.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const l = LISTEN_RE.exec(buf);
      if (l) {
        clearTimeout(timer);
        resolve(l[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`coffer server exited (${code})`)));
  });
  proc.stdout!.resume();
  const api = async <T,>(method: string, path: string, body?: unknown, key = adminKey): Promise<T> => {
    const res = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (res.status === 204 ? null : await res.json()) as T;
  };
  return { coffer: { url, adminKey, dataDir, api }, proc };
}

/** Stops the server (SIGTERM, then SIGKILL after 20 s); removes `dataDir` unless `keep`. */
export async function stopServer(proc: ChildProcess, dataDir: string, keep = false) {
  if (proc.exitCode === null) {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(t);
  }
  if (!keep) rmSync(dataDir, { recursive: true, force: true });
}

/** What a page did that a test checks afterwards. */
export interface Watch {
  consoleErrors: string[];
  consoleAll: string[];
  cspViolations: string[];
  requestUrls: string[];
  urls: string[];
}

// HTTP answers the tests provoke on purpose (a wrong key, a 401 on reload without a session, a 403
// for what a user may not do) are logged by Chromium as "Failed to load resource"; those are
// answers, not script errors, and are the only console errors allowed.
const EXPECTED_HTTP = /^Failed to load resource: the server responded with a status of (401|403|404|409|410)/;

export const test = base.extend<{ coffer: Coffer; watch: Watch }, { server: Coffer }>({
  server: [
    async ({}, use) => {
      mkdirSync(ARTIFACTS, { recursive: true });
      const { coffer, proc } = await startServer();
      try {
        await use(coffer);
      } finally {
        await stopServer(proc, coffer.dataDir);
      }
    },
    { scope: "worker" },
  ],
  coffer: async ({ server }, use) => use(server),
  baseURL: async ({ server }, use) => use(server.url),
  watch: [
    async ({ page }, use) => {
    const w: Watch = { consoleErrors: [], consoleAll: [], cspViolations: [], requestUrls: [], urls: [] };
    page.on("console", (m) => {
      w.consoleAll.push(m.text());
      if (m.type() === "error" && !EXPECTED_HTTP.test(m.text())) w.consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => w.consoleErrors.push(`pageerror: ${e.message}`));
    page.on("request", (r) => w.requestUrls.push(r.url()));
    page.on("framenavigated", (f) => f === page.mainFrame() && w.urls.push(f.url()));
    await page.exposeBinding("__cspViolation", (_src, text: string) => w.cspViolations.push(text));
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        (window as any).__cspViolation(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await use(w);
    expect(w.cspViolations, "CSP violations").toEqual([]);
    expect(w.consoleErrors, "console errors").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

/** Opens the dashboard and signs in with `key` (the admin's by default). */
export async function signIn(page: Page, coffer: Coffer, key = coffer.adminKey) {
  await page.goto("/ui/");
  await page.getByLabel("Your API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}

/** Checks that `secret` is nowhere a page keeps or shows state: URL, storage, console, requests. */
export async function expectNotLeaked(page: Page, watch: Watch, secret: string) {
  expect(page.url()).not.toContain(secret);
  for (const u of watch.urls) expect(u).not.toContain(secret);
  for (const u of watch.requestUrls) expect(u).not.toContain(secret);
  for (const t of watch.consoleAll) expect(t).not.toContain(secret);
  const stored = await page.evaluate(() => {
    const all: string[] = [];
    for (const s of [localStorage, sessionStorage]) {
      for (let i = 0; i < s.length; i++) all.push(s.key(i)!, s.getItem(s.key(i)!) ?? "");
    }
    return all.join("\n");
  });
  expect(stored).not.toContain(secret);
  expect(await page.evaluate(() => document.cookie)).not.toContain(secret);
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

let counter = 0;
/** A name unique within this run. */
export function uniq(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
