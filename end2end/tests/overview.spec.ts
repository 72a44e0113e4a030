import { expect, test } from "@playwright/test";
import path from "node:path";

import { REPO_ROOT, submitJob } from "../support";

/** How many jobs the live-update test submits. */
const JOBS = 3;
/** A queue no other test or default touches. */
const QUEUE = "e2e";
const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");

test("the overview is rendered on the server", async ({ request }) => {
  const response = await request.get("/");
  expect(response.status()).toBe(200);
  const html = await response.text();
  // The raw HTML, before any script runs, already holds the page and its data.
  expect(html).toContain("<h1>Overview</h1>");
  expect(html).toMatch(/data-testid="(queue-counts|no-queues)"/);
  expect(html).toContain('data-hydrated="false"');
  expect(html).toMatch(/<script[^>]+type="module"/);
});

test("an unknown path gets the 404 page", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("the overview hydrates and follows the queues without a reload", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  // The page follows the server's live stream.
  await expect(page.locator(".connection")).toHaveAttribute("data-connection", "live");
  await expect(page.getByRole("status")).toHaveText(/live/);
  const row = page.locator(`tr[data-queue="${QUEUE}"]`);
  await expect(row).toHaveCount(0);

  // Anything that reloads the page would drop this marker.
  await page.evaluate(() => {
    (window as unknown as { amboyE2eMarker: string }).amboyE2eMarker = "still here";
  });

  for (let i = 0; i < JOBS; i++) {
    await submitJob(QUEUE, "noop", {});
  }

  // The server's workers run the jobs; the stream shows them finish.
  await expect(row.locator('td[data-state="completed"]')).toHaveText(String(JOBS), {
    timeout: 30_000,
  });
  await expect(row.locator('td[data-state="total"]')).toHaveText(String(JOBS));
  await expect(row.locator('td[data-state="failed"]')).toHaveText("0");
  // The chart follows the throughput, a point a second; its ratio counts
  // the jobs that ended (other tests' failures included: one server).
  const chart = page.getByTestId("throughput-chart");
  await expect(chart).toContainText(/\d+\.\d % of the jobs that ended failed/, { timeout: 15_000 });
  await expect(chart.locator("polyline.completed")).toHaveAttribute("points", /\d+\.\d,\d+/);
  expect(
    await page.evaluate(() => (window as unknown as { amboyE2eMarker?: string }).amboyE2eMarker),
  ).toBe("still here");

  // Read again, the page lists the new queue's health too.
  await page.reload();
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  const health = page.getByTestId("queue-health").locator(`tr[data-queue="${QUEUE}"]`);
  await expect(health.locator('[data-health="waiting"]')).toHaveText("0");
  await page.screenshot({ path: path.join(SCREENSHOTS, "overview.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByTestId("queue-counts").locator(`tr[data-queue="${QUEUE}"]`)).toBeVisible();
  await page.screenshot({ path: path.join(SCREENSHOTS, "overview-phone.png"), fullPage: true });
});
