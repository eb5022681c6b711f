#!/usr/bin/env node
'use strict';
// Node's fetch (undici) compiles its HTTP parser from WebAssembly, and V8 then recompiles it with its
// optimising tier on a background thread, which a process joins before it exits: `oa-builder run` ended about
// 200 ms after its work was done. The builder's few requests per workflow need no optimised parser. Set before
// the first request, since V8 reads the flag when it compiles the WebAssembly module.
//
// A flag set at run time also changes the hash that V8 checks a code cache against, so every Node built-in
// module loaded after it would be compiled from source instead of from Node's own code cache: some 40-60 ms of
// CPU in a run or a replica for the ones a workflow uses. Those commands load them first (fetch's undici too,
// which compiles its WebAssembly only at the first request, under the flag); the others need few of them.
if (process.argv[2] === 'run' || process.argv[2] === 'serve') {
  for (const name of [
    'assert',
    'child_process',
    'crypto',
    'dgram',
    'dns',
    'fs/promises',
    'http',
    'http2',
    'https',
    'module',
    'net',
    'os',
    'perf_hooks',
    'stream/web',
    'timers/promises',
    'tls',
    'tty',
    'vm',
    'worker_threads',
    'zlib',
  ])
    require(`node:${name}`);
  void globalThis.Headers;
  void globalThis.crypto.subtle;
}
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
