import type { ConfigMode } from './index';
import { settings, type Setting } from './settings';

const entries = Object.values(settings) as Setting[];

/** The JSON Schema of one setting's value, as the loader validates it after splitting lists. */
export function valueSchema(s: Setting): Record<string, unknown> {
  switch (s.type) {
    case 'integer':
      return { type: 'integer', ...(s.minimum === undefined ? {} : { minimum: s.minimum }) };
    case 'boolean':
      return { type: 'boolean' };
    case 'list': {
      const items = s.values ? { enum: s.values } : { type: 'string', minLength: 1 };
      return { type: 'array', minItems: 1, items };
    }
    case 'enum':
      return { type: 'string', enum: s.values };
    case 'url':
      return { type: 'string', format: 'uri' };
    case 'string':
      return { type: 'string', minLength: 1 };
  }
}

/**
 * The schema the loader validates a whole configuration with, keyed by variable name; `npm run validators`
 * compiles it for both modes into src/config/validators.generated.ts.
 */
export function configSchema(mode: ConfigMode): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(entries.map((s) => [s.env, valueSchema(s)])),
    required: mode === 'service' ? entries.filter((s) => s.requiredInService).map((s) => s.env) : [],
  };
}

const staticDefault = (s: Setting): Setting['default'] =>
  typeof s.default === 'function' ? undefined : s.default;

/**
 * The settings whose default is a fixed value, keyed by variable name: the content of config/default.json.
 * Computed defaults are left out because they depend on the machine the builder runs on, and secrets because
 * a file that operators copy must never carry one.
 */
export function defaultConfigFile(): Record<string, unknown> {
  return Object.fromEntries(
    entries.flatMap((s) => (s.secret || staticDefault(s) === undefined ? [] : [[s.env, staticDefault(s)]])),
  );
}

function describeSetting(s: Setting): string {
  return [
    s.description,
    // The environment can only carry a list as one comma-separated string; a file has real arrays.
    s.type === 'list' ? 'In a file: a JSON array of strings.' : '',
    s.requiredInService ? 'Required in service mode.' : '',
    s.secret ? 'Secret: better set in the environment than written into a file.' : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
}

/**
 * The draft-07 JSON Schema of a config file (config/schema.json), for editors and reviewers. The loader does not
 * read it: it validates with the same per-setting schemas, which keeps the two from disagreeing.
 */
export function configFileSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'OpenAperture Builder configuration file',
    description:
      'Settings keyed by environment variable name (oa-builder --config FILE or OA_BUILDER_CONFIG); the ' +
      'environment and command-line flags win over the file. A service also needs: ' +
      `${entries
        .filter((s) => s.requiredInService)
        .map((s) => s.env)
        .join(', ')}. Generated from src/config/settings.ts by npm run config:schema.`,
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(
      entries.map((s) => [
        s.env,
        {
          description: describeSetting(s),
          ...valueSchema(s),
          ...(staticDefault(s) === undefined ? {} : { default: staticDefault(s) }),
        },
      ]),
    ),
  };
}
