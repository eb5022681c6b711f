#!/usr/bin/env node
'use strict';
// Node's fetch (undici) compiles its HTTP parser from WebAssembly, and V8 then recompiles it with its
// optimising tier on a background thread, which a process joins before it exits: `oa-builder run` ended about
// 200 ms after its work was done. The builder's few requests per workflow need no optimised parser. Set before
// anything can load undici, since V8 reads the flag when it compiles a module.
require('node:v8').setFlagsFromString('--liftoff-only');
require('./load-bundle')
  .loadBundle()
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`oa-builder: ${err && err.message ? err.message : String(err)}\n`);
      process.exit(70);
    },
  );
