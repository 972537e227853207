;; The gate sweeps of the recurrent kernels (runtime/kernels/rnn.ts), SIMD128: one call per
;; (sample, step) computes lanes [0, U4) of the cell update, U4 = U rounded down to a multiple of
;; 4; the caller finishes lanes [U4, U) with the TypeScript reference, which performs the same
;; float32 operations one by one (rnn.ts expF32 / sigmoidF32 / tanhF32, lstmRowF32 / gruRowF32):
;; the same bytes (test/wasm-rnn-kernels.test.ts). Every operation is a plain f32 add, sub, mul,
;; div, min, max or nearest-by-magic-number, correctly rounded: no fused multiply-add.
;; Offsets are in floats (byte address = 4 * offset), the heap at byte 0 of the memory.
;;   exp(x): x clamped to [-87, 88]; n = round(x log2 e) (by adding and subtracting 1.5 * 2^23);
;;     r = x - n C1 - n C2 (Cody-Waite, ln 2 = C1 + C2); p(r) the Cephes expf polynomial;
;;     exp = (p r^2 + r + 1) 2^n, 2^n built from its exponent bits (n in [-126, 127]).
;;   sigmoid(x) = 1 / (1 + exp(-x))
;;   tanh(x): |x| < 0.625: x + x z p(z), z = x^2 (Cephes tanhf); else sign(x) (1 - 2 / (exp(2|x|) + 1))
(module
  (import "env" "mem" (memory 1)) ;; @MEMORY@

  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87 -87 -87 -87)) (v128.const f32x4 88 88 88 88)))
    (local.set $n
      (f32x4.sub
        (f32x4.add (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
                   (v128.const f32x4 12582912 12582912 12582912 12582912))
        (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $r
      (f32x4.sub
        (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p
      (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r))
                 (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (f32x4.mul
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
        (v128.const f32x4 1 1 1 1))
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  (func $sigmoid4 (param $x v128) (result v128)
    (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $x))))))

  (func $tanh4 (param $x v128) (result v128)
    (local $a v128) (local $z v128) (local $p v128) (local $big v128)
    (local.set $a (f32x4.abs (local.get $x)))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $p
      (f32x4.add (f32x4.mul (v128.const f32x4 -5.70498872745e-3 -5.70498872745e-3 -5.70498872745e-3 -5.70498872745e-3) (local.get $z))
                 (v128.const f32x4 2.06390887954e-2 2.06390887954e-2 2.06390887954e-2 2.06390887954e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 -5.37397155531e-2 -5.37397155531e-2 -5.37397155531e-2 -5.37397155531e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 1.33314422036e-1 1.33314422036e-1 1.33314422036e-1 1.33314422036e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 -3.33332819422e-1 -3.33332819422e-1 -3.33332819422e-1 -3.33332819422e-1)))
    ;; small: x + (p z) x
    (local.set $p (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $z)) (local.get $x)) (local.get $x)))
    ;; big: 1 - 2 / (exp(2|x|) + 1), with the sign of x
    (local.set $big
      (f32x4.sub (v128.const f32x4 1 1 1 1)
        (f32x4.div (v128.const f32x4 2 2 2 2) (f32x4.add (call $exp4 (f32x4.add (local.get $a) (local.get $a))) (v128.const f32x4 1 1 1 1)))))
    (local.set $big (v128.bitselect (local.get $x) (local.get $big) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
    (v128.bitselect (local.get $p) (local.get $big) (f32x4.lt (local.get $a) (v128.const f32x4 0.625 0.625 0.625 0.625))))

  ;; LSTM, one (sample, step), lanes [0, u4): pre-activations g + r + b (gates i f g o at j, U+j,
  ;; 2U+j, 3U+j of g, r and b); g receives the activations, c and h (U each) the new state, tc
  ;; tanh(c).
  (func (export "lstm_row") (param $g i32) (param $r i32) (param $b i32) (param $c i32) (param $h i32) (param $tc i32) (param $U i32) (param $u4 i32)
    (local $j i32) (local $s i32) (local $end i32)
    (local $i v128) (local $f v128) (local $gg v128) (local $o v128) (local $cn v128) (local $t v128)
    (local.set $g (i32.shl (local.get $g) (i32.const 2)))
    (local.set $r (i32.shl (local.get $r) (i32.const 2)))
    (local.set $b (i32.shl (local.get $b) (i32.const 2)))
    (local.set $c (i32.shl (local.get $c) (i32.const 2)))
    (local.set $h (i32.shl (local.get $h) (i32.const 2)))
    (local.set $tc (i32.shl (local.get $tc) (i32.const 2)))
    (local.set $s (i32.shl (local.get $U) (i32.const 2)))
    (local.set $end (i32.shl (local.get $u4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $i (call $sigmoid4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $r) (local.get $j))))
                                                 (v128.load (i32.add (local.get $b) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (local.get $s)))
        (local.set $f (call $sigmoid4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $r) (local.get $j))))
                                                 (v128.load (i32.add (local.get $b) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (local.get $s)))
        (local.set $gg (call $tanh4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $r) (local.get $j))))
                                              (v128.load (i32.add (local.get $b) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (local.get $s)))
        (local.set $o (call $sigmoid4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $r) (local.get $j))))
                                                 (v128.load (i32.add (local.get $b) (local.get $j))))))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $o))
        (local.set $j (i32.sub (local.get $j) (local.get $s)))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $gg))
        (local.set $j (i32.sub (local.get $j) (local.get $s)))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $f))
        (local.set $j (i32.sub (local.get $j) (local.get $s)))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $i))
        ;; c = f c + i g, tc = tanh(c), h = o tc
        (local.set $cn (f32x4.add (f32x4.mul (local.get $f) (v128.load (i32.add (local.get $c) (local.get $j)))) (f32x4.mul (local.get $i) (local.get $gg))))
        (v128.store (i32.add (local.get $c) (local.get $j)) (local.get $cn))
        (local.set $t (call $tanh4 (local.get $cn)))
        (v128.store (i32.add (local.get $tc) (local.get $j)) (local.get $t))
        (v128.store (i32.add (local.get $h) (local.get $j)) (f32x4.mul (local.get $o) (local.get $t)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next))))

  ;; GRU, one (sample, step), lanes [0, u4): gates r z n at j, U+j, 2U+j of g (the input
  ;; projection) and r (h W_hh^T); b holds b_ir + b_hr, b_iz + b_hz, b_in, b_hn (4U). g receives
  ;; r z m, hn (U) W_hn h + b_hn, h (U) the new state.
  (func (export "gru_row") (param $g i32) (param $r i32) (param $b i32) (param $hn i32) (param $h i32) (param $U i32) (param $u4 i32)
    (local $j i32) (local $s i32) (local $end i32)
    (local $rv v128) (local $zv v128) (local $m v128) (local $n v128)
    (local.set $g (i32.shl (local.get $g) (i32.const 2)))
    (local.set $r (i32.shl (local.get $r) (i32.const 2)))
    (local.set $b (i32.shl (local.get $b) (i32.const 2)))
    (local.set $hn (i32.shl (local.get $hn) (i32.const 2)))
    (local.set $h (i32.shl (local.get $h) (i32.const 2)))
    (local.set $s (i32.shl (local.get $U) (i32.const 2)))
    (local.set $end (i32.shl (local.get $u4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $rv (call $sigmoid4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $r) (local.get $j))))
                                                  (v128.load (i32.add (local.get $b) (local.get $j))))))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $rv))
        (local.set $j (i32.add (local.get $j) (local.get $s)))
        (local.set $zv (call $sigmoid4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $r) (local.get $j))))
                                                  (v128.load (i32.add (local.get $b) (local.get $j))))))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $zv))
        (local.set $j (i32.add (local.get $j) (local.get $s)))
        ;; hn = rec_n + b_hn; m = tanh((P_n + b_in) + r hn)
        (local.set $n (f32x4.add (v128.load (i32.add (local.get $r) (local.get $j))) (v128.load (i32.add (i32.add (local.get $b) (local.get $s)) (local.get $j)))))
        (local.set $m
          (call $tanh4 (f32x4.add (f32x4.add (v128.load (i32.add (local.get $g) (local.get $j))) (v128.load (i32.add (local.get $b) (local.get $j))))
                                  (f32x4.mul (local.get $rv) (local.get $n)))))
        (v128.store (i32.add (local.get $g) (local.get $j)) (local.get $m))
        (local.set $j (i32.sub (local.get $j) (i32.shl (local.get $s) (i32.const 1))))
        (v128.store (i32.add (local.get $hn) (local.get $j)) (local.get $n))
        ;; h = (1 - z) m + z h
        (v128.store (i32.add (local.get $h) (local.get $j))
          (f32x4.add (f32x4.mul (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $zv)) (local.get $m))
                     (f32x4.mul (local.get $zv) (v128.load (i32.add (local.get $h) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next))))
)
