//! Runners countersigned: on a license with `runner_countersign`, the hub's ping names the
//! runners holding a slot by their place ids (opaque: a runner's key on its machine,
//! `tessera_core::machine::runner_place`) and the receipt countersigns at most the license's
//! runner limit of them. A runner of such a license runs only while the receipt it holds
//! names its place, and a receipt counts for its grace: so each place named stays counted
//! until that grace ends, whatever the hub asks at its next ping. A hub that rotates runners
//! across pings, or a patched one, gets no more than the limit countersigned at once.

use tessera_core::UnixTime;
use tessera_core::keys::KeyId;
use tessera_core::receipt::Countersigned;

use crate::store::{CountersignedRow, Store, StoreError};

/// Most runner keys a ping may ask for: past a license's limit each one is only refused,
/// so a patched hub's list is cut here rather than written.
const MAX_ASKED: usize = 1_000;

/// What a countersigning decided: the receipt's answer and the rows to keep.
#[derive(Debug, PartialEq, Eq)]
struct Decision {
    answer: Countersigned,
    keep: Vec<CountersignedRow>,
}

/// The rule. `held` are the keys countersigned before with until when each counts; a key
/// counts while `until > now`. A key asked for that still counts is renewed; a new one
/// takes a free place (the limit less the keys that still count, asked for or not); past
/// that it is refused. Each countersigned key then counts until `until`.
fn decide(
    held: &[CountersignedRow],
    asked: &[KeyId],
    limit: u32,
    now: i64,
    until: i64,
) -> Decision {
    let counting: Vec<&str> =
        held.iter().filter(|row| row.until > now).map(|row| row.runner_place.as_str()).collect();
    let mut free = usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(counting.len());
    let mut keys: Vec<KeyId> = Vec::new();
    let mut refused: Vec<KeyId> = Vec::new();
    for key in asked.iter().take(MAX_ASKED) {
        if keys.contains(key) || refused.contains(key) {
            continue;
        }
        let id = key.to_string();
        if counting.contains(&id.as_str()) {
            keys.push(*key);
        } else if free > 0 {
            free -= 1;
            keys.push(*key);
        } else {
            refused.push(*key);
        }
    }
    let keep =
        keys.iter().map(|key| CountersignedRow { runner_place: key.to_string(), until }).collect();
    Decision { answer: Countersigned { limit, keys, refused }, keep }
}

/// How long a place countersigned by a receipt signed at `now` counts: as long as a runner
/// may run on that receipt (its grace, or one ping interval and its slack when longer:
/// `tessera_core::standing::freshness`), plus the tolerance a runner's check gives a clock
/// behind, so that no place is freed while a receipt naming it still lets a runner run.
fn counts_until(now: i64, grace_secs: i64, interval_secs: i64) -> i64 {
    use std::time::Duration;
    use tessera_core::standing::{DEFAULT_TOLERANCE, ping_slack};
    let interval = Duration::from_secs(u64::try_from(interval_secs).unwrap_or(0));
    let fresh = interval + ping_slack(interval);
    let grace = Duration::from_secs(u64::try_from(grace_secs).unwrap_or(0)).max(fresh);
    let secs = i64::try_from((grace + DEFAULT_TOLERANCE).as_secs()).unwrap_or(i64::MAX);
    now.saturating_add(secs)
}

/// Countersigns `asked` for `license_id` (limit `limit`, a receipt signed at `now` on a
/// license whose grace is `grace_secs` and ping interval `interval_secs`) in one
/// transaction, and answers what the receipt says.
pub async fn countersign(
    store: &Store,
    license_id: &str,
    asked: &[KeyId],
    (limit, grace_secs, interval_secs): (u32, i64, i64),
    now: UnixTime,
) -> Result<Countersigned, StoreError> {
    let now = now.as_unix();
    let (mut change, held) = store.begin_countersign(license_id).await?;
    let until = counts_until(now, grace_secs, interval_secs);
    let decision = decide(&held, asked, limit, now, until);
    change.drop_ended(license_id, now).await?;
    change.keep(license_id, &decision.keep).await?;
    change.commit().await?;
    if !decision.answer.refused.is_empty() {
        tracing::warn!(license = %license_id, limit, refused = decision.answer.refused.len(), "a hub asked to countersign more runner keys than the license allows: refused beyond the limit");
    }
    Ok(decision.answer)
}

#[cfg(test)]
mod tests {
    use tessera_core::keys::SigningKey;

    use super::*;

    fn key(seed: u8) -> KeyId {
        SigningKey::from_seed(&[seed; 32]).key_id()
    }

    fn row(seed: u8, until: i64) -> CountersignedRow {
        CountersignedRow { runner_place: key(seed).to_string(), until }
    }

    #[test]
    fn new_keys_take_free_places_up_to_the_limit() {
        let decision = decide(&[], &[key(1), key(2), key(3)], 2, 100, 200);
        assert_eq!(decision.answer.keys, [key(1), key(2)]);
        assert_eq!(decision.answer.refused, [key(3)]);
        assert_eq!(decision.keep, [row(1, 200), row(2, 200)]);
    }

    #[test]
    fn a_key_still_counting_holds_its_place_though_the_hub_no_longer_asks() {
        // Rotation: keys 1 and 2 were countersigned until 500; at 300 the hub asks for 3, 4.
        let decision = decide(&[row(1, 500), row(2, 500)], &[key(3), key(4)], 2, 300, 600);
        assert!(decision.answer.keys.is_empty());
        assert_eq!(decision.answer.refused, [key(3), key(4)]);
        assert!(decision.keep.is_empty());
    }

    #[test]
    fn a_key_asked_again_is_renewed_and_an_ended_one_frees_its_place() {
        let decision = decide(&[row(1, 500), row(2, 300)], &[key(1), key(3)], 2, 300, 600);
        assert_eq!(decision.answer.keys, [key(1), key(3)]);
        assert!(decision.answer.refused.is_empty());
        assert_eq!(decision.keep, [row(1, 600), row(3, 600)]);
    }

    #[test]
    fn a_key_asked_twice_takes_one_place() {
        let decision = decide(&[], &[key(1), key(1), key(2)], 2, 0, 10);
        assert_eq!(decision.answer.keys, [key(1), key(2)]);
    }
}
