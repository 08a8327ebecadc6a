/**
 * The HTTP API of DESIGN.md §5 over a running controller. The routes live in routes/ by concern and see the
 * controller only through the port (port.ts); this module joins the two for `gsectl serve` and the tests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { controllerApiPort } from '../controller/api-port.js';
import type { Controller } from '../controller/controller.js';
import { buildApiHandler } from './routes/index.js';

export { apiRoutes, buildApiHandler } from './routes/index.js';

/** Builds the controller's request handler: the API routes with bearer-token auth and audit. */
export function createControllerApi(c: Controller): (req: IncomingMessage, res: ServerResponse) => void {
  return buildApiHandler(controllerApiPort(c));
}
