import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

/** The model version id recorded for requests refused before any model version was chosen. */
export const NO_MODEL_VERSION = "00000000-0000-0000-0000-000000000000";

/**
 * Request statistics of one served name (endpoint), model version and variant in one minute,
 * summed over every server process: each process accumulates in memory and adds its figures to
 * the minute's row every few seconds (endpoint-stats-recorder.ts).
 *
 * No foreign keys, like the prediction log: written in the background, it must not make deleting
 * a project or model wait on its rows.
 */
@Entity({ name: "endpoint_stats" })
@Index("endpoint_stats_key_idx", ["projectId", "servedName", "modelVersionId", "variant", "minute"], { unique: true })
@Index("endpoint_stats_project_minute_idx", ["projectId", "minute"])
export class EndpointStatRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  /** The name requests were addressed to: a deployment's endpoint or a registered model's name. */
  @Column({ name: "served_name", type: "text" })
  servedName: string;

  /** The registry's version that answered; {@link NO_MODEL_VERSION} when the request was refused before one was chosen. */
  @Column({ name: "model_version_id", type: "uuid" })
  modelVersionId: string;

  /** `primary`, `canary` or `shadow` (copies of requests, never seen by the caller). */
  @Column({ type: "text" })
  variant: string;

  /** The start of the minute (UTC) the requests ended in. */
  @Column({ type: "timestamptz", precision: 3 })
  minute: Date;

  /** Requests, whatever their outcome. */
  @Column({ type: "int", default: 0 })
  requests: number;

  /** Requests answered 400/413: the request was wrong (serving's `bad_request` outcome). */
  @Column({ name: "bad_requests", type: "int", default: 0 })
  badRequests: number;

  /** Requests answered 409: the served version may not serve (serving's `refused` outcome). */
  @Column({ type: "int", default: 0 })
  refused: number;

  /** Requests that failed inside the server (500; serving's `error` outcome). */
  @Column({ name: "server_errors", type: "int", default: 0 })
  serverErrors: number;

  /** Rows (instances) of the requests that were decoded. */
  @Column({ type: "bigint", default: 0 })
  rows: string;

  /** Sum of the latencies of answered (`ok`) requests, in milliseconds. */
  @Column({ name: "latency_ms_sum", type: "double precision", default: 0 })
  latencyMsSum: number;

  /** Answered requests per latency bucket (not cumulative; bounds in histogram.ts, the last is +Inf). */
  @Column({ name: "latency_buckets", type: "int", array: true })
  latencyBuckets: number[];

  /**
   * CPU milliseconds of onnxruntime runs for these requests: the PROCESS's CPU time
   * (`process.cpuUsage()`) over each `session.run`, shared among the batch's requests by rows.
   * Other work of the process during the run is counted too.
   */
  @Column({ name: "cpu_ms", type: "double precision", default: 0 })
  cpuMs: number;
}
