#!/usr/bin/env node
'use strict';
require('../dist/src/cli/main.js')
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`oa-builder: ${err && err.message ? err.message : String(err)}\n`);
      process.exit(70);
    },
  );
