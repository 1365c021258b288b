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
}

/** The one PostgreSQL channel that carries every bus channel between server processes. */
const PG_CHANNEL = "sluice_bus";
/** NOTIFY payloads must stay under 8000 bytes; larger messages travel as their id only. */
const MAX_NOTIFY_BYTES = 7000;

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
 */
export class MessageBus {
  private readonly local = new EventEmitter();
  private readonly codecs = new Map<string, ChannelCodec<StreamMessage>>();
  private listener: Client | undefined;
  private closed = false;

  private constructor(
    private readonly db: Database,
    private readonly log: Logger,
  ) {
    // Each subscription adds a listener; dashboards may open thousands.
    this.local.setMaxListeners(0);
  }

  /** Starts the bus; on PostgreSQL opens the dedicated LISTEN connection. */
  static async start(db: Database, databaseUrl: string | undefined, log: Logger): Promise<MessageBus> {
    const bus = new MessageBus(db, log);
    if (db.kind === "postgres" && databaseUrl) await bus.listen(databaseUrl);
    return bus;
  }

  /** Declares a channel and how its messages travel. */
  register<T extends StreamMessage>(channel: string, codec: ChannelCodec<T>): void {
    this.codecs.set(channel, codec as unknown as ChannelCodec<StreamMessage>);
  }

  get database(): Database {
    return this.db;
  }

  private async listen(databaseUrl: string): Promise<void> {
    const client = new Client({ connectionString: databaseUrl, application_name: "sluice-bus" });
    client.on("error", (err) => this.log.error({ err }, "message bus listener connection failed"));
    client.on("notification", (msg) => {
      if (msg.channel !== PG_CHANNEL || !msg.payload) return;
      this.receive(JSON.parse(msg.payload) as Envelope).catch((err) => this.log.error({ err }, "could not deliver a message"));
    });
    await client.connect();
    await client.query(`LISTEN ${PG_CHANNEL}`);
    this.listener = client;
  }

  private async receive(envelope: Envelope): Promise<void> {
    const codec = this.codecs.get(envelope.c);
    if (!codec) return;
    if (envelope.m !== undefined) {
      this.local.emit(envelope.c, codec.decode(envelope.m));
      return;
    }
    if (envelope.id !== undefined) for (const m of await codec.fetch([envelope.id])) this.local.emit(envelope.c, m);
  }

  /**
   * Publishes `messages` as part of the transaction `tx`. On PostgreSQL the NOTIFY is sent inside
   * it, so every process receives them exactly when, and in the order, the transaction commits
   * (publishing after commit would let two close commits arrive swapped); in-process, listeners
   * get them after commit. Nothing is delivered for a transaction that rolls back.
   */
  async publishWith<T extends StreamMessage>(tx: TransactionHooks, channel: string, messages: readonly T[]): Promise<void> {
    if (messages.length === 0 || this.closed) return;
    if (!this.listener) {
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
    if (!this.listener) {
      for (const m of messages) this.local.emit(channel, m);
      return;
    }
    await this.db.dataSource.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [PG_CHANNEL, this.payloads(channel, messages)]);
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
    this.local.removeAllListeners();
    if (this.listener) await this.listener.end().catch(() => undefined);
  }
}
