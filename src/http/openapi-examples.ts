/**
 * Examples for the OpenAPI document. A schema's own `examples` (zod `.meta({ examples: [...] })`) come first; where a
 * request body or a success answer has none, one is built from its schema, reusing the examples of the named
 * objects it contains, so every operation shows a body that fits it.
 */

type Schema = Record<string, unknown>;
type Media = { schema?: Schema; example?: unknown; examples?: unknown };
type Operation = { requestBody?: { content?: Record<string, Media> }; responses?: Record<string, { content?: Record<string, Media> }> };

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const JSON_TYPE = 'application/json';
/** A Crockford base-32 ULID body: what every Rekey id carries after its prefix. */
const ULID = '01JDQ8Z6V3W4X5Y6Z7A8B9C0D1';
const WHEN = '2026-11-25T12:00:00.000Z';

/** Gives each JSON request body and success answer of `document` an example, unless it has one. */
export function addExamples(document: { paths?: unknown; components?: unknown }): void {
  const components = ((document.components as { schemas?: Record<string, Schema> } | undefined)?.schemas ?? {}) as Record<string, Schema>;
  for (const item of Object.values((document.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const media = [
        operation.requestBody?.content?.[JSON_TYPE],
        ...Object.entries(operation.responses ?? {})
          .filter(([status]) => status.startsWith('2'))
          .map(([, response]) => response.content?.[JSON_TYPE]),
      ];
      for (const m of media) {
        if (!m?.schema || m.example !== undefined || m.examples !== undefined) continue;
        m.example = exampleOf(m.schema, components, '', 0);
      }
    }
  }
}

/** A value that fits `schema`: its own example, else one built from its parts. */
export function exampleOf(schema: Schema, components: Record<string, Schema>, name: string, depth: number): unknown {
  if (depth > 12) return null;
  const own = firstOf(schema.examples) ?? schema.example ?? schema.default ?? schema.const ?? firstOf(schema.enum);
  if (own !== undefined) return own;
  if (typeof schema.$ref === 'string') {
    const target = components[schema.$ref.replace('#/components/schemas/', '')];
    return target ? exampleOf(target, components, name, depth + 1) : null;
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key] as Schema[] | undefined;
    if (options?.length) return exampleOf(options.find((o) => o.type !== 'null') ?? options[0]!, components, name, depth + 1);
  }
  if (Array.isArray(schema.allOf)) {
    const parts = (schema.allOf as Schema[]).map((part) => exampleOf(part, components, name, depth + 1));
    return parts.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p)) ? Object.assign({}, ...parts) : parts[0];
  }
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : (schema.type as string | undefined);
  switch (type) {
    case 'object':
      return objectExample(schema, components, depth);
    case 'array':
      // `items: { not: {} }` is zod's array of never: always empty.
      return schema.items && !('not' in (schema.items as Schema)) ? [exampleOf(schema.items as Schema, components, name, depth + 1)] : [];
    case 'string':
      return stringExample(schema, name);
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? Math.max(schema.minimum, Math.min(10, Number(schema.maximum ?? 10))) : 10;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return null;
  }
}

function objectExample(schema: Schema, components: Record<string, Schema>, depth: number): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  // Required fields only, so a request example shows what a call needs; all of them when none is required.
  const names = Object.keys(properties).filter((key) => required.size === 0 || required.has(key));
  const example = Object.fromEntries(names.map((key) => [key, exampleOf(properties[key]!, components, key, depth + 1)]));
  // An object that names its kind (`"object": "session"`) gets an id of that kind.
  if (typeof example.object === 'string' && typeof example.id === 'string' && properties.id && !properties.id.pattern) example.id = `${example.object}_${ULID}`;
  return example;
}

function stringExample(schema: Schema, name: string): string {
  const prefixed = typeof schema.pattern === 'string' ? /^\^([a-z_]+?)_\[0-9A-HJKMNP-TV-Z\]\{26\}\$$/.exec(schema.pattern) : null;
  if (prefixed) return `${prefixed[1]}_${ULID}`;
  if (schema.format === 'email' || name === 'email') return 'ada@example.com';
  // `user_id` → a user id; WorkOS-style objects name their ids by what they point at.
  if (/^[a-z]+(_[a-z]+)*_id$/.test(name) && !schema.enum) return `${name.slice(0, -3)}_${ULID}`;
  if (schema.format === 'date-time' || name.endsWith('_at')) return WHEN;
  if (schema.format === 'uri' || name.endsWith('_url')) return 'https://app.example.com/reset';
  if (name === 'id') return `id_${ULID}`;
  const text = name.replace(/^_+/, '').replace(/_/g, ' ') || 'text';
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  return text.padEnd(min, 'x').slice(0, max);
}

const firstOf = (value: unknown): unknown => (Array.isArray(value) ? value[0] : undefined);
