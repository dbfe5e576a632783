//! Where a license is bound and rebound: an activation binds a license that has no
//! binding; the same host (the binding rule, [`super::binding`]) may bind again with a new
//! hub key, at most once per `rebind_every_secs`, and sooner only as one of the license's
//! yearly repairs; sooner still is refused as a copy of the hub; another host is refused.
//! [`decide`] is the rule; [`activate`] reads the binding, decides and has the store write
//! the outcome, in one transaction.

/// An activation call and what it did, as the hub API names them.
pub use crate::store::{Activation, Bound};
use crate::store::{ActivationRow, Store, StoreError};

/// What an activation does to the binding it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No binding: bind this host.
    BindFirst,
    /// The same host, the call no newer than its last one: a replay.
    Stale,
    /// Another host: refused.
    OtherHost {
        /// Components that matched.
        matched: usize,
        /// Components needed.
        needed: usize,
    },
    /// The same host, long enough after the last rebind: rebind.
    Rebind,
    /// The same host, sooner than allowed but within the repair allowance: rebind and count
    /// the repair.
    Repair(RepairYear),
    /// The same host, sooner than allowed and past the repair allowance: refused as a copy.
    TooSoon {
        /// The last re-activation.
        rebound_at: i64,
    },
}

/// A repair year after one more repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairYear {
    /// Repairs in the year, the new one included.
    pub repairs: i64,
    /// When the year began.
    pub from: i64,
}

/// Seconds in a repair year.
const YEAR_SECS: i64 = 365 * 86_400;

/// What an activation `call` does to the binding `existing` (none: not bound) at `now`;
/// `same_host` is the binding rule's answer for the stored fingerprint.
pub fn decide(
    existing: Option<&ActivationRow>,
    same_host: impl FnOnce(&ActivationRow) -> Result<(), (usize, usize)>,
    call: &Activation<'_>,
    now: i64,
) -> Decision {
    let Some(bound) = existing else { return Decision::BindFirst };
    if let Err((matched, needed)) = same_host(bound) {
        return Decision::OtherHost { matched, needed };
    }
    if call.hub_time_ms <= bound.last_hub_time_ms {
        return Decision::Stale;
    }
    match bound.rebound_at {
        Some(at) if now.saturating_sub(at) < call.rebind_every_secs => {
            match repair(bound, now, call.repairs_per_year) {
                Some(year) => Decision::Repair(year),
                None => Decision::TooSoon { rebound_at: at },
            }
        }
        _ => Decision::Rebind,
    }
}

/// Whether one more repair fits `per_year` at `now`: a year begins with its first repair
/// and lasts 365 days; the next repair after it begins a new one.
fn repair(activation: &ActivationRow, now: i64, per_year: i64) -> Option<RepairYear> {
    let year = match activation.repairs_from {
        Some(from) if now.saturating_sub(from) < YEAR_SECS => {
            RepairYear { repairs: activation.repairs + 1, from }
        }
        _ => RepairYear { repairs: 1, from: now },
    };
    (year.repairs <= per_year).then_some(year)
}

/// Binds `call.license_id` to the calling host as [`decide`] rules, in one transaction.
/// The binding's ping chain starts at `call.answer`, the nonce the receipt will echo.
pub async fn activate(store: &Store, call: &Activation<'_>) -> Result<Bound, StoreError> {
    let (mut change, existing) = store.begin_binding(call.license_id).await?;
    let now = call.now.as_unix();
    let same_host =
        |bound: &ActivationRow| (call.same_host)(&bound.fingerprint, bound.fingerprint_version);
    let bound = match decide(existing.as_ref(), same_host, call, now) {
        Decision::BindFirst => match change.bind_first(call).await? {
            true => Bound::New,
            false => Bound::Stale,
        },
        Decision::Stale => Bound::Stale,
        Decision::OtherHost { matched, needed } => Bound::OtherHost { matched, needed },
        Decision::Rebind => {
            change.rebind(call).await?;
            Bound::Again
        }
        Decision::Repair(year) => {
            change.rebind(call).await?;
            change.count_repair(call.license_id, (year.repairs, year.from), now).await?;
            Bound::Repaired { repairs: year.repairs }
        }
        Decision::TooSoon { rebound_at } => {
            change.mark_cloned(call.license_id, now).await?;
            Bound::TooSoon { rebound_at }
        }
    };
    change.commit().await?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::UnixTime;

    fn bound(repairs: i64, repairs_from: Option<i64>) -> ActivationRow {
        ActivationRow {
            license_id: "l".into(),
            fingerprint: "{}".into(),
            fingerprint_version: 2,
            hub_key: "key".into(),
            activated_at: 0,
            last_ping_at: None,
            last_hub_time_ms: 1_000,
            chain: tessera_core::chain::Chain::default(),
            cloned_at: None,
            rebinds: 1,
            rebound_at: Some(0),
            repairs,
            repairs_from,
            repaired_at: repairs_from,
        }
    }

    #[test]
    fn repairs_are_counted_per_year_up_to_the_allowance() {
        let day = 86_400;
        // The first repair begins a year.
        assert_eq!(repair(&bound(0, None), day, 4), Some(RepairYear { repairs: 1, from: day }));
        // Within it, each one counts, up to the allowance.
        let year = Some(day);
        assert_eq!(repair(&bound(3, year), 2 * day, 4), Some(RepairYear { repairs: 4, from: day }));
        assert_eq!(repair(&bound(4, year), 2 * day, 4), None);
        assert_eq!(repair(&bound(4, year), day + YEAR_SECS - 1, 4), None);
        // A year after its first repair, a new year begins.
        assert_eq!(
            repair(&bound(4, year), day + YEAR_SECS, 4),
            Some(RepairYear { repairs: 1, from: day + YEAR_SECS })
        );
        // No allowance: no repair.
        assert_eq!(repair(&bound(0, None), day, 0), None);
    }

    #[test]
    fn an_activation_binds_rebinds_repairs_or_refuses() {
        let same = |_: &str, _: i64| -> Result<(), (usize, usize)> { Ok(()) };
        let call = |hub_time_ms| Activation {
            license_id: "l",
            fingerprint_json: "{}",
            fingerprint_version: 2,
            hub_key: "key2",
            hub_time_ms,
            now: UnixTime::from_unix(0).expect("time"),
            answer: tessera_core::receipt::Nonce::from_bytes([0; 16]),
            rebind_every_secs: 86_400,
            repairs_per_year: 1,
            same_host: &same,
        };
        let (yes, other) = (|_: &ActivationRow| Ok(()), |_: &ActivationRow| Err((1, 3)));
        let (fresh, used) = (bound(0, None), bound(1, Some(10)));
        assert_eq!(decide(None, yes, &call(2_000), 100), Decision::BindFirst);
        assert_eq!(
            decide(Some(&fresh), other, &call(2_000), 100),
            Decision::OtherHost { matched: 1, needed: 3 }
        );
        assert_eq!(decide(Some(&fresh), yes, &call(1_000), 100), Decision::Stale);
        assert_eq!(decide(Some(&fresh), yes, &call(2_000), 86_400), Decision::Rebind);
        assert_eq!(
            decide(Some(&fresh), yes, &call(2_000), 100),
            Decision::Repair(RepairYear { repairs: 1, from: 100 })
        );
        assert_eq!(
            decide(Some(&used), yes, &call(2_000), 100),
            Decision::TooSoon { rebound_at: 0 }
        );
    }
}
