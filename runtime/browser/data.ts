// Data helpers for the browser (docs/browser.md): { x, y } arrays for fit from images (ImageData,
// canvases, bitmaps), from a CSV string, File or Blob, and from a URL. The CSV parser and the
// image conversion are the runtime's own (data/csv.ts, data/image.ts), so a file gives the rows
// the trainer's command line would read from it.
import type { ArrayData } from "../api-types";
import { parseCsv } from "../data/csv";
import { imageToSample } from "../data/image";
import { DnncError } from "../errors";

/** What fromImages reads: anything a 2D canvas can draw, or ImageData as is. */
export type ImageSource = ImageData | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | HTMLImageElement;

function pixelsOf(img: ImageSource, W: number, H: number, i: number): ImageData {
  if (typeof ImageData === "function" && img instanceof ImageData && img.width === W && img.height === H) return img;
  if (typeof OffscreenCanvas !== "function")
    throw new DnncError(`fromImages: image ${i} is not ${W}x${H} ImageData, and this engine has no OffscreenCanvas to scale it`);
  const c = new OffscreenCanvas(W, H);
  const ctx = c.getContext("2d");
  if (!ctx) throw new DnncError("fromImages: no 2D canvas context");
  if (typeof ImageData === "function" && img instanceof ImageData) {
    // ImageData of another size: put it on a canvas of its own size first, then scale
    const src = new OffscreenCanvas(img.width, img.height);
    src.getContext("2d")!.putImageData(img, 0, 0);
    ctx.drawImage(src, 0, 0, W, H);
  } else ctx.drawImage(img as CanvasImageSource, 0, 0, W, H);
  return ctx.getImageData(0, 0, W, H);
}

/**
 * Images to rows of bytes for a model whose input is [C, H, W] (C = 1: gray by luma, as `dnnc
 * predict` reads a PNG; C = 3: RGB; alpha dropped); images of another size are scaled to W x H.
 * `labels`: one class id per image (omit for predict). The spec's `scale` (say 1/255) applies
 * to the bytes in fit and predict, as it does to IDX and PNG files.
 */
export function fromImages(images: ArrayLike<ImageSource>, labels: ArrayLike<number> | undefined, shape: readonly number[]): ArrayData {
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3))
    throw new DnncError(`fromImages: the model input is [${shape.join(", ")}], not an image [C, H, W] of 1 or 3 channels`);
  const [C, H, W] = shape;
  if (labels && labels.length !== images.length) throw new DnncError(`fromImages: ${images.length} images but ${labels.length} labels`);
  const x = new Uint8Array(images.length * C * H * W);
  for (let i = 0; i < images.length; i++) {
    const d = pixelsOf(images[i], W, H, i);
    const px = new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.byteLength);
    imageToSample({ width: W, height: H, channels: 4, pixels: px }, [C, H, W], `image ${i}`, x.subarray(i * C * H * W, (i + 1) * C * H * W));
  }
  return { x, y: labels ? Float32Array.from(labels) : new Float32Array(0) };
}

export interface CsvOptions {
  /** The target column: a header name or a 0-based index (-1: the last). Default "label". */
  label?: string | number;
  /** Real-valued targets (regression) instead of class ids. */
  regression?: boolean;
  delimiter?: string;
  header?: boolean;
  /** The name used in error messages (default: the File's name, or "csv"). */
  name?: string;
}

/** Rows of a CSV text, File or Blob: x (the feature columns, float32), y (the label column), and the feature names. */
export async function fromCsv(source: string | Blob, o: CsvOptions = {}): Promise<ArrayData & { x: Float32Array; y: Float32Array; features: string[] }> {
  const name = o.name ?? (typeof File === "function" && source instanceof File ? source.name : "csv");
  const text = typeof source === "string" ? source : await source.text();
  const ds = parseCsv(text, name, { label: o.label ?? "label", regression: o.regression, delimiter: o.delimiter, header: o.header });
  return { x: ds.x, y: ds.y, features: ds.featureNames };
}

/** Rows of a CSV file fetched from a URL (fetch's errors and HTTP statuses become one message naming the URL). */
export async function fetchCsv(url: string | URL, o: CsvOptions = {}): Promise<ArrayData & { x: Float32Array; y: Float32Array; features: string[] }> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new DnncError(`${String(url)}: ${(e as Error).message}`);
  }
  if (!r.ok) throw new DnncError(`${String(url)}: HTTP ${r.status} ${r.statusText}`);
  return fromCsv(await r.text(), { name: String(url), ...o });
}
