// Sluice engine prelude: a module whose default export the engine calls in every fresh context
// before agent code runs (once per runtime: a session keeps it). It is compiled to QuickJS
// bytecode when the engine is built (`rquickjs::embed!`), so a new runtime loads it without
// parsing it.
// It receives the private host functions and installs the globals agent code may use:
// `console`, `setTimeout`/`clearTimeout`, `setInterval`/`clearInterval` and `__sluiceHost`
// (used by the runtime and `fs/promises` modules). It hardens the built-ins (see `harden`) and
// returns helpers the engine calls itself. Everything it uses is captured here, so agent code
// that replaces `JSON` or `Object` cannot break the engine's side.
export default function installPrelude(host) {
  "use strict";
  const { log, setTimer, clearTimer, callTool, workspace, progress, maxRegexSource, checkCode } = host;
  const stringify = JSON.stringify;
  const objectKeys = Object.keys;
  const getPrototypeOf = Object.getPrototypeOf;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;
  const isArray = Array.isArray;
  const isView = ArrayBuffer.isView;
  const ErrorClass = Error;
  const DateClass = Date;
  const RegExpClass = RegExp;
  const MapClass = Map;
  const SetClass = Set;
  const PromiseClass = Promise;
  const ArrayBufferClass = ArrayBuffer;
  const dateToISOString = Date.prototype.toISOString;
  const dateGetTime = Date.prototype.getTime;
  const regExpToString = RegExp.prototype.toString;
  const symbolToString = Symbol.prototype.toString;
  const mapForEach = Map.prototype.forEach;
  const setForEach = Set.prototype.forEach;
  const mapSize = getOwnPropertyDescriptor(Map.prototype, "size").get;
  const setSize = getOwnPropertyDescriptor(Set.prototype, "size").get;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const getOwnPropertyNames = Object.getOwnPropertyNames;
  const getOwnPropertySymbols = Object.getOwnPropertySymbols;
  const PRELUDE = "sluice-prelude";
  const MAX_DEPTH = 6;
  const MAX_ITEMS = 100;
  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

  function quote(text) {
    let out = "'";
    for (const character of text) {
      switch (character) {
        case "'": out += "\\'"; break;
        case "\\": out += "\\\\"; break;
        case "\n": out += "\\n"; break;
        case "\r": out += "\\r"; break;
        case "\t": out += "\\t"; break;
        default: out += character;
      }
    }
    return out + "'";
  }

  function safe(fallback, operation) {
    try {
      return operation();
    } catch {
      return fallback;
    }
  }

  function errorHeader(error) {
    const name = safe("Error", () => String(error.name ?? "Error"));
    const message = safe("", () => String(error.message ?? ""));
    return message === "" ? name : `${name}: ${message}`;
  }

  function constructorName(value) {
    return safe("", () => {
      const prototype = getPrototypeOf(value);
      if (prototype === null) return null;
      const constructor = getOwnPropertyDescriptor(prototype, "constructor");
      const name = constructor && typeof constructor.value === "function" ? constructor.value.name : "";
      return typeof name === "string" ? name : "";
    });
  }

  function propertyKey(key) {
    return IDENTIFIER.test(key) ? key : quote(key);
  }

  function ownEntries(value, depth, seen, skip) {
    const keys = safe([], () => objectKeys(value));
    const parts = [];
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index];
      if (skip && skip.includes(key)) continue;
      if (parts.length >= MAX_ITEMS) {
        parts.push(`... ${keys.length - index} more`);
        break;
      }
      const descriptor = safe(undefined, () => getOwnPropertyDescriptor(value, key));
      let shown;
      if (descriptor === undefined) {
        shown = "undefined";
      } else if (descriptor.get || descriptor.set) {
        shown = descriptor.get && descriptor.set ? "[Getter/Setter]" : descriptor.get ? "[Getter]" : "[Setter]";
      } else {
        shown = inspect(descriptor.value, depth + 1, seen);
      }
      parts.push(`${propertyKey(key)}: ${shown}`);
    }
    return parts;
  }

  function braces(prefix, parts, open, close) {
    const head = prefix ? `${prefix} ` : "";
    return parts.length === 0 ? `${head}${open}${close}` : `${head}${open} ${parts.join(", ")} ${close}`;
  }

  function inspectError(error, depth, seen) {
    const header = errorHeader(error);
    const extra = ownEntries(error, depth, seen, ["stack", "message", "name"]);
    if (depth > 0) {
      return extra.length ? `[${header}] { ${extra.join(", ")} }` : `[${header}]`;
    }
    const stack = safe("", () => (typeof error.stack === "string" ? error.stack : ""));
    let text = header;
    const frames = stack.trimEnd();
    if (frames) text += `\n${frames.startsWith(header) ? frames.slice(header.length).replace(/^\n/, "") : frames}`;
    if (extra.length) text += ` { ${extra.join(", ")} }`;
    return text;
  }

  function inspect(value, depth, seen) {
    switch (typeof value) {
      case "string":
        return depth === 0 ? value : quote(value);
      case "number":
        return value === 0 && 1 / value < 0 ? "-0" : String(value);
      case "bigint":
        return `${value}n`;
      case "boolean":
      case "undefined":
        return String(value);
      case "symbol":
        return apply(symbolToString, value, []);
      case "function": {
        const name = safe("", () => value.name);
        return name ? `[Function: ${name}]` : "[Function (anonymous)]";
      }
    }
    if (value === null) return "null";
    if (seen.includes(value)) return "[Circular]";
    if (value instanceof ErrorClass) {
      seen.push(value);
      const text = inspectError(value, depth, seen);
      seen.pop();
      return text;
    }
    if (value instanceof DateClass) {
      return safe("Invalid Date", () => (Number.isNaN(apply(dateGetTime, value, [])) ? "Invalid Date" : apply(dateToISOString, value, [])));
    }
    if (value instanceof RegExpClass) return safe("[RegExp]", () => apply(regExpToString, value, []));
    if (value instanceof PromiseClass) return "Promise { }";
    const name = constructorName(value);
    if (depth >= MAX_DEPTH) {
      return isArray(value) ? "[Array]" : `[${name || "Object"}]`;
    }
    seen.push(value);
    try {
      if (isArray(value)) {
        const parts = [];
        const length = value.length;
        let holes = 0;
        for (let index = 0; index < length; index++) {
          if (parts.length >= MAX_ITEMS) {
            parts.push(`... ${length - index} more item${length - index === 1 ? "" : "s"}`);
            holes = 0;
            break;
          }
          if (!(index in value)) {
            holes++;
            continue;
          }
          if (holes) {
            parts.push(`<${holes} empty item${holes === 1 ? "" : "s"}>`);
            holes = 0;
          }
          parts.push(inspect(value[index], depth + 1, seen));
        }
        if (holes) parts.push(`<${holes} empty item${holes === 1 ? "" : "s"}>`);
        return parts.length === 0 ? "[]" : `[ ${parts.join(", ")} ]`;
      }
      if (value instanceof MapClass) {
        const parts = [];
        apply(mapForEach, value, [(entry, key) => {
          if (parts.length < MAX_ITEMS) parts.push(`${inspect(key, depth + 1, seen)} => ${inspect(entry, depth + 1, seen)}`);
        }]);
        return braces(`Map(${apply(mapSize, value, [])})`, parts, "{", "}");
      }
      if (value instanceof SetClass) {
        const parts = [];
        apply(setForEach, value, [(entry) => {
          if (parts.length < MAX_ITEMS) parts.push(inspect(entry, depth + 1, seen));
        }]);
        return braces(`Set(${apply(setSize, value, [])})`, parts, "{", "}");
      }
      if (isView(value) && typeof value.length === "number") {
        const parts = [];
        for (let index = 0; index < value.length && index < MAX_ITEMS; index++) parts.push(inspect(value[index], depth + 1, seen));
        if (value.length > MAX_ITEMS) parts.push(`... ${value.length - MAX_ITEMS} more items`);
        return `${name}(${value.length}) ${parts.length === 0 ? "[]" : `[ ${parts.join(", ")} ]`}`;
      }
      if (value instanceof ArrayBufferClass) return `ArrayBuffer { byteLength: ${value.byteLength} }`;
      const parts = ownEntries(value, depth, seen);
      const prefix = name === null ? "[Object: null prototype]" : name && name !== "Object" ? name : "";
      return braces(prefix, parts, "{", "}");
    } finally {
      seen.pop();
    }
  }

  function format(args) {
    let text = "";
    let start = 0;
    if (typeof args[0] === "string" && args.length > 1 && args[0].includes("%")) {
      const template = args[0];
      let next = 1;
      start = 1;
      for (let index = 0; index < template.length; index++) {
        const character = template[index];
        if (character !== "%" || index + 1 >= template.length) {
          text += character;
          continue;
        }
        const directive = template[index + 1];
        if (directive === "%") {
          text += "%";
          index++;
          continue;
        }
        if (!"sdifjoOc".includes(directive)) {
          text += character;
          continue;
        }
        index++;
        if (next >= args.length) {
          text += `%${directive}`;
          continue;
        }
        const argument = args[next++];
        switch (directive) {
          case "s": text += typeof argument === "string" ? argument : inspect(argument, 1, []); break;
          case "d": case "i": {
            const number = typeof argument === "bigint" ? argument : Number(argument);
            text += typeof number === "bigint" ? `${number}n` : String(directive === "i" ? Math.trunc(number) : number);
            break;
          }
          case "f": text += String(Number(argument)); break;
          case "j": text += safe("[Circular]", () => stringify(argument)); break;
          case "o": case "O": text += inspect(argument, 1, []); break;
          case "c": break;
        }
      }
      start = next;
    }
    for (let index = start; index < args.length; index++) {
      if (text !== "" || index > 0) text += " ";
      text += inspect(args[index], 0, []);
    }
    return text;
  }

  const LOG = 0;
  const WARN = 1;
  const ERROR = 2;
  const console = {
    log: (...args) => log(LOG, format(args)),
    info: (...args) => log(LOG, format(args)),
    debug: (...args) => log(LOG, format(args)),
    warn: (...args) => log(WARN, format(args)),
    error: (...args) => log(ERROR, format(args)),
    trace: (...args) => {
      const stack = safe("", () => new ErrorClass().stack);
      const frames = typeof stack === "string"
        ? stack.split("\n").filter((frame) => frame.trim() !== "" && !frame.includes(PRELUDE)).join("\n")
        : "";
      log(ERROR, `Trace${args.length ? `: ${format(args)}` : ""}${frames ? `\n${frames}` : ""}`);
    },
    dir: (value) => log(LOG, inspect(value, 0, [])),
    assert: (condition, ...args) => {
      if (!condition) log(ERROR, `Assertion failed${args.length ? `: ${format(args)}` : ""}`);
    },
  };

  function timer(name, repeat) {
    return function (callback, delay, ...args) {
      if (typeof callback !== "function") {
        throw new TypeError(`${name}: the callback must be a function`);
      }
      const milliseconds = Number(delay);
      const run = args.length === 0 ? callback : () => callback(...args);
      return setTimer(run, milliseconds > 0 ? milliseconds : 0, repeat);
    };
  }
  function clear(id) {
    if (typeof id === "number") clearTimer(id);
  }

  const globals = {
    console,
    setTimeout: timer("setTimeout", false),
    setInterval: timer("setInterval", true),
    clearTimeout: clear,
    clearInterval: clear,
  };
  for (const key of objectKeys(globals)) {
    defineProperty(globalThis, key, { value: globals[key], writable: true, enumerable: false, configurable: true });
  }
  defineProperty(globalThis, "__sluiceHost", {
    value: freeze({ callTool, workspace, progress }),
    writable: false,
    enumerable: false,
    configurable: false,
  });

  harden();

  // Remove or wrap built-ins that are known sources of engine bugs or of work QuickJS cannot
  // interrupt. The originals stay reachable only inside this closure.
  function harden() {
    // Shared memory and atomics serve no purpose in a single-threaded sandbox; their TOCTOU bugs
    // in QuickJS are many (resizing while a builtin reads), and they make high-resolution timers.
    delete globalThis.SharedArrayBuffer;
    delete globalThis.Atomics;
    // Resizable and transferable buffers: without `resize`, the `transfer` family and the
    // `maxByteLength` option, a buffer's length never changes after it is made, so no builtin
    // can see it shrink under its feet.
    const bufferPrototype = ArrayBufferClass.prototype;
    for (const name of ["resize", "transfer", "transferToFixedLength", "transferToImmutable"]) {
      delete bufferPrototype[name];
    }
    const SafeArrayBuffer = function ArrayBuffer(length, options) {
      if (new.target === undefined) throw new TypeError("Constructor ArrayBuffer requires 'new'");
      if (options !== undefined && options !== null && typeof options === "object" && "maxByteLength" in options) {
        throw new TypeError("Resizable ArrayBuffers (the maxByteLength option) are not available in this sandbox: allocate a buffer of the size you need, or a new one and copy");
      }
      return construct(ArrayBufferClass, [length], new.target);
    };
    replaceConstructor(ArrayBufferClass, SafeArrayBuffer, "ArrayBuffer");

    // Regular expressions: QuickJS's regex compiler cannot be interrupted and its cost grows
    // faster than the pattern, so every way to compile a pattern from a string is capped.
    // Literals in agent code are checked when it is transpiled.
    const regExpPrototype = RegExpClass.prototype;
    const sourceOf = getOwnPropertyDescriptor(regExpPrototype, "source").get;
    const flagsOf = getOwnPropertyDescriptor(regExpPrototype, "flags").get;
    const isRegExp = (value) => {
      if (value === null || typeof value !== "object" || value === regExpPrototype) return false;
      try {
        apply(sourceOf, value, []);
        return true;
      } catch {
        return false;
      }
    };
    const checked = (pattern) => {
      const source = pattern === undefined ? "" : `${pattern}`;
      if (source.length > maxRegexSource) {
        throw new SyntaxError(`Invalid regular expression: the pattern is ${source.length} characters long; this sandbox allows at most ${maxRegexSource}. Use a shorter pattern, or split the matching into simpler steps`);
      }
      return source;
    };
    const SafeRegExp = function RegExp(pattern, flags) {
      const real = isRegExp(pattern);
      if (new.target === undefined && real && flags === undefined && pattern.constructor === SafeRegExp) {
        return pattern;
      }
      let source;
      if (real) {
        source = apply(sourceOf, pattern, []);
        if (flags === undefined) flags = apply(flagsOf, pattern, []);
      } else if (pattern !== null && typeof pattern === "object" && pattern[Symbol.match]) {
        // A regex-like object: read its source and flags once, as the constructor would.
        source = pattern.source;
        if (flags === undefined) flags = pattern.flags;
      } else {
        source = pattern;
      }
      return construct(RegExpClass, [checked(source), flags], new.target === undefined ? SafeRegExp : new.target);
    };
    replaceConstructor(RegExpClass, SafeRegExp, "RegExp");
    delete regExpPrototype.compile;
    // Code compiled at run time is checked like agent code is at transpile time: `eval` and the
    // four `Function` constructors first hand their source to the host. This `eval` is always an
    // indirect eval (global scope): a direct one cannot be wrapped.
    const originalEval = globalThis.eval;
    const safeEval = {
      eval(source) {
        if (typeof source === "string") checkCode(source);
        return originalEval(source);
      },
    }.eval;
    defineProperty(globalThis, "eval", { value: safeEval, writable: true, enumerable: false, configurable: true });
    const functionConstructors = [
      [Function, "Function"],
      [getPrototypeOf(async function () {}).constructor, "AsyncFunction"],
      [getPrototypeOf(function* () {}).constructor, "GeneratorFunction"],
      [getPrototypeOf(async function* () {}).constructor, "AsyncGeneratorFunction"],
    ];
    for (const [original, name] of functionConstructors) {
      const keyword = name === "Function" || name === "GeneratorFunction" ? "function" : "async function";
      const star = name.includes("Generator") ? "*" : "";
      const safe = function (...parts) {
        // Converted once: what is checked is exactly what is compiled. The argument list has no
        // prototype, so no accessor agent code put on Array.prototype can swap an entry.
        const list = { __proto__: null, length: 0 };
        let parameters = "";
        for (let index = 0; index < parts.length - 1; index++) {
          const text = `${parts[index]}`;
          parameters += index === 0 ? text : `,${text}`;
          list[index] = text;
        }
        const body = parts.length === 0 ? "" : `${parts[parts.length - 1]}`;
        list[parts.length === 0 ? 0 : parts.length - 1] = body;
        list.length = parts.length === 0 ? 1 : parts.length;
        checkCode(`(${keyword}${star} anonymous(${parameters}\n) {\n${body}\n})`);
        return construct(original, list, new.target === undefined ? safe : new.target);
      };
      defineProperty(safe, "prototype", { value: original.prototype, writable: false, enumerable: false, configurable: false });
      defineProperty(safe, "name", { value: name, writable: false, enumerable: false, configurable: true });
      defineProperty(safe, "length", { value: 1, writable: false, enumerable: false, configurable: true });
      defineProperty(original.prototype, "constructor", { value: safe, writable: false, enumerable: false, configurable: true });
      if (name === "Function") {
        defineProperty(globalThis, "Function", { value: safe, writable: true, enumerable: false, configurable: true });
      }
    }

    // `split` and `matchAll` build a new RegExp from `this` through the species constructor;
    // on an object that only looks like a RegExp that would read an arbitrary `source`.
    for (const symbol of [Symbol.split, Symbol.matchAll]) {
      const original = regExpPrototype[symbol];
      if (typeof original !== "function") continue;
      const name = apply(symbolToString, symbol, []);
      const wrapped = {
        [symbol](string, limit) {
          if (!isRegExp(this)) {
            throw new TypeError(`RegExp.prototype[${name}] must be called on a RegExp in this sandbox`);
          }
          return apply(original, this, [string, limit]);
        },
      }[symbol];
      defineProperty(regExpPrototype, symbol, { value: wrapped, writable: true, enumerable: false, configurable: true });
    }
    // `match`, `matchAll` and `search` compile their argument when it is not a RegExp. The
    // argument's own method is called here (once), and anything else becomes a checked string.
    const stringPrototype = String.prototype;
    for (const [name, symbol] of [["match", Symbol.match], ["matchAll", Symbol.matchAll], ["search", Symbol.search]]) {
      const original = stringPrototype[name];
      const wrapped = {
        [name](regexp) {
          if (this === undefined || this === null) {
            throw new TypeError(`String.prototype.${name} called on null or undefined`);
          }
          if (regexp !== undefined && regexp !== null) {
            const method = regexp[symbol];
            if (method !== undefined && method !== null) {
              if (name === "matchAll" && isRegExp(regexp) && !`${apply(flagsOf, regexp, [])}`.includes("g")) {
                throw new TypeError("String.prototype.matchAll called with a non-global RegExp argument");
              }
              return apply(method, regexp, [`${this}`]);
            }
          }
          return apply(original, this, [checked(regexp)]);
        },
      }[name];
      defineProperty(stringPrototype, name, { value: wrapped, writable: true, enumerable: false, configurable: true });
    }
  }

  // Put `safe` in the place of the built-in constructor `original`: same prototype object, same
  // static properties, and `prototype.constructor` pointing at it.
  function replaceConstructor(original, safe, name) {
    defineProperty(safe, "prototype", { value: original.prototype, writable: false, enumerable: false, configurable: false });
    defineProperty(safe, "name", { value: name, writable: false, enumerable: false, configurable: true });
    defineProperty(safe, "length", { value: original.length, writable: false, enumerable: false, configurable: true });
    const keys = [...getOwnPropertyNames(original), ...getOwnPropertySymbols(original)];
    for (const key of keys) {
      if (key === "prototype" || key === "name" || key === "length") continue;
      const descriptor = getOwnPropertyDescriptor(original, key);
      if (descriptor !== undefined) defineProperty(safe, key, descriptor);
    }
    defineProperty(original.prototype, "constructor", { value: safe, writable: true, enumerable: false, configurable: true });
    defineProperty(globalThis, name, { value: safe, writable: true, enumerable: false, configurable: true });
  }

  return {
    // The module's default export as JSON text: undefined and other non-JSON values become
    // "null", BigInt becomes a decimal string, functions and symbols inside objects are dropped
    // (JSON.stringify rules).
    resultToJson(value) {
      const text = stringify(value, (key, item) => (typeof item === "bigint" ? item.toString() : item));
      return text === undefined ? "null" : text;
    },
    // Text of an uncaught value for an error message.
    describe(value) {
      if (value instanceof ErrorClass) return inspectError(value, 0, [value]);
      return inspect(value, 1, []);
    },
    // Publish a session execution's top-level declarations on `globalThis` as live accessors:
    // `bindings` has a getter (and a setter unless `const`) per declaration. A getter that throws
    // belongs to a declaration the module body never reached (still in its temporal dead zone):
    // it is skipped. Runs after agent code, so it touches nothing agent code could have replaced:
    // indexed loops over a fresh array, captured functions, null-prototype descriptors.
    publish(bindings) {
      const names = objectKeys(bindings);
      for (let index = 0; index < names.length; index++) {
        const name = names[index];
        const descriptor = getOwnPropertyDescriptor(bindings, name);
        try {
          apply(descriptor.get, bindings, []);
        } catch {
          continue;
        }
        try {
          defineProperty(globalThis, name, { __proto__: null, get: descriptor.get, set: descriptor.set, enumerable: false, configurable: true });
        } catch {
          // A non-configurable global of the same name (`undefined`, `__sluiceHost`) stays.
        }
      }
    },
  };
}
