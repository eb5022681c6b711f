#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js, from `tsc`) into one file, dist/oa-builder.js, which
// bin/oa-builder.js runs: loading one file instead of some 260 modules is most of what `oa-builder run`
// spends before its workflow starts (docs/design.md, "Where a workflow's time goes"), and writes V8's code
// cache for it, dist/oa-builder.js.cache. Part of `npm run build`.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');

// docker-modem requires ssh2 as it loads, for engines reached over `ssh://`, which the builder never dials
// (its endpoints are unix sockets and tcp, http or https: src/docker/endpoint.ts). Loading ssh2, its crypto
// and the WebAssembly it compiles took 50-60 ms of CPU in every process that dialled an engine, before the
// workflow could go on; the bundle gets a stand-in that refuses to be used instead.
const withoutSsh = {
  name: 'without-ssh',
  setup(build) {
    build.onResolve({ filter: /^ssh2$/ }, () => ({ path: 'ssh2', namespace: 'without-ssh' }));
    build.onLoad({ filter: /.*/, namespace: 'without-ssh' }, () => ({
      contents:
        'exports.Client = class Client { constructor() { ' +
        "throw new Error('oa-builder does not dial Docker engines over SSH'); } };",
      loader: 'js',
    }));
  },
};

esbuild
  .build({
    entryPoints: [path.join(root, 'dist/src/cli/main.js')],
    outfile: path.join(root, 'dist/oa-builder.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    plugins: [withoutSsh],
    // Chained through the source maps of `tsc`: `node --enable-source-maps` shows TypeScript positions.
    sourcemap: true,
    logLevel: 'warning',
  })
  .then(() =>
    // The code cache of the bundle (bin/load-bundle.js), made under the V8 flags bin/oa-builder.js sets, since
    // V8 rejects a cache made under others.
    execFileSync(
      process.execPath,
      [
        '-e',
        "require('node:v8').setFlagsFromString('--liftoff-only');" +
          "require('./bin/load-bundle').loadBundle({ writeCache: true });",
      ],
      { cwd: root, stdio: 'inherit' },
    ),
  )
  .catch(() => process.exit(1));
