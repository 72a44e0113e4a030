import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { AMBOY_BIN, REPO_ROOT } from "./support";

/**
 * Browser tests for the dashboard, run against a real `amboy serve` built by
 * `cargo leptos build --release`, on a free loopback port and a fresh SQLite
 * file, in Debian's Chromium (never a browser Playwright downloads).
 *
 * The port and database are chosen once, in the main Playwright process, and
 * published through the environment so worker processes (which load this file
 * again) and the tests see the same values.
 */

if (!process.env.AMBOY_E2E_PORT) {
  // Ask the OS for a free port from a child process, since config loading is synchronous.
  process.env.AMBOY_E2E_PORT = execFileSync(process.execPath, [
    "-e",
    "const s = require('net').createServer();" +
      "s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });",
  ])
    .toString()
    .trim();
}

if (!process.env.AMBOY_E2E_DATABASE_URL) {
  // `make test` passes a database in a directory it removes afterwards; an ad-hoc
  // `npx playwright test` gets a fresh one under the system temp directory.
  const dir = mkdtempSync(path.join(tmpdir(), "amboy-e2e-"));
  process.env.AMBOY_E2E_DATABASE_URL = `sqlite://${dir}/amboy.db?mode=rwc`;
}

const port = process.env.AMBOY_E2E_PORT;
const databaseUrl = process.env.AMBOY_E2E_DATABASE_URL;
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  // One server and one database are shared, so tests run one at a time.
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    viewport: { width: 1280, height: 800 },
    trace: "retain-on-failure",
    browserName: "chromium",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `"${AMBOY_BIN}" serve --database-url "${databaseUrl}" --listen 127.0.0.1:${port}`,
    cwd: REPO_ROOT,
    url: `${baseURL}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    // Let the server drain its workers; Playwright kills it if it takes longer.
    gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
  },
});
