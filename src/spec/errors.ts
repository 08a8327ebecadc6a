/**
 * Typed errors of the spec loader. Problems in user input never throw (they become `SpecError`s in a
 * `LoadResult`); these are for a broken installation, such as missing or invalid schema files.
 */

/** The JSON Schemas in `specs/` could not be read or compiled. */
export class SchemaLoadError extends Error {
  readonly code = 'SPEC_SCHEMA_LOAD';
  override readonly name = 'SchemaLoadError';
}
