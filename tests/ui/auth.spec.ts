// Sign-in, the session across a reload, sign-out ending the session on the server, and the
// security headers the /ui pages are served with.
import { expect, shot, signIn, test, uniq } from "./fixtures";

test("the /ui pages carry a strict CSP and the security headers", async ({ coffer, request }) => {
  const res = await request.get(`${coffer.url}/ui/`);
  expect(res.status()).toBe(200);
  const h = res.headers();
  expect(h["content-security-policy"]).toContain("default-src 'none'");
  expect(h["content-security-policy"]).toContain("script-src 'self'");
  expect(h["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(h["content-security-policy"]).not.toContain("unsafe-inline");
  expect(h["x-content-type-options"]).toBe("nosniff");
  expect(h["x-frame-options"]).toBe("DENY");
  expect(h["referrer-policy"]).toBe("no-referrer");
  const html = await res.text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toContain("<style");
  expect(html).not.toContain("style=");
});

test("a wrong key and an agent's key are refused with a plain message", async ({ page, coffer, watch }) => {
  await page.goto("/ui/");
  await shot(page, "signin");
  await page.getByLabel("Your API key").fill("cfr_key_not_a_real_key_at_all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  const agent = await coffer.api<{ api_key: string }>("POST", "/v1/agents", { name: uniq("bot") });
  await page.getByLabel("Your API key").fill(agent.api_key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText(/people/i);
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  expect(watch.consoleErrors).toEqual([]);
});

test("sign in, reload keeps the session, sign out ends it on the server", async ({ page, coffer, context, watch }) => {
  await signIn(page, coffer);
  await expect(page.getByRole("heading", { name: "Vaults" })).toBeVisible();
  // The session cookie is HttpOnly; nothing is kept in web storage.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "coffer_session");
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe("Strict");
  expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
  expect(await page.evaluate(() => document.cookie)).not.toContain("coffer_session");

  await page.reload();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();

  // A request with the cookie but without the CSRF header is refused.
  const noCsrf = await page.request.get(`${coffer.url}/v1/vaults`);
  expect(noCsrf.status()).toBe(403);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByLabel("Your API key")).toBeVisible();
  // The old cookie no longer names a session.
  const after = await fetch(`${coffer.url}/v1/auth/session`, { headers: { Cookie: `coffer_session=${session!.value}` } });
  expect(after.status).toBe(401);
  await page.reload();
  await expect(page.getByLabel("Your API key")).toBeVisible();
  expect(watch.cspViolations).toEqual([]);
});

test("keyboard only: sign in, land on the heading, open a dialog and leave it", async ({ page, coffer }) => {
  await coffer.api("POST", "/v1/vaults", { name: uniq("kbd") });
  await page.goto("/ui/");
  await expect(page.getByLabel("Your API key")).toBeFocused();
  await page.keyboard.type(coffer.adminKey);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Vaults", level: 1 })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Name")).toBeFocused();
  // Every form field on the page has an accessible name.
  const unnamed = await page.locator("input, select, textarea").evaluateAll((els) =>
    els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute("aria-label")).map((e) => e.outerHTML),
  );
  expect(unnamed).toEqual([]);
  const del = page.getByRole("button", { name: /^Delete vault/ }).first();
  await del.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog")).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(del).toBeFocused();
});
