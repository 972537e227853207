;; The JavaScript loops around the convolution GEMMs, in WebAssembly (runtime/wasm-kernels.ts).
;; Each export writes the same bytes as its TypeScript reference (runtime/kernels/conv.ts im2colRaw,
;; runtime/kernels/pool.ts maxPool2x2Forward / maxPool2dBackward, the emitted ReLU sweep):
;; they only copy, compare and add in the same order. Offsets and lengths are in FLOATS.
;; Why: on a shared memory (2 threads) V8's loops over the heap run ~30% slower, and these loops
;; were ~45% of an M2 step (profile of the trainer); in wasm they run the same on either memory.
;; The line below is rewritten by scripts/build-wasm.mjs for the shared-memory (threads) build.
(module
  (import "env" "mem" (memory 1)) ;; @MEMORY@
  ;; the GEMM module's export on the same memory (this thread's instance): conv_chunk calls it
  (import "env" "gemm" (func $gemm (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))

  ;; --- helpers (byte addresses) ------------------------------------------------------------
  ;; dst[0..n) = 0 (n floats)
  (func $zero (param $d i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (block $done4 (loop $l4
      (br_if $done4 (i32.gt_u (i32.add (local.get $d) (i32.const 16)) (local.get $e)))
      (v128.store (local.get $d) (v128.const i32x4 0 0 0 0))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (br $l4)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $d) (local.get $e)))
      (f32.store (local.get $d) (f32.const 0))
      (local.set $d (i32.add (local.get $d) (i32.const 4)))
      (br $l))))

  ;; dst[0..n) = src[0..n) (n floats; no overlap, or dst < src)
  (func $copy (param $d i32) (param $s i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (block $done4 (loop $l4
      (br_if $done4 (i32.gt_u (i32.add (local.get $d) (i32.const 16)) (local.get $e)))
      (v128.store (local.get $d) (v128.load (local.get $s)))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br $l4)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $d) (local.get $e)))
      (f32.store (local.get $d) (f32.load (local.get $s)))
      (local.set $d (i32.add (local.get $d) (i32.const 4)))
      (local.set $s (i32.add (local.get $s) (i32.const 4)))
      (br $l))))

  ;; first output index o (of OW) whose input index o*s + off is >= 0
  (func $lo (param $off i32) (param $s i32) (param $OW i32) (result i32)
    (local $v i32)
    (if (result i32) (i32.ge_s (local.get $off) (i32.const 0))
      (then (i32.const 0))
      (else
        (local.set $v (i32.div_s (i32.sub (i32.add (i32.sub (i32.const 0) (local.get $off)) (local.get $s)) (i32.const 1)) (local.get $s)))
        (select (local.get $v) (local.get $OW) (i32.lt_s (local.get $v) (local.get $OW))))))

  ;; one past the last output index whose input index o*s + off is < W (at least lo)
  (func $hi (param $off i32) (param $s i32) (param $W i32) (param $OW i32) (param $lo i32) (result i32)
    (local $t i32) (local $v i32)
    (local.set $t (i32.sub (i32.sub (local.get $W) (i32.const 1)) (local.get $off)))
    (if (i32.lt_s (local.get $t) (i32.const 0)) (then (return (local.get $lo))))
    (local.set $v (i32.add (i32.div_s (local.get $t) (local.get $s)) (i32.const 1)))
    (local.set $v (select (local.get $v) (local.get $OW) (i32.lt_s (local.get $v) (local.get $OW))))
    (select (local.get $v) (local.get $lo) (i32.gt_s (local.get $v) (local.get $lo))))

  ;; --- im2col: xs (Cg, IH, IW) -> col rows (Cg*kh*kw) of OH*OW floats, ld floats apart -------
  ;; (runtime/kernels/conv.ts im2colRaw; padding may be negative)
  (func $im2col (export "im2col")
    (param $xs i32) (param $Cg i32) (param $IH i32) (param $IW i32) (param $kh i32) (param $kw i32)
    (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32) (param $dh i32) (param $dw i32)
    (param $OH i32) (param $OW i32) (param $col i32) (param $ld i32)
    (local $OHW i32) (local $plane i32) (local $r i32) (local $ci i32) (local $xc i32)
    (local $ki i32) (local $kj i32) (local $ioff i32) (local $joff i32)
    (local $oh0 i32) (local $oh1 i32) (local $lo i32) (local $hi i32)
    (local $oh i32) (local $d i32) (local $row i32) (local $ow i32)
    (local.set $OHW (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $plane (i32.and (i32.and (i32.eq (local.get $sh) (i32.const 1)) (i32.eq (local.get $sw) (i32.const 1)))
                               (i32.eq (local.get $OW) (local.get $IW))))
    (local.set $r (local.get $col))
    (local.set $ci (i32.const 0))
    (block $cdone (loop $cl
      (br_if $cdone (i32.ge_s (local.get $ci) (local.get $Cg)))
      (local.set $xc (i32.add (local.get $xs) (i32.mul (local.get $ci) (i32.mul (local.get $IH) (local.get $IW)))))
      (local.set $ki (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_s (local.get $ki) (local.get $kh)))
        (local.set $ioff (i32.sub (i32.mul (local.get $ki) (local.get $dh)) (local.get $ph)))
        (local.set $oh0 (call $lo (local.get $ioff) (local.get $sh) (local.get $OH)))
        (local.set $oh1 (call $hi (local.get $ioff) (local.get $sh) (local.get $IH) (local.get $OH) (local.get $oh0)))
        (local.set $kj (i32.const 0))
        (block $jdone (loop $jl
          (br_if $jdone (i32.ge_s (local.get $kj) (local.get $kw)))
          (local.set $joff (i32.sub (i32.mul (local.get $kj) (local.get $dw)) (local.get $pw)))
          (local.set $lo (call $lo (local.get $joff) (local.get $sw) (local.get $OW)))
          (local.set $hi (call $hi (local.get $joff) (local.get $sw) (local.get $IW) (local.get $OW) (local.get $lo)))
          (block $next
            (if (i32.or (i32.ge_s (local.get $oh0) (local.get $oh1)) (i32.ge_s (local.get $lo) (local.get $hi)))
              (then
                (call $zero (i32.shl (local.get $r) (i32.const 2)) (local.get $OHW))
                (br $next)))
            (if (i32.gt_s (local.get $oh0) (i32.const 0))
              (then (call $zero (i32.shl (local.get $r) (i32.const 2)) (i32.mul (local.get $oh0) (local.get $OW)))))
            (if (i32.lt_s (local.get $oh1) (local.get $OH))
              (then (call $zero (i32.shl (i32.add (local.get $r) (i32.mul (local.get $oh1) (local.get $OW))) (i32.const 2))
                                (i32.mul (i32.sub (local.get $OH) (local.get $oh1)) (local.get $OW)))))
            (if (local.get $plane)
              (then
                ;; the valid rows are one contiguous run of the shifted plane
                (call $copy
                  (i32.shl (i32.add (local.get $r) (i32.add (i32.mul (local.get $oh0) (local.get $OW)) (local.get $lo))) (i32.const 2))
                  (i32.shl (i32.add (local.get $xc) (i32.add (i32.add (i32.mul (i32.add (local.get $oh0) (local.get $ioff)) (local.get $IW))
                                                                     (local.get $joff)) (local.get $lo))) (i32.const 2))
                  (i32.sub (i32.add (i32.mul (i32.sub (i32.sub (local.get $oh1) (local.get $oh0)) (i32.const 1)) (local.get $OW))
                                    (local.get $hi)) (local.get $lo)))
                ;; zero the cells that wrapped around a row edge
                (if (i32.or (i32.gt_s (local.get $lo) (i32.const 0)) (i32.lt_s (local.get $hi) (local.get $OW)))
                  (then
                    ;; byte addresses: $d walks the rows; cells [0, lo) and [hi, OW) of each row
                    ;; (1 cell each for a 3x3 "same" kernel: inline stores, not calls)
                    (local.set $d (i32.shl (i32.add (local.get $r) (i32.mul (local.get $oh0) (local.get $OW))) (i32.const 2)))
                    (local.set $row (i32.shl (i32.add (local.get $r) (i32.mul (local.get $oh1) (local.get $OW))) (i32.const 2)))
                    (block $edone (loop $el
                      (br_if $edone (i32.ge_u (local.get $d) (local.get $row)))
                      (local.set $ow (i32.const 0))
                      (block $e1 (loop $l1
                        (br_if $e1 (i32.ge_s (local.get $ow) (local.get $lo)))
                        (f32.store (i32.add (local.get $d) (i32.shl (local.get $ow) (i32.const 2))) (f32.const 0))
                        (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                        (br $l1)))
                      (local.set $ow (local.get $hi))
                      (block $e2 (loop $l2
                        (br_if $e2 (i32.ge_s (local.get $ow) (local.get $OW)))
                        (f32.store (i32.add (local.get $d) (i32.shl (local.get $ow) (i32.const 2))) (f32.const 0))
                        (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                        (br $l2)))
                      (local.set $d (i32.add (local.get $d) (i32.shl (local.get $OW) (i32.const 2))))
                      (br $el)))))
                (br $next)))
            ;; general: row by row
            (local.set $oh (local.get $oh0))
            (block $odone (loop $ol
              (br_if $odone (i32.ge_s (local.get $oh) (local.get $oh1)))
              (local.set $d (i32.add (local.get $r) (i32.mul (local.get $oh) (local.get $OW))))
              (local.set $row (i32.add (i32.add (local.get $xc)
                (i32.mul (i32.add (i32.mul (local.get $oh) (local.get $sh)) (local.get $ioff)) (local.get $IW))) (local.get $joff)))
              (call $zero (i32.shl (local.get $d) (i32.const 2)) (local.get $lo))
              (if (i32.eq (local.get $sw) (i32.const 1))
                (then
                  (call $copy (i32.shl (i32.add (local.get $d) (local.get $lo)) (i32.const 2))
                              (i32.shl (i32.add (local.get $row) (local.get $lo)) (i32.const 2))
                              (i32.sub (local.get $hi) (local.get $lo))))
                (else
                  (local.set $ow (local.get $lo))
                  (block $wdone (loop $wl
                    (br_if $wdone (i32.ge_s (local.get $ow) (local.get $hi)))
                    (f32.store (i32.shl (i32.add (local.get $d) (local.get $ow)) (i32.const 2))
                      (f32.load (i32.shl (i32.add (local.get $row) (i32.mul (local.get $ow) (local.get $sw))) (i32.const 2))))
                    (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                    (br $wl)))))
              (call $zero (i32.shl (i32.add (local.get $d) (local.get $hi)) (i32.const 2)) (i32.sub (local.get $OW) (local.get $hi)))
              (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
              (br $ol))))
          (local.set $r (i32.add (local.get $r) (local.get $ld)))
          (local.set $kj (i32.add (local.get $kj) (i32.const 1)))
          (br $jl)))
        (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
        (br $il)))
      (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
      (br $cl))))

  ;; --- y[i] = max(z[i], 0) for i < len (Math.max: NaN stays NaN, -0 becomes +0) -------------
  (func (export "relu") (param $z i32) (param $y i32) (param $len i32)
    (local $e i32) (local $zero v128)
    (local.set $z (i32.shl (local.get $z) (i32.const 2)))
    (local.set $y (i32.shl (local.get $y) (i32.const 2)))
    (local.set $e (i32.add (local.get $y) (i32.shl (local.get $len) (i32.const 2))))
    (block $done4 (loop $l4
      (br_if $done4 (i32.gt_u (i32.add (local.get $y) (i32.const 16)) (local.get $e)))
      (v128.store (local.get $y) (f32x4.max (v128.load (local.get $z)) (local.get $zero)))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $z (i32.add (local.get $z) (i32.const 16)))
      (br $l4)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $y) (local.get $e)))
      (f32.store (local.get $y) (f32.max (f32.load (local.get $z)) (f32.const 0)))
      (local.set $y (i32.add (local.get $y) (i32.const 4)))
      (local.set $z (i32.add (local.get $z) (i32.const 4)))
      (br $l))))

  ;; --- 2x2 max pool, stride 2, no padding: x (planes, IH, IW) -> y, idx (planes, OH, OW) ----
  ;; (runtime/kernels/pool.ts maxPool2x2Forward: ties to the first maximum in row-major order,
  ;; a window with a NaN takes its last NaN; idx is the flat index ih*IW + iw as a float)
  (func (export "maxpool2x2")
    (param $x i32) (param $y i32) (param $idx i32) (param $planes i32)
    (param $IH i32) (param $IW i32) (param $OH i32) (param $OW i32)
    (local $p i32) (local $xp i32) (local $o i32) (local $oh i32) (local $i0 i32)
    (local $r0 i32) (local $r1 i32) (local $ow i32) (local $j i32)
    (local $a f32) (local $b f32) (local $c f32) (local $d f32)
    (local $t i32) (local $u i32) (local $s i32) (local $mi i32) (local $IW4 i32)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (local $va v128) (local $vb v128) (local $vc v128) (local $vd v128)
    (local $mt v128) (local $mu v128) (local $ms v128) (local $vi v128)
    (local.set $IW4 (i32.shl (local.get $IW) (i32.const 2)))
    (local.set $y (i32.shl (local.get $y) (i32.const 2)))
    (local.set $idx (i32.shl (local.get $idx) (i32.const 2)))
    (local.set $p (i32.const 0))
    (block $pdone (loop $pl
      (br_if $pdone (i32.ge_s (local.get $p) (local.get $planes)))
      (local.set $xp (i32.add (local.get $x) (i32.mul (local.get $p) (i32.mul (local.get $IH) (local.get $IW)))))
      (local.set $oh (i32.const 0))
      (block $hdone (loop $hl
        (br_if $hdone (i32.ge_s (local.get $oh) (local.get $OH)))
        (local.set $i0 (i32.mul (i32.shl (local.get $oh) (i32.const 1)) (local.get $IW)))
        (local.set $r0 (i32.shl (i32.add (local.get $xp) (local.get $i0)) (i32.const 2)))
        (local.set $r1 (i32.add (local.get $r0) (local.get $IW4)))
        (local.set $ow (i32.const 0))
        (local.set $j (i32.const 0))
        ;; 4 windows at a time: even/odd columns of both rows, branch-free picks by masks;
        ;; a group with a NaN goes to the scalar loop below
        ;; (the last group of a row whose width is not a multiple of 4 is moved back to end at
        ;; OW: it recomputes up to 3 windows, with the same results, instead of the scalar loop)
        (block $vdone (loop $vl
          (if (i32.gt_s (i32.add (local.get $ow) (i32.const 4)) (local.get $OW))
            (then
              (br_if $vdone (i32.or (i32.ge_s (local.get $ow) (local.get $OW)) (i32.lt_s (local.get $OW) (i32.const 4))))
              (local.set $t (i32.sub (local.get $ow) (i32.sub (local.get $OW) (i32.const 4))))
              (local.set $ow (i32.sub (local.get $OW) (i32.const 4)))
              (local.set $j (i32.sub (local.get $j) (i32.shl (local.get $t) (i32.const 1))))
              (local.set $y (i32.sub (local.get $y) (i32.shl (local.get $t) (i32.const 2))))
              (local.set $idx (i32.sub (local.get $idx) (i32.shl (local.get $t) (i32.const 2))))))
          (local.set $q0 (v128.load (i32.add (local.get $r0) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $q1 (v128.load offset=16 (i32.add (local.get $r0) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $q2 (v128.load (i32.add (local.get $r1) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $q3 (v128.load offset=16 (i32.add (local.get $r1) (i32.shl (local.get $j) (i32.const 2)))))
          (br_if $vdone (v128.any_true (v128.or
            (v128.or (f32x4.ne (local.get $q0) (local.get $q0)) (f32x4.ne (local.get $q1) (local.get $q1)))
            (v128.or (f32x4.ne (local.get $q2) (local.get $q2)) (f32x4.ne (local.get $q3) (local.get $q3))))))
          ;; va = x[r0 + j + 2l], vb = x[r0 + j + 2l + 1], vc, vd the same on row r1 (lanes l = 0..3)
          (local.set $va (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $q0) (local.get $q1)))
          (local.set $vb (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $q0) (local.get $q1)))
          (local.set $vc (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $q2) (local.get $q3)))
          (local.set $vd (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $q2) (local.get $q3)))
          (local.set $mt (f32x4.gt (local.get $vb) (local.get $va)))
          (local.set $mu (f32x4.gt (local.get $vd) (local.get $vc)))
          (local.set $va (v128.bitselect (local.get $vb) (local.get $va) (local.get $mt)))
          (local.set $vc (v128.bitselect (local.get $vd) (local.get $vc) (local.get $mu)))
          (local.set $ms (f32x4.gt (local.get $vc) (local.get $va)))
          (v128.store (local.get $y) (v128.bitselect (local.get $vc) (local.get $va) (local.get $ms)))
          ;; mi = i0 + j + 2l + t + s*(IW + u - t), with masks t, u, s = -1 or 0
          (local.set $vi (i32x4.add (i32x4.splat (i32.add (local.get $i0) (local.get $j))) (v128.const i32x4 0 2 4 6)))
          (local.set $vi (i32x4.add (i32x4.sub (local.get $vi) (local.get $mt))
            (v128.and (local.get $ms)
              (i32x4.add (i32x4.sub (i32x4.splat (local.get $IW)) (local.get $mu)) (local.get $mt)))))
          (v128.store (local.get $idx) (f32x4.convert_i32x4_s (local.get $vi)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $idx (i32.add (local.get $idx) (i32.const 16)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 4)))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br $vl)))
        (block $wdone (loop $wl
          (br_if $wdone (i32.ge_s (local.get $ow) (local.get $OW)))
          (local.set $a (f32.load (i32.add (local.get $r0) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $b (f32.load offset=4 (i32.add (local.get $r0) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $c (f32.load (i32.add (local.get $r1) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $d (f32.load offset=4 (i32.add (local.get $r1) (i32.shl (local.get $j) (i32.const 2)))))
          (if (i32.or (i32.or (f32.ne (local.get $a) (local.get $a)) (f32.ne (local.get $b) (local.get $b)))
                      (i32.or (f32.ne (local.get $c) (local.get $c)) (f32.ne (local.get $d) (local.get $d))))
            (then
              (local.set $mi
                (if (result i32) (f32.ne (local.get $d) (local.get $d))
                  (then (i32.add (i32.add (i32.add (local.get $i0) (local.get $IW)) (local.get $j)) (i32.const 1)))
                  (else (if (result i32) (f32.ne (local.get $c) (local.get $c))
                    (then (i32.add (i32.add (local.get $i0) (local.get $IW)) (local.get $j)))
                    (else (if (result i32) (f32.ne (local.get $b) (local.get $b))
                      (then (i32.add (i32.add (local.get $i0) (local.get $j)) (i32.const 1)))
                      (else (i32.add (local.get $i0) (local.get $j))))))))))
            (else
              (local.set $t (f32.gt (local.get $b) (local.get $a)))
              (local.set $u (f32.gt (local.get $d) (local.get $c)))
              (local.set $s (f32.gt (select (local.get $d) (local.get $c) (local.get $u))
                                    (select (local.get $b) (local.get $a) (local.get $t))))
              (local.set $mi (i32.add (i32.add (i32.add (local.get $i0) (local.get $j)) (local.get $t))
                (i32.mul (local.get $s) (i32.sub (i32.add (local.get $IW) (local.get $u)) (local.get $t)))))))
          (f32.store (local.get $y) (f32.load (i32.shl (i32.add (local.get $xp) (local.get $mi)) (i32.const 2))))
          (f32.store (local.get $idx) (f32.convert_i32_s (local.get $mi)))
          (local.set $y (i32.add (local.get $y) (i32.const 4)))
          (local.set $idx (i32.add (local.get $idx) (i32.const 4)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
          (local.set $j (i32.add (local.get $j) (i32.const 2)))
          (br $wl)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $hl)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $pl))))

  ;; --- max pool backward: dx (planes, HW) = 0, then dx[p, idx[p, j]] += dy[p, j] in order ----
  (func (export "maxpool_backward")
    (param $dy i32) (param $idx i32) (param $dx i32) (param $planes i32) (param $HW i32) (param $OHW i32)
    (local $p i32) (local $j i32) (local $dxp i32) (local $a i32)
    (memory.fill (i32.shl (local.get $dx) (i32.const 2)) (i32.const 0)
      (i32.shl (i32.mul (local.get $planes) (local.get $HW)) (i32.const 2)))
    (local.set $dy (i32.shl (local.get $dy) (i32.const 2)))
    (local.set $idx (i32.shl (local.get $idx) (i32.const 2)))
    (local.set $p (i32.const 0))
    (block $pdone (loop $pl
      (br_if $pdone (i32.ge_s (local.get $p) (local.get $planes)))
      (local.set $dxp (i32.add (local.get $dx) (i32.mul (local.get $p) (local.get $HW))))
      (local.set $j (i32.const 0))
      (block $jdone (loop $jl
        (br_if $jdone (i32.ge_s (local.get $j) (local.get $OHW)))
        (local.set $a (i32.shl (i32.add (local.get $dxp) (i32.trunc_f32_s (f32.load (local.get $idx)))) (i32.const 2)))
        (f32.store (local.get $a) (f32.add (f32.load (local.get $a)) (f32.load (local.get $dy))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $idx (i32.add (local.get $idx) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $pl))))

  ;; --- one chunk of a convolution split between threads (runtime/wasm/wasm-backend.ts) -------
  ;; The job's parameters are i32s at byte $a (the control block):
  ;;   0 kind (1: forward-like, 2: weight gradient), 1 n, 2 x, 3 w, 4 b (-1: none), 5 y or dW,
  ;;   6 dy, 7 C, 8 IH, 9 IW, 10 K, 11 kh, 12 kw, 13 sh, 14 sw, 15 ph, 16 pw, 17 dh, 18 dw,
  ;;   19 OH, 20 OW, 21 tA, 22 size (samples or input channels per chunk)
  ;; kind 1, samples [chunk*size, +size): y_i = bias, col = im2col(x_i) at $colT,
  ;;   y_i (+)= op(w) (K, C*kh*kw) . col  (groups 1; the per-sample path of conv.ts convCore);
  ;; kind 2, input channels [c0, c1) = [chunk*size, +size): for every sample i in order, rows
  ;;   [c0*kh*kw, c1*kh*kw) of im2col(x_i) at the same rows of $colT, and the same columns of
  ;;   dW (K, C*kh*kw) (+)= dy_i (K, OH*OW) . col^T (beta 0 for i = 0), as the one-thread loop.
  ;; Every output element is summed in the one-thread order: the same bytes for any thread count.
  (func (export "conv_chunk") (param $a i32) (param $chunk i32) (param $colT i32) (param $scratch i32)
    (local $n i32) (local $x i32) (local $w i32) (local $b i32) (local $y i32) (local $dy i32)
    (local $C i32) (local $IH i32) (local $IW i32) (local $K i32) (local $kh i32) (local $kw i32)
    (local $OH i32) (local $OW i32) (local $tA i32) (local $size i32)
    (local $HW i32) (local $OHW i32) (local $KK i32) (local $CKK i32)
    (local $i i32) (local $i1 i32) (local $c0 i32) (local $c1 i32) (local $k i32) (local $ys i32)
    (local $p i32) (local $e i32) (local $v v128)
    (local.set $n (i32.load offset=4 (local.get $a)))
    (local.set $x (i32.load offset=8 (local.get $a)))
    (local.set $w (i32.load offset=12 (local.get $a)))
    (local.set $b (i32.load offset=16 (local.get $a)))
    (local.set $y (i32.load offset=20 (local.get $a)))
    (local.set $dy (i32.load offset=24 (local.get $a)))
    (local.set $C (i32.load offset=28 (local.get $a)))
    (local.set $IH (i32.load offset=32 (local.get $a)))
    (local.set $IW (i32.load offset=36 (local.get $a)))
    (local.set $K (i32.load offset=40 (local.get $a)))
    (local.set $kh (i32.load offset=44 (local.get $a)))
    (local.set $kw (i32.load offset=48 (local.get $a)))
    (local.set $OH (i32.load offset=76 (local.get $a)))
    (local.set $OW (i32.load offset=80 (local.get $a)))
    (local.set $tA (i32.load offset=84 (local.get $a)))
    (local.set $size (i32.load offset=88 (local.get $a)))
    (local.set $HW (i32.mul (local.get $IH) (local.get $IW)))
    (local.set $OHW (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $KK (i32.mul (local.get $kh) (local.get $kw)))
    (local.set $CKK (i32.mul (local.get $C) (local.get $KK)))
    (if (i32.eq (i32.load (local.get $a)) (i32.const 1))
      (then
        (local.set $i (i32.mul (local.get $chunk) (local.get $size)))
        (local.set $i1 (i32.add (local.get $i) (local.get $size)))
        (local.set $i1 (select (local.get $i1) (local.get $n) (i32.lt_s (local.get $i1) (local.get $n))))
        (block $sdone (loop $sl
          (br_if $sdone (i32.ge_s (local.get $i) (local.get $i1)))
          (local.set $ys (i32.add (local.get $y) (i32.mul (local.get $i) (i32.mul (local.get $K) (local.get $OHW)))))
          (if (i32.ge_s (local.get $b) (i32.const 0))
            (then
              (local.set $k (i32.const 0))
              (block $kdone (loop $kl
                (br_if $kdone (i32.ge_s (local.get $k) (local.get $K)))
                (local.set $v (f32x4.splat (f32.load (i32.shl (i32.add (local.get $b) (local.get $k)) (i32.const 2)))))
                (local.set $p (i32.shl (i32.add (local.get $ys) (i32.mul (local.get $k) (local.get $OHW))) (i32.const 2)))
                (local.set $e (i32.add (local.get $p) (i32.shl (local.get $OHW) (i32.const 2))))
                (block $f4 (loop $fl4
                  (br_if $f4 (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $e)))
                  (v128.store (local.get $p) (local.get $v))
                  (local.set $p (i32.add (local.get $p) (i32.const 16)))
                  (br $fl4)))
                (block $f1 (loop $fl1
                  (br_if $f1 (i32.ge_u (local.get $p) (local.get $e)))
                  (f32.store (local.get $p) (f32x4.extract_lane 0 (local.get $v)))
                  (local.set $p (i32.add (local.get $p) (i32.const 4)))
                  (br $fl1)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kl)))))
          (call $im2col
            (i32.add (local.get $x) (i32.mul (local.get $i) (i32.mul (local.get $C) (local.get $HW))))
            (local.get $C) (local.get $IH) (local.get $IW) (local.get $kh) (local.get $kw)
            (i32.load offset=52 (local.get $a)) (i32.load offset=56 (local.get $a))
            (i32.load offset=60 (local.get $a)) (i32.load offset=64 (local.get $a))
            (i32.load offset=68 (local.get $a)) (i32.load offset=72 (local.get $a))
            (local.get $OH) (local.get $OW) (local.get $colT) (local.get $OHW))
          (call $gemm (local.get $tA) (i32.const 0) (local.get $K) (local.get $OHW) (local.get $CKK)
            (local.get $w) (local.get $colT) (local.get $ys) (i32.ge_s (local.get $b) (i32.const 0))
            (i32.const 0) (local.get $K) (i32.const 0) (local.get $OHW) (local.get $scratch))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $sl))))
      (else
        (local.set $c0 (i32.mul (local.get $chunk) (local.get $size)))
        (local.set $c1 (i32.add (local.get $c0) (local.get $size)))
        (local.set $c1 (select (local.get $c1) (local.get $C) (i32.lt_s (local.get $c1) (local.get $C))))
        (local.set $i (i32.const 0))
        (block $ddone (loop $dl
          (br_if $ddone (i32.ge_s (local.get $i) (local.get $n)))
          (call $im2col
            (i32.add (local.get $x) (i32.add (i32.mul (local.get $i) (i32.mul (local.get $C) (local.get $HW)))
                                             (i32.mul (local.get $c0) (local.get $HW))))
            (i32.sub (local.get $c1) (local.get $c0)) (local.get $IH) (local.get $IW) (local.get $kh) (local.get $kw)
            (i32.load offset=52 (local.get $a)) (i32.load offset=56 (local.get $a))
            (i32.load offset=60 (local.get $a)) (i32.load offset=64 (local.get $a))
            (i32.load offset=68 (local.get $a)) (i32.load offset=72 (local.get $a))
            (local.get $OH) (local.get $OW)
            (i32.add (local.get $colT) (i32.mul (i32.mul (local.get $c0) (local.get $KK)) (local.get $OHW)))
            (local.get $OHW))
          (call $gemm (i32.const 0) (i32.const 1) (local.get $K) (local.get $CKK) (local.get $OHW)
            (i32.add (local.get $dy) (i32.mul (local.get $i) (i32.mul (local.get $K) (local.get $OHW))))
            (local.get $colT) (local.get $y) (i32.gt_s (local.get $i) (i32.const 0))
            (i32.const 0) (local.get $K) (i32.mul (local.get $c0) (local.get $KK)) (i32.mul (local.get $c1) (local.get $KK))
            (local.get $scratch))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $dl))))))

  ;; --- batch norm forward, the fused sweep of a bn node with no tail or a lone ReLU ----------
  ;; (compiler/codegen/emit-model.ts emitted this loop in TypeScript; the same float64 operations
  ;; in the same order, so the same bytes.) x, z, y are (n, C, S); g, b (C) or -1; mean, invstd
  ;; (C) written in training; rm, rv the running statistics (C); keep = 1 - momentum, eta = momentum.
  ;; Training, per channel: s = sum x (float64, samples then positions in order), mu = s/m,
  ;; q = sum (x - mu)^2, is = 1/sqrt(q/m + eps); running stats updated (unbiased variance);
  ;; evaluation: is = 1/sqrt(rv + eps), mu = rm. scale = is*g, shift = b - mu*scale;
  ;; z = x*scale + shift (float64, rounded once), y = relu ? max(that, 0) : that.
  (func (export "bn_forward")
    (param $x i32) (param $z i32) (param $y i32) (param $n i32) (param $C i32) (param $S i32)
    (param $g i32) (param $b i32) (param $mean i32) (param $invstd i32) (param $rm i32) (param $rv i32)
    (param $eps f64) (param $keep f64) (param $eta f64) (param $relu i32) (param $train i32)
    (local $c i32) (local $r i32) (local $o i32) (local $e i32) (local $CS i32) (local $m f64)
    (local $s f64) (local $q f64) (local $d f64) (local $mu f64) (local $is f64)
    (local $scale f64) (local $shift f64) (local $off i32) (local $e4 i32)
    (local $vs v128) (local $vh v128) (local $v v128) (local $lo v128) (local $hi v128) (local $zero v128)
    (local $t f64)
    (local.set $CS (i32.mul (local.get $C) (local.get $S)))
    (local.set $m (f64.convert_i32_s (i32.mul (local.get $n) (local.get $S))))
    (local.set $c (i32.const 0))
    (block $cdone (loop $cl
      (br_if $cdone (i32.ge_s (local.get $c) (local.get $C)))
      (if (local.get $train)
        (then
          (local.set $s (f64.const 0))
          (local.set $r (i32.const 0))
          (block $r1 (loop $rl1
            (br_if $r1 (i32.ge_s (local.get $r) (local.get $n)))
            (local.set $o (i32.shl (i32.add (local.get $x) (i32.add (i32.mul (local.get $r) (local.get $CS)) (i32.mul (local.get $c) (local.get $S)))) (i32.const 2)))
            (local.set $e (i32.add (local.get $o) (i32.shl (local.get $S) (i32.const 2))))
            (block $k1 (loop $kl1
              (br_if $k1 (i32.ge_u (local.get $o) (local.get $e)))
              (local.set $s (f64.add (local.get $s) (f64.promote_f32 (f32.load (local.get $o)))))
              (local.set $o (i32.add (local.get $o) (i32.const 4)))
              (br $kl1)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rl1)))
          (local.set $mu (f64.div (local.get $s) (local.get $m)))
          (local.set $q (f64.const 0))
          (local.set $r (i32.const 0))
          (block $r2 (loop $rl2
            (br_if $r2 (i32.ge_s (local.get $r) (local.get $n)))
            (local.set $o (i32.shl (i32.add (local.get $x) (i32.add (i32.mul (local.get $r) (local.get $CS)) (i32.mul (local.get $c) (local.get $S)))) (i32.const 2)))
            (local.set $e (i32.add (local.get $o) (i32.shl (local.get $S) (i32.const 2))))
            (block $k2 (loop $kl2
              (br_if $k2 (i32.ge_u (local.get $o) (local.get $e)))
              (local.set $d (f64.sub (f64.promote_f32 (f32.load (local.get $o))) (local.get $mu)))
              (local.set $q (f64.add (local.get $q) (f64.mul (local.get $d) (local.get $d))))
              (local.set $o (i32.add (local.get $o) (i32.const 4)))
              (br $kl2)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rl2)))
          (local.set $is (f64.div (f64.const 1) (f64.sqrt (f64.add (f64.div (local.get $q) (local.get $m)) (local.get $eps)))))
          (local.set $off (i32.shl (i32.add (local.get $mean) (local.get $c)) (i32.const 2)))
          (f32.store (local.get $off) (f32.demote_f64 (local.get $mu)))
          (local.set $off (i32.shl (i32.add (local.get $invstd) (local.get $c)) (i32.const 2)))
          (f32.store (local.get $off) (f32.demote_f64 (local.get $is)))
          (local.set $off (i32.shl (i32.add (local.get $rm) (local.get $c)) (i32.const 2)))
          (f32.store (local.get $off) (f32.demote_f64 (f64.add
            (f64.mul (local.get $keep) (f64.promote_f32 (f32.load (local.get $off))))
            (f64.mul (local.get $eta) (local.get $mu)))))
          (local.set $t (if (result f64) (f64.gt (local.get $m) (f64.const 1))
            (then (f64.div (local.get $q) (f64.sub (local.get $m) (f64.const 1))))
            (else (f64.div (local.get $q) (local.get $m)))))
          (local.set $off (i32.shl (i32.add (local.get $rv) (local.get $c)) (i32.const 2)))
          (f32.store (local.get $off) (f32.demote_f64 (f64.add
            (f64.mul (local.get $keep) (f64.promote_f32 (f32.load (local.get $off))))
            (f64.mul (local.get $eta) (local.get $t))))))
        (else
          (local.set $is (f64.div (f64.const 1) (f64.sqrt (f64.add
            (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $rv) (local.get $c)) (i32.const 2)))) (local.get $eps)))))
          (local.set $mu (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $rm) (local.get $c)) (i32.const 2)))))))
      (local.set $scale (local.get $is))
      (if (i32.ge_s (local.get $g) (i32.const 0))
        (then (local.set $scale (f64.mul (local.get $is)
          (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $g) (local.get $c)) (i32.const 2))))))))
      (local.set $shift (f64.sub
        (if (result f64) (i32.ge_s (local.get $b) (i32.const 0))
          (then (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $b) (local.get $c)) (i32.const 2)))))
          (else (f64.const 0)))
        (f64.mul (local.get $mu) (local.get $scale))))
      (local.set $vs (f64x2.splat (local.get $scale)))
      (local.set $vh (f64x2.splat (local.get $shift)))
      ;; the sweep: 4 at a time in two float64 pairs, then one by one
      (local.set $r (i32.const 0))
      (block $r3 (loop $rl3
        (br_if $r3 (i32.ge_s (local.get $r) (local.get $n)))
        (local.set $off (i32.shl (i32.add (i32.mul (local.get $r) (local.get $CS)) (i32.mul (local.get $c) (local.get $S))) (i32.const 2)))
        (local.set $e (i32.add (local.get $off) (i32.shl (local.get $S) (i32.const 2))))
        (block $k4 (loop $kl4
          (br_if $k4 (i32.gt_u (i32.add (local.get $off) (i32.const 16)) (local.get $e)))
          (local.set $v (v128.load (i32.add (i32.shl (local.get $x) (i32.const 2)) (local.get $off))))
          (local.set $lo (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (local.get $vs)) (local.get $vh)))
          (local.set $hi (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $vs)) (local.get $vh)))
          (v128.store (i32.add (i32.shl (local.get $z) (i32.const 2)) (local.get $off))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
          (if (local.get $relu)
            (then
              (local.set $lo (f64x2.max (local.get $lo) (local.get $zero)))
              (local.set $hi (f64x2.max (local.get $hi) (local.get $zero)))))
          (v128.store (i32.add (i32.shl (local.get $y) (i32.const 2)) (local.get $off))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
          (local.set $off (i32.add (local.get $off) (i32.const 16)))
          (br $kl4)))
        (block $k5 (loop $kl5
          (br_if $k5 (i32.ge_u (local.get $off) (local.get $e)))
          (local.set $t (f64.add (f64.mul (f64.promote_f32 (f32.load (i32.add (i32.shl (local.get $x) (i32.const 2)) (local.get $off))))
            (local.get $scale)) (local.get $shift)))
          (f32.store (i32.add (i32.shl (local.get $z) (i32.const 2)) (local.get $off)) (f32.demote_f64 (local.get $t)))
          (if (local.get $relu) (then (local.set $t (f64.max (local.get $t) (f64.const 0)))))
          (f32.store (i32.add (i32.shl (local.get $y) (i32.const 2)) (local.get $off)) (f32.demote_f64 (local.get $t)))
          (local.set $off (i32.add (local.get $off) (i32.const 4)))
          (br $kl5)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl3)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cl))))

  ;; --- batch norm backward (runtime/kernels/norm.ts batchNormBackward, the same bytes) -------
  ;; Its two interleaved float64 accumulators (even and odd positions of each row) are the two
  ;; lanes of an f64x2; dx = k (dy - a - (x - mu) b) in float64, rounded once.
  (func (export "bn_backward")
    (param $x i32) (param $gamma i32) (param $mean i32) (param $invstd i32) (param $dy i32)
    (param $dx i32) (param $dgamma i32) (param $dbeta i32) (param $n i32) (param $C i32) (param $S i32)
    (local $ch i32) (local $i i32) (local $r i32) (local $j i32) (local $CS i32) (local $m f64)
    (local $mu f64) (local $is f64) (local $vmu v128) (local $sdy v128) (local $sdyx v128) (local $d v128)
    (local $sdyS f64) (local $sdyxS f64) (local $k f64) (local $a f64) (local $b f64) (local $t f64)
    (local $vk v128) (local $va v128) (local $vb v128) (local $p i32)
    (local.set $CS (i32.mul (local.get $C) (local.get $S)))
    (local.set $m (f64.convert_i32_s (i32.mul (local.get $n) (local.get $S))))
    (local.set $ch (i32.const 0))
    (block $cdone (loop $cl
      (br_if $cdone (i32.ge_s (local.get $ch) (local.get $C)))
      (local.set $mu (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $mean) (local.get $ch)) (i32.const 2)))))
      (local.set $is (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $invstd) (local.get $ch)) (i32.const 2)))))
      (local.set $vmu (f64x2.splat (local.get $mu)))
      (local.set $sdy (f64x2.splat (f64.const 0)))
      (local.set $sdyx (f64x2.splat (f64.const 0)))
      (local.set $i (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $r (i32.add (i32.mul (local.get $i) (local.get $CS)) (i32.mul (local.get $ch) (local.get $S))))
        (local.set $j (i32.const 0))
        (block $jdone (loop $jl
          (br_if $jdone (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $S)))
          (local.set $p (i32.shl (i32.add (local.get $r) (local.get $j)) (i32.const 2)))
          (local.set $d (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (i32.shl (local.get $dy) (i32.const 2)) (local.get $p)))))
          (local.set $sdy (f64x2.add (local.get $sdy) (local.get $d)))
          (local.set $sdyx (f64x2.add (local.get $sdyx) (f64x2.mul (local.get $d)
            (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (i32.shl (local.get $x) (i32.const 2)) (local.get $p))))
                       (local.get $vmu)))))
          (local.set $j (i32.add (local.get $j) (i32.const 2)))
          (br $jl)))
        (if (i32.lt_s (local.get $j) (local.get $S))
          (then
            (local.set $p (i32.shl (i32.add (local.get $r) (local.get $j)) (i32.const 2)))
            (local.set $t (f64.promote_f32 (f32.load (i32.add (i32.shl (local.get $dy) (i32.const 2)) (local.get $p)))))
            (local.set $sdy (f64x2.replace_lane 0 (local.get $sdy)
              (f64.add (f64x2.extract_lane 0 (local.get $sdy)) (local.get $t))))
            (local.set $sdyx (f64x2.replace_lane 0 (local.get $sdyx)
              (f64.add (f64x2.extract_lane 0 (local.get $sdyx)) (f64.mul (local.get $t)
                (f64.sub (f64.promote_f32 (f32.load (i32.add (i32.shl (local.get $x) (i32.const 2)) (local.get $p)))) (local.get $mu))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $sdyS (f64.add (f64x2.extract_lane 0 (local.get $sdy)) (f64x2.extract_lane 1 (local.get $sdy))))
      (local.set $sdyxS (f64.mul (f64.add (f64x2.extract_lane 0 (local.get $sdyx)) (f64x2.extract_lane 1 (local.get $sdyx))) (local.get $is)))
      (if (i32.ge_s (local.get $dgamma) (i32.const 0))
        (then (f32.store (i32.shl (i32.add (local.get $dgamma) (local.get $ch)) (i32.const 2)) (f32.demote_f64 (local.get $sdyxS)))))
      (if (i32.ge_s (local.get $dbeta) (i32.const 0))
        (then (f32.store (i32.shl (i32.add (local.get $dbeta) (local.get $ch)) (i32.const 2)) (f32.demote_f64 (local.get $sdyS)))))
      (if (i32.ge_s (local.get $dx) (i32.const 0))
        (then
          (local.set $k (f64.mul
            (if (result f64) (i32.ge_s (local.get $gamma) (i32.const 0))
              (then (f64.promote_f32 (f32.load (i32.shl (i32.add (local.get $gamma) (local.get $ch)) (i32.const 2)))))
              (else (f64.const 1)))
            (local.get $is)))
          (local.set $a (f64.div (local.get $sdyS) (local.get $m)))
          (local.set $b (f64.div (f64.mul (local.get $sdyxS) (local.get $is)) (local.get $m)))
          (local.set $vk (f64x2.splat (local.get $k)))
          (local.set $va (f64x2.splat (local.get $a)))
          (local.set $vb (f64x2.splat (local.get $b)))
          (local.set $i (i32.const 0))
          (block $i2done (loop $i2l
            (br_if $i2done (i32.ge_s (local.get $i) (local.get $n)))
            (local.set $r (i32.add (i32.mul (local.get $i) (local.get $CS)) (i32.mul (local.get $ch) (local.get $S))))
            (local.set $j (i32.const 0))
            (block $j2done (loop $j2l
              (br_if $j2done (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $S)))
              (local.set $p (i32.shl (i32.add (local.get $r) (local.get $j)) (i32.const 2)))
              (v128.store64_lane 0 (i32.add (i32.shl (local.get $dx) (i32.const 2)) (local.get $p))
                (f32x4.demote_f64x2_zero (f64x2.mul (local.get $vk)
                  (f64x2.sub
                    (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (i32.shl (local.get $dy) (i32.const 2)) (local.get $p))))
                               (local.get $va))
                    (f64x2.mul
                      (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (i32.shl (local.get $x) (i32.const 2)) (local.get $p))))
                                 (local.get $vmu))
                      (local.get $vb))))))
              (local.set $j (i32.add (local.get $j) (i32.const 2)))
              (br $j2l)))
            (if (i32.lt_s (local.get $j) (local.get $S))
              (then
                (local.set $p (i32.shl (i32.add (local.get $r) (local.get $j)) (i32.const 2)))
                (f32.store (i32.add (i32.shl (local.get $dx) (i32.const 2)) (local.get $p))
                  (f32.demote_f64 (f64.mul (local.get $k)
                    (f64.sub
                      (f64.sub (f64.promote_f32 (f32.load (i32.add (i32.shl (local.get $dy) (i32.const 2)) (local.get $p)))) (local.get $a))
                      (f64.mul (f64.sub (f64.promote_f32 (f32.load (i32.add (i32.shl (local.get $x) (i32.const 2)) (local.get $p)))) (local.get $mu))
                               (local.get $b))))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $i2l)))))
      (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
      (br $cl))))
)
