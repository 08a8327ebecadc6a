/**
 * GSE's task calls (bk-job: scripts, file transfers) and process operations (bk-nodeman) over the exec
 * engine and ProcessWatch: plain handlers that take the request body and a GseTaskPort and return the `data`
 * of GSE's answer, or throw a GseError carrying GSE's code.
 */
export * from './agents.js';
export * from './errors.js';
export * from './overrides.js';
export * from './port.js';
export * from './proc-ops.js';
export * from './script.js';
export * from './task-docs.js';
export * from './transfer.js';
