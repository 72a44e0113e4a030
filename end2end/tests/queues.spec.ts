import { expect, test } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { REPO_ROOT, freePort, startServer, submitJob } from "../support";

const SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");
/** A queue no other test touches. */
const QUEUE = "e2e-queues";

test("an operator pauses, resumes and sets up a queue", async ({ page }) => {
  await submitJob(QUEUE, "noop", {});
  await page.goto("/queues");
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  const listed = page.locator(`tr[data-queue="${QUEUE}"]`);
  await expect(listed).toBeVisible();
  await page.screenshot({ path: path.join(SCREENSHOTS, "queues.png"), fullPage: true });

  await listed.getByRole("link", { name: QUEUE }).click();
  await expect(page).toHaveURL(`/queues/${QUEUE}`);
  await expect(page.getByRole("heading", { name: QUEUE })).toBeVisible();
  const status = page.getByTestId("queue-status");
  const counts = page.getByTestId("queue-counts");
  await expect(counts.locator('td[data-state="completed"]')).toHaveText("1", { timeout: 30_000 });

  // Paused: a new job waits.
  await expect(status).toHaveText("active");
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(status).toHaveText("paused");
  await submitJob(QUEUE, "noop", {});
  await expect(counts.locator('td[data-state="pending"]')).toHaveText("1");
  await page.waitForTimeout(1_500);
  await expect(counts.locator('td[data-state="pending"]')).toHaveText("1");
  // Resumed: it runs, and the counts follow without a reload.
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(status).toHaveText("active");
  await expect(counts.locator('td[data-state="completed"]')).toHaveText("2", { timeout: 30_000 });
  await expect(counts.locator('td[data-state="pending"]')).toHaveText("0");

  // Settings: saved and shown.
  await page.getByLabel("Workers per process").fill("3");
  await page.getByLabel(/Rate limit/).fill("50");
  await page.getByLabel(/Keep at most/).fill("100");
  await page.getByLabel(/Keep finished jobs for/).fill("7d");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();
  await page.screenshot({ path: path.join(SCREENSHOTS, "queue.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SCREENSHOTS, "queue-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // A mistake: a clear error, and nothing changes.
  await page.getByLabel(/Keep finished jobs for/).fill("soon");
  await page.getByLabel("Workers per process").fill("5");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("settings-error")).toHaveText(/keep for: "soon" is not a duration/);
  await page.reload();
  await expect(page.getByLabel("Workers per process")).toHaveValue("3");
  await expect(page.getByLabel(/Rate limit/)).toHaveValue("50");
  await expect(page.getByLabel(/Keep at most/)).toHaveValue("100");
  await expect(page.getByLabel(/Keep finished jobs for/)).toHaveValue("7d");
});

test.describe("a viewer", () => {
  const VIEWER = "e2e-queues-viewer";
  const OPERATOR = "e2e-queues-operator";
  let server: ChildProcess;
  let base: string;
  let dir: string;

  test.beforeAll(async () => {
    const port = await freePort();
    dir = mkdtempSync(path.join(tmpdir(), "amboy-e2e-queues-"));
    base = `http://127.0.0.1:${port}`;
    server = await startServer(port, `sqlite://${dir}/amboy.db?mode=rwc`, {
      AMBOY_VIEWER_TOKEN: VIEWER,
      AMBOY_OPERATOR_TOKEN: OPERATOR,
    });
    const created = await fetch(`${base}/api/v1/queues/reports`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${OPERATOR}`, "content-type": "application/json" },
      body: JSON.stringify({ concurrency: 2 }),
    });
    expect(created.status).toBe(200);
  });

  test.afterAll(async () => {
    server?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  async function signIn(page: import("@playwright/test").Page, token: string) {
    await page.goto(`${base}/queues/reports`);
    await page.getByLabel("Token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${base}/queues/reports`);
    await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  }

  test("sees the queue but no controls, and the server refuses changes", async ({ page }) => {
    await signIn(page, VIEWER);
    await expect(page.getByTestId("queue-status")).toHaveText("active");
    await expect(page.getByTestId("settings-list")).toContainText("2");
    await expect(page.getByRole("button", { name: "Pause" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "queue-viewer.png"), fullPage: true });
    // Asking anyway, with the viewer's session: refused, nothing changes.
    const refused = await page.request.post(`${base}/fn/op/pause_queue`, {
      form: { name: "reports", paused: "true" },
    });
    expect(refused.status()).toBe(403);
    await page.reload();
    await expect(page.getByTestId("queue-status")).toHaveText("active");
  });

  test("an operator gets the controls", async ({ page }) => {
    await signIn(page, OPERATOR);
    await page.getByRole("button", { name: "Pause" }).click();
    await expect(page.getByTestId("queue-status")).toHaveText("paused");
    await page.getByRole("button", { name: "Resume" }).click();
    await expect(page.getByTestId("queue-status")).toHaveText("active");
  });
});
