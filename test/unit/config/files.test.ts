import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { configFileSchema, defaultConfigFile, loadConfig, settings } from '../../../src/config';

const DEFAULT_FILE = path.join(__dirname, '../../../config/default.json');
const SCHEMA_FILE = path.join(__dirname, '../../../config/schema.json');

const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

function compile(schema: Record<string, unknown>) {
  const ajv = new Ajv({ strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

// When one of the first two fails, src/config/settings.ts changed: `npm run config:schema` rewrites both files.
describe('the committed config files', () => {
  it('config/default.json holds exactly the static defaults of settings.ts', () => {
    expect(readJson(DEFAULT_FILE)).toEqual(defaultConfigFile());
  });

  it('config/schema.json is the schema generated from settings.ts', () => {
    expect(readJson(SCHEMA_FILE)).toEqual(configFileSchema());
  });

  it('config/default.json loads in local mode to the same configuration as no file at all', () => {
    const fromFile = loadConfig({ mode: 'local', env: {}, file: DEFAULT_FILE });
    expect(fromFile).toEqual(loadConfig({ mode: 'local', env: {} }));
  });

  it('config/default.json is valid against config/schema.json', () => {
    const validate = compile(readJson(SCHEMA_FILE));
    expect(validate(readJson(DEFAULT_FILE))).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
  });
});

describe('configFileSchema', () => {
  it('documents every setting, including the secrets a file should not hold', () => {
    const properties = configFileSchema().properties as Record<string, { description: string }>;
    expect(Object.keys(properties)).toEqual(Object.values(settings).map((s) => s.env));
    expect(properties.OAUTH_CLIENT_SECRET?.description).toContain('Secret:');
  });

  it('names in their descriptions the settings a service needs', () => {
    const properties = configFileSchema().properties as Record<string, { description: string }>;
    for (const s of Object.values(settings)) {
      const required = 'requiredInService' in s && s.requiredInService;
      expect([s.env, properties[s.env]?.description.includes('Required in service mode.')]).toEqual([
        s.env,
        required,
      ]);
    }
  });

  it('rejects a key that the loader would reject', () => {
    const validate = compile(configFileSchema());
    expect(validate({ QUEUE_NAM: 'typo' })).toBe(false);
  });
});

describe('defaultConfigFile', () => {
  it('leaves out the defaults that are computed on the machine', () => {
    expect(defaultConfigFile()).not.toHaveProperty('HOSTNAME');
    expect(defaultConfigFile()).not.toHaveProperty('BUILDER_CONCURRENCY');
  });
});
