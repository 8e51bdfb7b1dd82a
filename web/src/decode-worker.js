// decode-worker.js — decodes an image file and resizes it to the model's input off the main
// thread (see docs/preprocessing.md): createImageBitmap with the file's EXIF orientation applied,
// colours as stored and alpha not premultiplied, then resize.js (Go's datasets.FromImage).
import { resizeToCHW } from './resize.js';

/** The largest image decoded, as Go's datasets.MaxImagePixels (64 megapixels). */
const MAX_PIXELS = 64 << 20;

self.onmessage = async (ev) => {
  const { id, blob, size } = ev.data;
  try {
    const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) {
      bitmap.close();
      throw new Error(`${width}×${height} pixels is more than the ${MAX_PIXELS} accepted`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const chw = resizeToCHW(rgba, width, height, size);
    self.postMessage({ id, chw, width, height }, [chw.buffer]);
  } catch (e) {
    self.postMessage({ id, error: e && (e.name === 'InvalidStateError' || e.name === 'EncodingError') ? 'undecodable' : String(e.message || e) });
  }
};
