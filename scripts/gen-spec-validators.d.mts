/** Types of scripts/gen-spec-validators.mjs, for the staleness test. */
export const GENERATED_PATH: string;
export function generateSpecValidators(specsDir?: string): string;
export function schemasDigest(specsDir?: string): string;
export function inlineRuntime(code: string): { helpers: string[]; body: string };
