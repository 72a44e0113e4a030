import { expect, test } from "@playwright/test";
import path from "node:path";

import { REPO_ROOT, getJob, putJob, retryJob, waitForState } from "../support";

const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

/** A job that fails at once: nothing listens on port 1. */
function failing(queue: string): Record<string, unknown> {
  return {
    queue,
    type: "http",
    payload: { url: "http://127.0.0.1:1/", timeout_ms: 1000 },
    max_attempts: 1,
  };
}

test("an operator retries a failed job from its page and watches it run again", async ({ page }) => {
  const queue = "e2e-jobs-retry";
  const id = await putJob(failing(queue));
  await waitForState(id, "failed");

  await page.goto(`/jobs?state=failed&queue=${queue}`);
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  const row = page.locator(`tr[data-job="${id}"]`);
  await expect(row).toBeVisible();
  await row.getByRole("link", { name: id, exact: true }).click();
  await expect(page).toHaveURL(`/jobs/${id}`);
  await expect(page.getByTestId("job-state")).toHaveText("failed");
  const attempts = page.getByTestId("job-attempts").locator("li.attempt");
  await expect(attempts).toHaveCount(1);
  await expect(attempts.first()).toContainText("failed");
  await expect(page.getByTestId("job-payload")).toContainText("127.0.0.1:1");
  await page.screenshot({ path: path.join(SCREENSHOTS, "job.png"), fullPage: true });

  await page.getByTestId("job-retry").click();
  await expect(page.getByTestId("job-result")).toHaveText(/runs again/);
  // It runs and fails again: the page follows without a reload.
  await expect(attempts).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId("job-state")).toHaveText("failed");
  expect((await getJob(id)).attempts).toHaveLength(2);
});

test("an operator aborts a running job", async ({ page }) => {
  const id = await putJob({ queue: "e2e-jobs-abort", type: "sleep", payload: { ms: 120_000 } });
  await page.goto(`/jobs/${id}`);
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("job-state")).toHaveText("running", { timeout: 30_000 });
  await page.getByTestId("job-abort").click();
  await expect(page.getByTestId("job-result")).toHaveText(/stop it|Aborted/);
  await expect(page.getByTestId("job-state")).toHaveText("aborted", { timeout: 30_000 });
  expect((await getJob(id)).state).toBe("aborted");
});

test("an operator retries failed jobs in bulk: selected, then every match", async ({ page }) => {
  const queue = "e2e-jobs-bulk";
  await page.goto(`/jobs?state=failed&queue=${queue}`);
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("no-jobs")).toBeVisible();
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await putJob(failing(queue)));
  for (const id of ids) await waitForState(id, "failed");
  // The tab's count follows the stream; the list is read on demand.
  const failedTab = page.locator('[data-tab="failed"] .tab-count');
  await expect(failedTab).toHaveText("3", { timeout: 30_000 });
  await page.reload();
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("tr[data-job]")).toHaveCount(3);
  await page.screenshot({ path: path.join(SCREENSHOTS, "jobs.png"), fullPage: true });

  // The selected ones: one checkbox for the page, then Retry.
  await page.getByTestId("select-all").check();
  await expect(page.getByText("3 selected")).toBeVisible();
  await page.getByRole("button", { name: "Retry", exact: true }).click();
  await expect(page.getByTestId("bulk-result")).toHaveText("Retried 3 jobs.");
  for (const id of ids) {
    await expect.poll(async () => (await getJob(id)).attempts.length, { timeout: 30_000 }).toBe(2);
  }

  // Every job matching the filter, after a confirmation.
  for (const id of ids) await waitForState(id, "failed");
  await expect(failedTab).toHaveText("3", { timeout: 30_000 });
  await page.getByRole("button", { name: "retry all" }).click();
  await expect(page.getByRole("alertdialog")).toContainText("Retry all 3 jobs matching this filter?");
  // A job shown changes while the question is open: the page is read again
  // (rebuilding the bulk bar), and the question stays.
  const reread = page.waitForResponse((response) => response.url().includes("/fn/list_jobs"));
  await retryJob(ids[0]);
  await waitForState(ids[0], "failed");
  await reread;
  await expect(page.getByRole("alertdialog")).toContainText("Retry all 3 jobs matching this filter?");
  await page.getByTestId("confirm-bulk").click();
  await expect(page.getByTestId("bulk-result")).toHaveText("Retried 3 jobs.");
  for (const [i, id] of ids.entries()) {
    const attempts = i === 0 ? 4 : 3;
    await expect.poll(async () => (await getJob(id)).attempts.length, { timeout: 30_000 }).toBe(attempts);
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SCREENSHOTS, "jobs-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
});
