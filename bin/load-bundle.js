'use strict';
// Loads the bundled CLI (dist/oa-builder.js) with the V8 code cache that `npm run build` writes beside it
// (dist/oa-builder.js.cache): V8 then reads the functions compiled at build time instead of parsing and
// compiling 2.3 MB of JavaScript at every start. The cache is used only for the bundle it was made from (its
// SHA-1 heads the file); a missing or stale one, or one V8 rejects for another Node or other flags, only costs
// the compilation it would have saved.
const { Buffer } = require('node:buffer');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'oa-builder.js');
const HASH_BYTES = 20;

function readCache(cache, digest) {
  try {
    const file = fs.readFileSync(cache);
    return file.subarray(0, HASH_BYTES).equals(digest) ? file.subarray(HASH_BYTES) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The exports of `bundle` (a CommonJS file, default the CLI's); with `writeCache`, its code cache is written
 * (to `<bundle>.cache`) once it has run.
 */
function loadBundle({ bundle = BUNDLE, writeCache = false } = {}) {
  // Node maps stack traces through source maps only for modules it compiles itself.
  if (process.sourceMapsEnabled && !writeCache) return require(bundle);
  const cache = `${bundle}.cache`;
  const source = fs.readFileSync(bundle);
  const digest = crypto.createHash('sha1').update(source).digest();
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${source.toString('utf8')}\n})`,
    { filename: bundle, cachedData: writeCache ? undefined : readCache(cache, digest) },
  );
  const module = { exports: {}, id: bundle, filename: bundle };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  if (writeCache) fs.writeFileSync(cache, Buffer.concat([digest, script.createCachedData()]));
  return module.exports;
}

module.exports = { loadBundle };
