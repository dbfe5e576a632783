/* The declarations napi-rs does not generate, put before the generated ones by `napi build`
 * (package.json `napi.dtsHeaderFile`): the status words' constants (their unions `Status` and
 * `Mode` are generated from src/words.rs) and the options objects, which the addon checks
 * itself (src/arguments.rs). */
/* eslint-disable */

/** The status words as constants: `Status.Grace === 'grace'`. */
export declare const Status: {
  readonly Valid: 'valid'
  readonly Grace: 'grace'
  readonly Expired: 'expired'
  readonly Terminated: 'terminated'
  readonly NotYetValid: 'not_yet_valid'
  readonly BadSignature: 'bad_signature'
  readonly UnknownKey: 'unknown_key'
  readonly Malformed: 'malformed'
  readonly FingerprintMismatch: 'fingerprint_mismatch'
  readonly Revoked: 'revoked'
  readonly Suspended: 'suspended'
  readonly RunnerLimitExceeded: 'runner_limit_exceeded'
  readonly GraceExpired: 'grace_expired'
  readonly ClockRollback: 'clock_rollback'
  readonly Tampered: 'tampered'
  readonly NoLicense: 'no_license'
  readonly WrongProduct: 'wrong_product'
  readonly Cloned: 'cloned'
  readonly Unrecognized: 'unrecognized'
}

/** The modes as constants: `Mode.Offline === 'offline'`. */
export declare const Mode: {
  readonly Online: 'online'
  readonly Offline: 'offline'
  readonly None: 'none'
}

/** The stable `code` of an `Error` thrown (or a promise rejected) by a call that could not be made. */
export type ErrorCode = 'bad_argument' | 'bad_trust' | 'keystore' | 'io' | 'hub_unreachable' | 'bad_answer'

/** Options of `verifyLicense`. Any other key is `bad_argument`. */
export interface VerifyOptions {
  /** The product this software is: another product's license is `wrong_product`. */
  product?: string
  /** Unix seconds, a whole number; the system clock when absent. */
  now?: number
}

/** Options of `runnerCheck`. Any other key is `bad_argument`. */
export interface RunnerOptions {
  /** The runner's state directory (`tessera-runner --state-dir`). */
  stateDir: string
  /** `keyutils`, `secret-service` or `systemd-creds`; by default the one the runner was installed with. */
  keystore?: string
  /** How far (whole seconds) the clock may fall behind the latest time seen. */
  toleranceSecs?: number
  /** Unix seconds, a whole number; the system clock when absent. */
  now?: number
}

/** Options of `hubStatus`. Any other key is `bad_argument`. */
export interface HubOptions {
  /** The hub agent's status socket (`tessera-hub run --status-socket`). */
  socket: string
  /** The product this application is: another product's license is `wrong_product`. */
  product?: string
  /** How far (whole seconds) the clock may fall behind the latest time the hub has seen. */
  toleranceSecs?: number
  /** The whole call's deadline in milliseconds, 1 to 3600000 (default 5000). */
  timeoutMs?: number
  /** Unix seconds, a whole number; the system clock when absent. */
  now?: number
}

/** A vendor's trust set (its public keys): parse once, pass to every check. */
export declare class TrustSet {
  /**
   * Parses the text of the vendor's `.pub` file (a string or a Buffer). Throws
   * `bad_trust`.
   */
  constructor(text: string | Buffer)
}

/**
 * Asks the local hub agent and decides the hub's standing from its signed evidence with
 * `trust` (waits up to `timeoutMs`, 5000 by default: `hubStatusAsync` waits off the main
 * thread). Options: `socket` (required), `product`, `toleranceSecs`, `timeoutMs`, `now`.
 */
export declare function hubStatus(trust: TrustSet, options: HubOptions): HubStatus

/** The hub's standing, as this process decided it from the agent's signed evidence. */
export interface HubStatus {
  status: Status
  reason: string
  /** `valid` or `grace`. */
  permitsRunning: boolean
  mode: Mode
  graceLeftSecs?: number
  license?: License
  runnersLeased: number
  /** What the agent itself said (informative). */
  agentStatus: Status
}

/** `hubStatus` off the main thread (a bad argument rejects). */
export declare function hubStatusAsync(trust: TrustSet, options: HubOptions): Promise<HubStatus>

/** A license's terms (never its key). */
export interface License {
  id: string
  org: string
  product: string
  features: Array<string>
  runnerLimit: number
  issuedAt: number
  notBefore: number
  expiresAt: number
  terminatesAt?: number
  gracePeriodSecs: number
  pingIntervalSecs: number
}

/** A license file's verdict. */
export interface LicenseCheck {
  status: Status
  reason: string
  /** `status` is `valid`. */
  permitsRunning: boolean
  /** The terms, whenever the vendor's signature over them verified. */
  license?: License
}

/** Where a hub's evidence comes from: pings to the portal, an offline activation, or none. */
export type Mode = 'online' | 'offline' | 'none'

/**
 * Whether this runner may run, decided offline from its sealed cache (reads the state
 * directory and the keystore: `runnerCheckAsync` does it off the main thread). Options:
 * `stateDir` (required), `keystore`, `toleranceSecs`, `now`.
 */
export declare function runnerCheck(options: RunnerOptions): RunnerCheck

/** A runner's answer. */
export interface RunnerCheck {
  status: Status
  reason: string
  /** `valid` or `grace`. */
  permitsRunning: boolean
  graceLeftSecs?: number
  runner?: string
  leaseExpiresAt?: number
  license?: License
}

/** `runnerCheck` off the main thread (a bad argument rejects). */
export declare function runnerCheckAsync(options: RunnerOptions): Promise<RunnerCheck>

/** Every status word a check answers (docs/INTEGRATION.md says what each means). */
export type Status = 'valid' | 'grace' | 'expired' | 'terminated' | 'not_yet_valid' | 'bad_signature' | 'unknown_key' | 'malformed' | 'fingerprint_mismatch' | 'revoked' | 'suspended' | 'runner_limit_exceeded' | 'grace_expired' | 'clock_rollback' | 'tampered' | 'no_license' | 'wrong_product' | 'cloned' | 'unrecognized'

/**
 * Verifies a license file (its text or bytes) with the vendor's trust set. Options:
 * `product`, `now`.
 */
export declare function verifyLicense(license: string | Buffer, trust: TrustSet, options?: VerifyOptions | undefined | null): LicenseCheck
