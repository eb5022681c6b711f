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

esbuild
  .build({
    entryPoints: [path.join(root, 'dist/src/cli/main.js')],
    outfile: path.join(root, 'dist/oa-builder.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // ssh2 loads a native addon by a computed path, which cannot be bundled; docker-modem requires it only
    // when a build needs an engine, and it resolves from node_modules as before.
    external: ['ssh2'],
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
