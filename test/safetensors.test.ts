import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../runtime/safetensors";
import { writeFileAtomic, writeFileAtomicSync } from "../runtime/node/atomic";
import { DnncError } from "../runtime/errors";
import { expectDnnc } from "./helpers/expect-dnnc";

const ref = JSON.parse(readFileSync(join(__dirname, "reference/data/reference.json"), "utf8")).safetensors;
const refBytes = Uint8Array.from(Buffer.from(ref.hex, "hex"));
const refTensors: NamedTensor[] = ref.tensors.map((t: { name: string; shape: number[]; data: number[] }) => ({
  name: t.name,
  shape: t.shape,
  data: Float32Array.from(t.data),
}));

/** A file built here by hand, byte by byte, from the format description. */
function handBuilt(): Uint8Array {
  const json = '{"__metadata__":{"a":"1"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const padded = json + " ".repeat((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + padded.length + 8);
  out[0] = padded.length; // < 256: the other seven length bytes stay 0
  for (let i = 0; i < padded.length; i++) out[8 + i] = padded.charCodeAt(i);
  // 1.0 = 0x3f800000 and -2.0 = 0xc0000000, little-endian
  out.set([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0], 8 + padded.length);
  return out;
}

describe("safetensors", () => {
  it("writes exactly the hand-built bytes", () => {
    const bytes = encodeSafetensors([{ name: "w", shape: [2], data: Float32Array.of(1, -2) }], { a: "1" });
    expect(Buffer.from(bytes).toString("hex")).toBe(Buffer.from(handBuilt()).toString("hex"));
    expect((8 + new DataView(bytes.buffer).getUint32(0, true)) % 8).toBe(0);
  });

  it("writes exactly what the Python writer wrote for PyTorch tensors, and reads it back", () => {
    const bytes = encodeSafetensors(refTensors, { format: "dnnc", epoch: "3" }); // metadata key order does not matter
    expect(Buffer.from(bytes).toString("hex")).toBe(ref.hex);
    const { tensors, metadata } = decodeSafetensors(refBytes, "ref.safetensors");
    expect(metadata).toEqual(ref.metadata);
    expect(tensors.map((t) => t.name)).toEqual(["dense1.weight", "dense1.bias", "0", "scalar"]);
    for (let i = 0; i < tensors.length; i++) {
      expect(tensors[i].shape).toEqual(refTensors[i].shape);
      expect(Array.from(tensors[i].data)).toEqual(Array.from(refTensors[i].data));
    }
  });

  it("round-trips random tensors bit for bit (NaN payloads and -0 included)", () => {
    const tensor = fc.record({
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 0, maxLength: 5 }),
        fc.array(tensor, { minLength: 5, maxLength: 5 }),
        fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 })),
        (names, specs, metadata) => {
          const list = names
            .filter((n) => n !== "__metadata__")
            .map((name, i) => {
              const shape = specs[i].shape;
              const count = shape.reduce((a, b) => a * b, 1);
              const bits = Uint32Array.from({ length: count }, (_, k) => Math.imul(k + 1, 0x9e3779b9) ^ specs[i].seed);
              return { name, shape, data: new Float32Array(bits.buffer) };
            });
          const bytes = encodeSafetensors(list, metadata);
          expect(encodeSafetensors(list, metadata)).toEqual(bytes);
          const back = decodeSafetensors(bytes, "rt.safetensors");
          expect(back.metadata).toEqual({ ...metadata });
          // Data order is the written order; only empty tensors may move among equal offsets.
          const nonEmpty = (ts: NamedTensor[]) => ts.filter((t) => t.data.length > 0).map((t) => t.name);
          expect(nonEmpty(back.tensors)).toEqual(nonEmpty(list));
          expect(back.tensors.length).toBe(list.length);
          for (const t of back.tensors) {
            const want = list.find((u) => u.name === t.name)!;
            expect(t.shape).toEqual(want.shape);
            expect(Buffer.from(t.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("explains what is wrong with a corrupt file", () => {
    const good = handBuilt();
    expectDnnc(() => decodeSafetensors(new Uint8Array(0), "e.st"), "e.st", "empty file");
    expectDnnc(() => decodeSafetensors(good.subarray(0, 5), "s.st"), "s.st", "too short");
    expectDnnc(() => decodeSafetensors(good.subarray(0, 40), "t.st"), "t.st", /header length \d+ exceeds/);
    expectDnnc(() => decodeSafetensors(good.subarray(0, good.length - 4), "t.st"), 'tensor "w" ends at byte 8', "4 bytes");
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expectDnnc(() => decodeSafetensors(extra, "x.st"), "4 bytes of data are not covered");
    const edit = (from: string, to: string, file = good) => {
      const end = 8 + new DataView(file.buffer, file.byteOffset).getUint32(0, true);
      const text = Buffer.from(file.subarray(8, end)).toString("latin1").replace(from, to);
      expect(text.length).toBe(end - 8);
      const b = Uint8Array.from(file);
      for (let i = 0; i < text.length; i++) b[8 + i] = text.charCodeAt(i);
      return b;
    };
    expectDnnc(() => decodeSafetensors(edit('"F32"', '"F16"'), "d.st"), "d.st", 'dtype "F16"', "F32 only");
    expectDnnc(() => decodeSafetensors(edit("[2]", "[3]"), "sh.st"), "shape [3] (12 bytes)", "span 8 bytes");
    expectDnnc(() => decodeSafetensors(edit("[24,36]", "[20,32]", refBytes), "o.st"), 'tensor "dense1.bias" starts at byte 20', "expected 24", "overlap");
    expectDnnc(() => decodeSafetensors(edit('{"__', "[ __"), "j.st"), "j.st", "not UTF-8 JSON");
    expectDnnc(() => decodeSafetensors(edit('"1"', " 1 "), "m.st"), 'metadata "a" is not a string');
  });

  it("keeps odd metadata keys as plain data", () => {
    const meta = JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>;
    const back = decodeSafetensors(encodeSafetensors([], meta), "m.st").metadata;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toBe("x");
  });

  it("refuses tensors it cannot write", () => {
    expectDnnc(() => encodeSafetensors([{ name: "a", shape: [2, 2], data: new Float32Array(3) }], {}), 'tensor "a"', "4 values", "but 3");
    const t = { name: "a", shape: [1], data: new Float32Array(1) };
    expectDnnc(() => encodeSafetensors([t, t], {}), 'duplicate tensor name "a"');
    expectDnnc(() => encodeSafetensors([{ ...t, name: "__metadata__" }], {}), "invalid tensor name");
  });
});

describe("writeFileAtomic", () => {
  it("replaces the file completely and leaves no temporary files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-atomic-"));
    const path = join(dir, "model.safetensors");
    writeFileSync(path, "old contents that are longer than the new ones");
    writeFileAtomicSync(path, refBytes);
    expect(Buffer.compare(readFileSync(path), Buffer.from(refBytes))).toBe(0);
    await writeFileAtomic(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    await Promise.all([writeFileAtomic(path, "A".repeat(100000)), writeFileAtomic(path, "B".repeat(100000))]);
    const text = readFileSync(path, "utf8");
    expect(text === "A".repeat(100000) || text === "B".repeat(100000)).toBe(true);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
  });

  it("reports a directory that does not exist, with the path", async () => {
    const path = join(tmpdir(), "dnnc-no-such-dir-x", "m.bin");
    expect(() => writeFileAtomicSync(path, "x")).toThrow(/dnnc-no-such-dir-x.*cannot write \(no such file or directory\)/);
    await expect(writeFileAtomic(path, "x")).rejects.toThrow(DnncError);
  });
});
