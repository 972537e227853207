// Iterative normalization (IterNorm, Huang et al., CVPR 2019): decorrelated batch norm whose
// whitening matrix Sigma^-1/2 is approximated by T Newton iterations instead of an
// eigendecomposition, so that forward and backward are plain matrix products. This is the
// lecture's "beyond" item: decorrelated batch norm (ZCA of the batch) / iterative normalization.
//
// Activations are viewed as (n, C, S) like batch norm (S = H*W for images, 1 for dense); the C
// channels are split into G groups of g = C/G consecutive channels, and each group is whitened
// over its m = n*S samples:
//   mu    = mean over the batch (per channel)                      xc = x - mu
//   Sigma = (1/m) xc xc^T + eps I         s = tr(Sigma)            SigmaN = Sigma / s
//   P_0 = I,  P_k = 1.5 P_{k-1} - 0.5 P_{k-1}^3 SigmaN   (k = 1..T)
//   W = P_T / sqrt(s)   (~ Sigma^-1/2: ZCA whitening as T grows)   xhat = W xc
//   y = gamma * xhat + beta   (per-channel affine, gamma = 1 and beta = 0 at init)
// Running statistics (momentum eta, as batch norm): run_mean = (1-eta) run_mean + eta mu,
// run_wm = (1-eta) run_wm + eta W (run_wm starts as the identity). Eval: y = gamma W_run (x -
// run_mean) + beta. This follows the authors' reference implementation (IterNorm in their
// PyTorch code); the backward below is the exact gradient of the forward (checked against
// torch autograd in test/kernels-iternorm.test.ts), not the paper's closed form.
//
// Saved for backward (`save`, see iterNormSaveSize): mean (C) | traces (G) | SigmaN (G g^2) |
// P_0..P_T (G (T+1) g^2). `tmp` is scratch of iterNormTmpSize floats. gamma/beta = -1: no affine.
// Gradients are OVERWRITTEN (dx, dgamma, dbeta), never accumulated into; dx = -1 skips dx.

export interface IterNormConfig {
  /** channels (features for dense) */
  C: number;
  /** spatial size H*W (1 for dense) */
  S: number;
  /** groups; C % G == 0 */
  G: number;
  /** Newton iterations */
  T: number;
  eps: number;
  /** running-average momentum */
  momentum: number;
}

export function iterNormSaveSize(c: IterNormConfig): number {
  const g = c.C / c.G;
  return c.C + c.G + c.G * g * g * (c.T + 2);
}

export function iterNormTmpSize(c: IterNormConfig): number {
  const g = c.C / c.G;
  return 8 * g * g;
}

// per-channel float64 sums (grown once, reused: no allocation per step)
let acc = new Float64Array(64);
function sums(k: number): Float64Array {
  if (acc.length < k) acc = new Float64Array(k);
  acc.fill(0, 0, k);
  return acc;
}

/** C = alpha * op(A) op(B) + beta * C for g x g matrices at heap offsets (op = transpose if t). */
function mm(H: Float32Array, g: number, a: number, ta: boolean, b: number, tb: boolean, c: number, alpha: number, beta: number): void {
  for (let i = 0; i < g; i++)
    for (let j = 0; j < g; j++) {
      let s = 0;
      for (let k = 0; k < g; k++) s += (ta ? H[a + k * g + i] : H[a + i * g + k]) * (tb ? H[b + j * g + k] : H[b + k * g + j]);
      H[c + i * g + j] = alpha * s + (beta === 0 ? 0 : beta * H[c + i * g + j]);
    }
}

function layout(c: IterNormConfig, save: number) {
  const g = c.C / c.G;
  const gg = g * g;
  const mean = save;
  const tr = save + c.C;
  const sn = tr + c.G;
  const P = sn + c.G * gg;
  return { g, gg, mean, tr, sn, P, pAt: (grp: number, k: number) => P + (grp * (c.T + 1) + k) * gg };
}

export function iterNormForwardTrain(
  H: Float32Array,
  c: IterNormConfig,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  save: number,
  tmp: number,
  runMean: number,
  runWm: number,
  n: number,
): void {
  const { C, S, G, T, eps, momentum: eta } = c;
  const { g, gg, mean, tr, sn, pAt } = layout(c, save);
  const m = n * S;
  const CS = C * S;
  // per-channel means
  const mu = sums(C);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < C; ch++) {
      const r = x + i * CS + ch * S;
      for (let j = 0; j < S; j++) mu[ch] += H[r + j];
    }
  for (let ch = 0; ch < C; ch++) H[mean + ch] = mu[ch] / m;
  const P2 = tmp,
    P3 = tmp + gg,
    W = tmp + 2 * gg;
  for (let grp = 0; grp < G; grp++) {
    const c0 = grp * g;
    const SN = sn + grp * gg;
    // Sigma (upper triangle summed in float64, mirrored)
    let trace = 0;
    for (let a = 0; a < g; a++)
      for (let b = a; b < g; b++) {
        const ma = H[mean + c0 + a],
          mb = H[mean + c0 + b];
        let s = 0;
        for (let i = 0; i < n; i++) {
          const ra = x + i * CS + (c0 + a) * S,
            rb = x + i * CS + (c0 + b) * S;
          for (let j = 0; j < S; j++) s += (H[ra + j] - ma) * (H[rb + j] - mb);
        }
        const v = s / m + (a === b ? eps : 0);
        H[SN + a * g + b] = v;
        H[SN + b * g + a] = v;
        if (a === b) trace += v;
      }
    H[tr + grp] = trace;
    for (let e = 0; e < gg; e++) H[SN + e] = H[SN + e] / trace;
    // Newton iterations
    const P0 = pAt(grp, 0);
    for (let e = 0; e < gg; e++) H[P0 + e] = e % (g + 1) === 0 ? 1 : 0;
    for (let k = 1; k <= T; k++) {
      const A = pAt(grp, k - 1),
        Pk = pAt(grp, k);
      mm(H, g, A, false, A, false, P2, 1, 0);
      mm(H, g, P2, false, A, false, P3, 1, 0);
      for (let e = 0; e < gg; e++) H[Pk + e] = 1.5 * H[A + e];
      mm(H, g, P3, false, SN, false, Pk, -0.5, 1);
    }
    const r = 1 / Math.sqrt(trace);
    const PT = pAt(grp, T);
    for (let e = 0; e < gg; e++) H[W + e] = H[PT + e] * r;
    if (runMean >= 0) for (let a = 0; a < g; a++) H[runMean + c0 + a] = (1 - eta) * H[runMean + c0 + a] + eta * H[mean + c0 + a];
    if (runWm >= 0) for (let e = 0; e < gg; e++) H[runWm + grp * gg + e] = (1 - eta) * H[runWm + grp * gg + e] + eta * H[W + e];
    whiten(H, c, x, W, mean, c0, gamma, beta, y, n);
  }
}

/** y[c0..c0+g) = gamma * (Wm (x - mu)) + beta for every sample position. */
function whiten(H: Float32Array, c: IterNormConfig, x: number, Wm: number, mu: number, c0: number, gamma: number, beta: number, y: number, n: number): void {
  const { C, S } = c;
  const g = c.C / c.G;
  const CS = C * S;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < S; j++) {
      const base = i * CS + c0 * S + j;
      for (let a = 0; a < g; a++) {
        let s = 0;
        for (let b = 0; b < g; b++) s += H[Wm + a * g + b] * (H[x + base + b * S] - H[mu + c0 + b]);
        const ga = gamma >= 0 ? H[gamma + c0 + a] : 1;
        const be = beta >= 0 ? H[beta + c0 + a] : 0;
        H[y + base + a * S] = ga * s + be;
      }
    }
}

/** Eval: the running mean and whitening matrix (G blocks of g x g at runWm). */
export function iterNormForwardEval(
  H: Float32Array,
  c: IterNormConfig,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  runMean: number,
  runWm: number,
  n: number,
): void {
  const g = c.C / c.G;
  for (let grp = 0; grp < c.G; grp++) whiten(H, c, x, runWm + grp * g * g, runMean, grp * g, gamma, beta, y, n);
}

export function iterNormBackward(
  H: Float32Array,
  c: IterNormConfig,
  x: number,
  gamma: number,
  dy: number,
  save: number,
  tmp: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  n: number,
): void {
  const { C, S, G, T } = c;
  const { g, gg, mean, tr, sn, pAt } = layout(c, save);
  const m = n * S;
  const CS = C * S;
  const W = tmp,
    dW = tmp + gg,
    dP = tmp + 2 * gg,
    dA = tmp + 3 * gg,
    dSN = tmp + 4 * gg,
    T1 = tmp + 5 * gg,
    T2 = tmp + 6 * gg,
    M = tmp + 7 * gg;
  for (let grp = 0; grp < G; grp++) {
    const c0 = grp * g;
    const SN = sn + grp * gg;
    const s = H[tr + grp];
    const r = 1 / Math.sqrt(s);
    const PT = pAt(grp, T);
    for (let e = 0; e < gg; e++) H[W + e] = H[PT + e] * r;
    // dgamma, dbeta, and dW = dxhat xc^T (dxhat = dy * gamma), in float64 sums
    const f = sums(2 * g + gg);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < S; j++) {
        const base = i * CS + c0 * S + j;
        for (let a = 0; a < g; a++) {
          const d = H[dy + base + a * S];
          let xh = 0;
          for (let b = 0; b < g; b++) xh += H[W + a * g + b] * (H[x + base + b * S] - H[mean + c0 + b]);
          f[a] += d * xh;
          f[g + a] += d;
          const dxh = gamma >= 0 ? d * H[gamma + c0 + a] : d;
          for (let b = 0; b < g; b++) f[2 * g + a * g + b] += dxh * (H[x + base + b * S] - H[mean + c0 + b]);
        }
      }
    for (let a = 0; a < g; a++) {
      if (dgamma >= 0) H[dgamma + c0 + a] = f[a];
      if (dbeta >= 0) H[dbeta + c0 + a] = f[g + a];
    }
    for (let e = 0; e < gg; e++) H[dW + e] = f[2 * g + e];
    if (dx < 0) continue;
    // W = P_T r, r = s^-1/2
    let ds = 0;
    for (let e = 0; e < gg; e++) {
      H[dP + e] = H[dW + e] * r;
      ds += H[dW + e] * H[PT + e];
    }
    ds *= -0.5 * r * r * r;
    // Newton iterations, backwards: P_k = 1.5 A - 0.5 A A A SN with A = P_{k-1}
    H.fill(0, dSN, dSN + gg);
    for (let k = T; k >= 1; k--) {
      const A = pAt(grp, k - 1);
      // dSN += -0.5 (A^3)^T dP
      mm(H, g, A, false, A, false, T1, 1, 0); // T1 = A A
      mm(H, g, T1, false, A, false, T2, 1, 0); // T2 = A^3
      mm(H, g, T2, true, dP, false, dSN, -0.5, 1);
      // dA = 1.5 dP - 0.5 [dP (A A SN)^T + A^T dP (A SN)^T + (A A)^T dP SN^T]
      mm(H, g, T1, false, SN, false, T2, 1, 0); // T2 = A A SN
      mm(H, g, dP, false, T2, true, dA, -0.5, 0);
      for (let e = 0; e < gg; e++) H[dA + e] += 1.5 * H[dP + e];
      mm(H, g, T1, true, dP, false, T2, 1, 0); // T2 = (A A)^T dP
      mm(H, g, T2, false, SN, true, dA, -0.5, 1);
      mm(H, g, A, false, SN, false, T1, 1, 0); // T1 = A SN
      mm(H, g, A, true, dP, false, T2, 1, 0); // T2 = A^T dP
      mm(H, g, T2, false, T1, true, dA, -0.5, 1);
      for (let e = 0; e < gg; e++) H[dP + e] = H[dA + e];
    }
    // SN = Sigma / s; s = tr(Sigma): dSigma = dSN / s + (ds - <dSN, SN> / s) I
    let dot = 0;
    for (let e = 0; e < gg; e++) dot += H[dSN + e] * H[SN + e];
    ds -= dot / s;
    // M = (dSigma + dSigma^T) / m
    for (let a = 0; a < g; a++)
      for (let b = 0; b < g; b++) {
        let v = (H[dSN + a * g + b] + H[dSN + b * g + a]) / s;
        if (a === b) v += 2 * ds;
        H[M + a * g + b] = v / m;
      }
    // dxc = W^T dxhat + M xc; dx = dxc - mean(dxc)
    const mdx = sums(g);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < S; j++) {
        const base = i * CS + c0 * S + j;
        for (let a = 0; a < g; a++) {
          let v = 0;
          for (let b = 0; b < g; b++) {
            const d = H[dy + base + b * S];
            v += H[W + b * g + a] * (gamma >= 0 ? d * H[gamma + c0 + b] : d) + H[M + a * g + b] * (H[x + base + b * S] - H[mean + c0 + b]);
          }
          H[dx + base + a * S] = v;
          mdx[a] += v;
        }
      }
    for (let a = 0; a < g; a++) mdx[a] /= m;
    for (let i = 0; i < n; i++)
      for (let a = 0; a < g; a++) {
        const rr = dx + i * CS + (c0 + a) * S;
        for (let j = 0; j < S; j++) H[rr + j] -= mdx[a];
      }
  }
}
