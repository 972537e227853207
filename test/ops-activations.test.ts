// Every activation's expressions, as its op module emits them into the trainer (value, derivative)
// and into the smoothness penalties (value, first and second derivative), evaluated in double
// precision against PyTorch 1.13's autograd at the same points (test/reference/ops/, written by
// make_activations.py): the oracle is PyTorch, not our formulas. And the runtime kernels of the
// activations agree with the emitted expressions.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as runtime from "../runtime/kernels/activations";
import { ACTIVATIONS, TAILS } from "../compiler/ops";
import type { EmitCtx, PenaltyCtx } from "../compiler/ops/op";
import type { IRNode, TailNode } from "../compiler/ir";

interface Case {
  op: string;
  attrs: Record<string, number>;
  x: number[];
  y: number[];
  d1: number[];
  d2: number[];
}
const ref = JSON.parse(readFileSync("test/reference/ops/activations.json", "utf8")) as { cases: Case[] };

// the runtime helpers an expression may call, bound as the trainer imports them
const helpers = Object.entries(runtime).filter(([, v]) => typeof v === "function");
const compile = (body: string) => new Function(...helpers.map(([k]) => k), "x", body) as (...a: unknown[]) => unknown;
const run = (body: string, x: number) => compile(body)(...helpers.map(([, v]) => v), x);

function expressions(c: Case) {
  const t = { op: c.op, id: `${c.op}_0`, attrs: c.attrs } as TailNode;
  const n = { id: "dense_0", outShape: [c.x.length] } as unknown as IRNode;
  const uses = new Set<string>();
  const ctx = { uses } as unknown as EmitCtx & PenaltyCtx;
  const op = TAILS[t.op];
  const fwd = op.forward(t, n, ctx, "i", 1).join(" ");
  const bwd = op.backward(t, n, ctx, 1).join(" ");
  if (typeof op.second !== "function") throw new Error(`${c.op}: no second derivative`);
  const p = op.second(t, n, ctx, 0)!;
  return { fwd, bwd, p, uses };
}

const close = (got: number, want: number, what: string) => expect(Math.abs(got - want), what).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(want)));

describe("activations: the emitted expressions equal PyTorch's values and derivatives", () => {
  it("cover every activation of the language", () => {
    expect(new Set(ref.cases.map((c) => c.op))).toEqual(new Set(ACTIVATIONS));
  });
  for (const c of ref.cases) {
    it(`${c.op}${Object.keys(c.attrs).length ? ` ${JSON.stringify(c.attrs)}` : ""}`, () => {
      const { fwd, bwd, p, uses } = expressions(c);
      // every helper the code calls is one the runtime exports (and is imported by the trainer)
      for (const u of uses) expect(typeof (runtime as Record<string, unknown>)[u], u).toBe("function");
      for (let i = 0; i < c.x.length; i++) {
        const x = c.x[i];
        close(run(`let v = x; ${fwd} return v;`, x) as number, c.y[i], `value at ${x}`);
        close(run(`let v = x; let d = 1; ${bwd} return d;`, x) as number, c.d1[i], `derivative at ${x}`);
        const [a1, a2, val] = run(`let v = x; const i = 0; ${p.pre} return [${p.a1}, ${p.a2 ?? 0}, ${p.val}];`, x) as number[];
        close(val, c.y[i], `penalty value at ${x}`);
        close(a1, c.d1[i], `penalty first derivative at ${x}`);
        close(a2, c.d2[i], `second derivative at ${x}`);
      }
    });
  }
});

describe("activations: the runtime kernels agree with the emitted expressions", () => {
  for (const c of ref.cases) {
    if (!(runtime.ACTIVATION_KINDS as readonly string[]).includes(c.op)) continue;
    it(c.op, () => {
      const kind = c.op as runtime.ActivationKind;
      const alpha = c.attrs.slope ?? c.attrs.alpha;
      const len = c.x.length;
      const H = new Float32Array(4 * len);
      H.set(c.x, 0);
      H.fill(1, 2 * len, 3 * len);
      runtime.activationForward(kind, H, 0, len, len, alpha);
      runtime.activationBackward(kind, H, 0, len, 2 * len, 3 * len, len, alpha);
      for (let i = 0; i < len; i++) {
        const x = Math.fround(c.x[i]);
        expect(Math.abs(H[len + i] - c.y[i]), `y at ${x}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(c.y[i])));
        expect(Math.abs(H[3 * len + i] - c.d1[i]), `dx at ${x}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(c.d1[i])));
      }
    });
  }
});
