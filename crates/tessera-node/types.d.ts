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
