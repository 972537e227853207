// The network as a diagram (SVG): one box per IR node in order, top to bottom, naming the op (and
// the elementwise ops fused into it), its output shape and its parameter count; an arrow from each
// node to the next, and a curve at the side for every input that is not the node just above (a
// residual or a concatenation). Built from the same front end as the diagnostics, on the page.
import type { IR } from "../../compiler/ir";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const BOX_W = 260;
const BOX_H = 40;
const GAP = 18;
const LEFT = 60;

/** The op of a node as it reads in a spec: `conv2d` with its fused tail, `-> relu`. */
function opLabel(n: IR["nodes"][number]): string {
  const tail = n.tail.map((t) => (t as { op: string }).op);
  return [n.op, ...tail].join(" → ");
}

export function networkDiagram(ir: IR): string {
  const paramSize = new Map(ir.params.map((p) => [p.name, p.size]));
  const rows: { label: string; shape: string; params: number; inputs: string[]; output: string }[] = [
    { label: "input", shape: `[${ir.input.shape.join(", ")}]`, params: 0, inputs: [], output: "" },
  ];
  const producer = new Map<string, number>();
  for (const n of ir.nodes) {
    n.inputs.forEach((v) => {
      if (!producer.has(v)) producer.set(v, 0); // a value nobody produced: the model's input
    });
    rows.push({
      label: opLabel(n),
      shape: `[${n.outShape.join(", ")}]`,
      params: n.params.reduce((a, p) => a + (paramSize.get(p) ?? 0), 0),
      inputs: n.inputs,
      output: n.output,
    });
    producer.set(n.output, rows.length - 1);
  }
  const H = rows.length * (BOX_H + GAP) + 10;
  const W = LEFT + BOX_W + 70;
  const y = (i: number) => 6 + i * (BOX_H + GAP);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="network diagram" font-family="system-ui, sans-serif">`,
    `<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#888"/></marker></defs>`,
  ];
  rows.forEach((r, i) => {
    const fill = i === 0 ? "#eef6ff" : r.params > 0 ? "#fff7e6" : "#f5f5f5";
    out.push(
      `<g class="layer" data-index="${i}" data-op="${esc(r.label)}" data-shape="${esc(r.shape)}" data-params="${r.params}">`,
      `<rect x="${LEFT}" y="${y(i)}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${fill}" stroke="#999"/>`,
      `<text x="${LEFT + 10}" y="${y(i) + 17}" font-size="13" font-weight="600" fill="#222">${esc(r.label)}</text>`,
      `<text x="${LEFT + 10}" y="${y(i) + 33}" font-size="11" fill="#555">${esc(r.shape)}${r.params > 0 ? ` · ${r.params.toLocaleString("en")} params` : ""}</text>`,
      `</g>`,
    );
    if (i === 0) return;
    for (const v of r.inputs) {
      const from = producer.get(v) ?? 0;
      if (from === i - 1)
        out.push(
          `<line class="edge" x1="${LEFT + BOX_W / 2}" y1="${y(i - 1) + BOX_H}" x2="${LEFT + BOX_W / 2}" y2="${y(i) - 1}" stroke="#888" marker-end="url(#arrow)"/>`,
        );
      else {
        // a skip: out of the producer's right side, around, into this node's right side
        const x = LEFT + BOX_W;
        const bend = x + 24 + 10 * ((i - from) % 4);
        out.push(
          `<path class="edge skip" d="M${x},${y(from) + BOX_H / 2} C${bend},${y(from) + BOX_H / 2} ${bend},${y(i) + BOX_H / 2} ${x + 1},${y(i) + BOX_H / 2}" fill="none" stroke="#c77" stroke-dasharray="4 3" marker-end="url(#arrow)"/>`,
        );
      }
    }
  });
  out.push(`</svg>`);
  return out.join("");
}
