/**
 * What a report says about a managed file that differs from its manifest item: existence, size, mode and,
 * for text the host lets others read, the content (bounded), so the controller can show a real diff.
 */
import type { ManifestConfigFile } from '../../src/protocol/manifest.js';
import { OBSERVED_CONTENT_MAX_BYTES, type ObservedFileReport } from '../../src/protocol/messages.js';
import type { ObservedFile } from './config-file.js';

/** Mode bit "others may read": a file declared without it is private, its content never leaves the host. */
const OTHERS_READ = 0o004;

/** The report block of a file found as `found` (undefined: absent) for `item`. */
export function observedFileReport(
  item: Pick<ManifestConfigFile, 'encoding' | 'mode'>,
  found: ObservedFile | undefined,
): ObservedFileReport {
  if (!found) return { exists: false };
  const base = { exists: true, size: found.content.byteLength, mode: found.mode };
  if (item.encoding !== 'utf8') return { ...base, contentOmitted: 'binary' };
  // Both modes count: what Git declares private, and a file the host keeps private, stay on the host.
  if ((item.mode & OTHERS_READ) === 0 || (found.mode & OTHERS_READ) === 0)
    return { ...base, contentOmitted: 'private' };
  if (found.content.byteLength > OBSERVED_CONTENT_MAX_BYTES) return { ...base, contentOmitted: 'too large' };
  if (!isUtf8Text(found.content)) return { ...base, contentOmitted: 'binary' };
  return { ...base, content: found.content.toString('utf8') };
}

/** True for bytes that are valid UTF-8 without NUL (what the planner sends as utf8). */
function isUtf8Text(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}
