/**
 * GSE write-back (issue #13 item 5): GSE's data-route writes become Git commits on the followed branch,
 * validated like any commit and answered once the controller applied them.
 */
export * from './errors.js';
export * from './plan.js';
export * from './work-checkout.js';
export * from './writer.js';
