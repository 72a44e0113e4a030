import { expect, test } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { AMBOY_BIN, REPO_ROOT } from "../support";

const VIEWER = "e2e-viewer-token";
const OPERATOR = "e2e-operator-token";
const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A second `amboy serve`, this one with tokens, on its own port and
 * database; the shared server of the other tests runs without.
 */
test.describe("with tokens configured", () => {
  let server: ChildProcess;
  let base: string;
  let dir: string;

  test.beforeAll(async () => {
    const port = await freePort();
    dir = mkdtempSync(path.join(tmpdir(), "amboy-e2e-login-"));
    base = `http://127.0.0.1:${port}`;
    server = spawn(
      AMBOY_BIN,
      [
        "serve",
        "--database-url",
        `sqlite://${dir}/amboy.db?mode=rwc`,
        "--listen",
        `127.0.0.1:${port}`,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, AMBOY_VIEWER_TOKEN: VIEWER, AMBOY_OPERATOR_TOKEN: OPERATOR },
        stdio: "ignore",
      },
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error("the server with tokens did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test.afterAll(async () => {
    server?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  test("the dashboard asks for a token, signs in and out", async ({ page }) => {
    await page.goto(`${base}/`);
    await expect(page).toHaveURL(`${base}/login?next=%2F`);
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
    await page.screenshot({ path: path.join(SCREENSHOTS, "login.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SCREENSHOTS, "login-phone.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });

    // A wrong token: back to the form, with an error a screen reader hears.
    await page.getByLabel("Token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText(/not valid/);
    await expect(page).toHaveURL(/error=invalid/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "login-refused.png"), fullPage: true });

    // The viewer token, from the keyboard: back to the overview, signed in.
    await page.getByLabel("Token").fill(VIEWER);
    await page.getByLabel("Token").press("Enter");
    await expect(page).toHaveURL(`${base}/`);
    await expect(page.getByRole("heading", { name: "Queues" })).toBeVisible();
    await expect(page.getByTestId("role")).toHaveText("viewer");
    await page.screenshot({ path: path.join(SCREENSHOTS, "signed-in.png") });

    // Signing out ends the session: the dashboard asks again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${base}/login`);
    await page.goto(`${base}/`);
    await expect(page).toHaveURL(/\/login\?next=/);
  });
});
