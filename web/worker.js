// liteport conversion worker: runs the WebAssembly build of the C core (liteport_core.js/.wasm,
// built by `make wasm`) off the page's main thread, so the page stays responsive and can show
// progress while a large model is read and converted.
//
// Message in:  {file: File, options: {keep_io_layout: bool, batch: int, input_shapes: string}}
// Messages out: {type: "ready", version} once the module is loaded (or {type: "load-error", message})
//               {type: "progress", phase: "read", done: bytes, total: bytes}
//               {type: "progress", phase: "convert"}
//               {type: "result", ok, status, message, report, tflite: ArrayBuffer|null,
//                read_ms, convert_ms}
//
// The file is streamed chunk by chunk straight into the module's heap (one copy of the model in
// memory, no intermediate ArrayBuffer), and the converter reads the weights in place.
"use strict";

importScripts("liteport_core.js");

const STATUS_NAMES = ["ok", "I/O error", "parse error", "invalid model", "unsupported", "limit exceeded",
                      "out of memory", "internal error"];
const WASM_MAX_BYTES = 4 * 1024 * 1024 * 1024;  // wasm32: the heap holds model and output together

let modulePromise = null;

function loadModule() {
  if (!modulePromise) modulePromise = createLiteport();
  return modulePromise;
}

// heap views are replaced when memory grows: always take a fresh one
function heap(M) { return M.HEAPU8; }

function cString(M, s) {
  const n = M.lengthBytesUTF8(s) + 1;
  const p = M._malloc(n) >>> 0;
  if (!p) return 0;
  M.stringToUTF8(s, p, n);
  return p;
}

function fail(name, status, text) {
  // the CLI's wording: "<file>: <message>" after "liteport: error: "
  return {type: "result", ok: false, status, status_name: STATUS_NAMES[status] || "error",
          message: name + ": " + text, report: null, tflite: null, read_ms: 0, convert_ms: 0};
}

async function convert(file, options) {
  const M = await loadModule();
  const size = file.size;
  // the heap needs the model, the output (usually about as large) and the converter's working memory
  if (size >= WASM_MAX_BYTES / 2)
    return fail(file.name, 5, `the model is ${(size / 2 ** 30).toFixed(2)} GiB; a browser converts models ` +
                "up to about 2 GiB (WebAssembly's 4 GiB memory holds the model and the .tflite); use the " +
                "liteport command-line tool");
  const t0 = performance.now();
  const ptr = M._malloc(Math.max(size, 1)) >>> 0;
  if (!ptr) return fail(file.name, 6, `out of memory: the browser could not give ${size} bytes to the converter`);
  let shapes = 0, result;
  try {
    // stream the file into the heap, reporting progress about every 1% (and at least every 4 MiB)
    const reader = file.stream().getReader();
    let done = 0, lastPost = 0;
    const step = Math.max(1 << 22, Math.floor(size / 100));
    postMessage({type: "progress", phase: "read", done: 0, total: size});
    for (;;) {
      const {value, done: end} = await reader.read();
      if (end) break;
      if (done + value.length > size) throw new Error("the file grew while it was being read");
      heap(M).set(value, ptr + done);
      done += value.length;
      if (done - lastPost >= step || done === size) {
        postMessage({type: "progress", phase: "read", done, total: size});
        lastPost = done;
      }
    }
    if (done !== size) throw new Error(`read ${done} of ${size} bytes`);
    const t1 = performance.now();
    postMessage({type: "progress", phase: "convert"});
    shapes = cString(M, options.input_shapes || "");
    const status = M._lpw_convert(ptr, size, options.keep_io_layout ? 1 : 0, options.batch | 0, shapes);
    const t2 = performance.now();
    if (status !== 0) {
      // the library names the buffer "<memory>"; the page names the file, as the CLI does
      const msg = M.UTF8ToString(M._lpw_message() >>> 0).replace(/^<memory>: /, "");
      result = fail(file.name, status, msg);
    } else {
      const out = M._lpw_output() >>> 0, n = M._lpw_output_size() >>> 0;
      const report = JSON.parse(M.UTF8ToString(M._lpw_report_json() >>> 0));
      report.input = file.name;
      report.output = file.name.replace(/\.onnx$/i, "") + ".tflite";
      const tflite = heap(M).slice(out, out + n).buffer;
      result = {type: "result", ok: true, status: 0, status_name: "ok", message: "", report, tflite,
                read_ms: t1 - t0, convert_ms: t2 - t1};
    }
  } catch (err) {
    result = fail(file.name, 1, `cannot read the file: ${err.message || err}`);
  } finally {
    M._free(ptr);
    if (shapes) M._free(shapes);
  }
  return result;
}

// load the module at once and say so: the page accepts files from then on
loadModule().then(
  (M) => postMessage({type: "ready", version: M.UTF8ToString(M._lpw_version() >>> 0)}),
  (err) => postMessage({type: "load-error", message: String(err && err.message || err)}));

onmessage = async (e) => {
  const {file, options} = e.data;
  let result;
  try {
    result = await convert(file, options || {});
  } catch (err) {
    // a trap inside the module (a bug in liteport) or a failed module load
    result = fail(file.name, 7, `the converter stopped: ${err.message || err}`);
    modulePromise = null;  // start from a fresh module next time
  }
  postMessage(result, result.tflite ? [result.tflite] : []);
};
