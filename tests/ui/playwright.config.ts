// Playwright for the dashboard: Debian's Chromium, headless, one worker (each worker starts its
// own coffer server; see fixtures.ts), screenshots of the main pages into artifacts/.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.ts",
  outputDir: "artifacts/results",
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: { executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium" },
    trace: "off",
    screenshot: "only-on-failure",
  },
});
