import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { KEY_BYTES, type SecretKey, secretKeyOf } from "./cipher";

/** Where the key comes from: `SLUICE_SECRET_KEY`, the key file in the data dir, or this process only. */
export type SecretKeySource = "env" | "file" | "memory";

/** Name of the key file in the data dir, used when `SLUICE_SECRET_KEY` is unset. */
export const KEY_FILE = "secret.key";

/** Where the key may come from (the server's configuration has these). */
export interface SecretKeySettings {
  /** `SLUICE_SECRET_KEY`, decoded; undefined when unset. */
  readonly secretKey: Buffer | undefined;
  /** The data folder holding the key file, or `memory://`. */
  readonly dataDir: string;
  /** Set when the database is PostgreSQL (shared by several servers). */
  readonly databaseUrl: string | undefined;
}

/**
 * The key secrets are encrypted under, chosen at start:
 * - `SLUICE_SECRET_KEY` when set;
 * - else `<dataDir>/secret.key`, created once with mode 0600 (base64 of 32 random bytes) and
 *   read on later starts;
 * - else, with an in-memory database (`memory://`), a random key for this process: its secrets
 *   cannot be read after a restart, which is all an in-memory database outlives anyway.
 *
 * With PostgreSQL, every server process sharing the database must hold the same key, which
 * only the environment variable guarantees; without it a warning is logged. Nothing here logs
 * the key.
 *
 * @throws Error when the key file exists but does not hold 32 bytes in base64.
 */
export async function loadSecretKey(
  config: SecretKeySettings,
  log: Pick<Logger, "warn">,
): Promise<{ key: SecretKey; source: SecretKeySource }> {
  if (config.secretKey) return { key: secretKeyOf(config.secretKey), source: "env" };
  let loaded: { key: SecretKey; source: SecretKeySource };
  if (config.dataDir === "memory://") {
    loaded = { key: secretKeyOf(randomBytes(KEY_BYTES)), source: "memory" };
  } else {
    loaded = { key: secretKeyOf(await readOrCreateKeyFile(path.join(config.dataDir, KEY_FILE))), source: "file" };
  }
  if (config.databaseUrl) {
    log.warn(
      { secretKeySource: loaded.source, keyId: loaded.key.id },
      loaded.source === "file"
        ? `SLUICE_SECRET_KEY is not set: secrets are encrypted under the key file ${path.join(config.dataDir, KEY_FILE)}; every server sharing this PostgreSQL database needs the same key, so set SLUICE_SECRET_KEY on all of them`
        : "SLUICE_SECRET_KEY is not set: secrets are encrypted under a key that lives only in this process and cannot be read after a restart or by other servers; set SLUICE_SECRET_KEY",
    );
  }
  return loaded;
}

/**
 * Reads the key file, or creates it when there is none: written whole to a temporary file
 * (mode 0600), then hard-linked into place, which fails if another process got there first —
 * so a reader never sees a half-written key, and two starting servers end with one key.
 */
async function readOrCreateKeyFile(file: string): Promise<Buffer> {
  try {
    return await readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  const key = randomBytes(KEY_BYTES);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(temp, `${key.toString("base64")}\n`, { flag: "wx", mode: 0o600 });
  try {
    await fs.link(temp, file);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readKeyFile(file);
    throw err;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

async function readKeyFile(file: string): Promise<Buffer> {
  const text = (await fs.readFile(file, "utf8")).trim();
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) {
    throw new Error(`The secret key file ${file} does not hold ${KEY_BYTES} bytes in base64; restore it, or set SLUICE_SECRET_KEY`);
  }
  return key;
}
