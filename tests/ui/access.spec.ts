// Vaults (create, delete with a typed confirmation), agents (create with credentials shown once,
// rotate key, deactivate and reactivate, revoke), bindings, policies (live preview, add, remove),
// users and their API keys, and what a user without rights sees (the API's 403 as plain text).
import { expect, shot, signIn, test, uniq } from "./fixtures";

test("vaults: create, and delete only after typing the name", async ({ page, coffer }) => {
  await signIn(page, coffer);
  const name = uniq("vault");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Description").fill("made in the browser");
  await page.getByRole("button", { name: "Create vault" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();
  await shot(page, "vaults");
  await page.getByRole("button", { name: `Delete vault ${name}` }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel(/Type/)).toBeFocused();
  const confirm = dialog.getByRole("button", { name: "Delete vault" });
  await expect(confirm).toBeDisabled();
  await dialog.getByLabel(/Type/).fill(name.slice(0, -1));
  await expect(confirm).toBeDisabled();
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole("link", { name })).toBeVisible();
  await page.getByRole("button", { name: `Delete vault ${name}` }).click();
  await dialog.getByLabel(/Type/).fill(name);
  await confirm.click();
  await expect(page.getByRole("link", { name })).toHaveCount(0);
  await expect(page.getByText(`Vault ${name} deleted.`)).toBeVisible();
});

test("agents: credentials shown once, rotate, deactivate, reactivate, revoke; bindings", async ({ page, coffer, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: coffer.url });
  const vault = await coffer.api<{ id: string; name: string }>("POST", "/v1/vaults", { name: uniq("gw") });
  await coffer.api("PUT", `/v1/vaults/${vault.id}/secrets/api-keys/upstream`, { value: "upstream-cred", type: "api_key" });
  await signIn(page, coffer);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
  const name = uniq("bot");
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create agent" }).click();
  const once = page.getByRole("region", { name: /you will not see this again/ });
  await expect(once).toBeVisible();
  await expect(once).toBeFocused();
  const values = await once.getByTestId("once-value").allTextContents();
  expect(values).toHaveLength(2);
  await once.getByRole("button", { name: "Copy API key" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(values[0]);
  await once.getByRole("button", { name: "Copy rotation secret" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(values[1]);
  await shot(page, "agent-created");
  // The key works.
  const me = await coffer.api<{ name: string }>("GET", "/v1/agents/me", undefined, values[0]);
  expect(me.name).toBe(name);
  await once.getByRole("button", { name: "I have stored them" }).click();
  await expect(once).toHaveCount(0);
  expect(await page.content()).not.toContain(values[0]);

  const row = page.getByTestId(`agent-${name}`);
  await row.getByRole("button", { name: `Rotate key of ${name}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Rotate key" }).click();
  await expect(once).toBeVisible();
  const rotated = await once.getByTestId("once-value").allTextContents();
  expect(rotated[0]).not.toBe(values[0]);
  await once.getByRole("button", { name: "I have stored them" }).click();

  await row.getByRole("button", { name: `Deactivate ${name}` }).click();
  await expect(row).toContainText("deactivated");
  await row.getByRole("button", { name: `Reactivate ${name}` }).click();
  await expect(row).toContainText("active");
  await shot(page, "agents");

  // Bindings of this agent.
  await page.getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { name: `Agent ${name}` })).toBeVisible();
  await page.getByLabel("Name").fill("upstream");
  await page.getByLabel("Base URL").fill("https://api.example.com");
  await page.getByLabel("Credential's vault").selectOption(vault.id);
  await page.getByLabel("Credential's secret path").fill("api-keys/upstream");
  await page.getByLabel("Allowed methods (optional, e.g. GET POST)").fill("GET");
  await page.getByRole("button", { name: "Create binding" }).click();
  const b = page.getByTestId("binding-upstream");
  await expect(b).toContainText("active");
  await shot(page, "bindings");
  await b.getByRole("button", { name: "Switch off binding upstream" }).click();
  await expect(b).toContainText("off");
  await b.getByRole("button", { name: "Delete binding upstream" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete binding" }).click();
  await expect(b).toHaveCount(0);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
  await row.getByRole("button", { name: `Revoke ${name}` }).click();
  await page.getByRole("dialog").getByLabel(/Type/).fill(name);
  await page.getByRole("dialog").getByRole("button", { name: "Revoke agent" }).click();
  await expect(row).toContainText("revoked");
});

test("policies: live preview of matching secrets, add, remove", async ({ page, coffer }) => {
  const vault = await coffer.api<{ id: string; name: string }>("POST", "/v1/vaults", { name: uniq("pol") });
  for (const p of ["api-keys/openai", "api-keys/anthropic", "db/main"]) {
    await coffer.api("PUT", `/v1/vaults/${vault.id}/secrets/${p}`, { value: "v", type: "api_key" });
  }
  const agent = await coffer.api<{ id: string; name: string }>("POST", "/v1/agents", { name: uniq("reader") });
  await signIn(page, coffer);
  await page.goto(`/ui/#/vaults/${vault.id}/policies`);
  await expect(page.getByRole("heading", { name: "Policies" })).toBeVisible();
  const principal = page.getByLabel("Principal", { exact: true });
  await expect(principal.locator("option", { hasText: agent.name })).toHaveCount(1); // the agents have loaded
  await principal.selectOption({ label: agent.name });
  await page.getByLabel("Secret path pattern").fill("api-keys/*");
  const preview = page.getByTestId("policy-preview");
  await expect(preview).toContainText("2 matching secrets");
  await expect(preview).toContainText("api-keys/openai");
  await expect(preview).not.toContainText("db/main");
  await page.getByLabel("Secret path pattern").fill("**");
  await expect(preview).toContainText("3 matching secrets");
  await page.getByLabel("Secret path pattern").fill("api-keys/*");
  await expect(preview).toContainText("2 matching secrets");
  await page.getByLabel("list").check();
  await shot(page, "policy-preview");
  await page.getByRole("button", { name: "Add policy" }).click();
  await expect(page.getByText("Policy added.")).toBeVisible();
  await expect(page.getByRole("cell", { name: "api-keys/*", exact: true })).toBeVisible();
  await shot(page, "policies");
  await page.getByRole("button", { name: /Remove policy on api-keys\/\*/ }).click();
  await expect(page.getByText("Policy removed.")).toBeVisible();
  await expect(page.getByRole("cell", { name: "api-keys/*", exact: true })).toHaveCount(0);
});

test("users and API keys (admin); a user sees only what she may", async ({ page, coffer, browser }) => {
  await signIn(page, coffer);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  const name = uniq("alice");
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { name: `API keys of ${name}` })).toBeVisible();
  await page.getByLabel("Key name").fill("laptop");
  await page.getByRole("button", { name: "Issue key" }).click();
  const once = page.getByRole("region", { name: /you will not see this again/ });
  const [key] = await once.getByTestId("once-value").allTextContents();
  await once.getByRole("button", { name: "I have stored them" }).click();
  await shot(page, "users");
  await page.getByRole("button", { name: "Rotate key laptop" }).click();
  await expect(once).toBeVisible();
  const [key2] = await once.getByTestId("once-value").allTextContents();
  expect(key2).not.toBe(key);
  await once.getByRole("button", { name: "I have stored them" }).click();

  // The user, in a browser of her own: no vaults, no Users page, a plain refusal for the admin's vault.
  const secret = await coffer.api<{ id: string }>("POST", "/v1/vaults", { name: uniq("adminonly") });
  const ctx = await browser.newContext({ baseURL: coffer.url });
  const alice = await ctx.newPage();
  await signIn(alice, coffer, key2);
  await expect(alice.getByText("No vaults yet.")).toBeVisible();
  await expect(alice.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);
  await alice.goto(`/ui/#/vaults/${secret.id}`);
  await expect(alice.getByRole("alert").first()).toContainText(/Not allowed|not found/i);
  await shot(alice, "user-refused");
  await alice.getByRole("button", { name: "Sign out" }).click();
  await ctx.close();

  await page.getByRole("button", { name: "Revoke key laptop" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
  await expect(page.getByText("Key laptop revoked.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Revoke key laptop" })).toHaveCount(0);
});
