// Dense symmetric linear algebra for fitting input preprocessing (PCA, whitening, ZCA).
//
// symEig: eigen-decomposition of a symmetric n x n matrix by Householder tridiagonalization
// followed by the implicit QL algorithm with Wilkinson-style shifts (EISPACK tred2/tql2, as in
// JAMA). All arithmetic is Float64. The eigenvector matrix is kept TRANSPOSED while working
// (row j holds the j-th vector), so every inner loop walks contiguous memory; for n = 784 this is
// several times faster than the textbook column-major loops.
//
// symEigJacobi: cyclic Jacobi rotations, the slow but obviously correct oracle (tests only, small n).
//
// Convention of both: values sorted in DESCENDING order; `vectors` is row-major (n, n) with ROW k
// the unit eigenvector of values[k] (i.e. the matrix V^T when A = V diag(values) V^T). Signs are
// normalized: the entry of largest magnitude in each vector is positive (ties: the first one).
// These run once at fit time (not per step), so they may allocate.

export interface SymEig {
  /** Eigenvalues, descending, length n. */
  values: Float64Array;
  /** (n, n) row-major, row k = eigenvector of values[k]. */
  vectors: Float64Array;
}

// a is (n, n) symmetric row-major (only read); returns its eigen-decomposition.
export function symEig(a: Float64Array | Float32Array, n: number): SymEig {
  if (a.length < n * n) throw new Error(`symEig: matrix has ${a.length} entries, need ${n * n}`);
  const T = new Float64Array(n * n); // T[c*n + r] = V[r][c]; A symmetric so T starts as A
  for (let i = 0; i < n * n; i++) T[i] = a[i];
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 1) {
    d[0] = T[0];
    T[0] = 1;
    return finish(d, T, n);
  }
  if (n === 0) return { values: d, vectors: T };
  tred2(T, d, e, n);
  tql2(T, d, e, n);
  return finish(d, T, n);
}

// Householder reduction to tridiagonal form. On exit d is the diagonal, e[1..n-1] the
// subdiagonal, and T (transposed V) the accumulated orthogonal transformation.
function tred2(T: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  // V[a][b] is T[b*n + a] throughout.
  for (let j = 0; j < n; j++) d[j] = T[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = T[j * n + i - 1];
        T[j * n + i] = 0;
        T[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        T[i * n + j] = f; // V[j][i] = f
        const row = j * n; // column j of V
        g = e[j] + T[row + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const v = T[row + k];
          g += v * d[k];
          e[k] += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const row = j * n;
        for (let k = j; k <= i - 1; k++) T[row + k] -= f * e[k] + g * d[k];
        d[j] = T[row + i - 1];
        T[row + i] = 0; // V[i][j]
      }
    }
    d[i] = h;
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    T[i * n + n - 1] = T[i * n + i]; // V[n-1][i] = V[i][i]
    T[i * n + i] = 1;
    const h = d[i + 1];
    const r1 = (i + 1) * n; // column i+1 of V
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = T[r1 + k] / h;
      for (let j = 0; j <= i; j++) {
        const rj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += T[r1 + k] * T[rj + k];
        for (let k = 0; k <= i; k++) T[rj + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) T[r1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = T[j * n + n - 1];
    T[j * n + n - 1] = 0;
  }
  T[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

// Symmetric tridiagonal QL algorithm with implicit shifts; rotations applied to rows of T.
function tql2(T: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error("symEig: QL iteration did not converge");
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n;
          const ri1 = ri + n;
          for (let k = 0; k < n; k++) {
            const hk = T[ri1 + k];
            const vk = T[ri + k];
            T[ri1 + k] = s * vk + c * hk;
            T[ri + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

// Sort descending, normalize signs, copy rows into the final order.
function finish(d: Float64Array, T: Float64Array, n: number): SymEig {
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[j] - d[i] || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k] * n;
    values[k] = d[order[k]];
    let big = 0;
    let sign = 1;
    for (let j = 0; j < n; j++) {
      const v = T[src + j];
      if (Math.abs(v) > big) {
        big = Math.abs(v);
        sign = v < 0 ? -1 : 1;
      }
    }
    for (let j = 0; j < n; j++) vectors[k * n + j] = sign * T[src + j];
  }
  return { values, vectors };
}

// Reference: cyclic Jacobi. a is (n, n) symmetric; O(n^3) per sweep, for tests with small n.
export function symEigJacobi(a: Float64Array | Float32Array, n: number, maxSweeps = 100): SymEig {
  const A = Float64Array.from(a.subarray(0, n * n));
  const T = new Float64Array(n * n); // T row k = eigenvector k (V^T)
  for (let i = 0; i < n; i++) T[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const v = A[i * n + j] * A[i * n + j];
        total += v;
        if (i !== j) off += v;
      }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A <- J^T A J with J the rotation in the (p, q) plane.
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vp = T[p * n + k];
          const vq = T[q * n + k];
          T[p * n + k] = c * vp - s * vq;
          T[q * n + k] = s * vp + c * vq;
        }
      }
    }
  }
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = A[i * n + i];
  return finish(d, T, n);
}
