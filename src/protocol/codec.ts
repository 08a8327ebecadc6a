/**
 * The edge of the wire protocol: turns raw ws frames into validated messages and back. Shared by the
 * controller and the agent, so it depends on nothing but its validators (compiled ahead of time with ajv's
 * standalone code: generated/message-validators.ts, made by scripts/gen-protocol-validators.mjs) and
 * web-standard APIs (TextDecoder).
 *
 * Unknown fields are dropped rather than refused (tolerant reader): a newer peer may add optional fields
 * without breaking an older one; incompatible changes bump `v`.
 */
import type { ErrorObject } from 'ajv';
import { MESSAGE_VALIDATORS } from './generated/message-validators.js';
import { AGENT_MESSAGE_TYPES, CONTROLLER_MESSAGE_TYPES, type MessageType } from './message-schema.js';
import {
  type AgentToController,
  type ControllerToAgent,
  MAX_FRAME_BYTES,
  type Message,
  PROTOCOL_VERSION,
} from './messages.js';

/** Why a frame was refused; also the `code` of the `error` frame that answers it. */
export type FrameErrorCode = 'too_large' | 'bad_json' | 'bad_frame' | 'bad_version' | 'unknown_type';

export type DecodeResult<T> =
  | { ok: true; msg: T }
  | {
      ok: false;
      code: FrameErrorCode;
      message: string /** The frame's `id`, when it had one. */;
      ref?: string;
    };

/** What ws hands a `message` listener (Buffer is a Uint8Array), or a text frame. */
export type RawFrame = string | Uint8Array | ArrayBuffer | readonly Uint8Array[];

const AGENT_TYPES: ReadonlySet<string> = new Set(AGENT_MESSAGE_TYPES);
const CONTROLLER_TYPES: ReadonlySet<string> = new Set(CONTROLLER_MESSAGE_TYPES);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Decodes and validates a frame an agent sent (read by the controller); `maxBytes` defaults to MAX_FRAME_BYTES. */
export function decodeAgentFrame(
  data: RawFrame,
  maxBytes = MAX_FRAME_BYTES,
): DecodeResult<AgentToController> {
  return decode(data, maxBytes, AGENT_TYPES, 'agent') as DecodeResult<AgentToController>;
}

/** Decodes and validates a frame the controller sent (read by the agent); `maxBytes` defaults to MAX_FRAME_BYTES. */
export function decodeControllerFrame(
  data: RawFrame,
  maxBytes = MAX_FRAME_BYTES,
): DecodeResult<ControllerToAgent> {
  return decode(data, maxBytes, CONTROLLER_TYPES, 'controller') as DecodeResult<ControllerToAgent>;
}

/** Serialises a message into a text frame. */
export function encodeFrame(msg: Message): string {
  return JSON.stringify(msg);
}

function decode(
  data: RawFrame,
  maxBytes: number,
  allowed: ReadonlySet<string>,
  sender: string,
): DecodeResult<Message> {
  const text = toText(data, maxBytes);
  if (typeof text !== 'string') return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail('bad_json', `frame is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('bad_frame', 'frame must be a JSON object');
  }
  const obj = parsed as Record<string, unknown>;
  const ref = typeof obj.id === 'string' ? obj.id.slice(0, 256) : undefined;
  if (obj.v !== PROTOCOL_VERSION) {
    return fail('bad_version', `v: protocol version ${PROTOCOL_VERSION} expected, got ${show(obj.v)}`, ref);
  }
  const type = obj.type;
  if (typeof type !== 'string') return fail('bad_frame', 'type: is required and must be a string', ref);
  if (!allowed.has(type)) {
    return fail('unknown_type', `type: ${show(type)} is not a message the ${sender} sends`, ref);
  }
  const validate = MESSAGE_VALIDATORS[type as MessageType];
  if (!validate(obj)) {
    return fail('bad_frame', formatError(type, validate.errors?.[0]), ref);
  }
  return { ok: true, msg: obj as unknown as Message };
}

function toText(data: RawFrame, maxBytes: number): string | DecodeResult<never> {
  if (typeof data === 'string') {
    // Cheap bounds first: a code unit is at least 1 and at most 3 bytes.
    if (data.length > maxBytes) return tooLarge(data.length, maxBytes);
    if (data.length * 3 > maxBytes) {
      const bytes = utf8Encoder.encode(data).byteLength;
      if (bytes > maxBytes) return tooLarge(bytes, maxBytes);
    }
    return data;
  }
  const bytes = toBytes(data);
  if (bytes.byteLength > maxBytes) return tooLarge(bytes.byteLength, maxBytes);
  try {
    return utf8.decode(bytes);
  } catch {
    return fail('bad_json', 'frame is not valid UTF-8');
  }
}

function toBytes(data: Uint8Array | ArrayBuffer | readonly Uint8Array[]): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  const total = data.reduce((n, part) => n + part.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of data) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function tooLarge(bytes: number, maxBytes: number): DecodeResult<never> {
  return fail('too_large', `frame of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`);
}

function fail(code: FrameErrorCode, message: string, ref?: string): DecodeResult<never> {
  return ref === undefined ? { ok: false, code, message } : { ok: false, code, message, ref };
}

/** `report.items[0].state: must be one of ...`: the path to the bad field, then what is wrong. */
function formatError(type: string, err: ErrorObject | undefined): string {
  if (!err) return `${type}: invalid`;
  const path = type + pointerToPath(err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return `${path}.${String(params.missingProperty)}: is required`;
    case 'enum':
      return `${path}: must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')}`;
    case 'const':
      return `${path}: must be ${show(params.allowedValue)}`;
    case 'discriminator':
      return `${path}.${String(params.tag)}: ${params.error === 'tag' ? 'must be a string' : `unknown value ${show(params.tagValue)}`}`;
    default:
      return `${path}: ${err.message ?? 'invalid'}`;
  }
}

function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join('');
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
