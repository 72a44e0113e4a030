import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

/** The repository root: the server runs from here so it finds `target/site`. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** The binary `cargo leptos build --release` produces. */
export const AMBOY_BIN =
  process.env.AMBOY_E2E_BIN ?? path.join(REPO_ROOT, "target", "release", "amboy");

/** The database the server under test uses (set by playwright.config.ts). */
export function databaseUrl(): string {
  const url = process.env.AMBOY_E2E_DATABASE_URL;
  if (!url) {
    throw new Error("AMBOY_E2E_DATABASE_URL is not set: run the tests through playwright.config.ts");
  }
  return url;
}

const execFileAsync = promisify(execFile);

/** Submits one job with the CLI, straight into the server's database. */
export async function submitJob(queue: string, type: string, payload: unknown): Promise<void> {
  await execFileAsync(
    AMBOY_BIN,
    [
      "submit",
      "--database-url",
      databaseUrl(),
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
