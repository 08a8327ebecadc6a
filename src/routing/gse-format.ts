/**
 * Pure conversion of `events`-channel records to the event shapes GSE emits and bk-monitor reads
 * (GSE.md §5). The record's `fields` is a HostEvent: `{type, time?, resource?, fields?}`; the details
 * below come from `fields.fields` over the record's own flat fields (what a collector pushes); GSE field
 * names are accepted as aliases everywhere.
 *
 * Basic-alarm envelope (GSE.md §5.2), data id 1000, one `value` item per message:
 * | GSE field                 | from                                                                |
 * |---------------------------|---------------------------------------------------------------------|
 * | server                    | record host.ip (the reporting IP)                                   |
 * | time                      | event time in `timezone`, "YYYY-MM-DD HH:MM:SS"                     |
 * | utctime, utctime2         | event time in UTC, "YYYY-MM-DD HH:MM:SS" (bk-monitor reads utctime2) |
 * | timezone                  | option `timezoneHours` (default 0)                                  |
 * | isdst                     | 0                                                                   |
 * | value[0].event_desc       | details.message, else ""                                            |
 * | value[0].event_raw_id     | option `rawId` (the router's auto-increment counter)                |
 * | value[0].event_source_system | ""                                                               |
 * | value[0].event_time       | same as `time`                                                      |
 * | value[0].event_title      | "" (bk-monitor then writes its own message)                         |
 * | value[0].event_type       | "gse_basic_alarm_type"                                              |
 * | value[0].extra            | per type, below; `bizid` is details.bizid, else 0 (GSE sends 0)     |
 *
 * | event (HostEvent.type) | extra.type | extra fields (GSE name <- details field or alias)                      |
 * |------------------------|------------|-------------------------------------------------------------------------|
 * | agent.lost             | 2          | count: 1; host: [{bizid, cloudid <- host.cloudId, ip <- host.ip,         |
 * |                        |            |   agent_id}] (one host per message)                                    |
 * | disk.readonly          | 3          | bizid, cloudid, host <- host.ip, ro: [{position <- position/mount,      |
 * |                        |            |   fs <- fs/device, type <- type/fstype}] from details.ro[] or details   |
 * | disk.full              | 6          | bizid, cloudid, host, disk <- disk/mount, file_system <- file_system/    |
 * |                        |            |   device, fstype, size, used, avail, free <- free/100-used_percent,    |
 * |                        |            |   used_percent                                                         |
 * | corefile               | 7          | bizid, cloudid, host, corefile <- corefile/path, filesize (string) <-   |
 * |                        |            |   filesize/size, executable, executable_path, signal (string)          |
 *
 * `agent_id` / `bk_agent_id`: by default `"{cloudId}:{ip}"` (the GSE 1.0 form), because bk-monitor finds
 * the host by IP for such ids and by CMDB agent id otherwise, and a gse-gitops agent id is not a CMDB agent
 * id. Option `agentId: 'host-id'` sends the record's host.id instead (the GSE 2.0 form).
 *
 * Process events (GSE.md §5.4), `process.*` events: `{data_id: 1100008, data: [item]}` with
 * | GSE field                      | from                                                           |
 * |--------------------------------|----------------------------------------------------------------|
 * | event_name                     | details.event_name when it is a GSE name; else by type:        |
 * |                                | process.restarted -> process_restart_success,                  |
 * |                                | process.restart_failed -> process_restart_failed,              |
 * |                                | process.restart_cancelled -> process_cancel_restart,           |
 * |                                | process.limit_exceeded -> process_resource_limit_exceed,       |
 * |                                | process.group_limit_exceeded -> process_group_resource_limit_exceed |
 * | event.content                  | details.content, else details.message, else "nginx restarted    |
 * |                                | (restart 2)" / "nginx could not be restarted: <error>"         |
 * | dimension.bk_target_cloud_id   | String(host.cloudId)                                           |
 * | dimension.bk_target_ip         | host.ip                                                        |
 * | dimension.process_group_id     | details.process_group_id, else "gse-gitops"                    |
 * | dimension.process_name         | details.process_name, else details.name, else the resource     |
 * |                                | name after "ProcessWatch/"                                     |
 * | dimension.process_index        | details.process_index, else "{process_group_id}:{process_name}" |
 * | dimension.bk_agent_id          | as agent_id above                                              |
 * | target                         | "{ip}|{cloudId}"                                               |
 * | timestamp                      | event time in milliseconds                                     |
 *
 * Any other event, process.down/up included (GSE has no event for them), becomes the custom-string shape
 * (type 100, data id 1100000, GSE.md §5.3): `{_bizid_, _cloudid_, _server_ <- host.ip, _time_ (local),
 * _utctime_ (UTC), _value_: [message, else "process nginx down", else the type]}`.
 * Records on other channels are not events: `formatGse` returns undefined and the router sends plain JSON.
 */
import type { DataRecord } from '../protocol/messages.js';

export const GSE_EVENTS_CHANNEL = 'events';
export const GSE_BASE_ALARM_DATAID = 1000;
export const GSE_CUSTOM_EVENT_DATAID = 1100000;
export const GSE_PROCESS_REPORT_DATAID = 1100008;
export const GSE_BASIC_ALARM_EVENT_TYPE = 'gse_basic_alarm_type';
export const DEFAULT_PROCESS_GROUP_ID = 'gse-gitops';

/** gse-gitops event type -> GSE basic-alarm type. */
export const GSE_BASIC_ALARM_TYPES: Readonly<Record<string, number>> = {
  'agent.lost': 2,
  'disk.readonly': 3,
  'disk.full': 6,
  corefile: 7,
};

/** The process event names bk-monitor knows (`GSE_PROCESS_EVENT_NAME`). */
export const GSE_PROCESS_EVENT_NAMES = [
  'process_restart_success',
  'process_restart_failed',
  'process_cancel_restart',
  'process_resource_limit_exceed',
  'process_group_resource_limit_exceed',
] as const;

const PROCESS_EVENT_NAME_BY_TYPE: Readonly<Record<string, string>> = {
  'process.restarted': 'process_restart_success',
  'process.restart_failed': 'process_restart_failed',
  'process.restart_cancelled': 'process_cancel_restart',
  'process.limit_exceeded': 'process_resource_limit_exceed',
  'process.group_limit_exceeded': 'process_group_resource_limit_exceed',
};

export interface GseFormatOptions {
  /** `event_raw_id` of a basic alarm (GSE auto-increments it). */
  rawId: number;
  /** `timezone` and the offset of `time`; default 0 (UTC). */
  timezoneHours?: number;
  /** How agent ids are sent; default 'cloud-ip'. */
  agentId?: 'cloud-ip' | 'host-id';
}

export interface GseBasicAlarm {
  server: string;
  time: string;
  utctime: string;
  utctime2: string;
  timezone: number;
  isdst: 0;
  value: [
    {
      event_desc: string;
      event_raw_id: number;
      event_source_system: string;
      event_time: string;
      event_title: string;
      event_type: typeof GSE_BASIC_ALARM_EVENT_TYPE;
      extra: Record<string, unknown> & { type: number };
    },
  ];
}

export interface GseProcessEvent {
  data_id: typeof GSE_PROCESS_REPORT_DATAID;
  data: [
    {
      event_name: string;
      event: { content: string };
      dimension: {
        bk_target_cloud_id: string;
        bk_target_ip: string;
        process_group_id: string;
        process_index: string;
        process_name: string;
        bk_agent_id: string;
      };
      target: string;
      timestamp: number;
    },
  ];
}

export interface GseCustomEvent {
  _bizid_: number;
  _cloudid_: number;
  _server_: string;
  _time_: string;
  _utctime_: string;
  _value_: [string];
}

export type GseOutput = GseBasicAlarm | GseProcessEvent | GseCustomEvent;

type Details = Record<string, unknown>;

/** The GSE shape of an `events` record, or undefined for records on other channels. */
export function formatGse(rec: DataRecord, opts: GseFormatOptions): GseOutput | undefined {
  if (rec.channel !== GSE_EVENTS_CHANNEL) return undefined;
  const type = str(rec.fields.type) ?? '';
  const details = eventDetails(rec);
  const timeMs = eventTimeMs(rec);
  const basic = GSE_BASIC_ALARM_TYPES[type];
  if (basic !== undefined) return basicAlarm(rec, basic, details, timeMs, opts);
  if (gseProcessEventName(type, details) !== undefined) return processEvent(rec, type, details, timeMs, opts);
  const tz = opts.timezoneHours ?? 0;
  return {
    _bizid_: num(details.bizid) ?? 0,
    _cloudid_: rec.host.cloudId,
    _server_: rec.host.ip,
    _time_: gseTime(timeMs, tz),
    _utctime_: gseTime(timeMs, 0),
    _value_: [str(details.message) ?? customText(type, details)],
  };
}

/**
 * The details of an event: the HostEvent's `fields`, over the record's own flat fields (a collector that
 * pushes `{"channel": "events", "type": "disk.full", "mount": "/data", ...}` puts them at the top).
 */
export function eventDetails(rec: DataRecord): Details {
  const { type: _t, time: _ti, resource: _r, fields, ...flat } = rec.fields;
  return isObject(fields) ? { ...flat, ...fields } : flat;
}

/** GSE's process event name of an event, or undefined when GSE has none (process.down/up and the rest). */
export function gseProcessEventName(type: string, details: Details): string | undefined {
  const given = str(details.event_name);
  if (given && (GSE_PROCESS_EVENT_NAMES as readonly string[]).includes(given)) return given;
  return PROCESS_EVENT_NAME_BY_TYPE[type];
}

/**
 * The GSE data id an `events` record carries in the gse format: 1000 for basic alarms, 1100008 for process
 * events, 1100000 for custom strings; undefined on other channels. A Route on one of these numeric channels
 * receives those events (bk-monitor registers Routes by data id).
 */
export function gseDataIdOf(rec: DataRecord): number | undefined {
  if (rec.channel !== GSE_EVENTS_CHANNEL) return undefined;
  const type = str(rec.fields.type) ?? '';
  if (GSE_BASIC_ALARM_TYPES[type] !== undefined) return GSE_BASE_ALARM_DATAID;
  if (gseProcessEventName(type, eventDetails(rec)) !== undefined) return GSE_PROCESS_REPORT_DATAID;
  return GSE_CUSTOM_EVENT_DATAID;
}

/** The data ids an `events` Route feeds, as `query_route` lists it. */
export const GSE_EVENT_DATAIDS: readonly number[] = [
  GSE_BASE_ALARM_DATAID,
  GSE_CUSTOM_EVENT_DATAID,
  GSE_PROCESS_REPORT_DATAID,
];

/** "process nginx down" for an event without a message: type words with the process or check name. */
function customText(type: string, d: Details): string {
  const subject = str(d.process) ?? str(d.name) ?? str(d.check);
  const [head, ...rest] = type.split('.');
  return subject && rest.length > 0 ? `${head} ${subject} ${rest.join(' ')}` : type;
}

/** "YYYY-MM-DD HH:MM:SS" of `ms` shifted by `tzHours`. */
export function gseTime(ms: number, tzHours: number): string {
  return new Date(ms + tzHours * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

function basicAlarm(
  rec: DataRecord,
  type: number,
  d: Details,
  ms: number,
  opts: GseFormatOptions,
): GseBasicAlarm {
  const tz = opts.timezoneHours ?? 0;
  const local = gseTime(ms, tz);
  const utc = gseTime(ms, 0);
  return {
    server: rec.host.ip,
    time: local,
    utctime: utc,
    utctime2: utc,
    timezone: tz,
    isdst: 0,
    value: [
      {
        event_desc: str(d.message) ?? '',
        event_raw_id: opts.rawId,
        event_source_system: '',
        event_time: local,
        event_title: '',
        event_type: GSE_BASIC_ALARM_EVENT_TYPE,
        extra: basicExtra(rec, type, d, opts),
      },
    ],
  };
}

function basicExtra(
  rec: DataRecord,
  type: number,
  d: Details,
  opts: GseFormatOptions,
): GseBasicAlarm['value'][0]['extra'] {
  const bizid = num(d.bizid) ?? 0;
  const cloudid = rec.host.cloudId;
  const host = rec.host.ip;
  switch (type) {
    case 2:
      return { type, count: 1, host: [{ bizid, cloudid, ip: host, agent_id: agentId(rec, opts) }] };
    case 3: {
      const items = Array.isArray(d.ro) ? d.ro.filter(isObject) : [d];
      const ro = items.map((r) => ({
        position: str(r.position) ?? str(r.positoin) ?? str(r.mount) ?? '',
        fs: str(r.fs) ?? str(r.device) ?? '',
        type: str(r.type) ?? str(r.fstype) ?? '',
      }));
      return { type, bizid, cloudid, host, ro };
    }
    case 6: {
      const usedPercent = num(d.used_percent) ?? num(d.usedPercent);
      return {
        type,
        bizid,
        cloudid,
        host,
        disk: str(d.disk) ?? str(d.mount) ?? str(d.position) ?? '',
        file_system: str(d.file_system) ?? str(d.device) ?? '',
        fstype: str(d.fstype) ?? '',
        size: num(d.size) ?? 0,
        used: num(d.used) ?? 0,
        avail: num(d.avail) ?? 0,
        free: num(d.free) ?? (usedPercent !== undefined ? 100 - usedPercent : 0),
        used_percent: usedPercent ?? 0,
      };
    }
    default: {
      const size = d.filesize ?? d.size;
      return {
        type,
        bizid,
        cloudid,
        host,
        corefile: str(d.corefile) ?? str(d.path) ?? '',
        filesize: size === undefined || size === null ? '' : String(size),
        executable: str(d.executable) ?? '',
        executable_path: str(d.executable_path) ?? '',
        signal: d.signal === undefined || d.signal === null ? '' : String(d.signal),
      };
    }
  }
}

function processEvent(
  rec: DataRecord,
  type: string,
  d: Details,
  ms: number,
  opts: GseFormatOptions,
): GseProcessEvent {
  const eventName = gseProcessEventName(type, d) ?? type.replaceAll('.', '_');
  const resource = str(rec.fields.resource);
  const processName =
    str(d.process_name) ??
    str(d.process) ??
    str(d.name) ??
    (resource ? resource.replace(/^ProcessWatch\//, '') : '');
  const group = str(d.process_group_id) ?? DEFAULT_PROCESS_GROUP_ID;
  const { ip, cloudId } = rec.host;
  return {
    data_id: GSE_PROCESS_REPORT_DATAID,
    data: [
      {
        event_name: eventName,
        event: { content: str(d.content) ?? str(d.message) ?? processContent(type, processName, d) },
        dimension: {
          bk_target_cloud_id: String(cloudId),
          bk_target_ip: ip,
          process_group_id: group,
          process_index: str(d.process_index) ?? `${group}:${processName}`,
          process_name: processName,
          bk_agent_id: agentId(rec, opts),
        },
        target: `${ip}|${cloudId}`,
        timestamp: ms,
      },
    ],
  };
}

/** "nginx restarted (restart 2)" / "nginx could not be restarted: <error>" when the event has no text. */
function processContent(type: string, name: string, d: Details): string {
  const restarts = num(d.restarts);
  if (type === 'process.restarted')
    return `${name} restarted${restarts === undefined ? '' : ` (restart ${restarts})`}`;
  if (type === 'process.restart_failed')
    return `${name} could not be restarted${str(d.error) ? `: ${str(d.error)}` : ''}`;
  return '';
}

function agentId(rec: DataRecord, opts: GseFormatOptions): string {
  return opts.agentId === 'host-id' ? rec.host.id : `${rec.host.cloudId}:${rec.host.ip}`;
}

function eventTimeMs(rec: DataRecord): number {
  const t = Date.parse(str(rec.fields.time) ?? '');
  if (Number.isFinite(t)) return t;
  const r = Date.parse(rec.time);
  return Number.isFinite(r) ? r : 0;
}

function isObject(v: unknown): v is Details {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
