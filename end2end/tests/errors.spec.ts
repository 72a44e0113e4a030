import { expect, test } from "@playwright/test";
import path from "node:path";

import { REPO_ROOT, submitJob } from "../support";

const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

test("failed attempts are grouped on the errors page", async ({ page }) => {
  // Nothing listens on port 1: each attempt fails the same way.
  for (let i = 0; i < 2; i++) {
    await submitJob("e2e-errors", "http", { url: "http://127.0.0.1:1/", timeout_ms: 1000 });
  }
  await page.goto("/");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  // Through the page links, as a user would.
  await page.getByRole("link", { name: "Errors", exact: true }).click();
  await expect(page).toHaveURL(/\/errors$/);
  await expect(page.getByRole("heading", { name: "Errors" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Errors", exact: true })).toHaveAttribute("aria-current", "page");

  // Attempts fail and retry in the background: refresh until both failed.
  const row = page.locator('tr[data-job-type="http"]');
  await expect(async () => {
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect(row.locator("td.num")).toHaveText(/^[2-9]\d*$/, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(row.locator("td.message")).toContainText("127.0.0.1:1");
  await page.screenshot({ path: path.join(SCREENSHOTS, "errors.png"), fullPage: true });
});
