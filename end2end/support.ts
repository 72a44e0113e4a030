import { execFile } from "node:child_process";
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
