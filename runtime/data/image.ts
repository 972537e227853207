// Turning a decoded image (interleaved HWC bytes, e.g. from decodePng) into one model input
// sample in the dataset layout (planar CHW bytes), for prediction on image files.
import { DnncError } from "../errors";

export interface ImageBytes {
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  /** Interleaved: pixels[(y*width + x)*channels + c]. */
  pixels: Uint8Array;
}

/** ITU-R 601 luma in 16-bit fixed point, rounded: the formula PIL's convert("L") uses. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/**
 * Convert an image to a sample of per-sample shape [C, H, W] (C = 1 or 3), as bytes 0..255.
 * Colour to gray uses luma (as PIL's convert("L")); gray to colour repeats the gray value; alpha
 * is dropped (as PIL does). The image must already have the model's height and width.
 */
export function imageToSample(img: ImageBytes, shape: number[], fileName: string, out?: Uint8Array): Uint8Array {
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3)) {
    throw new DnncError(`${fileName}: the model input has shape [${shape.join(", ")}], not an image of 1 or 3 channels [C, H, W]`);
  }
  const [C, H, W] = shape;
  if (img.width !== W || img.height !== H) {
    throw new DnncError(`${fileName}: image is ${img.width}x${img.height} (width x height), the model expects ${W}x${H}`);
  }
  const ch = img.channels;
  if (ch < 1 || ch > 4 || img.pixels.length !== W * H * ch) {
    throw new DnncError(`${fileName}: ${img.pixels.length} pixel bytes do not make a ${W}x${H} image of ${ch} channels`);
  }
  const res = out ?? new Uint8Array(C * H * W);
  const px = img.pixels;
  const plane = H * W;
  const color = ch >= 3;
  for (let i = 0; i < plane; i++) {
    const p = i * ch;
    if (C === 1) {
      res[i] = color ? luma(px[p], px[p + 1], px[p + 2]) : px[p];
    } else {
      res[i] = px[p];
      res[plane + i] = color ? px[p + 1] : px[p];
      res[2 * plane + i] = color ? px[p + 2] : px[p];
    }
  }
  return res;
}
