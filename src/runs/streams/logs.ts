import type { Logger } from "pino";
import { type Page, type PageArgs, type SortSpec, paginate } from "../../kernel/pagination";
import type { Database } from "../../db/data-source";
import type { MessageBus } from "../../events/message-bus";
import { REPLAY_PAGE, SubscriptionRegistry } from "../../events/stream-subscription";
import { StageLogRow } from "./stage-log.entity";

const CHANNEL = "logs";
/** A chunk is written once it holds this much text… */
const CHUNK_BYTES = 16 * 1024;
/** …or this long after its first line, whichever comes first. */
const FLUSH_MS = 100;

interface SerializedChunk {
  id: string;
  runId: string;
  stageRunId: string;
  attempt: number;
  stream: string;
  text: string;
  createdAt: string;
}

/** Stage logs: stored in bounded chunks, streamed live, replayed from a cursor, expired by age. */
export class LogService {
  private readonly subscriptions = new SubscriptionRegistry();

  constructor(
    private readonly db: Database,
    private readonly bus: MessageBus,
  ) {
    bus.register<StageLogRow>(CHANNEL, {
      encode: (r): SerializedChunk => ({ ...r, createdAt: r.createdAt.toISOString() }),
      decode: (d) => Object.assign(new StageLogRow(), { ...(d as SerializedChunk), createdAt: new Date((d as SerializedChunk).createdAt) }),
      fetch: (ids) =>
        db.dataSource.getRepository(StageLogRow).createQueryBuilder("l").where("l.id IN (:...ids)", { ids }).orderBy("l.id").getMany(),
    });
  }

  /** A writer for one attempt; the engine gives it the runner's output. */
  writer(ref: { runId: string; stageRunId: string; attempt: number }, log: Logger): StageLogWriter {
    return new StageLogWriter(this, ref, log);
  }

  /** Stores one chunk and publishes it. One writer per stage run appends in order. */
  async append(ref: { runId: string; stageRunId: string; attempt: number }, stream: string, text: string): Promise<void> {
    const row = await this.db.dataSource
      .getRepository(StageLogRow)
      .save(Object.assign(new StageLogRow(), { ...ref, stream, text, createdAt: new Date() }));
    await this.bus.publish(CHANNEL, [row]);
  }

  /** Chunks of one stage run after `afterId`, oldest first. */
  async read(stageRunId: string, afterId: string | undefined, limit = REPLAY_PAGE): Promise<StageLogRow[]> {
    return this.db.dataSource
      .getRepository(StageLogRow)
      .createQueryBuilder("l")
      .where("l.stageRunId = :stageRunId", { stageRunId })
      .andWhere("l.id > :after", { after: afterId ?? "0" })
      .orderBy("l.id", "ASC")
      .limit(limit)
      .getMany();
  }

  /** A page of one stage run's chunks (only `stream`'s when given), oldest first by default. */
  async page(stageRunId: string, stream: string | undefined, page: PageArgs, sort: SortSpec<StageLogRow>): Promise<Page<StageLogRow>> {
    const qb = this.db.dataSource.getRepository(StageLogRow).createQueryBuilder("l").where("l.stageRunId = :stageRunId", { stageRunId });
    if (stream) qb.andWhere("l.stream = :stream", { stream });
    return paginate(qb, page, sort);
  }

  /** Stored chunks after the cursor (all of them for `"0"`), then live ones. */
  subscribe(stageRunId: string, afterId: string | undefined): AsyncIterableIterator<StageLogRow> {
    return this.subscriptions.subscribe<StageLogRow>({
      bus: this.bus,
      channel: CHANNEL,
      matches: (r) => r.stageRunId === stageRunId,
      replay: (after) => this.read(stageRunId, after),
      afterId,
    });
  }

  /** Deletes chunks older than `before`; returns how many went. */
  async purge(before: Date): Promise<number> {
    const result = await this.db.dataSource
      .getRepository(StageLogRow)
      .createQueryBuilder()
      .delete()
      .where("created_at < :before", { before })
      .execute();
    return result.affected ?? 0;
  }

  async close(): Promise<void> {
    await this.subscriptions.closeAll();
  }
}

/**
 * Collects one attempt's output and writes it as chunks: a chunk per stream once it is large
 * enough or a moment old, so a chatty stage costs few rows and a quiet one still shows lines
 * within a tenth of a second. Writes happen one after another, keeping ids in order.
 */
export class StageLogWriter {
  private readonly pending = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly service: LogService,
    private readonly ref: { runId: string; stageRunId: string; attempt: number },
    private readonly log: Logger,
  ) {}

  write(stream: "stdout" | "stderr", text: string): void {
    const line = text.endsWith("\n") ? text : `${text}\n`;
    const buffered = (this.pending.get(stream) ?? "") + line;
    this.pending.set(stream, buffered);
    if (Buffer.byteLength(buffered) >= CHUNK_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const chunks = [...this.pending.entries()];
    this.pending.clear();
    for (const [stream, text] of chunks) {
      this.chain = this.chain
        .then(() => this.service.append(this.ref, stream, text))
        .catch((err) => this.log.warn({ err, stageRunId: this.ref.stageRunId }, "could not store a log chunk"));
    }
  }

  /** Writes what is left; resolves when every chunk is stored. */
  async close(): Promise<void> {
    this.flush();
    await this.chain;
  }
}
