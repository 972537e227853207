// Fashion-MNIST loader for the benchmark peers (Node only): four gzipped IDX files.
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";

export const DATA_DIR = "/usr/share/datasets/fashion-mnist";
export const DATA_FILES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
};

/** Names of the missing files of the data set (empty when complete). */
export function missingDataFiles(dir = DATA_DIR) {
  return Object.values(DATA_FILES).filter((f) => !existsSync(join(dir, f)));
}

/**
 * Parses one IDX file (unsigned bytes only). Returns the dimensions and the raw bytes.
 * @param {Uint8Array} buf @param {string} name
 */
export function parseIdx(buf, name = "idx") {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new Error(`${name}: not an IDX file`);
  if (buf[2] !== 0x08) throw new Error(`${name}: element type 0x${buf[2].toString(16)} is not unsigned byte`);
  const rank = buf[3];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const start = 4 + 4 * rank;
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length - start !== count) throw new Error(`${name}: ${buf.length - start} data bytes, header says ${count}`);
  return { dims, data: buf.subarray(start) };
}

function load(dir, file) {
  return parseIdx(gunzipSync(readFileSync(join(dir, file))), file);
}

/**
 * Loads the data set: images as bytes (n, 28*28), labels as bytes (n).
 * @param {string} dir
 */
export function loadFashionMnist(dir = DATA_DIR) {
  const tri = load(dir, DATA_FILES.trainImages);
  const trl = load(dir, DATA_FILES.trainLabels);
  const tei = load(dir, DATA_FILES.testImages);
  const tel = load(dir, DATA_FILES.testLabels);
  return {
    train: { n: tri.dims[0], images: tri.data, labels: trl.data },
    test: { n: tei.dims[0], images: tei.data, labels: tel.data },
    rows: tri.dims[1],
    cols: tri.dims[2],
  };
}
