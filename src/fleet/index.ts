/** The fleet hub: where agents connect, authenticate and exchange protocol messages with the controller. */
export { CREDENTIAL_BYTES, hashCredential, newCredential } from './auth.js';
export type { CancelTimer, Clock, HostState, HubDeps, HubHandlers, Logger, SessionInfo } from './deps.js';
export { silentLogger, systemClock } from './deps.js';
export {
  AgentNotFoundError,
  AgentStateError,
  FleetError,
  FrameTooLargeError,
  HubConfigError,
  RegistryError,
} from './errors.js';
export { AGENT_REGISTRY_FILE, FileAgentRegistry } from './file-registry.js';
export { FleetHub, type HubLifecycle } from './hub.js';
export * from './options.js';
export type { AgentRecord, AgentRegistry, AgentStatus } from './registry.js';
export { MemoryAgentRegistry } from './registry.js';
export type { HubStats } from './stats.js';
