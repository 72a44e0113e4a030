import { expect, test } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { REPO_ROOT, freePort, startServer } from "../support";

const VIEWER = "e2e-viewer-token";
const OPERATOR = "e2e-operator-token";
const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

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
    server = await startServer(port, `sqlite://${dir}/amboy.db?mode=rwc`, {
      AMBOY_VIEWER_TOKEN: VIEWER,
      AMBOY_OPERATOR_TOKEN: OPERATOR,
    });
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
    await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
    await expect(page.getByTestId("role")).toHaveText("viewer");
    await page.screenshot({ path: path.join(SCREENSHOTS, "signed-in.png") });

    // Signing out ends the session: the dashboard asks again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${base}/login`);
    await page.goto(`${base}/`);
    await expect(page).toHaveURL(/\/login\?next=/);
  });
});
