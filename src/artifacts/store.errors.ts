import { ErrorCode, SluiceError } from "../kernel/errors";

/**
 * Why the artifact store refused or failed an operation. Callers branch on this (and on
 * `code`), never on the message wording.
 */
export type ArtifactStoreProblem =
  /** A symbolic link in what was to be stored: it could point outside the artifact. */
  | "SYMLINK"
  /** Something other than a regular file or a folder (a socket, a FIFO, a device). */
  | "UNSUPPORTED_FILE_TYPE"
  /** The local path given to `put` (or hashed) does not exist. */
  | "SOURCE_NOT_FOUND"
  /** The local path given to `put` is the store's root, inside it, or contains it. */
  | "OVERLAPS_STORE"
  /** A uri that is not an object address of this store (another scheme, another folder, `..`). */
  | "NOT_IN_STORE"
  /** A well-formed uri of this store whose object is not there. */
  | "OBJECT_NOT_FOUND"
  /** A folder object asked for as a single file (`openRead`). */
  | "NOT_A_FILE"
  /** The source changed between hashing and copying; the copy was discarded. */
  | "CHANGED_WHILE_STORING"
  /** The store holds a file where this hash needs a folder, or the reverse. */
  | "KIND_CLASH";

const CODES: Record<ArtifactStoreProblem, ErrorCode> = {
  SYMLINK: ErrorCode.BAD_USER_INPUT,
  UNSUPPORTED_FILE_TYPE: ErrorCode.BAD_USER_INPUT,
  SOURCE_NOT_FOUND: ErrorCode.NOT_FOUND,
  OVERLAPS_STORE: ErrorCode.BAD_USER_INPUT,
  NOT_IN_STORE: ErrorCode.BAD_USER_INPUT,
  OBJECT_NOT_FOUND: ErrorCode.NOT_FOUND,
  NOT_A_FILE: ErrorCode.BAD_USER_INPUT,
  CHANGED_WHILE_STORING: ErrorCode.CONFLICT,
  KIND_CLASH: ErrorCode.CONFLICT,
};

/**
 * A refusal or failure of the artifact store (hashing included). `reason` says which; `code` is
 * the matching shared {@link ErrorCode}, and `details` carries `reason` plus the path or uri.
 */
export class ArtifactStoreError extends SluiceError {
  constructor(
    readonly reason: ArtifactStoreProblem,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(CODES[reason], message, { reason, ...details }, options);
    this.name = "ArtifactStoreError";
  }
}
