// Loading TypeBox and ajv and compiling the schemas as the modules loaded was more than half of the CLI's
// start-up (docs/design.md). So `npm run validators` (scripts/validators.js) compiles them here, with ajv's
// standalone code, into one `validators.generated.ts` per module that validates, and only the generated code
// runs; test/unit/validation/generated.test.ts fails while a generated file is out of date.
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import Ajv, { type Options } from 'ajv';
import addFormats from 'ajv-formats';
import standaloneCode from 'ajv/dist/standalone';
import { configSchema } from '../config/schema';
import {
  BrokerConnectionSchema,
  BrokerRestrictionSchema,
  BrokerSchema,
  ExchangeSchema,
  SystemComponentSchema,
  WorkflowSchema,
} from '../manager/resource-schemas';
import { BuildRequestSchema } from '../messages/build-request-schema';

/** One generated module: what it validates, and with which ajv options. */
interface ValidatorModule {
  /** The generated file, from the repository root. */
  readonly file: string;
  /** Where its schemas are written, for the header. */
  readonly from: string;
  readonly options: Options;
  /** Adds the formats the schemas use. */
  readonly setup?: (ajv: Ajv) => void;
  /** The types that the validators' types name, by the module that exports them. */
  readonly types: Record<string, readonly string[]>;
  /** The exported validators: the schema and the type of a value that passes. */
  readonly validators: Record<string, { schema: object; type: string }>;
  /** Other exported constants, computed from the schemas and written as JSON. */
  readonly values?: Record<string, { value: unknown; type: string }>;
}

const modules: readonly ValidatorModule[] = [
  {
    file: 'src/config/validators.generated.ts',
    from: 'src/config/settings.ts (configSchema in src/config/schema.ts)',
    // Environment variables are all text: coerceTypes turns them into the numbers and booleans of the schema.
    options: { allErrors: true, coerceTypes: true, strict: true },
    setup: (ajv) => addFormats(ajv),
    types: {},
    validators: {
      localConfig: { schema: configSchema('local'), type: 'Record<string, unknown>' },
      serviceConfig: { schema: configSchema('service'), type: 'Record<string, unknown>' },
    },
  },
  {
    file: 'src/messages/validators.generated.ts',
    from: 'the TypeBox schema in src/messages/build-request-schema.ts',
    // useDefaults fills in the fields a request leaves out, as the Elixir reader sees nil.
    options: { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true },
    setup: (ajv) => addFormats(ajv, ['uuid']),
    types: { './build-request-schema': ['BuildRequestFields'] },
    validators: { buildRequest: { schema: BuildRequestSchema, type: 'BuildRequestFields' } },
    values: {
      buildRequestFields: { value: Object.keys(BuildRequestSchema.properties), type: 'readonly string[]' },
    },
  },
  {
    file: 'src/manager/validators.generated.ts',
    from: 'the TypeBox schemas in src/manager/resource-schemas.ts',
    options: { allErrors: false, strict: false },
    types: {
      './resource-schemas': [
        'Broker',
        'BrokerConnectionRecord',
        'BrokerRestriction',
        'Exchange',
        'SystemComponent',
        'Workflow',
      ],
    },
    validators: {
      broker: { schema: BrokerSchema, type: 'Broker' },
      connections: { schema: Type.Array(BrokerConnectionSchema), type: 'BrokerConnectionRecord[]' },
      exchange: { schema: ExchangeSchema, type: 'Exchange' },
      restrictions: { schema: Type.Array(BrokerRestrictionSchema), type: 'BrokerRestriction[]' },
      workflow: { schema: WorkflowSchema, type: 'Workflow' },
      components: { schema: Type.Array(SystemComponentSchema), type: 'SystemComponent[]' },
    },
  },
];

/** Replaces `text`, which must occur exactly once in `code`. */
function replaceOnce(code: string, text: string, by: string): string {
  const at = code.indexOf(text);
  if (at < 0 || code.includes(text, at + 1)) throw new Error(`ajv's standalone code holds ${text} not once`);
  return code.slice(0, at) + by + code.slice(at + text.length);
}

function moduleCode(m: ValidatorModule): string {
  const ajv = new Ajv({ ...m.options, code: { source: true, esm: true, lines: true } });
  m.setup?.(ajv);
  for (const [name, { schema }] of Object.entries(m.validators)) ajv.addSchema(schema, name);
  let code = standaloneCode(ajv, Object.fromEntries(Object.keys(m.validators).map((name) => [name, name])));
  // A TypeScript module is strict anyway, and the directive would no longer come first after the imports.
  code = replaceOnce(code, '"use strict";\n', '');
  // Under @ts-nocheck an export would have the type TypeScript infers from ajv's JavaScript: declare it instead.
  for (const [name, { type }] of Object.entries(m.validators)) {
    code = replaceOnce(code, `export const ${name} = `, `export const ${name}: Validator<${type}> = `);
  }
  const validatorModule = path.posix.relative(path.posix.dirname(m.file), 'src/validation/validator');
  return [
    `// Generated by \`npm run validators\` from ${m.from}.`,
    "// Do not edit: change the schemas and run it again. It is ajv's standalone code, the validators compiled",
    "// ahead of time so that starting the builder compiles no schema and loads neither TypeBox nor ajv's",
    '// compiler; src/validation/generate.ts says how they are made.',
    '// @ts-nocheck',
    `import type { Validator } from '${validatorModule}';`,
    ...Object.entries(m.types).map(([from, names]) => `import type { ${names.join(', ')} } from '${from}';`),
    '',
    code.trimEnd(),
    ...Object.entries(m.values ?? {}).map(
      ([name, { value, type }]) => `export const ${name}: ${type} = ${JSON.stringify(value)};`,
    ),
    '',
  ].join('\n');
}

/** Every generated module: where it goes, from the repository root, and its text. */
export function validatorModules(): { file: string; code: string }[] {
  return modules.map((m) => ({ file: m.file, code: moduleCode(m) }));
}
