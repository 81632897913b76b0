// The audit trail: filter by action, vault, actor and time, page through it, verify the chain;
// and the vault's activity picture.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, shot, signIn, startServer, stopServer, test, uniq } from "./fixtures";

test("audit: filters, paging and chain verification", async ({ page, coffer }) => {
  const v = await coffer.api<{ id: string; name: string }>("POST", "/v1/vaults", { name: uniq("aud") });
  await coffer.api("PUT", `/v1/vaults/${v.id}/secrets/a/b`, { value: "v", type: "api_key" });
  for (let i = 0; i < 55; i++) await coffer.api("GET", `/v1/vaults/${v.id}/secrets/a/b`);
  const me = await coffer.api<{ id: string }>("GET", "/v1/me");
  await signIn(page, coffer);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await expect(page.getByRole("heading", { name: "Audit trail" })).toBeVisible();
  await page.getByLabel("Action").fill("secret.read");
  await page.getByLabel("Vault").selectOption(v.id);
  await page.getByLabel("Actor id").fill(me.id);
  await page.getByRole("button", { name: "Filter" }).click();
  const rows = page.getByTestId("audit-table").getByRole("row");
  await expect(rows).toHaveCount(51);
  await expect(page.getByTestId("audit-table")).not.toContainText("secret.write");
  await shot(page, "audit");
  await page.getByRole("button", { name: "Next page" }).click();
  await expect(page.getByText("Page 2")).toBeVisible();
  await expect(rows).toHaveCount(6);
  await page.getByRole("button", { name: "Previous page" }).click();
  await expect(rows).toHaveCount(51);
  // A time window in the future holds nothing.
  await page.getByLabel("From").fill("2999-01-01T00:00");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(rows).toHaveCount(1);

  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByTestId("verify-result")).toContainText("The chain is intact");
});

test("vault activity per hour", async ({ page, coffer }) => {
  const v = await coffer.api<{ id: string; name: string }>("POST", "/v1/vaults", { name: uniq("act") });
  await coffer.api("PUT", `/v1/vaults/${v.id}/secrets/x`, { value: "v", type: "api_key" });
  for (let i = 0; i < 3; i++) await coffer.api("GET", `/v1/vaults/${v.id}/secrets/x`);
  await signIn(page, coffer);
  await page.goto(`/ui/#/vaults/${v.id}/activity`);
  const chart = page.getByTestId("activity-chart");
  await expect(chart).toBeVisible();
  await expect(chart.locator("title").first()).toContainText("3 reads");
  await expect(chart.locator("rect.bar-read")).toHaveCount(1);
  await page.getByLabel("Period").selectOption("24");
  await expect(chart.locator("title").first()).toContainText("over 24 hours");
  await shot(page, "activity");
});

// Its own server: the test stops it, edits one audit event in the database file the way someone
// with the file could (the append-only triggers dropped for the edit and put back), and starts it
// again on the same data dir.
test("verify chain shows where a tampered trail breaks", async ({ page }) => {
  const first = await startServer();
  const { dataDir, adminKey } = first.coffer;
  let current = first;
  try {
    const v = await first.coffer.api<{ id: string }>("POST", "/v1/vaults", { name: "tamper" });
    await first.coffer.api("PUT", `/v1/vaults/${v.id}/secrets/a`, { value: "v", type: "api_key" });
    await stopServer(first.proc, dataDir, true);
    const db = join(dataDir, "coffer.db");
    const triggers = spawnSync("sqlite3", [db, "SELECT sql || ';' FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"], { encoding: "utf8" });
    expect(triggers.status).toBe(0);
    const names = spawnSync("sqlite3", [db, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"], { encoding: "utf8" });
    const script = [
      "BEGIN;",
      ...names.stdout.split("\n").filter(Boolean).map((n) => `DROP TRIGGER "${n}";`),
      "UPDATE audit_events SET action = 'x' WHERE seq = 2;\nSELECT changes();",
      triggers.stdout,
      "COMMIT;",
    ].join("\n");
    const edit = spawnSync("sqlite3", [db], { input: script, encoding: "utf8" });
    expect(edit.status, edit.stderr).toBe(0);
    expect(edit.stdout.trim()).toBe("1"); // one event changed
    current = await startServer({ dataDir, adminKey });
    await page.goto(`${current.coffer.url}/ui/`);
    await page.getByLabel("Your API key").fill(adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
    await page.getByRole("button", { name: "Verify chain" }).click();
    await expect(page.getByTestId("verify-result")).toContainText("The chain breaks at event 2");
    await shot(page, "audit-broken");
  } finally {
    await stopServer(current.proc, dataDir);
  }
});
