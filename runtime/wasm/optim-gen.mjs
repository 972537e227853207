// Generates runtime/wasm/optim.wat (the optimizer sweep in WebAssembly SIMD128), run by
// scripts/build-wasm.mjs; build-time only, never imported by the runtime.
//
// Every kernel is the element rule of one loop of runtime/optim.ts (or regularize.ts), written
// once below as a small expression tree and emitted on f64x2 lanes: the arithmetic is done in
// float64, in the same order, with the same float32 roundings (Math.fround <-> demote/promote) as
// the TypeScript, so the result is the same bytes as optimizerStep (f64 +, *, /, sqrt, max are
// IEEE-exact in both JS and wasm, and wasm never fuses a multiply-add). The main loop takes 2
// floats per iteration (v128.load64_zero + f64x2.promote_low_f32x4); an odd last float goes through
// the same code with 1-float loads and stores (v128.load32_zero / v128.store32_lane). Unrolling to
// 4 floats per iteration measured no faster (bench/optim.mjs). The exact f64 lanes cost about 2x
// a float32 f32x4 sweep (conversions dominate: ~0.22 vs ~0.10 ms for M1's SGD+momentum step), a
// small price next to the TypeScript's ~1.6 ms, for results identical on both backends.
//
// Arrays are float offsets into the memory (H starts at byte 0), like the GEMM's; the f64 scalars
// are read from memory at the byte address `args` (the backend's optimizer-argument block, written
// by optim-fast.ts through a Float64Array): a JS call with double arguments to a wasm function
// that is not a compile-time constant boxes each double (a HeapNumber per argument per call, the
// bulk of a training step's garbage, measured), while i32 arguments travel as small integers.

/** A kernel: name, float arrays (p, g, state slots...), f64 scalars, and its element rule. */
const KERNELS = [];
const kernel = (name, doc, arrays, scalars, body) => KERNELS.push({ name, doc, arrays, scalars, body });

// ---- expression helpers: each returns WAT text of an f64x2 value -----------------------------
const v = (name) => `(local.get $${name})`;
const bin = (op) => (a, b) => `(f64x2.${op} ${a} ${b})`;
const add = bin("add"),
  sub = bin("sub"),
  mul = bin("mul"),
  div = bin("div"),
  max = bin("max");
const sqrt = (a) => `(f64x2.sqrt ${a})`;
/** Math.fround on both lanes. */
const f32 = (a) => `(f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero ${a}))`;
/** torch.sign / optim.ts sign(): 1, -1 or 0 (NaN -> 0). */
const sign = (a) =>
  `(v128.bitselect (local.get $one) (v128.bitselect (local.get $minus_one) (v128.const f64x2 0 0) ` +
  `(f64x2.lt ${a} (v128.const f64x2 0 0))) (f64x2.gt ${a} (v128.const f64x2 0 0)))`;
// statements
const set = (name, e) => ({ set: name, e });
const store = (arr, e) => ({ store: arr, e });
/** g' = g + wd * p + l1 * sign(p), optim.ts's coupled terms, in its order. */
const gPrime = () => set("gp", add(add(v("g"), mul(v("wd"), v("p"))), mul(v("l1"), sign(v("p")))));

// ---- the kernels: one per loop of optim.ts ---------------------------------------------------
kernel("sgd", "sgd, momentum 0: p = p*keep - lr*g'", ["p", "g"], ["wd", "l1", "keep", "lr"], () => [
  gPrime(),
  store("p", sub(mul(v("p"), v("keep")), mul(v("lr"), v("gp")))),
]);
kernel("sgd_momentum", "sgd, momentum, no L1, no decoupled decay: b = cMu*b + cG*(g + wd*p); p -= lr*b", ["p", "g", "b"], ["wd", "lr", "cMu", "cG"], () => [
  set("bn", f32(add(mul(v("cMu"), v("b")), mul(v("cG"), add(v("g"), mul(v("wd"), v("p"))))))),
  store("b", v("bn")),
  store("p", sub(v("p"), mul(v("lr"), v("bn")))),
]);
kernel(
  "sgd_nesterov",
  "sgd, nesterov, no L1, no decoupled decay: b = cMu*b + cG*g'; p -= lr*(g' + mu*b)",
  ["p", "g", "b"],
  ["wd", "lr", "cMu", "cG", "mu"],
  () => [
    set("gp", add(v("g"), mul(v("wd"), v("p")))),
    set("bn", f32(add(mul(v("cMu"), v("b")), mul(v("cG"), v("gp"))))),
    store("b", v("bn")),
    store("p", sub(v("p"), mul(v("lr"), add(v("gp"), mul(v("mu"), v("bn")))))),
  ],
);
for (const nesterov of [false, true])
  kernel(
    nesterov ? "sgd_nesterov_general" : "sgd_momentum_general",
    `sgd, momentum${nesterov ? ", nesterov" : ""}, any L1 and decoupled decay`,
    ["p", "g", "b"],
    ["wd", "l1", "keep", "lr", "cMu", "cG", "mu"],
    () => [
      gPrime(),
      set("bn", f32(add(mul(v("cMu"), v("b")), mul(v("cG"), v("gp"))))),
      store("b", v("bn")),
      store("p", sub(mul(v("p"), v("keep")), mul(v("lr"), nesterov ? add(v("gp"), mul(v("mu"), v("bn"))) : v("bn")))),
    ],
  );
kernel("adagrad", "adagrad: s += g'^2; p = p*keep - clr*g' / (sqrt(s) + eps)", ["p", "g", "s"], ["wd", "l1", "keep", "clr", "eps"], () => [
  gPrime(),
  set("sn", f32(add(v("s"), mul(v("gp"), v("gp"))))),
  store("s", v("sn")),
  store("p", sub(mul(v("p"), v("keep")), div(mul(v("clr"), v("gp")), add(sqrt(v("sn")), v("eps"))))),
]);
for (const centered of [false, true])
  for (const momentum of [false, true])
    kernel(
      `rmsprop${centered ? "_centered" : ""}${momentum ? "_momentum" : ""}`,
      `rmsprop${centered ? ", centered" : ""}${momentum ? ", momentum" : ""} (a1 = 1 - alpha)`,
      ["p", "g", "sq", ...(momentum ? ["b"] : []), ...(centered ? ["ga"] : [])],
      ["wd", "l1", "keep", "lr", "alpha", "a1", "eps", ...(momentum ? ["mu"] : [])],
      () => [
        gPrime(),
        set("sqn", f32(add(mul(v("alpha"), v("sq")), mul(mul(v("a1"), v("gp")), v("gp"))))),
        store("sq", v("sqn")),
        ...(centered
          ? [
              set("gan", f32(add(mul(v("alpha"), v("ga")), mul(v("a1"), v("gp"))))),
              store("ga", v("gan")),
              set("var", f32(sub(v("sqn"), mul(v("gan"), v("gan"))))),
            ]
          : [set("var", v("sqn"))]),
        set("avg", add(sqrt(v("var")), v("eps"))),
        ...(momentum
          ? [
              set("bn", f32(add(mul(v("mu"), v("b")), div(v("gp"), v("avg"))))),
              store("b", v("bn")),
              store("p", sub(mul(v("p"), v("keep")), mul(v("lr"), v("bn")))),
            ]
          : [store("p", sub(mul(v("p"), v("keep")), div(mul(v("lr"), v("gp")), v("avg"))))]),
      ],
    );
for (const amsgrad of [false, true])
  kernel(
    amsgrad ? "adam_amsgrad" : "adam",
    `adam/adamw${amsgrad ? ", amsgrad" : ""} (c1 = 1 - beta1, c2 = 1 - beta2, step = lr / (1 - beta1^t), bc2 = sqrt(1 - beta2^t))`,
    ["p", "g", "m", "v2", ...(amsgrad ? ["vmax"] : [])],
    ["wd", "l1", "keep", "b1", "c1", "b2", "c2", "step", "bc2", "eps"],
    () => [
      gPrime(),
      set("mn", f32(add(mul(v("b1"), v("m")), mul(v("c1"), v("gp"))))),
      set("vn", f32(add(mul(v("b2"), v("v2")), mul(mul(v("c2"), v("gp")), v("gp"))))),
      ...(amsgrad ? [set("vmn", max(v("vmax"), v("vn")))] : []),
      store("m", v("mn")),
      store("v2", v("vn")),
      ...(amsgrad ? [store("vmax", v("vmn"))] : []),
      store("p", sub(mul(v("p"), v("keep")), div(mul(v("step"), v("mn")), add(div(sqrt(v(amsgrad ? "vmn" : "vn")), v("bc2")), v("eps"))))),
    ],
  );
kernel("scale", "x *= c (clip_grad_norm's rescaling of the gradients)", ["x"], ["c"], () => [store("x", mul(v("x"), v("c")))]);

// ---- emission ---------------------------------------------------------------------------------
/** A value rounded by f32(): kept also in its demoted form `<name>_f32` for the stores. */
const F32_PREFIX = "(f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero ";
const rounded = (s) => s.e.startsWith(F32_PREFIX) && s.e.endsWith("))");
const locals = (body) => {
  const names = new Set();
  for (const s of body) if (s.set) names.add(s.set).add(rounded(s) ? `${s.set}_f32` : s.set);
  return [...names];
};

/** The loop body for `w` floats per iteration (2: load64/store64 lanes, 1: load32/store32). */
function iteration(k, w) {
  const lines = [];
  const load = w === 2 ? "v128.load64_zero" : "v128.load32_zero";
  for (const a of k.arrays) lines.push(`(local.set $${a} (f64x2.promote_low_f32x4 (${load} (i32.add (local.get $${a}_) (local.get $i)))))`);
  const demoted = new Set();
  for (const s of k.body()) {
    if (s.set && rounded(s)) {
      // x = f32(e): demote once, keep both forms (stores of x reuse the demoted one)
      const inner = s.e.slice(F32_PREFIX.length, -2);
      lines.push(`(local.set $${s.set}_f32 (f32x4.demote_f64x2_zero ${inner}))`);
      lines.push(`(local.set $${s.set} (f64x2.promote_low_f32x4 (local.get $${s.set}_f32)))`);
      demoted.add(v(s.set));
    } else if (s.set) lines.push(`(local.set $${s.set} ${s.e})`);
    else
      lines.push(
        `(${w === 2 ? "v128.store64_lane" : "v128.store32_lane"} 0 (i32.add (local.get $${s.store}_) (local.get $i)) ` +
          (demoted.has(s.e) ? `(local.get $${s.e.slice(12, -1)}_f32))` : `(f32x4.demote_f64x2_zero ${s.e}))`),
      );
  }
  return lines;
}

function emitKernel(k) {
  const params = [...k.arrays.map((a) => `(param $${a}_ i32)`), "(param $n i32)", "(param $args i32)"];
  const body = k.body();
  const vlocals = [...k.arrays, ...k.scalars, ...locals(body), "one", "minus_one"];
  const out = [];
  out.push(`  ;; ${k.doc}`);
  out.push(`  (func (export "${k.name}") ${params.join(" ")}`);
  out.push(`    (local $i i32) (local $end i32) ${vlocals.map((l) => `(local $${l} v128)`).join(" ")}`);
  // byte addresses; scalars splatted once
  for (const a of k.arrays) out.push(`    (local.set $${a}_ (i32.shl (local.get $${a}_) (i32.const 2)))`);
  k.scalars.forEach((s, i) => out.push(`    (local.set $${s} (f64x2.splat (f64.load offset=${8 * i} (local.get $args))))`));
  out.push(`    (local.set $one (v128.const f64x2 1 1))`);
  out.push(`    (local.set $minus_one (v128.const f64x2 -1 -1))`);
  out.push(`    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 2)))`);
  out.push(`    (block $done (loop $next`);
  out.push(`      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))`);
  for (const l of iteration(k, 2)) out.push(`      ${l}`);
  out.push(`      (local.set $i (i32.add (local.get $i) (i32.const 8)))`);
  out.push(`      (br $next)))`);
  out.push(`    (if (i32.and (local.get $n) (i32.const 1)) (then`);
  for (const l of iteration(k, 1)) out.push(`      ${l}`);
  out.push(`    )))`);
  return out.join("\n");
}

/** Sum of x^2 over n floats at x, in f64 on 2 lanes x 2 accumulators (clip_grad_norm's total). */
const SUMSQ = `  ;; sum of x[i]^2 over n floats (f64, 4 partial sums, added pairwise at the end)
  (func (export "sumsq") (param $x i32) (param $n i32) (param $out i32)
    (local $i i32) (local $end i32) (local $a v128) (local $b v128) (local $t v128) (local $s f64)
    (local.set $x (i32.shl (local.get $x) (i32.const 2)))
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $t (v128.load (i32.add (local.get $x) (local.get $i))))
      (local.set $a (f64x2.add (local.get $a) (f64x2.mul
        (f64x2.promote_low_f32x4 (local.get $t)) (f64x2.promote_low_f32x4 (local.get $t)))))
      (local.set $t (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $t) (local.get $t)))
      (local.set $b (f64x2.add (local.get $b) (f64x2.mul
        (f64x2.promote_low_f32x4 (local.get $t)) (f64x2.promote_low_f32x4 (local.get $t)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $next)))
    (local.set $a (f64x2.add (local.get $a) (local.get $b)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a))))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $s (f64.add (local.get $s) (f64.mul
        (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $i))))
        (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $i)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next)))
    (f64.store (local.get $out) (local.get $s)))`;

/**
 * Elementwise epilogues of a dense layer (runtime/wasm-kernels.ts), f32x4, hand-written. They
 * give the bytes of the TypeScript loops the compiler emits: a float32 add or multiply is
 * correctly rounded, as the JS double operation rounded to float32 is; the ReLU `v <= 0 ? 0 : v`
 * is v & ~(v <= 0) (two instructions: cmpleps, andnps): +0 for -0 as Math.max(v, 0), and NaN stays
 * NaN, as in PyTorch (f32x4.pmax(0, v) made NaN 0 and hid a diverged layer; pmax(v, 0) would keep
 * -0). Each row's last out % 4 columns go through scalar code.
 * y, b, z, dy, db, v, dz are float offsets; n rows of `out` columns.
 */
const EPILOGUES = `  ;; y[r, j] += b[j]  (y is (n, out), b is (out)); and z = relu(y) when $relu (z is (n, out))
  (func $bias (param $y i32) (param $b i32) (param $z i32) (param $n i32) (param $out i32) (param $relu i32)
    (local $r i32) (local $j i32) (local $end i32) (local $row i32) (local $t v128) (local $s f32)
    (local.set $y (i32.shl (local.get $y) (i32.const 2)))
    (local.set $b (i32.shl (local.get $b) (i32.const 2)))
    (local.set $z (i32.shl (local.get $z) (i32.const 2)))
    (local.set $row (i32.shl (local.get $out) (i32.const 2)))
    (local.set $end (i32.shl (i32.and (local.get $out) (i32.const -4)) (i32.const 2)))
    (block $rdone (loop $rows
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $j (i32.const 0))
      (block $jdone (loop $cols
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $t (f32x4.add (v128.load (i32.add (local.get $y) (local.get $j)))
                                 (v128.load (i32.add (local.get $b) (local.get $j)))))
        (v128.store (i32.add (local.get $y) (local.get $j)) (local.get $t))
        (if (local.get $relu) (then
          (v128.store (i32.add (local.get $z) (local.get $j)) (v128.andnot (local.get $t) (f32x4.le (local.get $t) (v128.const f32x4 0 0 0 0))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols)))
      (block $tdone (loop $tail
        (br_if $tdone (i32.ge_u (local.get $j) (local.get $row)))
        (local.set $s (f32.add (f32.load (i32.add (local.get $y) (local.get $j)))
                               (f32.load (i32.add (local.get $b) (local.get $j)))))
        (f32.store (i32.add (local.get $y) (local.get $j)) (local.get $s))
        (if (local.get $relu) (then
          (f32.store (i32.add (local.get $z) (local.get $j))
            (select (f32.const 0) (local.get $s) (f32.le (local.get $s) (f32.const 0))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $tail)))
      (local.set $y (i32.add (local.get $y) (local.get $row)))
      (local.set $z (i32.add (local.get $z) (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))
  (func (export "bias_add") (param $y i32) (param $b i32) (param $n i32) (param $out i32)
    (call $bias (local.get $y) (local.get $b) (i32.const 0) (local.get $n) (local.get $out) (i32.const 0)))
  (func (export "bias_add_relu") (param $y i32) (param $b i32) (param $z i32) (param $n i32) (param $out i32)
    (call $bias (local.get $y) (local.get $b) (local.get $z) (local.get $n) (local.get $out) (i32.const 1)))

  ;; db[j] += dy[r, j] for r = 0 .. n-1 in order (dy is (n, out), db is (out)): column sums
  (func (export "bias_grad") (param $dy i32) (param $db i32) (param $n i32) (param $out i32)
    (local $r i32) (local $j i32) (local $end i32) (local $row i32) (local $p i32) (local $t v128) (local $s f32)
    (local.set $dy (i32.shl (local.get $dy) (i32.const 2)))
    (local.set $db (i32.shl (local.get $db) (i32.const 2)))
    (local.set $row (i32.shl (local.get $out) (i32.const 2)))
    (local.set $end (i32.shl (i32.and (local.get $out) (i32.const -4)) (i32.const 2)))
    ;; 4 columns at a time, down the rows
    (block $jdone (loop $cols
      (br_if $jdone (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $t (v128.load (i32.add (local.get $db) (local.get $j))))
      (local.set $p (i32.add (local.get $dy) (local.get $j)))
      (local.set $r (i32.const 0))
      (block $rdone (loop $rows
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $t (f32x4.add (local.get $t) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $row)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
      (v128.store (i32.add (local.get $db) (local.get $j)) (local.get $t))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $cols)))
    (block $jdone (loop $cols
      (br_if $jdone (i32.ge_u (local.get $j) (local.get $row)))
      (local.set $s (f32.load (i32.add (local.get $db) (local.get $j))))
      (local.set $p (i32.add (local.get $dy) (local.get $j)))
      (local.set $r (i32.const 0))
      (block $rdone (loop $rows
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $s (f32.add (local.get $s) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $row)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
      (f32.store (i32.add (local.get $db) (local.get $j)) (local.get $s))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $cols))))`;

/** The whole module text. `memoryLine` is the memory import (plain or shared). */
export function optimWat(memoryLine = '(import "env" "mem" (memory 1))') {
  return [
    ";; GENERATED by runtime/wasm/optim-gen.mjs (via scripts/build-wasm.mjs); do not edit.",
    ";; The optimizer sweep of runtime/optim.ts on f64x2 lanes, same bytes as the TypeScript (see the",
    ";; generator's header). Arrays are float offsets into the memory, n a float count, f64 scalars at byte args.",
    ";; Then the dense epilogues of runtime/wasm-kernels.ts (f32x4, same bytes as their TS loops).",
    "(module",
    `  ${memoryLine}`,
    ...KERNELS.map(emitKernel),
    SUMSQ,
    EPILOGUES,
    ")",
    "",
  ].join("\n");
}

/** Names and signatures, for the TypeScript side (optim-module.ts). */
export const OPTIM_KERNELS = KERNELS.map((k) => ({ name: k.name, arrays: k.arrays, scalars: k.scalars }));
