import { ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { promisify } from "node:util";

/** The repository root: the server runs from here so it finds `target/site`. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** The binary `cargo leptos build --release` produces. */
export const AMBOY_BIN =
  process.env.AMBOY_E2E_BIN ?? path.join(REPO_ROOT, "target", "release", "amboy");

/** The server under test (its port is set by playwright.config.ts). */
export function serverUrl(): string {
  const port = process.env.AMBOY_E2E_PORT;
  if (!port) {
    throw new Error("AMBOY_E2E_PORT is not set: run the tests through playwright.config.ts");
  }
  return `http://127.0.0.1:${port}`;
}

const execFileAsync = promisify(execFile);

/** Submits one job with the CLI, through the server's API. */
export async function submitJob(queue: string, type: string, payload: unknown): Promise<void> {
  await execFileAsync(
    AMBOY_BIN,
    [
      "submit",
      "--url",
      serverUrl(),
      "--queue",
      queue,
      "--type",
      type,
      "--payload",
      JSON.stringify(payload),
    ],
    { cwd: REPO_ROOT, timeout: 30_000 },
  );
}

/** A free loopback port. */
export function freePort(): Promise<number> {
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
 * Starts another `amboy serve` on `port` with `databaseUrl` and extra
 * environment (tokens), and waits until it answers `/healthz`.
 */
export async function startServer(
  port: number,
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const server = spawn(
    AMBOY_BIN,
    ["serve", "--database-url", databaseUrl, "--listen", `127.0.0.1:${port}`],
    { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: "ignore" },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      server.kill("SIGKILL");
      throw new Error(`amboy serve on port ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Puts one job through the REST API of the shared server; returns its id. */
export async function putJob(job: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${serverUrl()}/api/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(job),
  });
  if (response.status !== 201) {
    throw new Error(`put ${JSON.stringify(job)}: ${response.status} ${await response.text()}`);
  }
  return (await response.json()).id;
}

/** A job as the REST API returns it (the fields the tests read). */
export interface ApiJob {
  id: string;
  state: string;
  attempts: { attempt: number; outcome: string; error: string | null }[];
}

/** Reads one job through the REST API. */
export async function getJob(id: string): Promise<ApiJob> {
  const response = await fetch(`${serverUrl()}/api/v1/jobs/${encodeURIComponent(id)}`);
  if (!response.ok) throw new Error(`get ${id}: ${response.status}`);
  return response.json();
}

/** Retries a job through the REST API. */
export async function retryJob(id: string): Promise<void> {
  const response = await fetch(`${serverUrl()}/api/v1/jobs/${encodeURIComponent(id)}/retry`, {
    method: "POST",
  });
  if (!response.ok) throw new Error(`retry ${id}: ${response.status} ${await response.text()}`);
}

/** Waits until the job is in `state` (the engine's own wait, up to 30 s). */
export async function waitForState(id: string, state: string): Promise<ApiJob> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await getJob(id);
    if (job.state === state) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job.state}, not ${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
