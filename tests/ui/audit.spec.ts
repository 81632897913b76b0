// The audit trail: filter by action, vault, actor and time, page through it, verify the chain;
// and the vault's activity picture.
import { expect, shot, signIn, test, uniq } from "./fixtures";

test("audit: filters, paging and chain verification", async ({ page, coffer }) => {
  const v = await coffer.api<{ id: string; name: string }>("POST", "/v1/vaults", { name: uniq("aud") });
  await coffer.api("PUT", `/v1/vaults/${v.id}/secrets/a/b`, { value: "v", type: "api_key" });
  for (let i = 0; i < 55; i++) await coffer.api("GET", `/v1/vaults/${v.id}/secrets/a/b`);
  const me = await coffer.api<{ id: string }>("GET", "/v1/me");
  await signIn(page, coffer);
  await page.getByRole("link", { name: "Audit" }).click();
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
