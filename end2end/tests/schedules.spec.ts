import { expect, test } from "@playwright/test";
import path from "node:path";

import { REPO_ROOT, waitForState } from "../support";

const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

test("an operator creates a schedule in the form and sees its jobs run", async ({ page }) => {
  const name = "e2e-every-2s";
  await page.goto("/schedules");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("new-schedule").click();
  await expect(page).toHaveURL("/schedules/new");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");

  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Queue").fill("e2e-schedules");
  await page.getByLabel("Job type").fill("noop");
  // A cron expression is checked as it is typed: the error names the field.
  const cron = page.getByLabel(/Cron expression/);
  await cron.fill("61 2 * * *");
  await expect(page.getByTestId("preview-error")).toContainText("minute");
  await expect(cron).toHaveAttribute("aria-invalid", "true");
  await cron.fill("30 2 * * *");
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  const fires = page.getByTestId("preview-fires").locator("li");
  await expect(fires).toHaveCount(5);
  await expect(fires.first()).toContainText("02:30:00");
  await expect(page.getByTestId("schedule-preview")).toContainText("In Europe/Berlin");
  await expect(cron).not.toHaveAttribute("aria-invalid", "true");
  await page.screenshot({ path: path.join(SCREENSHOTS, "schedule-new.png"), fullPage: true });

  // Every two seconds instead; created, it fires on its own.
  await page.getByLabel("every interval").check();
  await page.getByLabel(/Every \(e\.g\./).fill("2s");
  await expect(fires).toHaveCount(5);
  await page.getByTestId("save-schedule").click();
  await expect(page).toHaveURL(`/schedules/${name}`);
  await expect(page.getByTestId("schedule-status")).toHaveText("enabled");

  // Its fires show up once read again; the last job has run.
  const lastJob = page.getByTestId("schedule-facts").getByRole("link");
  await expect(async () => {
    await page.reload();
    await expect(lastJob).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  const jobId = (await lastJob.textContent())!.trim();
  await waitForState(jobId, "completed");
  await page.screenshot({ path: path.join(SCREENSHOTS, "schedule.png"), fullPage: true });

  // Run now puts one more, at once.
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("schedule-run").click();
  const result = page.getByTestId("schedule-result");
  await expect(result).toHaveText(/Put job \S+\./);
  const ran = (await result.textContent())!.match(/Put job (\S+)\./)![1];
  await waitForState(ran, "completed");

  // Disabled from the list; deleted from its page.
  await page.goto("/schedules");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  const row = page.locator(`tr[data-schedule="${name}"]`);
  await row.getByTestId("schedule-disable").click();
  await expect(row.locator(".badge")).toHaveText("disabled");
  await page.screenshot({ path: path.join(SCREENSHOTS, "schedules.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SCREENSHOTS, "schedules-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await row.getByRole("link", { name, exact: true }).click();
  await expect(page).toHaveURL(`/schedules/${name}`);
  await page.getByTestId("schedule-delete").click();
  await expect(page).toHaveURL("/schedules");
  await expect(page.locator(`tr[data-schedule="${name}"]`)).toHaveCount(0);
});
