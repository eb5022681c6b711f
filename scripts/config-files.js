'use strict';
// Reads the compiled settings table (so `npm run build` must run first) because plain node cannot load the
// TypeScript sources; test/unit/config/files.test.ts fails until these files match src/config/settings.ts.
const fs = require('node:fs');
const path = require('node:path');
const { configFileSchema, defaultConfigFile } = require('../dist/src/config');

const dir = path.join(__dirname, '..', 'config');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'schema.json'), `${JSON.stringify(configFileSchema(), null, 2)}\n`);
fs.writeFileSync(path.join(dir, 'default.json'), `${JSON.stringify(defaultConfigFile(), null, 2)}\n`);
