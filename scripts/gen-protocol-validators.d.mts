/** Types of scripts/gen-protocol-validators.mjs, for the staleness test. */
export const GENERATED_PATH: string;
export function generateProtocolValidators(
  messageSchemas: Readonly<Record<string, object>>,
  sharedSchemas: readonly object[],
): string;
