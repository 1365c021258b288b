import { Client } from "pg";
import type { Logger } from "pino";

/** Key of the session advisory lock whose holder is the trigger leader. */
export const TRIGGER_LEADER_LOCK = 7_404_020;

export interface LeaderElectionOptions {
  /** PostgreSQL URL for the lock connection; undefined (PGlite, one process) means always leader. */
  databaseUrl: string | undefined;
  /** How often a follower tries for the lock, and a leader checks its connection. */
  retryMs: number;
  log: Logger;
  /** Called on becoming leader; leadership counts from when it resolves. */
  onGain(): Promise<void>;
  /** Called on losing leadership (connection lost, or stopping). */
  onLoss(): Promise<void>;
}

/**
 * One leader among the server processes sharing a database. On PostgreSQL the leader is the
 * process holding a session advisory lock (`pg_try_advisory_lock`) on a connection of its own,
 * outside the TypeORM pool, so the lock lives exactly as long as that connection: a process that
 * dies or loses the connection loses leadership, and PostgreSQL lets another take the lock.
 * Followers try again every `retryMs`; the leader checks its connection as often. On PGlite there
 * is one process, which leads.
 *
 * For a moment two processes may both believe they lead (the old leader has not noticed its
 * connection is gone); everything a leader does is therefore idempotent (fires are deduplicated).
 */
export class LeaderElection {
  private client: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  /** Gains and losses run one after the other, never interleaved. */
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly options: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Makes the first attempt (and becomes leader if it wins) before resolving. Also rejoins after `stop`. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.attempt();
  }

  private transition(step: () => Promise<void>): Promise<void> {
    this.transitions = this.transitions.then(step, step);
    return this.transitions;
  }

  private async gain(): Promise<void> {
    if (this.stopped || this.leading) return;
    this.leading = true;
    this.options.log.info("became the trigger leader");
    try {
      await this.options.onGain();
    } catch (err) {
      // Half a leader helps nobody: step down (closing the connection frees the lock) and retry.
      this.options.log.error({ err }, "could not start leading; stepping down to try again");
      this.dropConnection();
      await this.lose("could not start leading");
    }
  }

  private async lose(reason: string): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.options.log.warn({ reason }, "no longer the trigger leader");
    try {
      await this.options.onLoss();
    } catch (err) {
      this.options.log.error({ err }, "could not stop leading cleanly");
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(), this.options.retryMs);
    this.timer.unref();
  }

  /** One round: connect if needed; a follower tries for the lock, a leader checks its connection. */
  private async attempt(): Promise<void> {
    if (this.stopped) return;
    if (!this.options.databaseUrl) {
      if (!this.leading) await this.transition(() => this.gain());
      if (!this.leading) this.schedule();
      return;
    }
    try {
      const client = this.client ?? (await this.connect());
      if (this.leading) {
        await client.query("SELECT 1");
      } else {
        const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [TRIGGER_LEADER_LOCK]);
        if (rows[0]?.ok && client === this.client) await this.transition(() => this.gain());
      }
    } catch (err) {
      this.options.log.warn({ err }, "trigger leader election: the lock connection failed");
      this.dropConnection();
      await this.transition(() => this.lose("the lock connection failed"));
    }
    this.schedule();
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.options.databaseUrl,
      application_name: "sluice-trigger-leader",
      keepAlive: true,
      query_timeout: Math.max(5_000, this.options.retryMs),
    });
    const onGone = (err?: Error) => {
      if (this.client !== client) return;
      if (err) this.options.log.warn({ err }, "trigger leader election: the lock connection was lost");
      this.dropConnection();
      void this.transition(() => this.lose("the lock connection was lost"));
    };
    client.on("error", onGone);
    client.on("end", () => onGone());
    this.client = client;
    try {
      await client.connect();
    } catch (err) {
      this.dropConnection();
      throw err;
    }
    return client;
  }

  private dropConnection(): void {
    const client = this.client;
    this.client = undefined;
    if (client) void client.end().catch(() => undefined);
  }

  /** Stops trying; a leader stops leading, then closes the connection, which releases the lock. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.transition(() => this.lose("stopping"));
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
