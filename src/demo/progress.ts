/** How the demo tells what it is doing: numbered steps and indented details, on one stream. */
export class Progress {
  private step = 0;

  constructor(
    private readonly out: (line: string) => void,
    private readonly steps: number,
  ) {}

  /** A new step: `[demo 3/9] what`. */
  begin(what: string): void {
    this.step++;
    this.out(`[demo ${this.step}/${this.steps}] ${what}`);
  }

  /** A detail of the current step. */
  detail(what: string): void {
    this.out(`           ${what}`);
  }

  line(what = ""): void {
    this.out(what);
  }
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
export const fmt3 = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(3));
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
