// Generates the Winograd F(2,3) transforms of runtime/wasm/conv.wat (wino_in, wino_out, wino_dy, wino_dx),
// spliced in at its ";; @WINOGRAD@" line by scripts/build-wasm.mjs; build-time only.
//
// Each is the TypeScript reference of the same name in runtime/kernels/winograd.ts (winoInputRef,
// winoOutputRef, winoDyRef, winoDxRef) with four horizontally adjacent tiles in the four lanes of an f32x4:
// the same float32 operations in the same order per lane, so the same bytes. The transforms are
// 16-value expression trees; writing them out by hand would be 300 lines of near-identical text.
// Offsets and lengths are in FLOATS (H at byte 0). A group of rem < 4 tiles (the last of a tile
// row when TW is not a multiple of 4) loads zeros for its missing lanes; its stores to V and dM are
// whole vectors (see store16), its stores to y only the tiles' floats. An odd output size leaves
// the last tile's second row or column out of y (and reads zeros for it from dy).

const L = (n) => `(local.get $${n})`;
const set = (n, e) => `(local.set $${n} ${e})`;
const add = (a, b) => `(f32x4.add ${a} ${b})`;
const sub = (a, b) => `(f32x4.sub ${a} ${b})`;
const i = (v) => `(i32.const ${v})`;
const iadd = (a, b) => `(i32.add ${a} ${b})`;
const imul = (a, b) => `(i32.mul ${a} ${b})`;
const shl2 = (a) => `(i32.shl ${a} (i32.const 2))`;
const EVEN = "0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27";
const ODD = "4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31";
const even = (a, b) => `(i8x16.shuffle ${EVEN} ${a} ${b})`;
const odd = (a, b) => `(i8x16.shuffle ${ODD} ${a} ${b})`;
const locals = (names, type) => names.map((n) => `(local $${n} ${type})`).join(" ");
const range = (n) => [...Array(n).keys()];

// Stores the 16 vectors named by vec(pos) at q + pos*stride (byte addresses), rows a (pos 4a..4a+3)
// with a0 <= a < a1 only. Always four lanes: in a group of rem < 4 tiles the missing lanes land on
// the next tiles of the same matrix (the next tile row, sample or channel: written later, the
// loops run in that order) or, after the last, in the 4 floats of slack that end each position's
// matrix (the layout of runtime/kernels/winograd.ts).
function store16(vec, q, stride) {
  return range(4)
    .map((a) => {
      const body = range(4)
        .map((j) => `(v128.store (i32.add ${L(q)} (i32.mul ${i(a * 4 + j)} ${L(stride)})) ${vec(a * 4 + j)})`)
        .join("\n              ");
      return `(if (i32.and (i32.le_u ${L("a0")} ${i(a)}) (i32.gt_u ${L("a1")} ${i(a)}))
              (then ${body}))`;
    })
    .join("\n          ");
}

// A tile loop: for s = 0, 4, ... < TW with rem = min(4, TW - s) tiles; `body` uses $s, $rem.
const tileLoop = (body) => `(local.set $s (i32.const 0))
        (block $sd (loop $sl
          (br_if $sd (i32.ge_s ${L("s")} ${L("TW")}))
          ${set("rem", `(select ${i(4)} (i32.sub ${L("TW")} ${L("s")}) (i32.ge_s (i32.sub ${L("TW")} ${L("s")}) ${i(4)}))`)}
          ${body}
          ${set("s", iadd(L("s"), i(4)))}
          (br $sl)))`;

// for (name = 0; name < bound; name++) body
const loop = (name, bound, body) => `(local.set $${name} (i32.const 0))
    (block $${name}d (loop $${name}l
      (br_if $${name}d (i32.ge_s ${L(name)} ${L(bound)}))
      ${body}
      ${set(name, iadd(L(name), i(1)))}
      (br $${name}l)))`;

// Copies n floats (the local named n) from byte address $src to $dst: whole vectors below
// $last = (n - 4) * 4 bytes, then the last 4 floats (overlapping: the same values); fewer than 4
// floats by memory.copy. Uses $j.
const copyRow = (n) => `(if (i32.lt_s ${L(n)} ${i(4)})
          (then (memory.copy ${L("dst")} ${L("src")} ${shl2(L(n))}))
          (else
            ${set("j", i(0))}
            (block $jd (loop $jl
              (br_if $jd (i32.ge_s ${L("j")} ${L("last")}))
              (v128.store (i32.add ${L("dst")} ${L("j")}) (v128.load (i32.add ${L("src")} ${L("j")})))
              ${set("j", iadd(L("j"), i(16)))}
              (br $jl)))
            (v128.store (i32.add ${L("dst")} ${L("last")}) (v128.load (i32.add ${L("src")} ${L("last")})))))`;

function winoIn() {
  const d = range(16).map((p) => `d${p}`);
  const t = range(16).map((p) => `t${p}`);
  // rows a of the plane at $rowp + a*PW: four vectors per row (columns 2s.., 2s+1.., 2s+2.., 2s+3..)
  const loads = range(4)
    .map((a) => {
      const p = `(i32.add ${L("rowp")} (i32.mul ${i(a)} ${L("pw4")}))`;
      return [
        set("q0", `(v128.load ${p})`),
        set("q1", `(v128.load offset=16 ${p})`),
        set("q2", `(v128.load offset=8 ${p})`),
        set("q3", `(v128.load offset=24 ${p})`),
        set(`d${a * 4}`, even(L("q0"), L("q1"))),
        set(`d${a * 4 + 1}`, odd(L("q0"), L("q1"))),
        set(`d${a * 4 + 2}`, even(L("q2"), L("q3"))),
        set(`d${a * 4 + 3}`, odd(L("q2"), L("q3"))),
      ].join("\n            ");
    })
    .join("\n            ");
  // rows: t0b = d0b - d2b, t1b = d1b + d2b, t2b = d2b - d1b, t3b = d1b - d3b
  const rows = range(4)
    .map((b) =>
      [
        set(`t${b}`, sub(L(`d${b}`), L(`d${8 + b}`))),
        set(`t${4 + b}`, add(L(`d${4 + b}`), L(`d${8 + b}`))),
        set(`t${8 + b}`, sub(L(`d${8 + b}`), L(`d${4 + b}`))),
        set(`t${12 + b}`, sub(L(`d${4 + b}`), L(`d${12 + b}`))),
      ].join("\n            "),
    )
    .join("\n            ");
  // columns: V[a][0] = ta0 - ta2, V[a][1] = ta1 + ta2, V[a][2] = ta2 - ta1, V[a][3] = ta1 - ta3
  const col = (p) => {
    const a = p >> 2;
    const j = p & 3;
    const x = (k) => L(`t${a * 4 + k}`);
    return [sub(x(0), x(2)), add(x(1), x(2)), sub(x(2), x(1)), sub(x(1), x(3))][j];
  };
  return `
  ;; --- Winograd input transform: V = B^T d B (runtime/kernels/winograd.ts winoInputRef) -------
  ;; x (m, C, IH, IW); V[(pos*C + c)*T + t]; plane: room for (2TH+2)*(2TW+2) + 8 floats, where
  ;; each input plane is copied inside a zero border (rows h + ph, columns w + pw). Only the rows
  ;; a0 <= a < a1 of each transformed tile (positions 4*a0 .. 4*a1-1) are stored.
  (func $wino_in (export "wino_in") (param $x i32) (param $m i32) (param $C i32) (param $IH i32) (param $IW i32)
        (param $ph i32) (param $pw i32) (param $TH i32) (param $TW i32) (param $v i32) (param $T i32)
        (param $plane i32) (param $a0 i32) (param $a1 i32)
    (local $c i32) (local $i i32) (local $r i32) (local $s i32) (local $h i32) (local $rem i32)
    (local $pw4 i32) (local $PH i32) (local $cw i32) (local $xs i32) (local $rowp i32) (local $q i32)
    (local $ct4 i32) (local $dst i32) (local $src i32) (local $j i32) (local $last i32)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    ${locals(d, "v128")}
    ${locals(t, "v128")}
    (local.set $x ${shl2(L("x"))})
    (local.set $v ${shl2(L("v"))})
    (local.set $plane ${shl2(L("plane"))})
    ${set("pw4", shl2(iadd(imul(L("TW"), i(2)), i(2))))}
    ${set("PH", iadd(imul(L("TH"), i(2)), i(2)))}
    (memory.fill ${L("plane")} (i32.const 0) (i32.add (i32.mul ${L("PH")} ${L("pw4")}) (i32.const 32)))
    ;; columns copied per row: min(IW, PW - pw)
    ${set("cw", `(i32.sub (i32.shr_u ${L("pw4")} (i32.const 2)) ${L("pw")})`)}
    (if (i32.gt_s ${L("cw")} ${L("IW")}) (then ${set("cw", L("IW"))}))
    ;; whole vectors below cw - 4 floats, then the last 4 (overlapping: the same values)
    ${set("last", shl2(`(i32.sub ${L("cw")} ${i(4)})`))}
    ${set("ct4", shl2(iadd(imul(L("C"), L("T")), i(4))))}
    ${loop(
      "c",
      "C",
      loop(
        "i",
        "m",
        `${set("xs", iadd(L("x"), shl2(imul(imul(iadd(imul(L("i"), L("C")), L("c")), L("IH")), L("IW")))))}
      ${loop(
        "h",
        "IH",
        `(if (i32.lt_s (i32.add ${L("h")} ${L("ph")}) ${L("PH")})
          (then
            ${set("dst", `(i32.add ${L("plane")} (i32.add (i32.mul (i32.add ${L("h")} ${L("ph")}) ${L("pw4")}) ${shl2(L("pw"))}))`)}
            ${set("src", `(i32.add ${L("xs")} ${shl2(imul(L("h"), L("IW")))})`)}
            ${copyRow("cw")}))`,
      )}
      ${loop(
        "r",
        "TH",
        tileLoop(`${set("rowp", iadd(L("plane"), iadd(imul(imul(L("r"), i(2)), L("pw4")), shl2(imul(L("s"), i(2))))))}
            ${loads}
            ${rows}
          ${set("q", iadd(L("v"), shl2(iadd(imul(L("c"), L("T")), iadd(imul(iadd(imul(L("i"), L("TH")), L("r")), L("TW")), L("s"))))))}
          ${store16(col, "q", "ct4")}`),
      )}`,
      ),
    )})`;
}

function winoOut() {
  const mv = range(16).map((p) => `m${p}`);
  const sv = range(8).map((p) => `s${p}`);
  const loads = range(16)
    .map((p) => `${set(`m${p}`, `(v128.load ${L("q")})`)} ${set("q", iadd(L("q"), L("kt4")))}`)
    .join("\n            ");
  // rows: s0j = (m0j + m1j) + m2j, s1j = (m1j - m2j) - m3j
  const rows = range(4)
    .map((j) =>
      [set(`s${j}`, add(add(L(`m${j}`), L(`m${4 + j}`)), L(`m${8 + j}`))), set(`s${4 + j}`, sub(sub(L(`m${4 + j}`), L(`m${8 + j}`)), L(`m${12 + j}`)))].join(
        "\n            ",
      ),
    )
    .join("\n            ");
  const row = (e) => {
    const x = (k) => L(`s${e * 4 + k}`);
    return `${set("y0", add(add(x(0), x(1)), x(2)))}
            ${set("y1", sub(sub(x(1), x(2)), x(3)))}
            (if ${L("hasb")} (then ${set("y0", add(L("y0"), L("bv")))} ${set("y1", add(L("y1"), L("bv")))}))
            ${set("lo", "(i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $y0) (local.get $y1))")}
            ${set("hi", "(i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $y0) (local.get $y1))")}
            ${set("q", iadd(L("y"), shl2(iadd(imul(iadd(imul(iadd(imul(L("i"), L("K")), L("k")), L("OH")), iadd(imul(L("r"), i(2)), i(e))), L("OW")), imul(L("s"), i(2))))))}
            (if (i32.eq ${L("nf")} ${i(8)})
              (then (v128.store ${L("q")} ${L("lo")}) (v128.store offset=16 ${L("q")} ${L("hi")}))
              (else (call $wstoreN ${L("q")} ${L("lo")} ${L("hi")} ${L("nf")})))
            (if (i32.ge_s ${L("ry")} (i32.const 0))
              (then (call $wstoreN (i32.add ${L("q")} ${L("dry")}) (f32x4.max ${L("lo")} ${L("zero")}) (f32x4.max ${L("hi")} ${L("zero")}) ${L("nf")})))`;
  };
  // output row 2r+e exists (an odd OH leaves the last tile row's second row out)
  const rowIf = (e) => (e === 0 ? row(0) : `(if (i32.lt_s (i32.add (i32.mul ${L("r")} ${i(2)}) ${i(1)}) ${L("OH")}) (then ${row(1)}))`);
  return `
  ;; --- Winograd output transform: y = A^T M A (+ b[k]), ry = max(y, 0) (winoOutputRef) -------
  ;; M[pos*(K*T+4) + k*T + t]; y, ry (m, K, OH, OW), TH = ceil(OH/2), TW = ceil(OW/2) (an odd size
  ;; leaves the last tile's second row or column out); b, ry: -1 for none. Reads up to 3 floats past M.
  (func $wino_out (export "wino_out") (param $mm i32) (param $T i32) (param $K i32) (param $m i32) (param $TH i32)
        (param $TW i32) (param $OH i32) (param $OW i32) (param $b i32) (param $y i32) (param $ry i32)
    (local $k i32) (local $i i32) (local $r i32) (local $s i32) (local $rem i32) (local $q i32)
    (local $kt4 i32) (local $hasb i32) (local $dry i32) (local $nf i32)
    (local $bv v128) (local $zero v128) (local $y0 v128) (local $y1 v128) (local $lo v128) (local $hi v128)
    ${locals(mv, "v128")}
    ${locals(sv, "v128")}
    ${set("kt4", shl2(iadd(imul(L("K"), L("T")), i(4))))}
    ${set("hasb", `(i32.ge_s ${L("b")} (i32.const 0))`)}
    (local.set $mm ${shl2(L("mm"))})
    (local.set $y ${shl2(L("y"))})
    ${set("dry", `(i32.sub ${shl2(L("ry"))} ${L("y")})`)}
    ${loop(
      "k",
      "K",
      `(if ${L("hasb")} (then ${set("bv", `(v128.load32_splat ${shl2(iadd(L("b"), L("k")))})`)}))
      ${loop(
        "i",
        "m",
        loop(
          "r",
          "TH",
          tileLoop(`${set("q", iadd(L("mm"), shl2(iadd(imul(L("k"), L("T")), iadd(imul(iadd(imul(L("i"), L("TH")), L("r")), L("TW")), L("s"))))))}
            ${loads}
            ${rows}
            ${set("nf", `(select ${i(8)} (i32.sub ${L("OW")} (i32.mul ${L("s")} ${i(2)})) (i32.ge_s (i32.sub ${L("OW")} (i32.mul ${L("s")} ${i(2)})) ${i(8)}))`)}
            ${rowIf(0)}
            ${rowIf(1)}`),
        ),
      )}`,
    )})`;
}

function winoDy() {
  const gv = ["g0", "g1", "g2", "g3"]; // g[e*2 + f]
  const load = (
    e,
  ) => `${set("q", iadd(L("dy"), shl2(iadd(imul(iadd(imul(iadd(imul(L("i"), L("K")), L("k")), L("OH")), iadd(imul(L("r"), i(2)), i(e))), L("OW")), imul(L("s"), i(2))))))}
            (if (i32.ge_s (i32.add (i32.mul ${L("r")} ${i(2)}) ${i(e)}) ${L("OH")})
              (then ${set("lo", "(v128.const i32x4 0 0 0 0)")} ${set("hi", "(v128.const i32x4 0 0 0 0)")})
              (else (if (i32.eq ${L("nf")} ${i(8)})
                (then ${set("lo", `(v128.load ${L("q")})`)} ${set("hi", `(v128.load offset=16 ${L("q")})`)})
                (else
                  ${set("lo", `(call $wload4 ${L("q")} ${L("nf")})`)}
                  ${set("hi", `(call $wload4 (i32.add ${L("q")} ${i(16)}) (i32.sub ${L("nf")} ${i(4)}))`)}))))
            ${set(`g${e * 2}`, even(L("lo"), L("hi")))}
            ${set(`g${e * 2 + 1}`, odd(L("lo"), L("hi")))}`;
  // rows of A g: r0 = g0, r1 = g0 + g1, r2 = g0 - g1, r3 = -g1 (per column f); then along columns
  const rows = [
    [L("g0"), L("g1")],
    [add(L("g0"), L("g2")), add(L("g1"), L("g3"))],
    [sub(L("g0"), L("g2")), sub(L("g1"), L("g3"))],
    [`(f32x4.neg ${L("g2")})`, `(f32x4.neg ${L("g3")})`],
  ];
  const sets = rows.map(([a, b], k) => `${set(`u${2 * k}`, a)} ${set(`u${2 * k + 1}`, b)}`).join("\n            ");
  const col = (p) => {
    const a = p >> 2;
    const t0 = L(`u${2 * a}`);
    const t1 = L(`u${2 * a + 1}`);
    return [t0, add(t0, t1), sub(t0, t1), `(f32x4.neg ${t1})`][p & 3];
  };
  return `
  ;; --- Winograd transform of the output gradient: dM = A dY A^T (winoDyRef) -----------------
  ;; dy (m, K, OH, OW) (zeros beyond, for odd sizes); dM[pos*(K*T+4) + k*T + t], rows a0 <= a < a1
  ;; of each tile only.
  (func $wino_dy (export "wino_dy") (param $dy i32) (param $m i32) (param $K i32) (param $TH i32) (param $TW i32)
        (param $OH i32) (param $OW i32) (param $dm i32) (param $T i32) (param $a0 i32) (param $a1 i32)
    (local $k i32) (local $i i32) (local $r i32) (local $s i32) (local $rem i32) (local $q i32)
    (local $kt4 i32) (local $nf i32)
    (local $lo v128) (local $hi v128)
    ${locals(gv, "v128")}
    ${locals(
      range(8).map((p) => `u${p}`),
      "v128",
    )}
    ${set("kt4", shl2(iadd(imul(L("K"), L("T")), i(4))))}
    (local.set $dy ${shl2(L("dy"))})
    (local.set $dm ${shl2(L("dm"))})
    ${loop(
      "k",
      "K",
      loop(
        "i",
        "m",
        loop(
          "r",
          "TH",
          tileLoop(`${set("nf", `(select ${i(8)} (i32.sub ${L("OW")} (i32.mul ${L("s")} ${i(2)})) (i32.ge_s (i32.sub ${L("OW")} (i32.mul ${L("s")} ${i(2)})) ${i(8)}))`)}
            ${load(0)}
            ${load(1)}
            ${sets}
            ${set("q", iadd(L("dm"), shl2(iadd(imul(L("k"), L("T")), iadd(imul(iadd(imul(L("i"), L("TH")), L("r")), L("TW")), L("s"))))))}
            ${store16(col, "q", "kt4")}`),
        ),
      ),
    )})`;
}

function winoDx() {
  const x = range(16).map((p) => `x${p}`);
  const t = range(16).map((p) => `t${p}`);
  const d = range(16).map((p) => `d${p}`);
  const pv = range(8).map((p) => `p${p}`);
  const loads = range(16)
    .map((p) => set(`x${p}`, `(v128.and (v128.load (i32.add ${L("q")} (i32.mul ${i(p)} ${L("ct4")}))) ${L("mask")})`))
    .join("\n            ");
  // rows (per column b): t0 = x0, t1 = (x1 - x2) + x3, t2 = (x1 + x2) - x0, t3 = -x3
  const rows = range(4)
    .map((b) =>
      [
        set(`t${b}`, L(`x${b}`)),
        set(`t${4 + b}`, add(sub(L(`x${4 + b}`), L(`x${8 + b}`)), L(`x${12 + b}`))),
        set(`t${8 + b}`, sub(add(L(`x${4 + b}`), L(`x${8 + b}`)), L(`x${b}`))),
        set(`t${12 + b}`, `(f32x4.neg ${L(`x${12 + b}`)})`),
      ].join("\n            "),
    )
    .join("\n            ");
  // columns (per row a): the same on t[a][0..3]
  const cols = range(4)
    .map((a) => {
      const y = (k) => L(`t${a * 4 + k}`);
      return [
        set(`d${a * 4}`, y(0)),
        set(`d${a * 4 + 1}`, add(sub(y(1), y(2)), y(3))),
        set(`d${a * 4 + 2}`, sub(add(y(1), y(2)), y(0))),
        set(`d${a * 4 + 3}`, `(f32x4.neg ${y(3)})`),
      ].join("\n            ");
    })
    .join("\n            ");
  // lanes (p3, d0, d1, d2): tile s-1's value beside tile s's
  const shift = (pp, dd) => `(i8x16.shuffle 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 ${pp} ${dd})`;
  const planeRows = range(4)
    .map((a) => {
      return `${set("e0", add(L(`d${a * 4}`), shift(L(`p${a * 2}`), L(`d${a * 4 + 2}`))))}
            ${set("e1", add(L(`d${a * 4 + 1}`), shift(L(`p${a * 2 + 1}`), L(`d${a * 4 + 3}`))))}
            ${set(`p${a * 2}`, L(`d${a * 4 + 2}`))}
            ${set(`p${a * 2 + 1}`, L(`d${a * 4 + 3}`))}
            ${set("lo", "(i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $e0) (local.get $e1))")}
            ${set("hi", "(i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $e0) (local.get $e1))")}
            ${set("q", iadd(L("rowp"), imul(i(a), L("pw4"))))}
            ${
              a < 2
                ? `${set("lo", add("(v128.load (local.get $q))", L("lo")))}
            ${set("hi", add("(v128.load offset=16 (local.get $q))", L("hi")))}`
                : ""
            }
            (if (i32.eq ${L("nf")} ${i(8)})
              (then (v128.store ${L("q")} ${L("lo")}) (v128.store offset=16 ${L("q")} ${L("hi")}))
              (else (call $wstoreN ${L("q")} ${L("lo")} ${L("hi")} ${L("nf")})))`;
    })
    .join("\n            ");
  return `
  ;; --- Winograd input gradient: dx = B dV B^T summed over the overlapping tiles (winoDxRef) ----
  ;; dV[pos*(C*T+4) + c*T + t] (reads up to 4 floats past a position's matrix, masked); plane:
  ;; (2TH+2)*(2TW+2) + 8 floats of scratch, plane row h + ph, column w + pw being dx's row h,
  ;; column w; dx (m, C, IH, IW) overwritten. Groups of 4 tiles s..s+3 for s <= TW (tile TW and
  ;; those past the last are zeros), each lane's tile s-1 values carried in p0..p7.
  (func $wino_dx (export "wino_dx") (param $dv i32) (param $T i32) (param $C i32) (param $m i32) (param $TH i32)
        (param $TW i32) (param $IH i32) (param $IW i32) (param $ph i32) (param $pw i32) (param $dx i32) (param $plane i32)
    (local $c i32) (local $i i32) (local $r i32) (local $s i32) (local $rem i32) (local $q i32)
    (local $ct4 i32) (local $pw4 i32) (local $rowp i32) (local $nf i32) (local $h i32) (local $j i32)
    (local $src i32) (local $dst i32) (local $last i32) (local $xs i32)
    (local $mask v128) (local $e0 v128) (local $e1 v128) (local $lo v128) (local $hi v128)
    ${locals(x, "v128")}
    ${locals(t, "v128")}
    ${locals(d, "v128")}
    ${locals(pv, "v128")}
    ${set("ct4", shl2(iadd(imul(L("C"), L("T")), i(4))))}
    ${set("pw4", shl2(iadd(imul(L("TW"), i(2)), i(2))))}
    (local.set $dv ${shl2(L("dv"))})
    (local.set $dx ${shl2(L("dx"))})
    (local.set $plane ${shl2(L("plane"))})
    ;; the window's rows: whole vectors below IW - 4 floats, then the last 4 (overlapping)
    ${set("last", shl2(`(i32.sub ${L("IW")} ${i(4)})`))}
    ${loop(
      "c",
      "C",
      loop(
        "i",
        "m",
        `(memory.fill ${L("plane")} (i32.const 0) (i32.shl ${L("pw4")} (i32.const 1)))
      ${loop(
        "r",
        "TH",
        `${pv.map((n) => set(n, "(v128.const i32x4 0 0 0 0)")).join(" ")}
        (local.set $s (i32.const 0))
        (block $sd (loop $sl
          (br_if $sd (i32.gt_s ${L("s")} ${L("TW")}))
          ${set("rem", `(select ${i(4)} (i32.sub ${L("TW")} ${L("s")}) (i32.ge_s (i32.sub ${L("TW")} ${L("s")}) ${i(4)}))`)}
          ${set("mask", `(i32x4.gt_s (i32x4.splat ${L("rem")}) (v128.const i32x4 0 1 2 3))`)}
          ${set("nf", `(select ${i(8)} (i32.add (i32.mul (i32.sub ${L("TW")} ${L("s")}) ${i(2)}) ${i(2)}) (i32.ge_s (i32.sub ${L("TW")} ${L("s")}) ${i(3)}))`)}
          ${set("q", iadd(L("dv"), shl2(iadd(imul(L("c"), L("T")), iadd(imul(iadd(imul(L("i"), L("TH")), L("r")), L("TW")), L("s"))))))}
            ${loads}
            ${rows}
            ${cols}
          ${set("rowp", iadd(L("plane"), iadd(imul(imul(L("r"), i(2)), L("pw4")), shl2(imul(L("s"), i(2))))))}
            ${planeRows}
          ${set("s", iadd(L("s"), i(4)))}
          (br $sl)))`,
      )}
      ${set("xs", iadd(L("dx"), shl2(imul(imul(iadd(imul(L("i"), L("C")), L("c")), L("IH")), L("IW")))))}
      ${loop(
        "h",
        "IH",
        `${set("src", `(i32.add ${L("plane")} (i32.add (i32.mul (i32.add ${L("h")} ${L("ph")}) ${L("pw4")}) ${shl2(L("pw"))}))`)}
        ${set("dst", iadd(L("xs"), shl2(imul(L("h"), L("IW")))))}
        ${copyRow("IW")}`,
      )}`,
      ),
    )})`;
}

const helpers = `
  ;; --- Winograd helpers: the first nf (1..8) floats of (lo, hi) stored at byte address p (an
  ;; output row's tiles); and nf floats loaded from p, zeros after (nf <= 0: all zeros) ---------
  (func $wstoreN (param $p i32) (param $lo v128) (param $hi v128) (param $nf i32)
    (if (i32.ge_s (local.get $nf) (i32.const 8))
      (then (v128.store (local.get $p) (local.get $lo)) (v128.store offset=16 (local.get $p) (local.get $hi)) (return)))
    (if (i32.ge_s (local.get $nf) (i32.const 4))
      (then
        (v128.store (local.get $p) (local.get $lo))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $lo (local.get $hi))
        (local.set $nf (i32.sub (local.get $nf) (i32.const 4)))))
    (if (i32.ge_s (local.get $nf) (i32.const 2))
      (then
        (v128.store64_lane 0 (local.get $p) (local.get $lo))
        (if (i32.eq (local.get $nf) (i32.const 3))
          (then (v128.store32_lane offset=8 2 (local.get $p) (local.get $lo)))))
      (else (if (i32.eq (local.get $nf) (i32.const 1))
        (then (v128.store32_lane 0 (local.get $p) (local.get $lo)))))))
  (func $wload4 (param $p i32) (param $nf i32) (result v128)
    (if (i32.ge_s (local.get $nf) (i32.const 4)) (then (return (v128.load (local.get $p)))))
    (if (i32.eq (local.get $nf) (i32.const 3))
      (then (return (f32x4.replace_lane 2 (v128.load64_zero (local.get $p)) (f32.load offset=8 (local.get $p))))))
    (if (i32.eq (local.get $nf) (i32.const 2)) (then (return (v128.load64_zero (local.get $p)))))
    (if (i32.eq (local.get $nf) (i32.const 1)) (then (return (v128.load32_zero (local.get $p)))))
    (v128.const i32x4 0 0 0 0))`;

/** The WAT text of the Winograd functions (helpers, wino_in, wino_out, wino_dy, wino_dx). */
export function winogradWat() {
  return [
    ";; ==== GENERATED by runtime/wasm/winograd-gen.mjs (spliced in by scripts/build-wasm.mjs) ====",
    helpers,
    winoIn(),
    winoOut(),
    winoDy(),
    winoDx(),
    "  ;; ==== end of the generated Winograd functions ====",
  ].join("\n");
}
