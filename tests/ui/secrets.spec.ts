// Secrets: list with filter and paging, create with a masked input, reveal (hidden after 30 s by
// the page's own timer, driven by Playwright's clock), copy without showing, new version from a
// file, server-side rotation, disable, aliases, promote, rollback, schedule, usage, retention,
// the timeline, delete. The value must never reach the URL, storage, console or request URLs.
import { join } from "node:path";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ARTIFACTS, expect, expectNotLeaked, shot, signIn, test, uniq, type Coffer } from "./fixtures";

async function makeVault(coffer: Coffer, name = uniq("v")) {
  return coffer.api<{ id: string; name: string }>("POST", "/v1/vaults", { name, description: "for the UI tests" });
}

test("list with filter and paging", async ({ page, coffer }) => {
  const v = await makeVault(coffer);
  for (let i = 0; i < 23; i++) {
    await coffer.api("PUT", `/v1/vaults/${v.id}/secrets/app/key-${String(i).padStart(2, "0")}`, { value: `x${i}`, type: "api_key" });
  }
  await coffer.api("PUT", `/v1/vaults/${v.id}/secrets/db/password`, { value: "pw", type: "password" });
  await signIn(page, coffer);
  await page.getByRole("link", { name: v.name }).click();
  await expect(page.getByRole("heading", { name: `Vault ${v.name}` })).toBeVisible();
  const rows = page.getByRole("table").getByRole("row");
  await expect(rows).toHaveCount(21); // header + 20
  await expect(page.getByText("Page 1")).toBeVisible();
  await page.getByRole("button", { name: "Next page" }).click();
  await expect(page.getByText("Page 2")).toBeVisible();
  await expect(rows).toHaveCount(5); // header + 3 app/ + db/password
  await expect(page.getByRole("link", { name: "db/password" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Next page" })).toBeDisabled();
  await page.getByRole("button", { name: "Previous page" }).click();
  await expect(page.getByRole("link", { name: "app/key-00" })).toBeVisible();
  await page.getByLabel("Path prefix").fill("db/");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(rows).toHaveCount(2);
  await expect(page.getByRole("link", { name: "db/password" })).toBeVisible();
  await shot(page, "secrets-filtered");
  await page.getByLabel("Path prefix").fill("");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(rows).toHaveCount(21);
});

test("the secrets page (the README's picture)", async ({ page, coffer }) => {
  const v = await coffer.api<{ id: string }>("POST", "/v1/vaults", { name: "production", description: "Keys the agents in production use" });
  const items: [string, string][] = [
    ["api-keys/anthropic", "api_key"],
    ["api-keys/openai", "api_key"],
    ["db/postgres-main", "password"],
    ["db/redis", "password"],
    ["ssh/deploy", "ssh_key"],
    ["tls/api-example-com", "certificate"],
  ];
  for (const [p, type] of items) await coffer.api("PUT", `/v1/vaults/${v.id}/secrets/${p}`, { value: "example", type, metadata: { team: "platform" } });
  await coffer.api("POST", `/v1/vaults/${v.id}/secret-rotate/db/postgres-main`, { length: 32, charset: "alphanumeric" });
  await coffer.api("GET", `/v1/vaults/${v.id}/secrets/api-keys/openai`);
  await signIn(page, coffer);
  await page.goto(`/ui/#/vaults/${v.id}`);
  await expect(page.getByRole("link", { name: "tls/api-example-com" })).toBeVisible();
  await shot(page, "secrets");
  // The README's picture: always among the artifacts; into docs/img only when asked
  // (COFFER_UI_README_SHOT=1 tests/ui/run.sh), so a test run leaves the tree as it was.
  await page.setViewportSize({ width: 1100, height: 560 });
  const readme = join(ARTIFACTS, "dashboard-secrets.png");
  await page.screenshot({ path: readme });
  if (process.env.COFFER_UI_README_SHOT === "1") {
    const img = join(ARTIFACTS, "..", "..", "..", "docs", "img");
    mkdirSync(img, { recursive: true });
    copyFileSync(readme, join(img, "dashboard-secrets.png"));
  }
});

test("a secret's whole life in the browser", async ({ page, coffer, watch, context }) => {
  const v = await makeVault(coffer);
  const value = `s3cr3t-${Date.now()}-value`;
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: coffer.url });
  await page.clock.install();
  await signIn(page, coffer);
  await page.goto(`/ui/#/vaults/${v.id}`);
  await page.getByRole("button", { name: "New secret" }).click();
  await page.getByLabel("Path", { exact: true }).fill("svc/token");
  await page.getByLabel("Type", { exact: true }).selectOption("api_key");
  const input = page.getByLabel("Value", { exact: true });
  await expect(input).toHaveAttribute("type", "password");
  await input.fill(value);
  await page.getByLabel("Metadata (JSON object, optional)").fill('{"team":"ui"}');
  await page.getByRole("button", { name: "Create secret" }).click();
  await expect(page.getByRole("link", { name: "svc/token" })).toBeVisible();
  await page.getByRole("link", { name: "svc/token" }).click();
  await expect(page.getByRole("heading", { name: "Secret svc/token" })).toBeVisible();
  await expect(page.getByText('{"team":"ui"}')).toBeVisible();
  await expect(page.getByText(value)).toHaveCount(0);

  // Reveal is a read; it hides again after 30 s and leaves nothing in the DOM.
  const read = page.waitForResponse((r) => r.url().includes("/secrets/svc/token") && r.request().method() === "GET");
  await page.getByRole("button", { name: "Reveal value" }).click();
  await read;
  await expect(page.getByTestId("secret-value")).toHaveText(value);
  await shot(page, "secret-revealed");
  await page.clock.fastForward(29_000);
  await expect(page.getByTestId("secret-value")).toHaveText(value);
  await page.clock.fastForward(1_500);
  await expect(page.getByTestId("secret-value")).toHaveCount(0);
  expect(await page.content()).not.toContain(value);

  // Copy without showing.
  await page.getByRole("button", { name: "Copy value" }).click();
  await expect(page.getByRole("button", { name: "Copy value ✓" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(value);
  expect(await page.content()).not.toContain(value);
  await page.evaluate(() => navigator.clipboard.writeText(""));

  // A new version from a file.
  const dir = mkdtempSync(join(tmpdir(), "coffer-ui-file-"));
  const file = join(dir, "cert.pem");
  writeFileSync(file, "-----BEGIN TEST-----\nabc\n-----END TEST-----\n");
  await page.getByRole("button", { name: "New version" }).click();
  await page.getByLabel("a file").check();
  await page.getByLabel("File (at most 512 KiB)").setInputFiles(file);
  await page.getByRole("button", { name: "Store new version" }).click();
  await expect(page.getByTestId("version-2")).toBeVisible();
  rmSync(dir, { recursive: true, force: true });
  const v2 = await coffer.api<{ value: string }>("GET", `/v1/vaults/${v.id}/secrets/svc/token`);
  expect(v2.value).toContain("BEGIN TEST");

  // Server-side rotation with length and charset.
  await page.getByRole("button", { name: "Rotate…" }).click();
  await page.getByLabel("Length", { exact: true }).fill("48");
  await page.getByLabel("Characters", { exact: true }).selectOption("hex");
  await page.getByRole("button", { name: "Rotate now" }).click();
  await expect(page.getByTestId("version-3")).toBeVisible();
  const v3 = await coffer.api<{ value: string; version: number }>("GET", `/v1/vaults/${v.id}/secrets/svc/token`);
  expect(v3.value).toMatch(/^[0-9a-f]{48}$/);

  // Disable version 1.
  await page.getByRole("button", { name: "Disable version 1" }).click();
  await expect(page.getByTestId("version-1")).toContainText("disabled");

  // Aliases, promote and rollback.
  await page.getByLabel("Alias", { exact: true }).fill("current");
  await page.getByLabel("Version", { exact: true }).fill("2");
  await page.getByRole("button", { name: "Set alias" }).click();
  await expect(page.getByTestId("aliases")).toContainText("current → v2");
  await page.getByLabel("Alias", { exact: true }).fill("pending");
  await page.getByLabel("Version", { exact: true }).fill("3");
  await page.getByRole("button", { name: "Set alias" }).click();
  await expect(page.getByTestId("aliases")).toContainText("pending → v3");
  await page.getByRole("button", { name: "Promote pending" }).click();
  await expect(page.getByTestId("aliases")).toContainText("current → v3");
  await page.getByRole("button", { name: "Roll back" }).click();
  await expect(page.getByTestId("aliases")).toContainText("current → v2");
  await page.getByRole("button", { name: "Remove alias pending" }).click();
  await expect(page.getByTestId("aliases")).not.toContainText("pending");

  // Schedule, then remove it.
  await page.getByRole("button", { name: "Schedule…" }).click();
  await page.getByLabel("Interval (e.g. 30d, 12h)").fill("7d");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByText(/scheduled, next/)).toBeVisible();
  await page.getByRole("button", { name: "Schedule…" }).click();
  await page.getByRole("button", { name: "Remove schedule" }).click();
  await expect(page.getByTestId("rotation")).toHaveText("not scheduled");

  // Usage: the reveal and the copy were reads.
  await expect(page.getByTestId("usage")).toBeVisible();
  await expect(page.getByTestId("timeline")).toBeVisible();
  await shot(page, "secret");

  // Retention on the vault.
  await page.goto(`/ui/#/vaults/${v.id}/settings`);
  await page.getByLabel("Versions each secret keeps (0: no limit)").fill("5");
  await page.getByRole("button", { name: "Save retention" }).click();
  await expect(page.getByText("Retention saved.")).toBeVisible();
  expect((await coffer.api<{ max_versions: number }>("GET", `/v1/vaults/${v.id}`)).max_versions).toBe(5);

  // Delete with a typed confirmation.
  await page.goto(`/ui/#/vaults/${v.id}/secret/svc/token`);
  await page.getByRole("button", { name: "Delete secret" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("button", { name: "Delete secret" })).toBeDisabled();
  await dialog.getByLabel(/Type svc\/token/).fill("svc/token");
  await dialog.getByRole("button", { name: "Delete secret" }).click();
  await expect(page.getByRole("heading", { name: `Vault ${v.name}` })).toBeVisible();
  await expect(page.getByText("No secrets here.")).toBeVisible();

  await expectNotLeaked(page, watch, value);
  await expectNotLeaked(page, watch, v3.value);
});
