'use strict';
// Reads the compiled generator (so `npm run build` must run first) because plain node cannot load the
// TypeScript sources; test/unit/validation/generated.test.ts fails until the files match the schemas.
const fs = require('node:fs');
const path = require('node:path');
const { validatorModules } = require('../dist/src/validation/generate');

for (const { file, code } of validatorModules()) fs.writeFileSync(path.join(__dirname, '..', file), code);
