import type { MessageBus, StreamMessage } from "./message-bus";

/** Rows read per replay query when a subscriber catches up from its cursor. */
export const REPLAY_PAGE = 1000;
/**
 * Messages buffered for one subscriber that is not reading. Past this the subscription ends
 * with an error rather than hold memory for ever; the client resumes from its last cursor.
 */
export const MAX_SUBSCRIBER_BACKLOG = 10_000;

export interface StreamOptions<T extends StreamMessage> {
  bus: MessageBus;
  channel: string;
  /** Which live messages this subscriber wants. */
  matches: (message: T) => boolean;
  /** Stored messages after `afterId` (exclusive) that match, oldest first, at most REPLAY_PAGE. */
  replay: (afterId: string) => Promise<T[]>;
  /** Resume after this id; undefined means live messages only. */
  afterId?: string;
  onClose?: () => void;
}

/**
 * One subscriber's view of a stream: stored messages after its cursor, then live ones, none
 * missed or repeated in between. Live delivery is attached before the replay query runs; live
 * messages that arrive meanwhile wait, and any already replayed are skipped by id. `return()`
 * detaches at once, even while the consumer is waiting. Correct when, for the rows a
 * subscriber can see, ids commit in increasing order (each writer of a stream ensures that).
 */
export class StreamSubscription<T extends StreamMessage> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private readonly heldLive: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  private lastId: bigint | undefined;
  private replaying: boolean;
  private finished = false;
  private failure: Error | undefined;
  private readonly onMessage = (message: T) => {
    if (!this.options.matches(message)) return;
    if (this.replaying) this.heldLive.push(message);
    else this.deliver(message);
  };

  /**
   * The bus lost and regained its LISTEN connection: messages of a channel it does not catch up
   * itself may have been missed meanwhile, so replay them from this subscriber's cursor.
   */
  private readonly onResumed = () => {
    if (this.finished || this.replaying || this.lastId === undefined) return;
    this.replaying = true;
    this.catchUp().catch((err: Error) => this.fail(err));
  };

  constructor(private readonly options: StreamOptions<T>) {
    options.bus.on(options.channel, this.onMessage);
    if (!options.bus.catchesUp(options.channel)) options.bus.onResumed(this.onResumed);
    this.replaying = options.afterId !== undefined;
    if (options.afterId !== undefined) {
      this.lastId = BigInt(options.afterId);
      this.catchUp().catch((err: Error) => this.fail(err));
    }
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const rows = await this.options.replay(String(this.lastId));
      for (const row of rows) this.deliver(row);
      if (rows.length < REPLAY_PAGE || this.finished) break;
    }
    this.replaying = false;
    for (const row of this.heldLive.splice(0)) this.deliver(row);
  }

  private deliver(message: T): void {
    if (this.finished) return;
    const id = BigInt(message.id);
    if (this.lastId !== undefined && id <= this.lastId) return;
    this.lastId = id;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: message, done: false });
      return;
    }
    if (this.queue.length >= MAX_SUBSCRIBER_BACKLOG) {
      this.fail(new Error(`Subscriber fell ${MAX_SUBSCRIBER_BACKLOG} messages behind; resubscribe from the last cursor received`));
      return;
    }
    this.queue.push(message);
  }

  private fail(err: Error): void {
    this.failure = err;
    this.detach();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
  }

  private detach(): void {
    if (this.finished) return;
    this.finished = true;
    this.options.bus.off(this.options.channel, this.onMessage);
    this.options.bus.offResumed(this.onResumed);
    this.options.onClose?.();
  }

  next(): Promise<IteratorResult<T>> {
    const message = this.queue.shift();
    if (message) return Promise.resolve({ value: message, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.detach();
    this.queue.length = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** Tracks open subscriptions so a closing server can end them all. */
export class SubscriptionRegistry {
  private readonly open = new Set<StreamSubscription<StreamMessage>>();

  subscribe<T extends StreamMessage>(options: StreamOptions<T>): StreamSubscription<T> {
    const sub: StreamSubscription<T> = new StreamSubscription<T>({
      ...options,
      onClose: () => {
        this.open.delete(sub as unknown as StreamSubscription<StreamMessage>);
        options.onClose?.();
      },
    });
    this.open.add(sub as unknown as StreamSubscription<StreamMessage>);
    return sub;
  }

  async closeAll(): Promise<void> {
    for (const sub of [...this.open]) await sub.return();
  }
}
