import { expect, test } from "@playwright/test";
import path from "node:path";

import { REPO_ROOT, putJob, waitForState } from "../support";

const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

test("the workers page shows the server's process and aborts what it runs", async ({ page }) => {
  const id = await putJob({ queue: "e2e-workers", type: "sleep", payload: { ms: 120_000 } });
  await waitForState(id, "running");
  await page.goto("/workers");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  const worker = page.locator('article.worker[data-status="alive"]').first();
  await expect(worker).toBeVisible();
  await expect(worker.getByTestId("heartbeat")).toHaveText(/s ago$/);
  const row = worker.locator(`tr[data-job="${id}"]`);
  await expect(row).toBeVisible();
  await page.screenshot({ path: path.join(SCREENSHOTS, "workers.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SCREENSHOTS, "workers-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  await row.getByTestId("abort-running").click();
  await expect(page.getByTestId("abort-result")).toHaveText(/stop it|Aborted/);
  await waitForState(id, "aborted");
  // The page follows: the job leaves the list without a reload.
  await expect(row).toHaveCount(0, { timeout: 30_000 });
});
