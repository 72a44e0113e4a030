import { expect, test } from "@playwright/test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { REPO_ROOT, freePort, startServer } from "../support";

const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

/**
 * The page's live stream survives the server going away: the indicator
 * says so, and the page reconnects by itself when the server is back.
 * A server of its own, since this one gets killed.
 */
test("the stream reconnects after the server restarts", async ({ page }) => {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "amboy-e2e-live-"));
  const database = `sqlite://${dir}/amboy.db?mode=rwc`;
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(port, database);
  try {
    await page.goto(`${base}/`);
    const indicator = page.locator(".connection");
    await expect(indicator).toHaveAttribute("data-connection", "live");

    server.kill("SIGKILL");
    await expect(indicator).toHaveAttribute("data-connection", "reconnecting");
    await expect(page.getByRole("status")).toHaveText(/reconnecting/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "overview-reconnecting.png") });

    server = await startServer(port, database);
    // Back-off is at most 10 s between attempts.
    await expect(indicator).toHaveAttribute("data-connection", "live", { timeout: 20_000 });
  } finally {
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
