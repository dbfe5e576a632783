//! Where a hub grants runner slots: to runner keys, never to names, up to the license's
//! runner limit. A runner proves its key by signing each call ([`RunnerCall`]); a runner
//! token (from `tessera-hub runner-token`) enrolls one key and is then gone. Each lease
//! answers one call's fresh nonce, so a saved answer cannot be installed again, and the
//! calls of one runner key form a chain ([`tessera_core::chain`]): a copy of a runner that
//! falls behind is refused as `cloned` and shown to the operator. Only the holder (signing
//! a release) or the operator (`tessera-hub runners release`) gives a slot back.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::activation::{
    Bundle, LeaseClaims, RunnerAction, RunnerCall, open_runner_call, sign_lease,
};
use tessera_core::chain::{Chain, Link};
use tessera_core::keys::fill_random;
use tessera_core::machine::runner_place;
use tessera_core::{Status, UnixTime};

use crate::agent::{Hub, HubError};
use crate::countersign::{Countersign, countersign_of, named_for, place_of};
use crate::state::{HubState, RunnerRecord};

/// Most runner tokens waiting to be used at once: each is one enrollment to come.
pub const MAX_OPEN_TOKENS: usize = 1000;

/// Who vouches for a runner key the hub does not know yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority<'a> {
    /// A call over the runner API, with the runner token it presented, if any.
    Token(Option<&'a str>),
    /// The hub's operator, answering a request file by hand (`tessera-hub bundle`).
    Operator,
}

/// The answer to a lease call: the hub's bundle, and the lease when one is granted. When
/// the hub may not run (revoked, suspended, …) the bundle comes without a lease, so that
/// the runner learns why.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LeaseAnswer {
    /// The hub's bundle: its license, receipt or activation, and status.
    pub bundle: Bundle,
    /// The signed lease, when a slot is granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    /// Whether a lease-less bundle's signed evidence itself refuses (see
    /// [`Report::refusal_signed`](crate::agent::Report::refusal_signed)).
    #[serde(skip)]
    pub refusal_signed: bool,
    /// The end of the lease granted, for the operator (the lease itself says it, signed).
    #[serde(skip)]
    pub lease_ends: Option<UnixTime>,
    /// Whether the call was the runner's signed release (its slot given back).
    #[serde(skip)]
    pub released: bool,
}

/// A runner as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct RunnerView {
    /// The id of the runner's key.
    pub key_id: String,
    /// The runner's label.
    pub label: String,
    /// When the runner was enrolled.
    pub enrolled_at: UnixTime,
    /// The end of the slot it holds, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<UnixTime>,
    /// Whether it holds a slot now.
    pub holds_slot: bool,
    /// When a copy of this runner was noticed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloned_at: Option<UnixTime>,
    /// On a license with `runner_countersign`, for a runner holding a slot: what the
    /// portal's latest receipt says of its key, or that an earlier one named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countersign: Option<Countersign>,
    /// For [`Countersign::CountersignedEarlier`]: the end of that receipt's grace, until
    /// when the runner runs on its countersignature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countersigned_until: Option<UnixTime>,
}

/// What the operator sees of the place `place`: what the latest receipt says of it, or, when
/// it says nothing, that an earlier receipt named it, until when.
fn countersign_view(
    state: &HubState,
    installed: &crate::agent::Installed,
    place: &tessera_core::keys::KeyId,
    now: UnixTime,
) -> (Countersign, Option<UnixTime>) {
    let latest = countersign_of(state, place);
    if latest != Countersign::Awaiting {
        return (latest, None);
    }
    let license = &installed.claims;
    match named_for(state, place, license, &installed.key.key_id(), now) {
        Some((_, earlier)) => (
            Countersign::CountersignedEarlier,
            Some(tessera_core::standing::grace_ends(
                earlier.portal_time,
                license.ping_interval(),
                license.grace_period(),
            )),
        ),
        None => (Countersign::Awaiting, None),
    }
}

/// Why a runner call got no slot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// Every slot is leased.
    #[error("all {limit} runner slots of the license are leased")]
    LimitExceeded {
        /// The license's runner limit.
        limit: u32,
    },
    /// The hub's own status lets no runner start.
    #[error("the hub is {0}: no runner may start")]
    NotRunnable(Status),
    /// The hub may not run by its own judgement of this host, which no signed evidence
    /// carries: a bundle would not stop a runner (it would judge the evidence itself).
    #[error(
        "the hub is {0} by its own judgement of this host (its clock, fingerprint or kept \
         receipt), which no signed evidence carries: no bundle was written, and a runner keeps \
         its lease until it ends"
    )]
    LocalRefusal(Status),
    /// The runner call does not open (not signed by the key it carries, or malformed).
    #[error("the runner call is not valid: {0}")]
    BadCall(String),
    /// The runner's label is not acceptable.
    #[error("runner label must be 1 to 64 characters of letters, digits, '.', '-', '_'")]
    BadLabel,
    /// The runner's key is not enrolled.
    #[error("this runner key is not enrolled: install the runner with a runner token")]
    NotEnrolled,
    /// The runner token is unknown or already used.
    #[error("the runner token is not valid (unknown, or already used to enroll a runner)")]
    BadToken,
    /// The call is not newer than the runner's last one.
    #[error("the runner call is not newer than this runner's last one (a replay?)")]
    Stale,
    /// The runner's calls show a copy of it.
    #[error(
        "another copy of this runner (the same runner key) holds the newer lease: this copy is \
         refused; the operator sees it in `tessera-hub runners`"
    )]
    Cloned,
    /// The runner holds a lease the hub signed: its slot stays counted until then.
    #[error(
        "runner {key_id} holds a lease until {until}: it can be forgotten once that ends, or \
         at once when the runner gives its slot back (`tessera-runner uninstall`)"
    )]
    Leased {
        /// The runner's key id.
        key_id: String,
        /// The end of its lease.
        until: UnixTime,
    },
    /// The runner key is leased to another machine.
    #[error(
        "this runner key is leased to another machine until {until}: a copy of the runner is \
         refused; the operator sees it in `tessera-hub runners list`"
    )]
    OtherMachine {
        /// The end of the other machine's lease.
        until: UnixTime,
    },
    /// No runner with that key is enrolled.
    #[error("no runner with key {0} is enrolled")]
    UnknownRunner(String),
    /// The hub itself failed.
    #[error(transparent)]
    Hub(#[from] HubError),
}

fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The id part of `trt_<id>_<secret>`.
fn token_id(token: &str) -> Option<&str> {
    token.strip_prefix("trt_").and_then(|t| t.split('_').next())
}

/// Uses up `token` if it is an open token of this hub (constant-time on the hash).
fn take_token(state: &mut HubState, token: &str) -> bool {
    let Some(id) = token_id(token) else { return false };
    let Some(stored) = state.runner_tokens.get(id) else { return false };
    let presented = hex::encode(Sha256::digest(token.as_bytes()));
    if bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) {
        state.runner_tokens.remove(id);
        true
    } else {
        false
    }
}

impl Hub {
    /// Serves one signed runner call: enrolls the runner key if `authority` vouches for it,
    /// then gives its slot back or leases one (renewing the one it holds) for `ttl`.
    pub fn runner_call(
        &self,
        call_text: &[u8],
        authority: Authority<'_>,
        ttl: Duration,
    ) -> Result<LeaseAnswer, LeaseError> {
        let call = open_runner_call(call_text).map_err(|e| LeaseError::BadCall(e.to_string()))?;
        if !label_ok(&call.label) {
            return Err(LeaseError::BadLabel);
        }
        let installed = self.installed()?;
        let now = self.now();
        let lock = self.dir().lock().map_err(HubError::from)?;
        let mut state = self.dir().load().map_err(HubError::from)?;
        let key_id = call.runner_key.key_id().to_string();
        if !state.runners.contains_key(&key_id) {
            let vouched = match authority {
                Authority::Operator => true,
                Authority::Token(Some(token)) => take_token(&mut state, token),
                Authority::Token(None) => return Err(LeaseError::NotEnrolled),
            };
            if !vouched {
                return Err(LeaseError::BadToken);
            }
            tracing::info!(runner = %key_id, label = %call.label, "runner enrolled");
            state.runners.insert(
                key_id.clone(),
                RunnerRecord {
                    key: call.runner_key.clone(),
                    label: call.label.clone(),
                    enrolled_at: now,
                    lease_until: None,
                    chain: Chain::default(),
                    last_call_ms: 0,
                    cloned_at: None,
                    machine: None,
                },
            );
        }
        state.raise_high_water([now]);
        let answer = self.answer(&installed, &mut state, &key_id, &call, ttl, now);
        // A refusal that changed the record (a copy noticed, a slot given back) is kept too.
        self.dir().save(&lock, &state).map_err(HubError::from)?;
        answer
    }

    fn answer(
        &self,
        installed: &crate::agent::Installed,
        state: &mut HubState,
        key_id: &str,
        call: &RunnerCall,
        ttl: Duration,
        now: UnixTime,
    ) -> Result<LeaseAnswer, LeaseError> {
        let report = self.judge(installed, state);
        let place = runner_place(&call.runner_key.key_id(), call.machine.as_ref());
        let bundle = Hub::runner_bundle(installed, state, report.status, &place, now);
        let limit = installed.claims.runners;
        let others = state
            .runners
            .iter()
            .filter(|(id, r)| id.as_str() != key_id && r.holds_slot(now))
            .count();
        let record = state
            .runners
            .get_mut(key_id)
            .ok_or_else(|| LeaseError::UnknownRunner(key_id.into()))?;
        if call.runner_time_ms <= record.last_call_ms {
            return Err(LeaseError::Stale);
        }
        // One runner key, one machine at a time: while a lease granted to one machine runs,
        // the key is refused from any other, also from a machine that names none (its id
        // hidden) and for a release (a copy must not free the slot the original still uses).
        // Once that lease has ended the key may move.
        if let Some(leased_to) = &record.machine
            && record.holds_slot(now)
            && !call.machine.as_ref().is_some_and(|asking| leased_to.same(asking))
        {
            record.cloned_at = Some(now);
            tracing::warn!(runner = %key_id, label = %record.label, "a second machine presented a runner key leased to another: refused");
            return Err(LeaseError::OtherMachine { until: record.lease_until.unwrap_or(now) });
        }
        if call.action == RunnerAction::Release {
            record.last_call_ms = call.runner_time_ms;
            record.lease_until = None;
            tracing::info!(runner = %key_id, "runner gave its slot back");
            return Ok(LeaseAnswer {
                bundle,
                lease: None,
                refusal_signed: false,
                lease_ends: None,
                released: true,
            });
        }
        let link = record.chain.judge(call.holds);
        if link == Link::Forked {
            // Its call time is not kept: the copy must not push the original's calls out.
            record.cloned_at = Some(now);
            tracing::warn!(runner = %key_id, label = %record.label, "a copy of this runner (same runner key) called with an old lease: refused");
            return Err(LeaseError::Cloned);
        }
        record.last_call_ms = call.runner_time_ms;
        record.label.clone_from(&call.label);
        if !report.status.permits_running() {
            return Ok(LeaseAnswer {
                bundle,
                lease: None,
                refusal_signed: report.refusal_signed,
                lease_ends: None,
                released: false,
            });
        }
        if !record.holds_slot(now) && others >= limit as usize {
            return Err(LeaseError::LimitExceeded { limit });
        }
        // A lease never outlives the evidence the hub stands on (the grace after its last
        // receipt, or its offline window): neither a long `--lease-ttl` nor a clock moved
        // ahead and back gains a runner more than the hub itself may run.
        let lasts = report.grace_left_secs.map_or(ttl, |left| ttl.min(Duration::from_secs(left)));
        let expires_at = now.saturating_add(lasts);
        record.lease_until = Some(expires_at);
        record.machine.clone_from(&call.machine);
        record.chain = record.chain.advanced(link, call.nonce);
        let claims = LeaseClaims {
            license_id: installed.claims.id,
            runner_key_id: call.runner_key.key_id(),
            label: call.label.clone(),
            nonce: call.nonce,
            issued_at: now,
            expires_at,
            machine: call.machine.clone(),
        };
        Ok(LeaseAnswer {
            bundle,
            lease: Some(sign_lease(&claims, &installed.key)),
            refusal_signed: false,
            lease_ends: Some(expires_at),
            released: false,
        })
    }

    /// A bundle with a lease answering a runner's request file, for a runner installed by
    /// hand (air-gapped): the operator vouches for the runner key.
    ///
    /// A hub that may not run (revoked, suspended, …) answers too, with a bundle that holds
    /// no lease but carries the signed refusal: installed, it stops the runner, which an
    /// air-gapped runner could learn no other way before its lease ran out. Only a refusal
    /// the evidence itself carries: one that is this host's own finding (its clock, its
    /// fingerprint) would be judged `valid` by the runner, and is an error instead.
    pub fn bundle_for_request(
        &self,
        request: &[u8],
        ttl: Duration,
    ) -> Result<LeaseAnswer, LeaseError> {
        let answer = self.runner_call(request, Authority::Operator, ttl)?;
        if answer.released {
            return Ok(answer);
        }
        if answer.lease.is_none() && !answer.refusal_signed {
            return Err(LeaseError::LocalRefusal(answer.bundle.status));
        }
        let bundle = Bundle { lease: answer.lease.clone(), ..answer.bundle };
        Ok(LeaseAnswer { bundle, ..answer })
    }

    /// The operator clears the mark of a copy seen, so that the runner may lease again
    /// (from the machine its lease names while that lease runs, from any after).
    /// The slot stays counted until the lease the hub signed for it ends (returned) or the
    /// runner signs its release: a lease is out there, valid, whatever the operator says,
    /// and freeing its slot early would let one license run more runners than it sells.
    pub fn release_runner(&self, key_id: &str) -> Result<Option<UnixTime>, LeaseError> {
        let now = self.now();
        let (found, _) = self
            .dir()
            .update(|s| match s.runners.get_mut(key_id) {
                Some(record) => {
                    record.cloned_at = None;
                    // The machine its signed lease names keeps the key until that lease
                    // ends: the operator's word does not move a valid lease's slot.
                    if !record.holds_slot(now) {
                        record.machine = None;
                    }
                    Some(record.lease_until.filter(|_| record.holds_slot(now)))
                }
                None => None,
            })
            .map_err(HubError::from)?;
        found.ok_or_else(|| LeaseError::UnknownRunner(key_id.to_owned()))
    }

    /// The operator removes a runner: its key must enroll again (with a new token). Not
    /// while it holds a lease: forgetting it would free a slot a valid lease still uses.
    pub fn forget_runner(&self, key_id: &str) -> Result<(), LeaseError> {
        let now = self.now();
        let (found, _) = self
            .dir()
            .update(|s| match s.runners.get(key_id) {
                Some(record) if record.holds_slot(now) => Err(record.lease_until),
                Some(_) => Ok(s.runners.remove(key_id).is_some()),
                None => Ok(false),
            })
            .map_err(HubError::from)?;
        match found {
            Ok(true) => Ok(()),
            Ok(false) => Err(LeaseError::UnknownRunner(key_id.to_owned())),
            Err(until) => {
                Err(LeaseError::Leased { key_id: key_id.to_owned(), until: until.unwrap_or(now) })
            }
        }
    }

    /// Every enrolled runner.
    pub fn runners(&self) -> Result<Vec<RunnerView>, HubError> {
        let now = self.now();
        let state = self.dir().load()?;
        let installed = self.installed().ok().filter(|i| i.claims.runner_countersign);
        Ok(state
            .runners
            .iter()
            .map(|(key_id, r)| {
                let view = installed
                    .as_ref()
                    .filter(|_| r.holds_slot(now))
                    .map(|i| countersign_view(&state, i, &place_of(r), now));
                RunnerView {
                    key_id: key_id.clone(),
                    label: r.label.clone(),
                    enrolled_at: r.enrolled_at,
                    lease_until: r.lease_until,
                    holds_slot: r.holds_slot(now),
                    cloned_at: r.cloned_at,
                    countersign: view.map(|(c, _)| c),
                    countersigned_until: view.and_then(|(_, until)| until),
                }
            })
            .collect())
    }

    /// Makes a runner enrollment token; only its hash is kept, and it enrolls one runner.
    /// Returned once.
    pub fn create_runner_token(&self) -> Result<String, HubError> {
        let mut bytes = [0u8; 40];
        fill_random(&mut bytes).map_err(|e| HubError::Input(e.to_string()))?;
        let id = hex::encode(&bytes[..8]);
        let token = format!("trt_{id}_{}", URL_SAFE_NO_PAD.encode(&bytes[8..]));
        let digest = hex::encode(Sha256::digest(token.as_bytes()));
        let (added, _) = self.dir().update(|s| {
            if s.runner_tokens.len() >= MAX_OPEN_TOKENS {
                return false;
            }
            s.runner_tokens.insert(id, digest);
            true
        })?;
        if !added {
            return Err(HubError::Input(format!(
                "{MAX_OPEN_TOKENS} runner tokens are waiting to be used: use them first"
            )));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_plain_words() {
        assert!(label_ok("runner-1.a_b"));
        assert!(!label_ok(""));
        assert!(!label_ok("a b"));
        assert!(!label_ok(&"x".repeat(65)));
    }

    #[test]
    fn a_token_enrolls_once() {
        let mut state = HubState::default();
        let token = "trt_0011223344556677_secret";
        state
            .runner_tokens
            .insert("0011223344556677".into(), hex::encode(Sha256::digest(token.as_bytes())));
        assert!(!take_token(&mut state, "trt_0011223344556677_wrong"));
        assert!(take_token(&mut state, token));
        assert!(!take_token(&mut state, token), "used up");
    }
}
