/**
 * The sampling distributions behind the drift p-values, written here rather than taken from a
 * package: no small maintained npm library covers the two-sample Kolmogorov–Smirnov distribution,
 * and adding a dependency would touch the shared install. Each function follows the algorithm
 * SciPy (1.10) uses, so that our p-values equal `scipy.stats.ks_2samp` and `scipy.stats.chisquare`
 * to ~1e-9 relative (see test/monitoring/distributions.test.ts for the reference values).
 */

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~1e-15 relative). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  x -= 1;
  let a = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (x + i);
  const t = x + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function: the series for P
 * below x = a + 1 and Lentz's continued fraction for Q above it, where Q is small and must keep
 * its relative accuracy (Numerical Recipes §6.2).
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gammaQ: a = ${a} must be > 0`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  const logPrefix = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < 10_000; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-17) break;
    }
    return 1 - sum * Math.exp(logPrefix);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(logPrefix) * h;
}

/** P(X > x) for X ~ χ²(dof): scipy.stats.chi2.sf. */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(dof > 0)) return NaN;
  return gammaQ(dof / 2, x / 2);
}

/** numpy's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clip01 = (p: number) => Math.min(1, Math.max(0, p));
const E128 = 2 ** 128;
const EM128 = 2 ** -128;

/**
 * P(D⁺ₙ ≥ x), the exact one-sided one-sample Smirnov survival function (scipy.special.smirnov),
 * by the Birnbaum–Tingey sum x · Σ_j C(n, j) (1 − x − j/n)^(n−j) (x + j/n)^(j−1), every term
 * positive and summed in log space so that large n neither overflows nor cancels.
 */
export function smirnov(n: number, x: number): number {
  if (!(x > 0)) return 1;
  if (x >= 1) return 0;
  const last = Math.floor(n * (1 - x));
  let logC = 0; // ln C(n, j)
  let sum = 0;
  let prev = Infinity;
  for (let j = 0; j <= last; j++) {
    if (j > 0) logC += Math.log(n - j + 1) - Math.log(j);
    const lower = (n - j - n * x) / n; // 1 − x − j/n without forming 1 − x first
    if (lower <= 0) break;
    const term = Math.exp(logC + (n - j) * Math.log(lower) + (j - 1) * Math.log(x + j / n));
    sum += term;
    // The terms rise to one peak and fall (log-concave in j): once falling and negligible, stop.
    if (term < prev && term < sum * 1e-18) break;
    prev = term;
  }
  return clip01(x * sum);
}

// The series' coefficients as published, more digits than a double holds: the literal is the reference.
/* eslint-disable no-loss-of-precision */
const STIRLING = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4, -5.952380952380952381e-4,
  7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2,
];
/* eslint-enable no-loss-of-precision */

/** ln(n! / nⁿ) by Stirling's series with n·ln n taken out (SciPy's _log_nfactorial_div_n_pow_n). */
function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + rn * poly;
}

/** Pr(Dₙ ≤ d) by Durbin's matrix method as Marsaglia, Tsang & Wang (2003) evaluate it. */
function kolmogorovCdfDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Float64Array = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - i + 1];
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];

  const matmul = (a: Float64Array, b: Float64Array): Float64Array => {
    const out = new Float64Array(m * m);
    for (let i = 0; i < m; i++)
      for (let l = 0; l < m; l++) {
        const ail = a[i * m + l];
        if (ail === 0) continue;
        for (let j = 0; j < m; j++) out[i * m + j] += ail * b[l * m + j];
      }
    return out;
  };
  let power: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) power[i * m + i] = 1;
  let nn = n;
  let exponent = 0;
  let hExponent = 0;
  while (nn > 0) {
    if (nn % 2) {
      power = matmul(power, H);
      exponent += hExponent;
    }
    H = matmul(H, H);
    hExponent *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > E128) {
      for (let i = 0; i < H.length; i++) H[i] /= E128;
      hExponent += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = power[(k - 1) * m + (k - 1)];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      exponent -= 128;
    }
  }
  return exponent !== 0 ? p * 2 ** exponent : p;
}

/** The Pelz–Good asymptotic series for Pr(Dₙ ≤ x), SciPy's _kolmogn_PelzGood with cdf=True. */
function kolmogorovCdfPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const PI2 = Math.PI ** 2;
  const PI4 = Math.PI ** 4;
  const PI6 = Math.PI ** 6;
  const z = Math.sqrt(n) * x;
  const z2 = z ** 2;
  const z3 = z ** 3;
  const z4 = z ** 4;
  const z6 = z ** 6;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m ** 2;
    const m4 = m ** 4;
    const m6 = m ** 6;
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qpower + coeffs[i];
  }
  const SQRT2PI = Math.sqrt(2 * Math.PI);
  const denominators = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / denominators[i];
  q = Math.exp(-PI2 / 2 / z2);
  const sqrt3z = Math.sqrt(3) * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    k2extra += k2 * qp;
    const kpi = Math.PI * k;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qp;
  }
  K[2] += (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i] / n ** (i / 2);
  return sum;
}

/**
 * P(Dₙ > x) for the two-sided one-sample Kolmogorov–Smirnov statistic (scipy.stats.kstwo.sf):
 * the choice of method by region is Simard & L'Ecuyer's (2011), as in SciPy's _kolmogn. (SciPy
 * uses Pomeranz's recursion where we use Durbin's matrix for n ≤ 140 and 0.754693 < n·x² ≤ 4;
 * both are exact there, and the matrix stays small: at most 47 × 47.)
 */
export function kolmogorovSurvival(n: number, x: number): number {
  if (!(Number.isInteger(n) && n > 0)) return NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    return clip01(1 - prob);
  }
  if (t >= n - 1) return clip01(2 * (1 - x) ** n);
  if (x >= 0.5) return clip01(2 * smirnov(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4) return clip01(1 - kolmogorovCdfDurbin(n, x));
    return clip01(2 * smirnov(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip01(2 * smirnov(n, x));
  let cdf: number;
  if (nx2 >= 18) cdf = 1;
  else if (n <= 100_000 && n * x ** 1.5 <= 1.4) cdf = kolmogorovCdfDurbin(n, x);
  else cdf = kolmogorovCdfPelzGood(n, x);
  return clip01(1 - cdf);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Pr(D_{n,n} ≥ h/n), SciPy's _compute_prob_outside_square (a Horner form of the alternating sum). */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
  }
  return 2 * P;
}

/**
 * The share of lattice paths from (0,0) to (m,n) that leave the band |x/m − y/n| < h/lcm,
 * computed as 1 − p directly (Viehmann 2021), as SciPy's _compute_outer_prob_inside_method.
 */
function outerProbInside(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, Math.min(lenA, maxj - minj + (lastlen - curlen)));
  }
  return A[maxj - minj - 1];
}

export type KsMethod = "exact" | "asymp";

/**
 * The two-sided p-value of a two-sample KS statistic `d` for sample sizes n1 and n2, as
 * scipy.stats.ks_2samp with method "auto": exact when both samples have ≤ 10,000 values,
 * otherwise kstwo.sf(d, round(n1·n2/(n1+n2))). The exact method snaps d to the lattice h/lcm
 * and SciPy returns that snapped d as the statistic, so it is returned here too.
 */
export function ksTwoSamplePValue(
  d: number,
  n1: number,
  n2: number,
  method: "auto" | KsMethod = "auto",
): { statistic: number; pValue: number; method: KsMethod } {
  let mode: KsMethod = method === "auto" ? (Math.max(n1, n2) <= 10_000 ? "exact" : "asymp") : method;
  const g = gcd(n1, n2);
  if (mode === "exact" && n1 / g >= 2147483647 / (n2 / g)) mode = "asymp";
  if (mode === "exact") {
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    const snapped = h / lcm;
    if (h === 0) return { statistic: snapped, pValue: 1, method: "exact" };
    const prob = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
    if (prob >= 0 && prob <= 1) return { statistic: snapped, pValue: prob, method: "exact" };
    // SciPy falls back to the asymptotic distribution when the exact sum under- or overflows.
    d = snapped;
  }
  const [big, small] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (big * small) / (big + small);
  return { statistic: d, pValue: clip01(kolmogorovSurvival(roundHalfEven(en), d)), method: "asymp" };
}
