/**
 * GSE's data-route writes (GSE.md §3.2-3.5) as GSE actions over the write-back (src/gse-write): each call
 * becomes one commit on the followed branch, authored by the caller (`bk_username`, else the token's name),
 * and is answered with GSE's ids once the controller applied it. Refusals answer GSE's envelope with HTTP 200
 * and push nothing. With write-back off they answer 404 saying how to change routes instead.
 */
import { GseWriteError, type WriteAction } from '../../gse-write/index.js';
import { GSE_UNKNOWN_ACTION, GseError, gseFail, gseOk } from './envelope.js';
import { type GseAction, type GseHandler, write } from './types.js';

/** Why a write is not served when write-back is off (the 404's message). */
export const WRITE_BACK_OFF: Readonly<Record<WriteAction, string>> = {
  add_route: 'Routes change through Git: commit a Route spec (channel = the channel_id) instead',
  update_route: 'Routes change through Git: edit the Route spec instead',
  delete_route: 'Routes change through Git: delete the Route spec instead',
  add_streamto: 'StreamTargets change through Git: commit a StreamTarget spec instead',
  update_streamto: 'StreamTargets change through Git: edit the StreamTarget spec instead',
  delete_streamto: 'StreamTargets change through Git: delete the StreamTarget spec instead',
};

function writeHandler(kind: WriteAction): GseHandler {
  return async ({ action, body, actor, username, requestId, port, ctx }) => {
    if (!port.gseWriter) throw new GseError(404, GSE_UNKNOWN_ACTION, `${action}: ${offMessage(kind)}`);
    try {
      const done = await port.gseWriter.write({
        action: kind,
        body,
        author: username ?? actor.name,
        via: username === undefined ? `token ${actor.name}` : `token ${actor.name}, bk_username ${username}`,
        requestId,
      });
      ctx.auditDetail = { commit: done.sha, attempts: done.attempts };
      return gseOk(done.data);
    } catch (err) {
      if (!(err instanceof GseWriteError)) throw err;
      ctx.auditDetail = { refused: err.message };
      return gseFail(err.gseCode, err.message);
    }
  };
}

function offMessage(kind: WriteAction): string {
  return `GSE action ${kind} is not served here. ${WRITE_BACK_OFF[kind]} (or start the controller with --gse-write-back to have such calls committed to Git)`;
}

/** Served only with write-back on; otherwise 404 for every caller, as before write-back existed. */
const writeAction = (kind: WriteAction): GseAction => ({
  ...write(writeHandler(kind)),
  unavailable: (port) => (port.gseWriter ? undefined : offMessage(kind)),
});

/** The gateway names (`data/add_route`...). */
export const DATA_WRITE_ACTIONS: Readonly<Record<string, GseAction>> = {
  add_route: writeAction('add_route'),
  update_route: writeAction('update_route'),
  delete_route: writeAction('delete_route'),
  add_streamto: writeAction('add_streamto'),
  update_streamto: writeAction('update_streamto'),
  delete_streamto: writeAction('delete_streamto'),
};

/** The legacy ESB names (`config_add_route`...). */
export const ESB_WRITE_ACTIONS: Readonly<Record<string, GseAction>> = Object.fromEntries(
  Object.entries(DATA_WRITE_ACTIONS).map(([name, a]) => [`config_${name}`, a]),
);
