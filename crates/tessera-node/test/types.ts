// What index.d.ts promises a product's TypeScript, checked by `tsc --strict` (never run):
// status words are a closed union, a misspelt word or option is a compile error.
import { type HubOptions, Mode, type RunnerCheck, Status, TrustSet, verifyLicense } from '@tessera/node'

/** A product's own exhaustive decision: adding a word to `Status` breaks this build. */
export function mayRun(status: Status): boolean {
  switch (status) {
    case Status.Valid:
    case Status.Grace:
      return true
    case 'expired':
    case 'terminated':
    case 'not_yet_valid':
    case 'bad_signature':
    case 'unknown_key':
    case 'malformed':
    case 'fingerprint_mismatch':
    case 'revoked':
    case 'suspended':
    case 'runner_limit_exceeded':
    case 'grace_expired':
    case 'clock_rollback':
    case 'tampered':
    case 'no_license':
    case 'wrong_product':
    case 'cloned':
    case 'unrecognized':
      return false
    default: {
      const unknown: never = status
      return unknown
    }
  }
}

export function offline(check: { mode: Mode }): boolean {
  return check.mode === Mode.Offline
}

export function verdict(text: string, trust: TrustSet): Status {
  const check = verifyLicense(text, trust, { product: 'acme-hub', now: 1_800_000_000 })
  // @ts-expect-error: not a status word
  if (check.status === 'valdi') return Status.Unrecognized
  return check.status
}

export function runner(check: RunnerCheck): string | undefined {
  return check.license?.features.join(',')
}

// @ts-expect-error: a misspelt option is a compile error (and `bad_argument` at run time)
export const misspelt: HubOptions = { socket: '/run/tessera-hub/status.sock', prodct: 'acme-hub' }

// @ts-expect-error: the socket is required
export const noSocket: HubOptions = { product: 'acme-hub' }
