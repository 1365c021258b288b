/**
 * Sorting numeric columns fast enough for a 3M-row drift window. `Float64Array.prototype.sort`
 * takes ~0.7–1.2 s for 3M values in V8, so a window of five features would blow the 1 s budget
 * on sorting alone. An LSD radix sort over the IEEE-754 bit pattern is linear: four 16-bit passes
 * at most, and a pass is skipped when every value has the same digit there (integer-valued
 * doubles such as delays or distances have all-zero low mantissa bits, so two passes suffice).
 */

/** Non-missing values (NaN dropped, −0 folded into 0) of `values`, ascending, plus how many were NaN. */
export function sortedFinite(values: Float64Array | Float32Array): { sorted: Float64Array; missing: number } {
  const n = values.length;
  let kept = 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === v) out[kept++] = v === 0 ? 0 : v; // v === v is false only for NaN
  }
  const sorted = kept === n ? out : out.slice(0, kept);
  radixSortFloat64(sorted);
  return { sorted, missing: n - kept };
}

const SIGN = 0x80000000;

/**
 * Sorts `a` ascending in place (no NaN expected; ±Infinity sort to the ends). Each double is
 * mapped to an unsigned 64-bit key whose order is numeric order (positive: flip the sign bit;
 * negative: flip every bit), sorted by 16-bit digits from the least significant, then mapped back.
 */
export function radixSortFloat64(a: Float64Array): void {
  const n = a.length;
  if (n < 2) return;
  if (n < 2048) {
    a.sort();
    return;
  }
  let src: Uint32Array = new Uint32Array(a.buffer, a.byteOffset, n * 2); // little-endian: [lo, hi] per value
  for (let i = 0; i < n; i++) {
    const hi = src[2 * i + 1];
    if (hi & SIGN) {
      src[2 * i] = ~src[2 * i];
      src[2 * i + 1] = ~hi;
    } else src[2 * i + 1] = hi | SIGN;
  }
  // One pass to histogram all four digits: digit d is 16 bits of word (d >> 1) at shift 16·(d & 1).
  const counts = new Uint32Array(4 * 65536);
  for (let i = 0; i < n; i++) {
    const lo = src[2 * i];
    const hi = src[2 * i + 1];
    counts[lo & 0xffff]++;
    counts[65536 + (lo >>> 16)]++;
    counts[131072 + (hi & 0xffff)]++;
    counts[196608 + (hi >>> 16)]++;
  }
  let dst: Uint32Array = new Uint32Array(n * 2);
  const original = src;
  for (let d = 0; d < 4; d++) {
    const base = d * 65536;
    // A digit shared by every value leaves the order as it is: skip the pass.
    let single = false;
    for (let b = 0; b < 65536; b++) {
      const c = counts[base + b];
      if (c === n) single = true;
      if (c !== 0) break;
    }
    if (single) continue;
    let sum = 0;
    for (let b = 0; b < 65536; b++) {
      const c = counts[base + b];
      counts[base + b] = sum;
      sum += c;
    }
    const word = d >> 1;
    const shift = (d & 1) * 16;
    for (let i = 0; i < n; i++) {
      const lo = src[2 * i];
      const hi = src[2 * i + 1];
      const digit = ((word === 0 ? lo : hi) >>> shift) & 0xffff;
      const at = 2 * counts[base + digit]++;
      dst[at] = lo;
      dst[at + 1] = hi;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  for (let i = 0; i < n; i++) {
    const hi = src[2 * i + 1];
    if (hi & SIGN) {
      original[2 * i] = src[2 * i];
      original[2 * i + 1] = hi & ~SIGN;
    } else {
      original[2 * i] = ~src[2 * i];
      original[2 * i + 1] = ~hi;
    }
  }
}
