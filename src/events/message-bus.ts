import { EventEmitter } from "node:events";
import { Client } from "pg";
import type { Logger } from "pino";
import type { EntityManager } from "typeorm";
import type { Database } from "../db/data-source";

/** What `publishWith` needs of a transaction: to run a statement in it, and a hook for after commit. */
export interface TransactionHooks {
  manager: EntityManager;
  afterCommit(fn: () => void | Promise<void>): void;
}

/** A message on a channel: a stored row, identified by its stream id (the subscription cursor). */
export interface StreamMessage {
  id: string;
}

/** Turns a message back into its row type, or fetches it when only its id travelled. */
export interface ChannelCodec<T extends StreamMessage> {
  encode(message: T): unknown;
  decode(data: unknown): T;
  /** Loads messages by id, for those too large for a NOTIFY payload. */
  fetch(ids: string[]): Promise<T[]>;
  /** A smaller form of a message too large for a NOTIFY payload, tried before sending the id only. */
  shrink?(message: T): T;
  /**
   * Stored messages with ids after `afterId`, oldest first, at most `limit`: lets the bus publish
   * what it missed while its LISTEN connection was down. Only for streams whose ids commit in
   * order (events); channels without it are live only across a reconnect.
   */
  after?(afterId: string, limit: number): Promise<T[]>;
  /** The newest stored id ("0" when none); the cursor `after` starts from. Required with `after`. */
  latestId?(): Promise<string>;
}

/** The one PostgreSQL channel that carries every bus channel between server processes. */
const PG_CHANNEL = "sluice_bus";
/** NOTIFY payloads must stay under 8000 bytes; larger messages travel as their id only. */
const MAX_NOTIFY_BYTES = 7000;
/** Rows read per query when catching up after the listener reconnects. */
const CATCH_UP_PAGE = 1000;

/** How the LISTEN connection is watched and re-opened. */
export interface ListenerSettings {
  /** First wait before reconnecting; each failed try doubles it. @default 250 */
  reconnectBaseMs: number;
  /** Longest wait between reconnection tries (before jitter). @default 5000 */
  reconnectMaxMs: number;
  /** How often the open connection is checked with a query (a silent network loss sends no error). @default 10000 */
  checkIntervalMs: number;
}

const DEFAULT_LISTENER: ListenerSettings = { reconnectBaseMs: 250, reconnectMaxMs: 5_000, checkIntervalMs: 10_000 };

/** The wait before reconnection try `attempt` (0-based): exponential, capped, with jitter in [½, 1] of it. */
export function reconnectDelay(attempt: number, settings: ListenerSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.reconnectMaxMs, settings.reconnectBaseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

interface Envelope {
  c: string;
  m?: unknown;
  id?: string;
}

/**
 * Delivers committed messages (events, log chunks, metric points) to listeners in this process
 * and, on PostgreSQL, through LISTEN/NOTIFY to every server process, this one included, so
 * that each process sees one order. Messages are rows already committed; the bus never carries
 * anything that is not also stored, so a subscriber can always catch up from the table.
 *
 * The LISTEN connection is watched: when it ends, errors or fails a periodic check, the bus
 * reconnects with capped exponential backoff and jitter, LISTENs again, and for each channel
 * whose codec can read `after` a cursor (events) publishes here, in id order and once each,
 * what was committed while it was not listening. Meanwhile `listening` is false (`/readyz`).
 */
export class MessageBus {
  private readonly local = new EventEmitter();
  /** Told when the LISTEN connection is back after a loss (see `onResumed`). */
  private readonly resumed = new EventEmitter();
  private everConnected = false;
  private readonly codecs = new Map<string, ChannelCodec<StreamMessage>>();
  /** On PostgreSQL every publish is a NOTIFY, whether or not this process is listening now. */
  private readonly distributed: boolean;
  private listener: Client | undefined;
  private connected = false;
  private closed = false;
  /** Last id delivered here, per channel that can catch up. */
  private readonly cursors = new Map<string, bigint>();
  /** Deliveries run one after another, so an id-only message fetched late keeps its place. */
  private delivery: Promise<void> = Promise.resolve();
  /** Notifications that arrive while catching up wait here. */
  private held: Envelope[] | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private caughtUp = 0;

  private constructor(
    private readonly db: Database,
    private readonly databaseUrl: string | undefined,
    private readonly log: Logger,
    private readonly settings: ListenerSettings,
  ) {
    // Each subscription adds a listener; dashboards may open thousands.
    this.local.setMaxListeners(0);
    this.resumed.setMaxListeners(0);
    this.distributed = db.kind === "postgres" && Boolean(databaseUrl);
  }

  /**
   * Creates the bus. Channels are registered next, then `open` starts listening on PostgreSQL
   * (so the cursors of catching-up channels start at the newest stored row).
   */
  static create(db: Database, databaseUrl: string | undefined, log: Logger, settings: Partial<ListenerSettings> = {}): MessageBus {
    return new MessageBus(db, databaseUrl, log, { ...DEFAULT_LISTENER, ...settings });
  }

  /** On PostgreSQL opens the dedicated LISTEN connection (the first try must succeed). */
  async open(): Promise<void> {
    if (!this.distributed) return;
    for (const [channel, codec] of this.codecs) if (codec.latestId) this.cursors.set(channel, BigInt(await codec.latestId()));
    await this.connect();
    this.checkTimer = setInterval(() => void this.check(), this.settings.checkIntervalMs);
    this.checkTimer.unref();
  }

  /** Declares a channel and how its messages travel. */
  register<T extends StreamMessage>(channel: string, codec: ChannelCodec<T>): void {
    this.codecs.set(channel, codec as unknown as ChannelCodec<StreamMessage>);
  }

  get database(): Database {
    return this.db;
  }

  /** Messages published here by catching up after a reconnect (they were missed while not listening). */
  get caughtUpMessages(): number {
    return this.caughtUp;
  }

  /** False while this process is not receiving other processes' messages (its LISTEN connection is down). */
  get listening(): boolean {
    return !this.distributed || this.connected;
  }

  private async connect(): Promise<void> {
    // Timeouts so that a database that stops answering (rather than refusing) is also noticed.
    const client = new Client({
      connectionString: this.databaseUrl,
      application_name: "sluice-bus",
      keepAlive: true,
      connectionTimeoutMillis: this.settings.checkIntervalMs,
      query_timeout: this.settings.checkIntervalMs,
    });
    this.listener = client;
    this.held = [];
    const lost = (err?: Error) => {
      if (this.listener !== client) return;
      this.log.warn({ err }, "message bus listener connection lost; reconnecting");
      this.drop();
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (msg) => {
      if (this.listener !== client || msg.channel !== PG_CHANNEL || !msg.payload) return;
      const envelope = JSON.parse(msg.payload) as Envelope;
      if (this.held) this.held.push(envelope);
      else this.enqueue(envelope);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${PG_CHANNEL}`);
      // Listening again: what committed while not listening is read from the tables, then the
      // notifications that arrived meanwhile (each skipped when already delivered).
      await this.serially(() => this.catchUp());
    } catch (err) {
      if (this.listener === client) this.drop();
      throw err;
    }
    if (this.listener !== client) throw new Error("the message bus listener connection closed while opening");
    const held = this.held ?? [];
    this.held = undefined;
    for (const envelope of held) this.enqueue(envelope);
    this.connected = true;
    if (this.failures > 0) this.log.info({ tries: this.failures }, "message bus listener reconnected");
    this.failures = 0;
    if (this.everConnected) this.resumed.emit("resumed");
    this.everConnected = true;
  }

  private drop(): void {
    const client = this.listener;
    this.listener = undefined;
    this.connected = false;
    this.held = undefined;
    if (client) void client.end().catch(() => undefined);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const wait = reconnectDelay(this.failures, this.settings);
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.connect().catch((err: unknown) => {
        this.log.warn({ err, tries: this.failures }, "message bus listener could not reconnect yet");
        this.scheduleReconnect();
      });
    }, wait);
    this.reconnectTimer.unref();
  }

  /** The periodic check: a query on the LISTEN connection; a failure is a lost connection. */
  private async check(): Promise<void> {
    const client = this.listener;
    if (!client || !this.connected) return;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("the listener check timed out")), this.settings.checkIntervalMs).unref(),
    );
    try {
      await Promise.race([client.query("SELECT 1"), timeout]);
    } catch (err) {
      if (this.listener !== client) return;
      this.log.warn({ err }, "message bus listener check failed; reconnecting");
      this.drop();
      this.scheduleReconnect();
    }
  }

  /** Publishes here, in order, the stored messages after each catching-up channel's cursor. */
  private async catchUp(): Promise<void> {
    for (const [channel, codec] of this.codecs) {
      if (!codec.after) continue;
      for (;;) {
        const cursor = this.cursors.get(channel) ?? 0n;
        const rows = await codec.after(String(cursor), CATCH_UP_PAGE);
        for (const row of rows) if (this.emit(channel, row)) this.caughtUp += 1;
        if (rows.length < CATCH_UP_PAGE) break;
      }
    }
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const next = this.delivery.then(step);
    this.delivery = next.catch(() => undefined);
    return next;
  }

  private enqueue(envelope: Envelope): void {
    void this.serially(() => this.receive(envelope)).catch((err) => this.log.error({ err }, "could not deliver a message"));
  }

  /** Hands a message to local listeners, once: a catching-up channel skips ids at or before its cursor. */
  private emit(channel: string, message: StreamMessage): boolean {
    const cursor = this.cursors.get(channel);
    if (cursor !== undefined) {
      const id = BigInt(message.id);
      if (id <= cursor) return false;
      this.cursors.set(channel, id);
    }
    this.local.emit(channel, message);
    return true;
  }

  private async receive(envelope: Envelope): Promise<void> {
    const codec = this.codecs.get(envelope.c);
    if (!codec) return;
    if (envelope.m !== undefined) {
      this.emit(envelope.c, codec.decode(envelope.m));
      return;
    }
    if (envelope.id !== undefined) for (const m of await codec.fetch([envelope.id])) this.emit(envelope.c, m);
  }

  /**
   * Publishes `messages` as part of the transaction `tx`. On PostgreSQL the NOTIFY is sent inside
   * it, so every process receives them exactly when, and in the order, the transaction commits
   * (publishing after commit would let two close commits arrive swapped); in-process, listeners
   * get them after commit. Nothing is delivered for a transaction that rolls back.
   */
  async publishWith<T extends StreamMessage>(tx: TransactionHooks, channel: string, messages: readonly T[]): Promise<void> {
    if (messages.length === 0 || this.closed) return;
    if (!this.distributed) {
      tx.afterCommit(() => {
        for (const m of messages) this.local.emit(channel, m);
      });
      return;
    }
    await tx.manager.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [PG_CHANNEL, this.payloads(channel, messages)]);
  }

  private payloads<T extends StreamMessage>(channel: string, messages: readonly T[]): string[] {
    const codec = this.codecs.get(channel);
    if (!codec) throw new Error(`Channel ${channel} was not registered`);
    return messages.map((m) => {
      const full = JSON.stringify({ c: channel, m: codec.encode(m) } satisfies Envelope);
      if (Buffer.byteLength(full) <= MAX_NOTIFY_BYTES) return full;
      if (codec.shrink) {
        const small = JSON.stringify({ c: channel, m: codec.encode(codec.shrink(m)) } satisfies Envelope);
        if (Buffer.byteLength(small) <= MAX_NOTIFY_BYTES) return small;
      }
      return JSON.stringify({ c: channel, id: m.id } satisfies Envelope);
    });
  }

  /**
   * Hands messages already committed to listeners here and, through NOTIFY, in other processes.
   * For a stream with one writer (a stage's log); writers that may commit concurrently use
   * `publishWith` so that delivery follows commit order.
   */
  async publish<T extends StreamMessage>(channel: string, messages: readonly T[]): Promise<void> {
    if (messages.length === 0 || this.closed) return;
    if (!this.distributed) {
      for (const m of messages) this.local.emit(channel, m);
      return;
    }
    await this.db.dataSource.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [PG_CHANNEL, this.payloads(channel, messages)]);
  }

  /** Whether the bus itself publishes what `channel` missed while not listening (its codec has `after`). */
  catchesUp(channel: string): boolean {
    return this.codecs.get(channel)?.after !== undefined;
  }

  /**
   * Calls `listener` each time the LISTEN connection is back after a loss. Subscribers of channels
   * the bus does not catch up (logs, metrics) replay from their own cursor then.
   */
  onResumed(listener: () => void): void {
    this.resumed.on("resumed", listener);
  }

  offResumed(listener: () => void): void {
    this.resumed.off("resumed", listener);
  }

  on<T extends StreamMessage>(channel: string, listener: (message: T) => void): void {
    this.local.on(channel, listener as (m: StreamMessage) => void);
  }

  off<T extends StreamMessage>(channel: string, listener: (message: T) => void): void {
    this.local.off(channel, listener as (m: StreamMessage) => void);
  }

  listenerCount(channel: string): number {
    return this.local.listenerCount(channel);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.checkTimer);
    this.local.removeAllListeners();
    this.resumed.removeAllListeners();
    const client = this.listener;
    this.listener = undefined;
    this.connected = false;
    if (client) await client.end().catch(() => undefined);
  }
}
