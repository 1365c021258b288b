import type { Client as WsClient, SubscribePayload } from "graphql-ws";
import WebSocket from "ws";

/** How a subscription's first answer came back. */
export type SubscriptionOutcome =
  | { kind: "data"; data: Record<string, any> }
  | { kind: "errors"; errors: Array<{ message: string; extensions?: Record<string, any> }> }
  | { kind: "closed"; code: number; reason: string }
  | { kind: "complete" };

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value;
}

/**
 * Subscribes with a graphql-ws client and resolves with the first thing that comes back: a
 * result, the operation's errors, the socket closing, or completion. Unsubscribes after.
 * Rejects when nothing arrives within `timeoutMs`.
 */
export function firstOutcome(client: WsClient, payload: SubscribePayload, timeoutMs = 5_000): Promise<SubscriptionOutcome> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let unsubscribe: () => void = () => undefined;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      unsubscribe();
      reject(new Error(`no subscription outcome within ${timeoutMs} ms for ${payload.query.slice(0, 80)}`));
    }, timeoutMs);
    const finish = (outcome: SubscriptionOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
      setImmediate(() => unsubscribe());
    };
    unsubscribe = client.subscribe(payload, {
      next: (result) => {
        if (result.errors?.length) finish({ kind: "errors", errors: result.errors as any });
        else finish({ kind: "data", data: (result.data ?? {}) as Record<string, any> });
      },
      error: (err) => {
        if (Array.isArray(err)) finish({ kind: "errors", errors: err });
        else if (isCloseEvent(err)) finish({ kind: "closed", code: err.code, reason: err.reason });
        else {
          settled = true;
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
      complete: () => finish({ kind: "complete" }),
    });
  });
}

/**
 * Opens a raw graphql-transport-ws socket, sends `connection_init` with `payload`, and resolves
 * with how the server answered: `ack`, or the close code and reason.
 */
export function rawConnectionInit(
  wsUrl: string,
  payload: Record<string, unknown> | undefined,
  timeoutMs = 5_000,
): Promise<{ kind: "ack"; socket: WebSocket } | { kind: "closed"; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, "graphql-transport-ws");
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer to connection_init within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init", ...(payload ? { payload } : {}) })));
    socket.on("message", (raw) => {
      const msg = JSON.parse(String(raw)) as { type: string };
      if (msg.type === "connection_ack") {
        clearTimeout(timer);
        resolve({ kind: "ack", socket });
      }
    });
    socket.once("close", (code, reason) => {
      clearTimeout(timer);
      resolve({ kind: "closed", code, reason: reason.toString("utf8") });
    });
  });
}
