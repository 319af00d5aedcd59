//! The `fs/promises` module: the JavaScript agent code sees. Each call becomes one
//! `WorkspaceRequest` (see `sluice_engine_host`) that the event loop passes to the host right after
//! the job that made it; the promise settles with the reply or rejects with an `Error` carrying
//! the `WorkspaceError`'s `code`, `syscall` and `path`, like Node's.

/// Operation names the host function `__sluiceHost.workspace` accepts.
pub(crate) const OPERATIONS: [&str; 7] = [
    "readFile",
    "writeFile",
    "appendFile",
    "readdir",
    "stat",
    "rm",
    "mkdir",
];

/// `flags` bit of `__sluiceHost.workspace`: `{ recursive: true }`.
pub(crate) const FLAG_RECURSIVE: i32 = 1;
/// `flags` bit of `__sluiceHost.workspace`: `{ force: true }`.
pub(crate) const FLAG_FORCE: i32 = 2;
/// `flags` bit of `__sluiceHost.workspace`: the data is, or is wanted as, base64.
pub(crate) const FLAG_BASE64: i32 = 4;

/// The JavaScript of the `fs/promises` module. Arguments are checked here (types, encodings),
/// paths by the host; each function returns the promise of the host call.
pub(crate) const FS_PROMISES_MODULE: &str = r#"const host = globalThis.__sluiceHost;
const call = host.workspace;
const TypeErrorClass = TypeError;
function invalid(message) {
  const error = new TypeErrorClass(message);
  error.code = "ERR_INVALID_ARG_TYPE";
  return error;
}
function pathOf(name, path) {
  if (typeof path !== "string") {
    throw invalid(`${name}: the path must be a string such as './workspace/data.json', got ${path === null ? "null" : typeof path}`);
  }
  return path;
}
function textOf(name, data) {
  if (typeof data !== "string") {
    throw invalid(`${name}: the data must be a string, got ${data === null ? "null" : typeof data}; use JSON.stringify(value) for objects`);
  }
  return data;
}
function checkEncoding(name, options) {
  const encoding = typeof options === "string" ? options : options !== null && typeof options === "object" ? options.encoding : undefined;
  if (encoding === undefined || encoding === null) return 0;
  const normalized = String(encoding).toLowerCase();
  if (normalized === "base64") return 4;
  if (normalized !== "utf8" && normalized !== "utf-8") {
    const error = new TypeErrorClass(`${name}: the encoding must be 'utf8' (text) or 'base64' (binary data such as images), got '${String(encoding)}'`);
    error.code = "ERR_INVALID_ARG_VALUE";
    throw error;
  }
  return 0;
}
function flagsOf(options) {
  if (options === null || typeof options !== "object") return 0;
  return (options.recursive ? 1 : 0) | (options.force ? 2 : 0);
}
function settle(operation) {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}
export function readFile(path, options) {
  return settle(() => {
    const flags = checkEncoding("readFile", options);
    return call("readFile", pathOf("readFile", path), undefined, flags);
  });
}
export function writeFile(path, data, options) {
  return settle(() => {
    const flags = checkEncoding("writeFile", options);
    return call("writeFile", pathOf("writeFile", path), textOf("writeFile", data), flags);
  });
}
export function appendFile(path, data, options) {
  return settle(() => {
    const flags = checkEncoding("appendFile", options);
    return call("appendFile", pathOf("appendFile", path), textOf("appendFile", data), flags);
  });
}
export function readdir(path) {
  return settle(() => call("readdir", pathOf("readdir", path), undefined, 0));
}
const statPrototype = {
  isFile() { return this.kind === "file"; },
  isDirectory() { return this.kind === "directory"; },
};
export function stat(path) {
  return settle(() => call("stat", pathOf("stat", path), undefined, 0).then((found) => {
    const stats = Object.create(statPrototype);
    stats.size = found.size;
    stats.mtimeMs = found.mtimeMs;
    stats.mtime = new Date(found.mtimeMs);
    Object.defineProperty(stats, "kind", { value: found.kind, enumerable: false });
    return stats;
  }));
}
export function rm(path, options) {
  return settle(() => call("rm", pathOf("rm", path), undefined, flagsOf(options)));
}
export function mkdir(path, options) {
  return settle(() => call("mkdir", pathOf("mkdir", path), undefined, flagsOf(options)));
}
export default { readFile, writeFile, appendFile, readdir, stat, rm, mkdir };
"#;

/// Names `fs/promises` exports.
pub(crate) const FS_PROMISES_EXPORTS: [&str; 8] = [
    "appendFile",
    "default",
    "mkdir",
    "readFile",
    "readdir",
    "rm",
    "stat",
    "writeFile",
];
