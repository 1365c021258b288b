/**
 * A Prometheus label whose values come from names users choose (pipelines, stages, endpoints):
 * the first `max` distinct values are kept as they are, later ones are reported as `other`, so
 * no one can grow a metrics registry without bound by creating names. Values that are not
 * reasonable label text (too long, control characters) are `invalid_name`.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    /** Most distinct values kept; the bound of the label set is `max + 2` (with `other` and `invalid_name`). */
    readonly max: number,
    /** Longest value kept; longer ones are `invalid_name`. */
    readonly maxLength = 128,
  ) {}

  /** The label value for `name`. */
  of(name: string): string {
    if (this.seen.has(name)) return name;
    if (name.length === 0 || name.length > this.maxLength || /[\p{Cc}]/u.test(name)) return "invalid_name";
    if (this.seen.size >= this.max) return "other";
    this.seen.add(name);
    return name;
  }

  /** Distinct values kept so far. */
  get size(): number {
    return this.seen.size;
  }
}
