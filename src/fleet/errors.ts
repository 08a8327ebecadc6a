/** Typed errors of the fleet hub: each carries a stable `code`, readonly context and keeps `cause`. */

/** Base of every fleet error. */
export class FleetError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option given to the hub is invalid; `field` names it. */
export class HubConfigError extends FleetError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('hub_config', `${field}: ${message}`);
  }
}

/** The agent registry file cannot be read, parsed or written. */
export class RegistryError extends FleetError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('registry', `${path}: ${message}`, options);
  }
}

/** An operator action named an agent the registry does not know. */
export class AgentNotFoundError extends FleetError {
  constructor(readonly agentId: string) {
    super('agent_not_found', `agent ${agentId} is not enrolled`);
  }
}

/** An operator action does not apply to the agent in its current state (e.g. reset of a revoked agent). */
export class AgentStateError extends FleetError {
  constructor(
    readonly agentId: string,
    message: string,
  ) {
    super('agent_state', message);
  }
}

/** A message to send is larger than the frame limit the agent enforces. */
export class FrameTooLargeError extends FleetError {
  constructor(
    readonly agentId: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      'frame_too_large',
      `a frame of ${bytes} bytes for agent ${agentId} exceeds the limit of ${maxBytes} bytes`,
    );
  }
}
