// The playground's data: the datasets bundled with dnnc (specs/data/, the Vite public folder),
// fetched by the worker and parsed with the runtime's platform-neutral parsers, the same ones
// the Node loaders (runtime/node/load-idx.ts, load-csv.ts) use on file bytes.
import type { Dataset } from "../../runtime/data/dataset";
import { idxDataset, parseIdx } from "../../runtime/data/idx";
import { gunzipIfNeeded } from "../../runtime/data/gzip";
import { parseCsv } from "../../runtime/data/csv";
import type { Program } from "../../runtime/program";
import { Rng } from "../../runtime/rng";
import type { UploadedCsv } from "./protocol";

export const BUNDLED = ["fashion-mnist-small", "two-moons"] as const;

/** The class names of a bundled dataset (Fashion-MNIST's ten, in label order), when it has them. */
export function bundledClassNames(sourcePath: string): string[] | undefined {
  if (/fashion-mnist/.test(sourcePath)) return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
  return undefined;
}

/** The bundled dataset a spec's `source idx("…/fashion-mnist-small")` or `csv("…/two-moons")` names. */
export function bundledName(sourcePath: string): (typeof BUNDLED)[number] {
  const last =
    sourcePath
      .replace(/[\\/]+$/, "")
      .split(/[\\/]/)
      .pop() ?? "";
  const hit = BUNDLED.find((b) => b === last);
  if (!hit) throw new Error(`the playground only has the bundled datasets (${BUNDLED.map((b) => `"data/${b}"`).join(", ")}), not "${sourcePath}"`);
  return hit;
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url.pathname}: HTTP ${r.status}`);
  // a server may already have undone the gzip (Content-Encoding): gunzipIfNeeded checks the magic
  return gunzipIfNeeded(new Uint8Array(await r.arrayBuffer()), url.pathname);
}

/** An uploaded CSV: the share of rows held out for testing (the rest is split for validation by the loop). */
export const UPLOAD_TEST_FRACTION = 0.2;

/**
 * An uploaded CSV for a spec with a csv(...) source: its label column and task as the spec says,
 * a test split of UPLOAD_TEST_FRACTION of the rows drawn with the spec's seed.
 */
export function uploadedCsv(p: Program, csv: UploadedCsv): { train: Dataset; test?: Dataset } {
  if (p.data.source.kind !== "csv")
    throw new Error(
      `an uploaded CSV replaces a csv(...) source, but this spec's source is ${p.data.source.kind}(...): write source csv("data/upload", label="...")`,
    );
  const label = p.data.source.label ?? "label";
  const regression = p.loss.kind !== "softmax_cross_entropy" && p.meta.outputSize === 1 && p.loss.kind !== "bce_with_logits";
  const all = parseCsv(csv.text, csv.name, { label, regression });
  const F = all.x.length / Math.max(1, all.n);
  const order = Int32Array.from({ length: all.n }, (_, i) => i);
  new Rng(p.train.seed, 0x5eed).shuffle(order);
  const nTest = all.n >= 10 ? Math.round(all.n * UPLOAD_TEST_FRACTION) : 0;
  const take = (rows: Int32Array): Dataset => {
    const x = new Float32Array(rows.length * F);
    const y = new Float32Array(rows.length);
    rows.forEach((r, i) => {
      x.set(all.x.subarray(r * F, (r + 1) * F), i * F);
      y[i] = all.y[r];
    });
    return { ...all, x, y, n: rows.length };
  };
  const test = nTest > 0 ? take(order.slice(0, nTest).sort()) : undefined;
  return { train: take(order.slice(nTest).sort()), test };
}

export async function loadBundled(p: Program, baseUrl: string, csv?: UploadedCsv): Promise<{ train: Dataset; test?: Dataset }> {
  if (csv) return uploadedCsv(p, csv);
  const name = bundledName(p.data.source.path);
  const dir = new URL(`${name}/`, baseUrl);
  if (p.data.source.kind === "idx") {
    const f = (base: string) => fetchBytes(new URL(`${base}.gz`, dir)).then((b) => parseIdx(b, `${name}/${base}.gz`));
    const [ti, tl, vi, vl] = await Promise.all([
      f("train-images-idx3-ubyte"),
      f("train-labels-idx1-ubyte"),
      f("t10k-images-idx3-ubyte"),
      f("t10k-labels-idx1-ubyte"),
    ]);
    const train = idxDataset(ti, tl, { images: `${name}/train-images`, labels: `${name}/train-labels` });
    const test = idxDataset(vi, vl, { images: `${name}/t10k-images`, labels: `${name}/t10k-labels` }, { classes: train.classes });
    return { train, test };
  }
  if (p.data.source.kind === "csv") {
    // as runtime/node/main.ts loadData: class labels unless a single real-valued output is regressed
    const label = p.data.source.label ?? "label";
    const regression = p.loss.kind !== "softmax_cross_entropy" && p.meta.outputSize === 1 && p.loss.kind !== "bce_with_logits";
    const text = async (f: string) => new TextDecoder().decode(await fetchBytes(new URL(f, dir)));
    const [a, b] = await Promise.all([text("train.csv"), text("test.csv")]);
    const train = parseCsv(a, `${name}/train.csv`, { label, regression });
    const test = parseCsv(b, `${name}/test.csv`, { label, regression, classes: train.classes });
    return { train, test };
  }
  throw new Error(`the playground cannot load data source kind "${p.data.source.kind}"`);
}
