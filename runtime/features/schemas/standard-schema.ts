/**
 * The Standard Schema interface (https://standardschema.dev), by shape: zod, valibot, arktype
 * and others implement it, so Granary depends on none of them. `jsonSchema` is the optional
 * Standard JSON Schema converter (zod ≥ 4.2, arktype, valibot through its adapter).
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaProps<Input, Output>;
}

export interface StandardSchemaProps<Input = unknown, Output = Input> {
  readonly version: 1;
  readonly vendor: string;
  readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  readonly jsonSchema?: {
    readonly input: (options: { readonly target: string }) => Record<string, unknown>;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

export function isStandardSchema(x: unknown): x is StandardSchemaV1 {
  const s = (x as { '~standard'?: { validate?: unknown } } | null)?.['~standard'];
  return typeof s === 'object' && s !== null && typeof s.validate === 'function';
}
