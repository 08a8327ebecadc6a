/**
 * `yaml` reads `process.env.LOG_TOKENS` once per token (and `LOG_STREAM` once per document). Node's
 * `process.env` is an interceptor that calls into C++ (getenv under a lock) on every read: about a fifth
 * of the YAML parse of a spec tree. While parsing, `process.env` is therefore a plain copy.
 */

/** Runs `fn` with `process.env` replaced by a plain-object copy, restored afterwards (even on a throw). */
export function withPlainEnv<T>(fn: () => T): T {
  const env = process.env;
  process.env = { ...env };
  try {
    return fn();
  } finally {
    process.env = env;
  }
}

/**
 * Makes `process.env` a plain copy for good; only for a thread that does nothing but parse (the spec
 * workers), where nothing sets a variable that a child process or native code would need to see.
 */
export function usePlainEnvForGood(): void {
  process.env = { ...process.env };
}
