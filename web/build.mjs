// build.mjs — builds the static page into dist/: the page's own files from src/ and ONNX Runtime
// Web's WebAssembly build vendored from node_modules into dist/vendor/ (no CDN, works offline).
// Usage: npm run build
import { cpSync, mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const ortDist = join(root, 'node_modules', 'onnxruntime-web', 'dist');
if (!existsSync(ortDist)) {
  console.error(`build: ${ortDist} is missing: run "npm ci --ignore-scripts" in web/ first`);
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
for (const f of readdirSync(join(root, 'src'))) {
  cpSync(join(root, 'src', f), join(dist, f));
}
// The wasm-only build of ONNX Runtime Web and the runtime files it loads from wasmPaths.
const vendored = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
for (const f of vendored) {
  cpSync(join(ortDist, f), join(dist, 'vendor', f));
}
cpSync(join(root, 'node_modules', 'onnxruntime-web', 'package.json'), join(dist, 'vendor', 'onnxruntime-web.package.json'));
console.log(`build: wrote ${dist} (page + ${vendored.length} files of onnxruntime-web in vendor/)`);
