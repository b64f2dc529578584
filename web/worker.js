// liteport conversion worker: runs the WebAssembly build of the C core (liteport_core.js/.wasm,
// built by `make wasm`) off the page's main thread, so the page stays responsive and can show
// progress while a large model is read and converted.
//
// Message in:   {files: [File], options: {keep_io_layout: bool, batch: int, input_shapes: string}}
//               one .onnx model, plus its external data files if it has any
// Messages out: {type: "ready", version} once the module is loaded (or {type: "load-error", message})
//               {type: "progress", phase: "read", done: bytes, total: bytes}
//               {type: "progress", phase: "convert"}
//               {type: "result", ok, status, message, report, tflite: ArrayBuffer|null,
//                read_ms, convert_ms}
//
// The .onnx file is streamed chunk by chunk straight into the module's heap (no intermediate
// ArrayBuffer) and the converter reads its weights in place. External data files go to the
// module's in-memory file system (/model), where the converter maps them as the CLI maps the files
// next to a model.
"use strict";

importScripts("liteport_core.js");

const DATA_DIR = "/model";
const WASM_MAX_BYTES = 4 * 1024 * 1024 * 1024;  // wasm32: the heap holds model and output together

let modulePromise = null;

function loadModule() {
  if (!modulePromise) modulePromise = createLiteport();
  return modulePromise;
}

function cString(M, s) {
  const n = M.lengthBytesUTF8(s) + 1;
  const p = M._malloc(n) >>> 0;
  if (!p) throw new Error("out of memory");
  M.stringToUTF8(s, p, n);
  return p;
}

function fail(name, status, text) {
  // the CLI's wording after "liteport: error: " is "<file>: <message>"
  return {type: "result", ok: false, status, message: name + ": " + text, report: null, tflite: null,
          read_ms: 0, convert_ms: 0};
}

// Reads `file` chunk by chunk, handing each chunk to put(chunk, offset); progress is reported
// against the total of all files, about every 1% and at least every 4 MiB.
async function readChunks(file, put, progress) {
  const reader = file.stream().getReader();
  let done = 0;
  for (;;) {
    const {value, done: end} = await reader.read();
    if (end) break;
    if (done + value.length > file.size) throw new Error(`${file.name} grew while it was being read`);
    put(value, done);
    done += value.length;
    progress.add(value.length);
  }
  if (done !== file.size) throw new Error(`read ${done} of ${file.size} bytes of ${file.name}`);
}

function progressCounter(total) {
  let done = 0, last = 0;
  const step = Math.max(1 << 22, Math.floor(total / 100));
  postMessage({type: "progress", phase: "read", done: 0, total});
  return {
    add(n) {
      done += n;
      if (done - last >= step || done === total) {
        postMessage({type: "progress", phase: "read", done, total});
        last = done;
      }
    },
  };
}

function clearDataDir(M) {
  const FS = M.FS;
  try {
    for (const f of FS.readdir(DATA_DIR)) if (f !== "." && f !== "..") FS.unlink(`${DATA_DIR}/${f}`);
  } catch (e) {
    FS.mkdirTree(DATA_DIR);
  }
}

async function convert(files, options) {
  const M = await loadModule();
  const models = files.filter((f) => /\.onnx$/i.test(f.name));
  const model = models.length === 1 ? models[0] : files.length === 1 ? files[0] : null;
  if (!model)
    return fail(files.map((f) => f.name).join(", "), 1, models.length > 1
      ? "pick one .onnx model at a time (with its external data files, if it has any)"
      : "no .onnx model among the files picked (pick the model, with its external data files)");
  const data = files.filter((f) => f !== model);
  const total = files.reduce((n, f) => n + f.size, 0);
  // the heap needs the model, its data, the output (usually about as large) and working memory
  if (total >= WASM_MAX_BYTES / 2)
    return fail(model.name, 5, `the model is ${(total / 2 ** 30).toFixed(2)} GiB; a browser converts models ` +
                "up to about 2 GiB (WebAssembly's 4 GiB memory holds the model and the .tflite); use the " +
                "liteport command-line tool");
  const t0 = performance.now();
  let ptr = 0, shapes = 0, dir = 0, result;
  try {
    const progress = progressCounter(total);
    clearDataDir(M);
    for (const f of data) {
      // a name with a folder part could not be where the model says anyway: only plain names
      const buf = new Uint8Array(f.size);
      await readChunks(f, (chunk, at) => buf.set(chunk, at), progress);
      M.FS.writeFile(`${DATA_DIR}/${f.name.replace(/\//g, "_")}`, buf, {canOwn: true});
    }
    ptr = M._malloc(Math.max(model.size, 1)) >>> 0;
    if (!ptr) return fail(model.name, 6, `out of memory: the browser could not give ${model.size} bytes to the converter`);
    // heap views are replaced when memory grows: take a fresh one for every chunk
    await readChunks(model, (chunk, at) => M.HEAPU8.set(chunk, ptr + at), progress);
    const t1 = performance.now();
    postMessage({type: "progress", phase: "convert"});
    shapes = cString(M, options.input_shapes || "");
    dir = cString(M, DATA_DIR);
    const status = M._lpw_convert(ptr, model.size, dir, options.keep_io_layout ? 1 : 0, options.batch | 0, shapes);
    const t2 = performance.now();
    if (status !== 0) {
      // the library names the buffer "<memory>"; the page names the file, as the CLI does
      const msg = M.UTF8ToString(M._lpw_message() >>> 0).replace(/^<memory>: /, "");
      result = fail(model.name, status, msg);
      result.missing_data = / not found next to the model$/.test(msg);
    } else {
      const out = M._lpw_output() >>> 0, n = M._lpw_output_size() >>> 0;
      const report = JSON.parse(M.UTF8ToString(M._lpw_report_json() >>> 0));
      report.input = model.name;
      report.output = model.name.replace(/\.onnx$/i, "") + ".tflite";
      report.data_files = data.map((f) => f.name);
      const tflite = M.HEAPU8.slice(out, out + n).buffer;
      result = {type: "result", ok: true, status: 0, message: "", report, tflite,
                read_ms: t1 - t0, convert_ms: t2 - t1};
    }
  } catch (err) {
    result = fail(model.name, 1, `cannot read the file: ${err.message || err}`);
  } finally {
    if (ptr) M._free(ptr);
    if (shapes) M._free(shapes);
    if (dir) M._free(dir);
    clearDataDir(M);
  }
  return result;
}

// load the module at once and say so: the page accepts files from then on
loadModule().then(
  (M) => postMessage({type: "ready", version: M.UTF8ToString(M._lpw_version() >>> 0)}),
  (err) => postMessage({type: "load-error", message: String(err && err.message || err)}));

onmessage = async (e) => {
  const {files, options} = e.data;
  let result;
  try {
    result = await convert(files, options || {});
  } catch (err) {
    // a trap inside the module (a bug in liteport) or a failed module load
    result = fail(files.map((f) => f.name).join(", "), 7, `the converter stopped: ${err.message || err}`);
    modulePromise = null;  // start from a fresh module next time
  }
  postMessage(result, result.tflite ? [result.tflite] : []);
};
