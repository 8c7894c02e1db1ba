/** The parts of an OpenAPI 3.1 document the tests read. */
export interface OpenApiDocument {
  openapi: string;
  security?: unknown;
  paths: Record<string, Partial<Record<string, OpenApiOperation>>>;
  components?: { schemas?: Record<string, unknown> };
}

export interface OpenApiOperation {
  summary?: string;
  operationId?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  requestBody?: { content?: Record<string, OpenApiMedia> };
  responses?: Record<string, { description?: string; headers?: Record<string, unknown>; content?: Record<string, OpenApiMedia> }>;
}

export interface OpenApiMedia {
  schema?: Record<string, unknown>;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every operation of the document, labelled `METHOD /path`. */
export function operationsOf(doc: OpenApiDocument): Array<{ method: string; path: string; label: string; operation: OpenApiOperation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ method, path, label: `${method.toUpperCase()} ${path}`, operation: operation! })),
  );
}
