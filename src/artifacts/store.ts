/**
 * The artifact store: content-addressed bytes behind an interface, so a local folder (the
 * default, under the data directory) and an S3-compatible bucket are interchangeable.
 * An artifact is a file or a folder; a folder's hash covers every file's relative path,
 * content and execute bit, and its empty folders, so equal trees get equal hashes wherever they
 * were written (`hash.ts` defines the hashes; links are refused). `local-store.ts` is the
 * local implementation.
 */
export interface StoredObject {
  /** `sha256:<64 hex>`. */
  hash: string;
  /** Bytes (the sum of the files for a folder). */
  size: number;
  /** Where it lives, e.g. `file:///…/.sluice/artifacts/sha256/ab/cd…` or `s3://bucket/key`. */
  uri: string;
  /** Whether the object is a folder of files rather than one file. */
  isDirectory: boolean;
}

export interface PutOptions {
  /**
   * Give the source away instead of copying it: it is renamed into the store when it is on the
   * same filesystem (no bytes copied), else copied and then deleted. Either way the source path
   * is gone afterwards, also when the store already held the content. The moved files are made
   * read-only in place, so move only files nothing else holds: a single file with other hard
   * links is copied rather than renamed, but files with hard links inside a folder are not
   * checked. @default false (copy; the source is left as it was)
   */
  move?: boolean;
}

export interface ArtifactStore {
  /**
   * Stores the file or folder at `localPath` (moving or copying it) and returns its address.
   * Storing the same content again returns the same hash and uri and writes nothing new.
   */
  put(localPath: string, options?: PutOptions): Promise<StoredObject>;
  /** A local path to read the object at `uri` from (downloading it first when remote). */
  localPath(uri: string): Promise<string>;
  /** A readable stream of a single-file object, for HTTP downloads. */
  openRead(uri: string): Promise<NodeJS.ReadableStream>;
  exists(uri: string): Promise<boolean>;
}
