/** Moved to src/api/gse/ (status.ts and envelope.ts); kept so code written against the old path builds. */
export { GSE_BAD_REQUEST, GSE_OK, type GseEnvelope, gseOk } from './gse/envelope.js';
export * from './gse/status.js';
