// onnxmeta.js — reads an ONNX file's metadata_props without a protobuf library: a minimal walk of
// the ModelProto's top-level fields (onnx.proto: graph = 7, metadata_props = 14, each a
// StringStringEntryProto with key = 1 and value = 2). It also tells a file that is not an ONNX
// model apart before ONNX Runtime sees it.

/** Reads a varint at pos; returns [value, nextPos]. */
function varint(buf, pos) {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return [value, pos];
    mult *= 128;
  }
  throw new Error('varint too long');
}

/** Iterates the fields of a protobuf message: yields {field, wire, start, end, value}. */
function* fields(buf, start, end) {
  let pos = start;
  while (pos < end) {
    const [key, p] = varint(buf, pos);
    pos = p;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) throw new Error('field number 0');
    if (wire === 0) {
      const [v, q] = varint(buf, pos);
      yield { field, wire, value: v };
      pos = q;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      const [len, q] = varint(buf, pos);
      if (q + len > end) throw new Error('truncated field');
      yield { field, wire, start: q, end: q + len };
      pos = q + len;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
    if (pos > end) throw new Error('truncated message');
  }
}

/**
 * readMetadata parses bytes (Uint8Array) as an ONNX ModelProto and returns
 * {irVersion, metadata: {key: value}}; it throws when the bytes are not an ONNX model.
 */
export function readMetadata(bytes) {
  const text = new TextDecoder();
  const metadata = {};
  let irVersion = 0;
  let hasGraph = false;
  try {
    for (const f of fields(bytes, 0, bytes.length)) {
      if (f.field === 1 && f.wire === 0) irVersion = f.value;
      if (f.field === 7 && f.wire === 2) hasGraph = true;
      if (f.field === 14 && f.wire === 2) {
        let key = '';
        let value = '';
        for (const e of fields(bytes, f.start, f.end)) {
          if (e.wire !== 2) continue;
          const s = text.decode(bytes.subarray(e.start, e.end));
          if (e.field === 1) key = s;
          if (e.field === 2) value = s;
        }
        metadata[key] = value;
      }
    }
  } catch (e) {
    throw new Error(`not an ONNX model (${e.message})`);
  }
  if (!hasGraph || irVersion < 1) {
    throw new Error('not an ONNX model (no graph or IR version)');
  }
  return { irVersion, metadata };
}
