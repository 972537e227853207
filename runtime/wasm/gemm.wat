;; Single-precision GEMM for the dnnc WASM backend (SIMD128).
;;   C[M,N] = beta*C + op(A)[M,K] · op(B)[K,N]      (docs/architecture.md)
;; tA=1: A is stored [K,M]; tB=1: B is stored [N,K]; beta is 0 or 1 (with 0, C is never read).
;; a, b, c are FLOAT offsets into the imported memory (the trainer's heap H starts at byte 0).
;;
;; Goto/BLIS structure: for each NC-wide column block and KC-deep slice of K, B is packed into
;; 8-column micro-panels ([k][8], zero-padded), then for each MC-tall row block A is packed into
;; 4-row micro-panels ([k][4], zero-padded), and a 4x8 register-tiled micro-kernel (8 f32x4
;; accumulators) walks the panels. Edge tiles go through a 4x8 buffer and are copied back.
;; One exception: NT with fewer than 16 columns (an output layer) takes dot products of rows of A
;; and B directly ($gemm_nt_dot), as an 8-wide panel would be mostly padding.
;; Each element of C is summed in the same order (k ascending inside KC slices, slices in order)
;; whatever row/column range a call covers, so splitting the work between threads by ranges of
;; rows or columns gives the same bytes as one thread.
;;
;; The caller passes a per-thread scratch area (byte address, $scratch_bytes long):
;;   [0, 128K)  packed A block  (MC x KC floats)
;;   [128K, 128K+1M) packed B block  (KC x NC floats)
;;   then a 4x8 edge tile (128 bytes)
;; Do not unroll the k loop of the micro-kernel: V8 hoists the loads and spills (PERF_NOTES.md).
;; The line below is rewritten by scripts/build-wasm.mjs for the shared-memory (threads) build.
(module
  (import "env" "mem" (memory 1)) ;; @MEMORY@

  ;; MC = 128, KC = 256, NC = 1024 (see $gemm); MR = 4, NR = 8 (see $kernel).
  (func (export "scratch_bytes") (result i32)
    (i32.const 1179776)) ;; 131072 + 1048576 + 128

  ;; --- 4x4 transpose of (v0..v3) stored as 4 vectors at dst, dst+stride, ... ---------------
  (func $tr4 (param $v0 v128) (param $v1 v128) (param $v2 v128) (param $v3 v128)
             (param $dst i32) (param $stride i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    ;; t0 = (v0[0] v1[0] v0[1] v1[1]); t1 = (v0[2] v1[2] v0[3] v1[3]); t2, t3 the same for v2, v3
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
    (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
    (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
    ;; o0 = (t0[0] t0[1] t2[0] t2[1]) = (v0[0] v1[0] v2[0] v3[0]), ...
    (v128.store (local.get $dst)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
    (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
    (v128.store (local.get $dst)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
    (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
    (v128.store (local.get $dst)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
    (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
    (v128.store (local.get $dst)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))))

  ;; --- scalar packing of a partial micro-panel (any layout), zero-padded --------------------
  ;; dst[k*w + r] = src(r, k) for r < rows, 0 for rows <= r < w; src(r, k) at src + r*sr + k*sk.
  (func $pack_edge (param $src i32) (param $sr i32) (param $sk i32) (param $rows i32)
                   (param $w i32) (param $kc i32) (param $dst i32)
    (local $k i32) (local $r i32) (local $p i32)
    (local.set $k (i32.const 0))
    (block $kdone (loop $kl
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $kc)))
      (local.set $p (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $sk))))
      (local.set $r (i32.const 0))
      (block $rdone (loop $rl
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $w)))
        (f32.store (local.get $dst)
          (if (result f32) (i32.lt_u (local.get $r) (local.get $rows))
            (then (f32.load (local.get $p)))
            (else (f32.const 0))))
        (local.set $p (i32.add (local.get $p) (local.get $sr)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kl))))

  ;; --- pack rows [i, i+mc) x k [p, p+kc) of op(A) into 4-row micro-panels ------------------
  ;; a is a byte address; element (i, k) of op(A) is at a + i*sai + k*sak (bytes).
  (func $packA (param $tA i32) (param $a i32) (param $sai i32) (param $sak i32)
               (param $mc i32) (param $kc i32) (param $dst i32)
    (local $ir i32) (local $src i32) (local $d i32) (local $k i32) (local $rows i32) (local $s i32)
    (local.set $ir (i32.const 0))
    (block $done (loop $panels
      (br_if $done (i32.ge_u (local.get $ir) (local.get $mc)))
      (local.set $src (i32.add (local.get $a) (i32.mul (local.get $ir) (local.get $sai))))
      (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2))))
      (local.set $rows (i32.sub (local.get $mc) (local.get $ir)))
      (if (i32.lt_u (local.get $rows) (i32.const 4))
        (then
          (call $pack_edge (local.get $src) (local.get $sai) (local.get $sak) (local.get $rows)
                           (i32.const 4) (local.get $kc) (local.get $d)))
        (else
          (local.set $k (i32.const 0))
          (if (local.get $tA)
            (then
              ;; A stored [K,M]: the 4 rows at one k are contiguous
              (block $kd (loop $kl
                (br_if $kd (i32.ge_u (local.get $k) (local.get $kc)))
                (v128.store (local.get $d)
                  (v128.load (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $sak)))))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kl))))
            (else
              ;; A stored [M,K]: transpose 4x4 blocks of 4 rows x 4 k
              (block $kd (loop $kl
                (br_if $kd (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                (local.set $s (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
                (call $tr4
                  (v128.load (local.get $s))
                  (v128.load (i32.add (local.get $s) (local.get $sai)))
                  (v128.load (i32.add (local.get $s) (i32.shl (local.get $sai) (i32.const 1))))
                  (v128.load (i32.add (local.get $s) (i32.mul (local.get $sai) (i32.const 3))))
                  (local.get $d) (i32.const 16))
                (local.set $d (i32.add (local.get $d) (i32.const 64)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $kl)))
              (if (i32.lt_u (local.get $k) (local.get $kc))
                (then
                  (call $pack_edge
                    (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))
                    (local.get $sai) (local.get $sak) (i32.const 4) (i32.const 4)
                    (i32.sub (local.get $kc) (local.get $k)) (local.get $d))))))))
      (local.set $ir (i32.add (local.get $ir) (i32.const 4)))
      (br $panels))))

  ;; --- pack k [p, p+kc) x columns [j, j+nc) of op(B) into 8-column micro-panels -------------
  ;; element (k, j) of op(B) is at b + k*sbk + j*sbj (bytes).
  (func $packB (param $tB i32) (param $b i32) (param $sbk i32) (param $sbj i32)
               (param $nc i32) (param $kc i32) (param $dst i32)
    (local $jr i32) (local $src i32) (local $d i32) (local $k i32) (local $cols i32) (local $s i32)
    (local $s4 i32) (local $sbj3 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $sbj3 (i32.mul (local.get $sbj) (i32.const 3)))
    (local.set $jr (i32.const 0))
    (block $done (loop $panels
      (br_if $done (i32.ge_u (local.get $jr) (local.get $nc)))
      (local.set $src (i32.add (local.get $b) (i32.mul (local.get $jr) (local.get $sbj))))
      (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2))))
      (local.set $cols (i32.sub (local.get $nc) (local.get $jr)))
      (if (i32.lt_u (local.get $cols) (i32.const 8))
        (then
          (call $pack_edge (local.get $src) (local.get $sbj) (local.get $sbk) (local.get $cols)
                           (i32.const 8) (local.get $kc) (local.get $d)))
        (else
          (local.set $k (i32.const 0))
          (if (local.get $tB)
            (then
              ;; B stored [N,K]: transpose two 4x4 blocks (columns j..j+3 and j+4..j+7) per 4 k
              (block $kd (loop $kl
                (br_if $kd (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                (local.set $s (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
                (local.set $s4 (i32.add (local.get $s) (i32.shl (local.get $sbj) (i32.const 2))))
;; (the 4x4 transposes written out here: this loop is the cost of NT at small batch)
                (local.set $v0 (v128.load (local.get $s)))
                (local.set $v1 (v128.load (i32.add (local.get $s) (local.get $sbj))))
                (local.set $v2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $sbj) (i32.const 1)))))
                (local.set $v3 (v128.load (i32.add (local.get $s) (local.get $sbj3))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
                (v128.store offset=0 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=32 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=64 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=96 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $v0 (v128.load (local.get $s4)))
                (local.set $v1 (v128.load (i32.add (local.get $s4) (local.get $sbj))))
                (local.set $v2 (v128.load (i32.add (local.get $s4) (i32.shl (local.get $sbj) (i32.const 1)))))
                (local.set $v3 (v128.load (i32.add (local.get $s4) (local.get $sbj3))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
                (v128.store offset=16 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=48 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=80 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=112 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $d (i32.add (local.get $d) (i32.const 128)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $kl)))
              (if (i32.lt_u (local.get $k) (local.get $kc))
                (then
                  (call $pack_edge
                    (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))
                    (local.get $sbj) (local.get $sbk) (i32.const 8) (i32.const 8)
                    (i32.sub (local.get $kc) (local.get $k)) (local.get $d)))))
            (else
              ;; B stored [K,N]: the 8 columns at one k are contiguous
              (block $kd (loop $kl
                (br_if $kd (i32.ge_u (local.get $k) (local.get $kc)))
                (local.set $s (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $sbk))))
                (v128.store (local.get $d) (v128.load (local.get $s)))
                (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
                (local.set $d (i32.add (local.get $d) (i32.const 32)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kl)))))))
      (local.set $jr (i32.add (local.get $jr) (i32.const 8)))
      (br $panels))))

  ;; --- micro-kernel: the 4x8 tile at c (row stride ldc bytes) = beta*tile + pa · pb ---------
  ;; pa is a packed A micro-panel [kc][4], pb a packed B micro-panel [kc][8]; kc >= 1.
  (func $kernel (param $kc i32) (param $pa i32) (param $pb i32) (param $c i32) (param $ldc i32)
                (param $beta i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128) (local $end i32)
    (local.set $end (i32.add (local.get $pa) (i32.shl (local.get $kc) (i32.const 4))))
    (loop $k
      (local.set $b0 (v128.load (local.get $pb)))
      (local.set $b1 (v128.load offset=16 (local.get $pb)))
      (local.set $av (v128.load32_splat (local.get $pa)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=8 (local.get $pa)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=12 (local.get $pa)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
      (br_if $k (i32.ne (local.get $pa) (local.get $end))))
    (if (local.get $beta)
      (then
        (f32x4.add (v128.load (local.get $c)) (local.get $c00)) (local.set $c00)
        (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c01)) (local.set $c01)
        (v128.store (local.get $c) (local.get $c00))
        (v128.store offset=16 (local.get $c) (local.get $c01))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (f32x4.add (v128.load (local.get $c)) (local.get $c10)) (local.set $c10)
        (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c11)) (local.set $c11)
        (v128.store (local.get $c) (local.get $c10))
        (v128.store offset=16 (local.get $c) (local.get $c11))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (f32x4.add (v128.load (local.get $c)) (local.get $c20)) (local.set $c20)
        (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c21)) (local.set $c21)
        (v128.store (local.get $c) (local.get $c20))
        (v128.store offset=16 (local.get $c) (local.get $c21))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (f32x4.add (v128.load (local.get $c)) (local.get $c30)) (local.set $c30)
        (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c31)) (local.set $c31)
        (v128.store (local.get $c) (local.get $c30))
        (v128.store offset=16 (local.get $c) (local.get $c31)))
      (else
        (v128.store (local.get $c) (local.get $c00))
        (v128.store offset=16 (local.get $c) (local.get $c01))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c10))
        (v128.store offset=16 (local.get $c) (local.get $c11))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c20))
        (v128.store offset=16 (local.get $c) (local.get $c21))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c30))
        (v128.store offset=16 (local.get $c) (local.get $c31)))))

  ;; --- copy the valid rows x cols of a 4x8 tile (row stride 32 bytes) into C --------------
  (func $store_edge (param $tile i32) (param $c i32) (param $ldc i32) (param $rows i32)
                    (param $cols i32) (param $beta i32)
    (local $r i32) (local $j i32) (local $p i32) (local $q i32)
    (local.set $r (i32.const 0))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $p (i32.add (local.get $c) (i32.mul (local.get $r) (local.get $ldc))))
      (local.set $q (i32.add (local.get $tile) (i32.shl (local.get $r) (i32.const 5))))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (br_if $jd (i32.ge_u (local.get $j) (local.get $cols)))
        (f32.store (local.get $p)
          (if (result f32) (local.get $beta)
            (then (f32.add (f32.load (local.get $p)) (f32.load (local.get $q))))
            (else (f32.load (local.get $q)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))

  ;; --- NT without packing: C[i, j] = dot(A row i, B row j) when both are stored along k -------
  ;; 4 rows of A x 2 rows of B per tile, 8 f32x4 accumulators over k (K a multiple of 4), then
  ;; each reduced as (l0 + l2) + (l1 + l3). Rows past the edge are clamped to the last valid row
  ;; (computed, not stored). a, b, c are byte addresses of the tile's first row of A, of B, of C.
  (func $hsum (param $v v128) (result f32)
    (local.set $v (f32x4.add (local.get $v)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v))))

  (func $put (param $p i32) (param $x f32) (param $beta i32)
    (f32.store (local.get $p)
      (if (result f32) (local.get $beta)
        (then (f32.add (f32.load (local.get $p)) (local.get $x)))
        (else (local.get $x)))))

  (func $dot4x2 (param $K i32) (param $a i32) (param $lda i32) (param $rows i32)
                (param $b i32) (param $cols i32) (param $c i32) (param $ldc i32) (param $beta i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bb i32) (local $k i32) (local $end i32)
    ;; row pointers, clamped at the edge
    (local.set $a1 (i32.add (local.get $a) (i32.mul (local.get $lda)
      (select (i32.const 1) (i32.sub (local.get $rows) (i32.const 1)) (i32.gt_u (local.get $rows) (i32.const 1))))))
    (local.set $a2 (i32.add (local.get $a) (i32.mul (local.get $lda)
      (select (i32.const 2) (i32.sub (local.get $rows) (i32.const 1)) (i32.gt_u (local.get $rows) (i32.const 2))))))
    (local.set $a3 (i32.add (local.get $a) (i32.mul (local.get $lda)
      (select (i32.const 3) (i32.sub (local.get $rows) (i32.const 1)) (i32.gt_u (local.get $rows) (i32.const 3))))))
    (local.set $bb (select (i32.add (local.get $b) (i32.shl (local.get $K) (i32.const 2))) (local.get $b)
      (i32.gt_u (local.get $cols) (i32.const 1))))
    (local.set $k (i32.const 0))
    (local.set $end (i32.shl (local.get $K) (i32.const 2)))
    (loop $kl
      (local.set $b0 (v128.load (i32.add (local.get $b) (local.get $k))))
      (local.set $b1 (v128.load (i32.add (local.get $bb) (local.get $k))))
      (local.set $av (v128.load (i32.add (local.get $a) (local.get $k))))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load (i32.add (local.get $a1) (local.get $k))))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load (i32.add (local.get $a2) (local.get $k))))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load (i32.add (local.get $a3) (local.get $k))))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br_if $kl (i32.lt_u (local.get $k) (local.get $end))))
    ;; store the valid part: row r at c + r*ldc, columns 0 and (if cols > 1) 1
    (call $put (local.get $c) (call $hsum (local.get $c00)) (local.get $beta))
    (if (i32.gt_u (local.get $cols) (i32.const 1))
      (then (call $put (i32.add (local.get $c) (i32.const 4)) (call $hsum (local.get $c01)) (local.get $beta))))
    (if (i32.gt_u (local.get $rows) (i32.const 1))
      (then
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (call $put (local.get $c) (call $hsum (local.get $c10)) (local.get $beta))
        (if (i32.gt_u (local.get $cols) (i32.const 1))
          (then (call $put (i32.add (local.get $c) (i32.const 4)) (call $hsum (local.get $c11)) (local.get $beta))))))
    (if (i32.gt_u (local.get $rows) (i32.const 2))
      (then
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (call $put (local.get $c) (call $hsum (local.get $c20)) (local.get $beta))
        (if (i32.gt_u (local.get $cols) (i32.const 1))
          (then (call $put (i32.add (local.get $c) (i32.const 4)) (call $hsum (local.get $c21)) (local.get $beta))))))
    (if (i32.gt_u (local.get $rows) (i32.const 3))
      (then
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (call $put (local.get $c) (call $hsum (local.get $c30)) (local.get $beta))
        (if (i32.gt_u (local.get $cols) (i32.const 1))
          (then (call $put (i32.add (local.get $c) (i32.const 4)) (call $hsum (local.get $c31)) (local.get $beta)))))))

  ;; rows [i0, i1) x columns [j0, j1) of C = beta*C + A·Bᵀ, A [M,K], B [N,K]; byte addresses.
  (func $gemm_nt_dot (param $M i32) (param $N i32) (param $K i32) (param $a i32) (param $b i32)
                     (param $c i32) (param $beta i32)
                     (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (local $i i32) (local $j i32) (local $lda i32) (local $ldc i32)
    (local.set $lda (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (local.set $j (local.get $j0))
    (block $jd (loop $jl
      (br_if $jd (i32.ge_s (local.get $j) (local.get $j1)))
      (local.set $i (local.get $i0))
      (block $id (loop $il
        (br_if $id (i32.ge_s (local.get $i) (local.get $i1)))
        (call $dot4x2 (local.get $K)
          (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))) (local.get $lda)
          (i32.sub (local.get $i1) (local.get $i))
          (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $lda)))
          (i32.sub (local.get $j1) (local.get $j))
          (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2))))
          (local.get $ldc) (local.get $beta))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $il)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $jl))))

  ;; --- ceil(n / ceil(n / max)) rounded up to a multiple of mask+1 (a power of 2 dividing max) --
  (func $balance (param $n i32) (param $max i32) (param $mask i32) (result i32)
    (local $blocks i32)
    (local.set $blocks (i32.div_u (i32.add (local.get $n) (i32.sub (local.get $max) (i32.const 1))) (local.get $max)))
    (i32.and
      (i32.add (i32.div_u (i32.add (local.get $n) (i32.sub (local.get $blocks) (i32.const 1))) (local.get $blocks))
               (local.get $mask))
      (i32.xor (local.get $mask) (i32.const -1))))

  ;; --- the GEMM restricted to rows [i0, i1) and columns [j0, j1) of C ----------------------
  ;; All offsets (a, b, c) in floats; scratch is a byte address of $scratch_bytes bytes.
  (func (export "gemm")
        (param $tA i32) (param $tB i32) (param $M i32) (param $N i32) (param $K i32)
        (param $a i32) (param $b i32) (param $c i32) (param $beta i32)
        (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32) (param $scratch i32)
    (local $sai i32) (local $sak i32) (local $sbk i32) (local $sbj i32) (local $ldc i32)
    (local $jc i32) (local $nc i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $jr i32) (local $ir i32) (local $bet i32) (local $bufA i32) (local $bufB i32)
    (local $tile i32) (local $pa i32) (local $pb i32) (local $cp i32) (local $p i32)
    (local $kcb i32) (local $mcb i32) (local $ncb i32)
    (if (i32.or (i32.ge_s (local.get $i0) (local.get $i1)) (i32.ge_s (local.get $j0) (local.get $j1)))
      (then (return)))
    (local.set $a (i32.shl (local.get $a) (i32.const 2)))
    (local.set $b (i32.shl (local.get $b) (i32.const 2)))
    (local.set $c (i32.shl (local.get $c) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    ;; K = 0: C = beta*C
    (if (i32.eqz (local.get $K))
      (then
        (if (i32.eqz (local.get $beta))
          (then
            (local.set $ic (local.get $i0))
            (block $zd (loop $zl
              (br_if $zd (i32.ge_s (local.get $ic) (local.get $i1)))
              (local.set $p (i32.add (local.get $c)
                (i32.shl (i32.add (i32.mul (local.get $ic) (local.get $N)) (local.get $j0)) (i32.const 2))))
              (memory.fill (local.get $p) (i32.const 0)
                (i32.shl (i32.sub (local.get $j1) (local.get $j0)) (i32.const 2)))
              (local.set $ic (i32.add (local.get $ic) (i32.const 1)))
              (br $zl)))))
        (return)))
    ;; NT with K a multiple of 4 (up to 2048) and fewer than 16 columns (an output layer): dot
    ;; products without packing (30 vs 18-23 GFLOP/s for 16x10x256 and 128x10x256; at N >= 16 the
    ;; packed path wins, 38-46 vs 29-32). The choice depends on N, K and the layout only, so all
    ;; threads of one GEMM take the same path.
    (if (i32.and (i32.and (i32.eqz (local.get $tA)) (local.get $tB))
                 (i32.and (i32.and (i32.eqz (i32.and (local.get $K) (i32.const 3)))
                                   (i32.le_u (local.get $K) (i32.const 2048)))
                          (i32.lt_u (local.get $N) (i32.const 16))))
      (then
        (call $gemm_nt_dot (local.get $M) (local.get $N) (local.get $K) (local.get $a) (local.get $b)
          (local.get $c) (local.get $beta) (local.get $i0) (local.get $i1) (local.get $j0) (local.get $j1))
        (return)))
    (if (local.get $tA)
      (then (local.set $sai (i32.const 4)) (local.set $sak (i32.shl (local.get $M) (i32.const 2))))
      (else (local.set $sai (i32.shl (local.get $K) (i32.const 2))) (local.set $sak (i32.const 4))))
    (if (local.get $tB)
      (then (local.set $sbk (i32.const 4)) (local.set $sbj (i32.shl (local.get $K) (i32.const 2))))
      (else (local.set $sbk (i32.shl (local.get $N) (i32.const 2))) (local.set $sbj (i32.const 4))))
    ;; block sizes balanced over the blocks (784 = 4 x 196, not 3 x 256 + 16), rounded up to the
    ;; tile/transpose granularity: kcb <= 256 (multiple of 4), mcb <= 128 (of 4), ncb <= 1024 (of 8).
    ;; kcb depends on K alone, so every thread sums each element of C in the same order.
    (local.set $kcb (call $balance (local.get $K) (i32.const 256) (i32.const 3)))
    (local.set $mcb (call $balance (i32.sub (local.get $i1) (local.get $i0)) (i32.const 128) (i32.const 3)))
    (local.set $ncb (call $balance (i32.sub (local.get $j1) (local.get $j0)) (i32.const 1024) (i32.const 7)))
    (local.set $bufA (local.get $scratch))
    (local.set $bufB (i32.add (local.get $scratch) (i32.const 131072)))
    (local.set $tile (i32.add (local.get $scratch) (i32.const 1179648)))
    (local.set $jc (local.get $j0))
    (block $jcd (loop $jcl
      (br_if $jcd (i32.ge_s (local.get $jc) (local.get $j1)))
      (local.set $nc (i32.sub (local.get $j1) (local.get $jc)))
      (if (i32.gt_s (local.get $nc) (local.get $ncb)) (then (local.set $nc (local.get $ncb))))
      (local.set $pc (i32.const 0))
      (block $pcd (loop $pcl
        (br_if $pcd (i32.ge_s (local.get $pc) (local.get $K)))
        (local.set $kc (i32.sub (local.get $K) (local.get $pc)))
        (if (i32.gt_s (local.get $kc) (local.get $kcb)) (then (local.set $kc (local.get $kcb))))
        (local.set $bet (if (result i32) (local.get $pc) (then (i32.const 1)) (else (local.get $beta))))
        (call $packB (local.get $tB)
          (i32.add (local.get $b) (i32.add (i32.mul (local.get $pc) (local.get $sbk))
                                           (i32.mul (local.get $jc) (local.get $sbj))))
          (local.get $sbk) (local.get $sbj) (local.get $nc) (local.get $kc) (local.get $bufB))
        (local.set $ic (local.get $i0))
        (block $icd (loop $icl
          (br_if $icd (i32.ge_s (local.get $ic) (local.get $i1)))
          (local.set $mc (i32.sub (local.get $i1) (local.get $ic)))
          (if (i32.gt_s (local.get $mc) (local.get $mcb)) (then (local.set $mc (local.get $mcb))))
          (call $packA (local.get $tA)
            (i32.add (local.get $a) (i32.add (i32.mul (local.get $ic) (local.get $sai))
                                             (i32.mul (local.get $pc) (local.get $sak))))
            (local.get $sai) (local.get $sak) (local.get $mc) (local.get $kc) (local.get $bufA))
          (local.set $jr (i32.const 0))
          (block $jrd (loop $jrl
            (br_if $jrd (i32.ge_s (local.get $jr) (local.get $nc)))
            (local.set $pb (i32.add (local.get $bufB)
              (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2))))
            (local.set $ir (i32.const 0))
            (block $ird (loop $irl
              (br_if $ird (i32.ge_s (local.get $ir) (local.get $mc)))
              (local.set $pa (i32.add (local.get $bufA)
                (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2))))
              (local.set $cp (i32.add (local.get $c) (i32.shl
                (i32.add (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $N))
                         (i32.add (local.get $jc) (local.get $jr)))
                (i32.const 2))))
              (if (i32.and (i32.le_s (i32.add (local.get $ir) (i32.const 4)) (local.get $mc))
                           (i32.le_s (i32.add (local.get $jr) (i32.const 8)) (local.get $nc)))
                (then
                  (call $kernel (local.get $kc) (local.get $pa) (local.get $pb) (local.get $cp)
                                (local.get $ldc) (local.get $bet)))
                (else
                  (call $kernel (local.get $kc) (local.get $pa) (local.get $pb) (local.get $tile)
                                (i32.const 32) (i32.const 0))
                  (call $store_edge (local.get $tile) (local.get $cp) (local.get $ldc)
                    (select (i32.const 4) (i32.sub (local.get $mc) (local.get $ir))
                            (i32.le_s (i32.add (local.get $ir) (i32.const 4)) (local.get $mc)))
                    (select (i32.const 8) (i32.sub (local.get $nc) (local.get $jr))
                            (i32.le_s (i32.add (local.get $jr) (i32.const 8)) (local.get $nc)))
                    (local.get $bet))))
              (local.set $ir (i32.add (local.get $ir) (i32.const 4)))
              (br $irl)))
            (local.set $jr (i32.add (local.get $jr) (i32.const 8)))
            (br $jrl)))
          (local.set $ic (i32.add (local.get $ic) (local.get $mc)))
          (br $icl)))
        (local.set $pc (i32.add (local.get $pc) (local.get $kc)))
        (br $pcl)))
      (local.set $jc (i32.add (local.get $jc) (local.get $nc)))
      (br $jcl))))
)
