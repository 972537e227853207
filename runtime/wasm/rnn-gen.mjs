// Generates runtime/wasm/rnn.wat (the gate sweeps of the recurrent kernels in WebAssembly SIMD128),
// run by scripts/build-wasm.mjs; build-time only, never imported by the runtime.
//
// The nonlinearities (exp, sigmoid, tanh on f32x4) are written once below and emitted inline at
// every use, each use with locals of its own: V8 (Node 20) does not inline wasm-into-wasm calls
// unless --experimental-wasm-inlining is set, and the calls of the hand-written module (one
// $sigmoid4 / $tanh4 / $exp4 call per nonlinearity) took a third of the sweep's time: LSTM
// forward sweep of bench/rnn.mjs's shape (batch 32, T 64, U 256) 14.5 ms as calls, 9.6 ms with
// V8's inlining flag; this module inlines them by construction. The operations and their order
// are those of the functions they replace (and of the TypeScript twins in runtime/kernels/rnn.ts:
// expF32, sigmoidF32, tanhF32, lstmRowF32, gruRowF32), so the bytes written are the same
// (test/wasm-rnn-kernels.test.ts).

const c4 = (v) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;
const get = (l) => `(local.get ${l})`;

/** The module text; `memory` is the import line (a plain or a shared memory). */
export function rnnWat(memory = '(import "env" "mem" (memory 1)) ;; @MEMORY@') {
  // v128 locals of the function being generated, one set per inlined nonlinearity
  let locals = [];
  let k = 0;
  const local = (base) => {
    const name = `$${base}${k}`;
    locals.push(name);
    return name;
  };
  const take = () => {
    const decl = locals.map((l) => `(local ${l} v128)`).join(" ");
    locals = [];
    k = 0;
    return decl;
  };

  // exp(x): x clamped to [-87, 88]; n = round(x log2 e); r = x - n C1 - n C2; p(r) Cephes expf;
  // exp = (p r^2 + r + 1) 2^n with 2^n from its exponent bits
  const exp4 = (xExpr) => {
    k++;
    const x = local("ex");
    const n = local("en");
    const r = local("er");
    const p = local("ep");
    return `(block (result v128)
      (local.set ${x} (f32x4.min (f32x4.max ${xExpr} ${c4(-87)}) ${c4(88)}))
      (local.set ${n} (f32x4.sub (f32x4.add (f32x4.mul ${get(x)} ${c4("1.44269504088896341")}) ${c4(12582912)}) ${c4(12582912)}))
      (local.set ${r} (f32x4.sub (f32x4.sub ${get(x)} (f32x4.mul ${get(n)} ${c4("0.693359375")})) (f32x4.mul ${get(n)} ${c4("-2.12194440e-4")})))
      (local.set ${p} (f32x4.add (f32x4.mul ${c4("1.9875691500e-4")} ${get(r)}) ${c4("1.3981999507e-3")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(r)}) ${c4("8.3334519073e-3")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(r)}) ${c4("4.1665795894e-2")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(r)}) ${c4("1.6666665459e-1")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(r)}) ${c4("5.0000001201e-1")}))
      (f32x4.mul
        (f32x4.add (f32x4.add (f32x4.mul ${get(p)} (f32x4.mul ${get(r)} ${get(r)})) ${get(r)}) ${c4(1)})
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s ${get(n)}) (v128.const i32x4 127 127 127 127)) (i32.const 23))))`;
  };

  // sigmoid(x) = 1 / (1 + exp(-x))
  const sigmoid4 = (xExpr) => `(f32x4.div ${c4(1)} (f32x4.add ${c4(1)} ${exp4(`(f32x4.neg ${xExpr})`)}))`;

  // tanh(x): |x| < 0.625: x + (p(z) z) x, z = x^2; else sign(x) (1 - 2 / (exp(2|x|) + 1))
  const tanh4 = (xExpr) => {
    k++;
    const x = local("tx");
    const a = local("ta");
    const z = local("tz");
    const p = local("tp");
    const big = local("tb");
    return `(block (result v128)
      (local.set ${x} ${xExpr})
      (local.set ${a} (f32x4.abs ${get(x)}))
      (local.set ${z} (f32x4.mul ${get(x)} ${get(x)}))
      (local.set ${p} (f32x4.add (f32x4.mul ${c4("-5.70498872745e-3")} ${get(z)}) ${c4("2.06390887954e-2")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(z)}) ${c4("-5.37397155531e-2")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(z)}) ${c4("1.33314422036e-1")}))
      (local.set ${p} (f32x4.add (f32x4.mul ${get(p)} ${get(z)}) ${c4("-3.33332819422e-1")}))
      (local.set ${p} (f32x4.add (f32x4.mul (f32x4.mul ${get(p)} ${get(z)}) ${get(x)}) ${get(x)}))
      (local.set ${big} (f32x4.sub ${c4(1)} (f32x4.div ${c4(2)} (f32x4.add ${exp4(`(f32x4.add ${get(a)} ${get(a)})`)} ${c4(1)}))))
      (local.set ${big} (v128.bitselect ${get(x)} ${get(big)} (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
      (v128.bitselect ${get(p)} ${get(big)} (f32x4.lt ${get(a)} ${c4("0.625")})))`;
  };

  const at = (base, j) => `(i32.add (local.get ${base}) (local.get ${j}))`;
  const load = (base, j = "$j") => `(v128.load ${at(base, j)})`;
  const pre = (j) => `(f32x4.add (f32x4.add ${load("$g", j)} ${load("$r", j)}) ${load("$b", j)})`;

  // LSTM: lanes [0, u4) of one (sample, step); $j, $j1, $j2, $j3 the byte offsets of gates i f g o
  const lstmBody = `
        (local.set $j1 (i32.add (local.get $j) (local.get $s)))
        (local.set $j2 (i32.add (local.get $j1) (local.get $s)))
        (local.set $j3 (i32.add (local.get $j2) (local.get $s)))
        (local.set $i ${sigmoid4(pre("$j"))})
        (local.set $f ${sigmoid4(pre("$j1"))})
        (local.set $gg ${tanh4(pre("$j2"))})
        (local.set $o ${sigmoid4(pre("$j3"))})
        (v128.store ${at("$g", "$j3")} (local.get $o))
        (v128.store ${at("$g", "$j2")} (local.get $gg))
        (v128.store ${at("$g", "$j1")} (local.get $f))
        (v128.store ${at("$g", "$j")} (local.get $i))
        ;; c = f c + i g, tc = tanh(c), h = o tc
        (local.set $cn (f32x4.add (f32x4.mul (local.get $f) ${load("$c")}) (f32x4.mul (local.get $i) (local.get $gg))))
        (v128.store ${at("$c", "$j")} (local.get $cn))
        (local.set $t ${tanh4("(local.get $cn)")})
        (v128.store ${at("$tc", "$j")} (local.get $t))
        (v128.store ${at("$h", "$j")} (f32x4.mul (local.get $o) (local.get $t)))`;
  const lstmLocals = take();

  // GRU: gates r z n at $j, $j1, $j2 of g and r; b holds b_ir + b_hr, b_iz + b_hz, b_in, b_hn
  const gruBody = `
        (local.set $j1 (i32.add (local.get $j) (local.get $s)))
        (local.set $j2 (i32.add (local.get $j1) (local.get $s)))
        (local.set $rv ${sigmoid4(pre("$j"))})
        (v128.store ${at("$g", "$j")} (local.get $rv))
        (local.set $zv ${sigmoid4(pre("$j1"))})
        (v128.store ${at("$g", "$j1")} (local.get $zv))
        ;; hn = rec_n + b_hn; m = tanh((P_n + b_in) + r hn)
        (local.set $n (f32x4.add ${load("$r", "$j2")} (v128.load (i32.add (i32.add (local.get $b) (local.get $s)) (local.get $j2)))))
        (local.set $m ${tanh4(`(f32x4.add (f32x4.add ${load("$g", "$j2")} ${load("$b", "$j2")}) (f32x4.mul (local.get $rv) (local.get $n)))`)})
        (v128.store ${at("$g", "$j2")} (local.get $m))
        (v128.store ${at("$hn", "$j")} (local.get $n))
        ;; h = (1 - z) m + z h
        (v128.store ${at("$h", "$j")}
          (f32x4.add (f32x4.mul (f32x4.sub ${c4(1)} (local.get $zv)) (local.get $m)) (f32x4.mul (local.get $zv) ${load("$h")})))`;
  const gruLocals = take();

  // LSTM backward, one (sample, step), lanes [0, u2), on f64x2 lanes: the float64 arithmetic of
  // rnn.ts lstmBackRow in the same order, each float32 read promoted and each result rounded once
  // when stored (+, -, * are exact IEEE operations in both JavaScript and wasm, and wasm never
  // fuses a multiply-add): the same bytes as the TypeScript sweep.
  const L = (addr) => `(f64x2.promote_low_f32x4 (v128.load64_zero ${addr}))`;
  const S = (addr, v) => `(v128.store64_lane 0 ${addr} (f32x4.demote_f64x2_zero ${v}))`;
  const one = "(v128.const f64x2 1 1)";
  const d = (a, b) => `(f64x2.mul ${a} ${b})`;
  const lstmBackBody = `
        (local.set $j1 (i32.add (local.get $j) (local.get $s)))
        (local.set $j2 (i32.add (local.get $j1) (local.get $s)))
        (local.set $j3 (i32.add (local.get $j2) (local.get $s)))
        (local.set $iv ${L(at("$gi", "$j"))})
        (local.set $fv ${L(at("$gi", "$j1"))})
        (local.set $gv ${L(at("$gi", "$j2"))})
        (local.set $ov ${L(at("$gi", "$j3"))})
        (local.set $tc ${L(at("$tco", "$j"))})
        (local.set $dhj ${L(at("$dh", "$j"))})
        (if (local.get $hasDy) (then (local.set $dhj (f64x2.add (local.get $dhj) ${L(at("$dy", "$j"))}))))
        ;; dc = dc_rec + dh o (1 - tc^2); dc_rec = dc f; dh_rec = 0 (the step's GEMM adds dG W_hh)
        (local.set $dcj (f64x2.add ${L(at("$dc", "$j"))} ${d(d("(local.get $dhj)", "(local.get $ov)"), `(f64x2.sub ${one} ${d("(local.get $tc)", "(local.get $tc)")})`)}))
        ${S(at("$dc", "$j"), d("(local.get $dcj)", "(local.get $fv)"))}
        (v128.store64_lane 0 ${at("$dh", "$j")} (v128.const i32x4 0 0 0 0))
        ;; di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)
        ${S(at("$dr", "$j"), d(d(d("(local.get $dcj)", "(local.get $gv)"), "(local.get $iv)"), `(f64x2.sub ${one} (local.get $iv))`))}
        ${S(at("$dr", "$j1"), d(d(d("(local.get $dcj)", L(at("$cp", "$j"))), "(local.get $fv)"), `(f64x2.sub ${one} (local.get $fv))`))}
        ${S(at("$dr", "$j2"), d(d("(local.get $dcj)", "(local.get $iv)"), `(f64x2.sub ${one} ${d("(local.get $gv)", "(local.get $gv)")})`))}
        ${S(at("$dr", "$j3"), d(d(d("(local.get $dhj)", "(local.get $tc)"), "(local.get $ov)"), `(f64x2.sub ${one} (local.get $ov))`))}`;

  const toBytes = (names) => names.map((p) => `    (local.set ${p} (i32.shl (local.get ${p}) (i32.const 2)))`).join("\n");

  return `;; GENERATED by runtime/wasm/rnn-gen.mjs (run by scripts/build-wasm.mjs); do not edit.
;; The gate sweeps of the recurrent kernels (runtime/kernels/rnn.ts), SIMD128: one call per
;; (sample, step) computes lanes [0, U4) of the cell update, U4 = U rounded down to a multiple of
;; 4; the caller finishes lanes [U4, U) with the TypeScript reference, which performs the same
;; float32 operations one by one (rnn.ts expF32 / sigmoidF32 / tanhF32, lstmRowF32 / gruRowF32):
;; the same bytes (test/wasm-rnn-kernels.test.ts). Every operation is a plain f32 add, sub, mul,
;; div, min, max or nearest-by-magic-number, correctly rounded: no fused multiply-add. The
;; nonlinearities are inlined at each use (rnn-gen.mjs says why).
;; Offsets are in floats (byte address = 4 * offset), the heap at byte 0 of the memory.
;;   exp(x): x clamped to [-87, 88]; n = round(x log2 e) (by adding and subtracting 1.5 * 2^23);
;;     r = x - n C1 - n C2 (Cody-Waite, ln 2 = C1 + C2); p(r) the Cephes expf polynomial;
;;     exp = (p r^2 + r + 1) 2^n, 2^n built from its exponent bits (n in [-126, 127]).
;;   sigmoid(x) = 1 / (1 + exp(-x))
;;   tanh(x): |x| < 0.625: x + x z p(z), z = x^2 (Cephes tanhf); else sign(x) (1 - 2 / (exp(2|x|) + 1))
(module
  ${memory}

  ;; LSTM, one (sample, step), lanes [0, u4): pre-activations g + r + b (gates i f g o at j, U+j,
  ;; 2U+j, 3U+j of g, r and b); g receives the activations, c and h (U each) the new state, tc
  ;; tanh(c).
  (func (export "lstm_row") (param $g i32) (param $r i32) (param $b i32) (param $c i32) (param $h i32) (param $tc i32) (param $U i32) (param $u4 i32)
    (local $j i32) (local $j1 i32) (local $j2 i32) (local $j3 i32) (local $s i32) (local $end i32)
    (local $i v128) (local $f v128) (local $gg v128) (local $o v128) (local $cn v128) (local $t v128)
    ${lstmLocals}
${toBytes(["$g", "$r", "$b", "$c", "$h", "$tc"])}
    (local.set $s (i32.shl (local.get $U) (i32.const 2)))
    (local.set $end (i32.shl (local.get $u4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))${lstmBody}
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next))))

  ;; GRU, one (sample, step), lanes [0, u4): gates r z n at j, U+j, 2U+j of g (the input
  ;; projection) and r (h W_hh^T); b holds b_ir + b_hr, b_iz + b_hz, b_in, b_hn (4U). g receives
  ;; r z m, hn (U) W_hn h + b_hn, h (U) the new state.
  (func (export "gru_row") (param $g i32) (param $r i32) (param $b i32) (param $hn i32) (param $h i32) (param $U i32) (param $u4 i32)
    (local $j i32) (local $j1 i32) (local $j2 i32) (local $s i32) (local $end i32)
    (local $rv v128) (local $zv v128) (local $m v128) (local $n v128)
    ${gruLocals}
${toBytes(["$g", "$r", "$b", "$hn", "$h"])}
    (local.set $s (i32.shl (local.get $U) (i32.const 2)))
    (local.set $end (i32.shl (local.get $u4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))${gruBody}
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next))))

  ;; LSTM backward, one (sample, step), lanes [0, u2) (u2 = U rounded down to even): gi the
  ;; step's saved activations i f g o (4U), cp c entering the step, tco tanh(c) leaving it, dh and
  ;; dc (U) the state gradients (updated: dh zeroed, dc = dc f), dy the output gradient or -1,
  ;; dr receives the pre-activation gradients (4U).
  (func (export "lstm_bwd_row") (param $gi i32) (param $cp i32) (param $tco i32) (param $dh i32) (param $dc i32) (param $dy i32) (param $dr i32) (param $U i32) (param $u2 i32)
    (local $j i32) (local $j1 i32) (local $j2 i32) (local $j3 i32) (local $s i32) (local $end i32) (local $hasDy i32)
    (local $iv v128) (local $fv v128) (local $gv v128) (local $ov v128) (local $tc v128) (local $dhj v128) (local $dcj v128)
    (local.set $hasDy (i32.ge_s (local.get $dy) (i32.const 0)))
${toBytes(["$gi", "$cp", "$tco", "$dh", "$dc", "$dy", "$dr"])}
    (local.set $s (i32.shl (local.get $U) (i32.const 2)))
    (local.set $end (i32.shl (local.get $u2) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))${lstmBackBody}
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $next))))
)
`;
}
