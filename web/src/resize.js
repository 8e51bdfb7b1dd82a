// resize.js — turns a decoded image into the 32×32 CHW bytes cnnlab's models take, exactly as
// Go's datasets.FromImage does: golang.org/x/image/draw's CatmullRom.Scale (a Catmull-Rom bicubic
// kernel whose support is widened by the reduction factor, separable: columns first, then rows),
// on premultiplied 16-bit colours, rounded the same way. Every step mirrors x/image v0.26.0
// (draw/scale.go: newDistrib, ftou; draw/impl.go: scaleX_RGBA / scaleX_NRGBA, scaleY_RGBA_Src), so
// an 8-bit opaque PNG gives the same bytes in the browser and in Go.

/** The Catmull-Rom kernel of x/image/draw (support 2). */
function catmullRom(t) {
  if (t < 1) {
    return (1.5 * t - 2.5) * t * t + 1;
  }
  return ((-0.5 * t + 2.5) * t - 4) * t + 2;
}
const SUPPORT = 2;

/**
 * distrib returns, for each of the dw destination columns (or rows), its source contributions
 * {coords, weights} and the inverse of their total weight (x/image/draw's newDistrib).
 */
function distrib(dw, sw) {
  const scale = sw / dw;
  let halfWidth = SUPPORT;
  let kernelArgScale = 1;
  if (scale > 1) {
    halfWidth *= scale;
    kernelArgScale = 1 / scale;
  }
  const out = [];
  for (let x = 0; x < dw; x++) {
    const center = (x + 0.5) * scale - 0.5;
    let i = Math.floor(center - halfWidth);
    if (i < 0) i = 0;
    let j = Math.ceil(center + halfWidth);
    if (j > sw) {
      j = sw;
      if (j < i) j = i;
    }
    const coords = [];
    const weights = [];
    let total = 0;
    for (let coord = i; coord < j; coord++) {
      const t = Math.abs((center - coord) * kernelArgScale);
      if (t >= SUPPORT) continue;
      const w = catmullRom(t);
      if (w === 0) continue;
      total += w;
      coords.push(coord);
      weights.push(w);
    }
    const inv = 1 / total;
    out.push({ coords, weights, inv, invFFFF: inv / 0xffff });
  }
  return out;
}

/** ftou converts [0,1] to [0,0xffff] as x/image/draw (truncating int32 conversion). */
function ftou(f) {
  const i = Math.trunc(0xffff * f + 0.5) | 0;
  if (i > 0xffff) return 0xffff;
  if (i > 0) return i;
  return 0;
}

/**
 * resizeToCHW scales an RGBA image (non-premultiplied bytes, as canvas getImageData returns) of
 * width×height to size×size and returns the R, G and B planes (Uint8Array of 3·size·size), like
 * Go's datasets.FromImage. Transparent pixels come out premultiplied, i.e. over black.
 */
export function resizeToCHW(rgba, width, height, size = 32) {
  if (!(width > 0 && height > 0) || rgba.length !== 4 * width * height) {
    throw new Error(`resize: ${rgba.length} bytes for a ${width}×${height} RGBA image`);
  }
  const horizontal = distrib(size, width);
  const vertical = distrib(size, height);
  // scaleX: every source row, distributed over size columns, premultiplied 16-bit values.
  const tmp = new Float64Array(4 * size * height);
  let t = 0;
  for (let y = 0; y < height; y++) {
    const row = 4 * y * width;
    for (const s of horizontal) {
      let pr = 0, pg = 0, pb = 0, pa = 0;
      for (let k = 0; k < s.coords.length; k++) {
        const pi = row + 4 * s.coords[k];
        const w = s.weights[k];
        const pau = rgba[pi + 3] * 0x101;
        // uint32 arithmetic of scaleX_NRGBA: r * a / 0xff, truncated (r*0x101 when opaque).
        const pru = Math.floor((rgba[pi] * pau) / 0xff);
        const pgu = Math.floor((rgba[pi + 1] * pau) / 0xff);
        const pbu = Math.floor((rgba[pi + 2] * pau) / 0xff);
        pr += pru * w;
        pg += pgu * w;
        pb += pbu * w;
        pa += pau * w;
      }
      tmp[t++] = pr * s.invFFFF;
      tmp[t++] = pg * s.invFFFF;
      tmp[t++] = pb * s.invFFFF;
      tmp[t++] = pa * s.invFFFF;
    }
  }
  // scaleY: distribute the rows of tmp over size rows, clamp colour to alpha, round to 8 bits.
  const plane = size * size;
  const out = new Uint8Array(3 * plane);
  for (let dx = 0; dx < size; dx++) {
    for (let dy = 0; dy < size; dy++) {
      const s = vertical[dy];
      let pr = 0, pg = 0, pb = 0, pa = 0;
      for (let k = 0; k < s.coords.length; k++) {
        const p = 4 * (s.coords[k] * size + dx);
        const w = s.weights[k];
        pr += tmp[p] * w;
        pg += tmp[p + 1] * w;
        pb += tmp[p + 2] * w;
        pa += tmp[p + 3] * w;
      }
      if (pr > pa) pr = pa;
      if (pg > pa) pg = pa;
      if (pb > pa) pb = pa;
      const o = dy * size + dx;
      out[o] = ftou(pr * s.inv) >> 8;
      out[plane + o] = ftou(pg * s.inv) >> 8;
      out[2 * plane + o] = ftou(pb * s.inv) >> 8;
    }
  }
  return out;
}
