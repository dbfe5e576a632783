//! The record of a round: each authentic ping judged against its binding as the write
//! transaction reads it — still bound to the key that signed, newer than the last call,
//! holding the latest receipt or proving a place in a chain the portal forgot — and the
//! round's rows written with one commit.

use std::collections::{BTreeSet, HashMap};

use tessera_core::chain::{Chain, Link};

use super::check::{Checked, Recorded};
use super::{Judged, VerifiedPing};
use crate::store::pings::{Binding, PingWriter, RoundWrites};
use crate::store::{PingOutcome, PingRecord, Store, StoreError, day_of};

/// What the write does with one authentic ping.
#[derive(Debug)]
enum Write {
    /// Count it (as `Counted` or `Resynced`); the binding's chain becomes this.
    Count(Chain, PingOutcome),
    /// A copy of the hub: mark the binding, answer `cloned`.
    Cloned,
    /// Refused, nothing written.
    Refuse(PingOutcome),
}

/// The rule of a ping's write, against the binding as it is inside the write transaction:
/// still bound (not reset), to the key that signed (not replaced), a newer call than the
/// last (not a replay), holding the latest receipt (not a copy left behind,
/// [`tessera_core::chain`]) — or proving, by a receipt the portal signed after the
/// binding's last ping, that it follows a chain the portal forgot (a restore from a backup).
/// A copy left behind cannot prove that: the receipt it holds was signed at or before the
/// ping that moved the chain past it, whose time is the binding's last ping or older.
fn judge_write(binding: Option<&Binding>, ping: &PingRecord) -> Write {
    let Some(binding) = binding else { return Write::Refuse(PingOutcome::NotActivated) };
    if binding.hub_key != ping.hub_key {
        return Write::Refuse(PingOutcome::WrongKey);
    }
    if ping.hub_time_ms <= binding.last_hub_time_ms {
        return Write::Refuse(PingOutcome::Stale);
    }
    match binding.chain.judge(ping.holds) {
        Link::Forked => match (ping.held_at, binding.last_ping_at) {
            (Some(held_at), Some(last)) if held_at > last => Write::Count(
                Chain { confirmed: ping.holds, pending: Some(ping.answer) },
                PingOutcome::Resynced,
            ),
            _ => Write::Cloned,
        },
        link => Write::Count(binding.chain.advanced(link, ping.answer), PingOutcome::Counted),
    }
}

/// What a round's pings do, decided against `bindings`.
#[derive(Debug, PartialEq, Eq)]
struct Plan<'a> {
    /// Each ping's outcome, in order.
    outcomes: Vec<PingOutcome>,
    /// The licenses with counted pings, in id order: their bindings hold what to write.
    counted: Vec<&'a str>,
    /// The licenses a copy of whose hub was noticed, in id order.
    cloned: Vec<&'a str>,
}

/// Judges a round's pings in order against `bindings`, advancing each binding as its
/// counted pings do: a license's second ping in the round sees what the first left. The
/// last-ping time never goes back (a portal clock stepped back, two instances that
/// disagree): a re-sync's proof is compared with it.
fn plan_round<'a>(pings: &[&'a PingRecord], bindings: &mut HashMap<String, Binding>) -> Plan<'a> {
    let mut outcomes = Vec::with_capacity(pings.len());
    let mut counted: BTreeSet<&str> = BTreeSet::new();
    let mut cloned: BTreeSet<&str> = BTreeSet::new();
    for &ping in pings {
        let binding = bindings.get_mut(&ping.license_id);
        outcomes.push(match judge_write(binding.as_deref(), ping) {
            Write::Count(chain, outcome) => {
                if let Some(binding) = binding {
                    let at = ping.at.as_unix();
                    binding.last_ping_at =
                        Some(binding.last_ping_at.map_or(at, |last| last.max(at)));
                    binding.last_hub_time_ms = ping.hub_time_ms;
                    binding.chain = chain;
                    binding.history.add(day_of(ping.at), 1);
                }
                counted.insert(&ping.license_id);
                outcome
            }
            Write::Cloned => {
                cloned.insert(&ping.license_id);
                PingOutcome::Cloned
            }
            Write::Refuse(outcome) => outcome,
        });
    }
    Plan { outcomes, counted: counted.into_iter().collect(), cloned: cloned.into_iter().collect() }
}

/// Records the authentic pings of a batch in one write transaction, in order; the others
/// keep the judgement the check gave them.
pub(super) fn write_round(
    writer: &mut dyn PingWriter,
    batch: Vec<Checked>,
) -> Result<Vec<Judged>, StoreError> {
    let mut pings: Vec<&PingRecord> = Vec::new();
    let mut forks: Vec<(&str, &str)> = Vec::new();
    // The time a noticed copy or fork is marked with: the round's first authentic call's.
    let mut cloned_at = None;
    for checked in &batch {
        match checked {
            Ok((_, Recorded::Ping(record))) => {
                cloned_at = cloned_at.or(Some(record.at.as_unix()));
                pings.push(record);
            }
            Ok((_, Recorded::Fork { license_id, replaced, at })) => {
                cloned_at = cloned_at.or(Some(*at));
                forks.push((license_id.as_str(), replaced.as_str()));
            }
            Err(_) => {}
        }
    }
    let (outcomes, forked) = match cloned_at {
        Some(cloned_at) => write(writer, &pings, &forks, cloned_at)?,
        None => (Vec::new(), Vec::new()),
    };
    let (mut outcomes, mut forked) = (outcomes.into_iter(), forked.into_iter());
    Ok(batch
        .into_iter()
        .map(|checked| match checked {
            Err(judged) => judged,
            Ok((verified, Recorded::Ping(_))) => {
                judged(verified, outcomes.next().unwrap_or(PingOutcome::NotActivated))
            }
            Ok((verified, Recorded::Fork { .. })) => match forked.next() {
                Some(true) => Judged::Forked(Box::new(verified)),
                _ => Judged::WrongKey,
            },
        })
        .collect())
}

/// One write transaction: the bindings read, the pings judged, the rows written, one
/// commit. Rolled back on any error.
fn write(
    writer: &mut dyn PingWriter,
    pings: &[&PingRecord],
    forks: &[(&str, &str)],
    cloned_at: i64,
) -> Result<(Vec<PingOutcome>, Vec<bool>), StoreError> {
    let mut ids: Vec<&str> = pings
        .iter()
        .map(|p| p.license_id.as_str())
        .chain(forks.iter().map(|(id, _)| *id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut bindings = match writer.begin(&ids) {
        Ok(bindings) => bindings,
        Err(e) => {
            writer.abandon();
            return Err(e);
        }
    };
    let plan = plan_round(pings, &mut bindings);
    let writes = RoundWrites {
        counted: plan.counted.iter().filter_map(|id| Some((*id, bindings.get(*id)?))).collect(),
        cloned: plan.cloned.clone(),
        forks: forks.to_vec(),
        cloned_at,
    };
    match writer.finish(&writes) {
        Ok(forked) => Ok((plan.outcomes, forked)),
        Err(e) => {
            writer.abandon();
            Err(e)
        }
    }
}

/// The judgement for an authentic ping, from what recording it found.
fn judged(verified: VerifiedPing, outcome: PingOutcome) -> Judged {
    match outcome {
        PingOutcome::Counted => Judged::Counted(Box::new(verified)),
        PingOutcome::Resynced => Judged::Resynced(Box::new(verified)),
        PingOutcome::Cloned => Judged::Cloned(Box::new(verified)),
        PingOutcome::Stale => Judged::Stale,
        PingOutcome::WrongKey => Judged::WrongKey,
        _ => Judged::NotActivated,
    }
}

/// Records `pings` in one write transaction of the ping path's own kind, outside the
/// pipeline (tools and tests): what happened to each, in order.
pub async fn record(store: &Store, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
    let source = store.ping_source().clone();
    let pings = pings.to_vec();
    let (reply, answer) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ping-record".into())
        .spawn(move || {
            let result = source.writer().and_then(|mut writer| {
                let refs: Vec<&PingRecord> = pings.iter().collect();
                let at = pings.first().map_or(0, |p| p.at.as_unix());
                write(writer.as_mut(), &refs, &[], at).map(|(outcomes, _)| outcomes)
            });
            let _ = reply.send(result);
        })
        .map_err(|e| StoreError::Task(e.to_string()))?;
    answer.await.map_err(|e| StoreError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use tessera_core::UnixTime;
    use tessera_core::receipt::Nonce;

    use super::*;
    use crate::store::day_counts::DayCounts;

    fn n(byte: u8) -> Nonce {
        Nonce::from_bytes([byte; 16])
    }

    /// A binding whose last ping was at 1000 and whose chain gave `n(2)` after `n(1)`.
    fn binding() -> Binding {
        Binding {
            hub_key: "key".into(),
            last_ping_at: Some(1_000),
            last_hub_time_ms: 1_000_000,
            chain: Chain { confirmed: Some(n(1)), pending: Some(n(2)) },
            history: DayCounts::default(),
        }
    }

    fn ping(holds: u8, held_at: Option<i64>) -> PingRecord {
        PingRecord {
            license_id: "l".into(),
            hub_key: "key".into(),
            hub_time_ms: 2_000_000,
            at: UnixTime::from_unix(2_000).expect("time"),
            holds: Some(n(holds)),
            answer: n(9),
            held_at,
        }
    }

    #[test]
    fn a_receipt_signed_after_the_last_ping_re_syncs_a_forgotten_chain() {
        // The hub holds n(7), which the restored portal never saw, signed after its last ping.
        match judge_write(Some(&binding()), &ping(7, Some(1_001))) {
            Write::Count(chain, PingOutcome::Resynced) => {
                assert_eq!(chain, Chain { confirmed: Some(n(7)), pending: Some(n(9)) });
            }
            _ => panic!("not re-synced"),
        }
        // The same ping on the chain's own path is counted as ever, its proof unused.
        assert!(matches!(
            judge_write(Some(&binding()), &ping(2, Some(1_001))),
            Write::Count(_, PingOutcome::Counted)
        ));
    }

    #[test]
    fn a_copy_left_behind_proves_nothing_and_is_refused() {
        // Its receipt is no newer than the ping that moved the chain past it.
        for held_at in [Some(1_000), Some(999), None] {
            assert!(
                matches!(judge_write(Some(&binding()), &ping(7, held_at)), Write::Cloned),
                "{held_at:?}"
            );
        }
        // A binding without a remembered ping takes no proof.
        let mut never = binding();
        never.last_ping_at = None;
        assert!(matches!(judge_write(Some(&never), &ping(7, Some(5_000))), Write::Cloned));
    }

    #[test]
    fn after_a_re_sync_the_other_copy_is_refused() {
        // Two copies after a restore: the first re-syncs; the second holds a receipt signed
        // before that re-sync (it can hold no newer one), and is a copy.
        let first = ping(7, Some(1_500));
        let mut twin = ping(8, Some(1_600));
        twin.hub_time_ms += 1;
        let mut bindings = HashMap::from([("l".to_owned(), binding())]);
        let plan = plan_round(&[&first, &twin], &mut bindings);
        assert_eq!(plan.outcomes, [PingOutcome::Resynced, PingOutcome::Cloned]);
        assert_eq!(bindings["l"].last_ping_at, Some(2_000));
        assert_eq!(plan.counted, ["l"]);
        assert_eq!(plan.cloned, ["l"]);
    }

    #[test]
    fn the_last_ping_time_never_goes_back() {
        // The portal's clock stepped back (or another instance's is behind): the ping is
        // counted, but the binding keeps its later last-ping time, which a re-sync's proof
        // is compared with.
        let mut earlier = ping(2, None);
        earlier.at = UnixTime::from_unix(500).expect("time");
        let mut bindings = HashMap::from([("l".to_owned(), binding())]);
        let plan = plan_round(&[&earlier], &mut bindings);
        assert_eq!(plan.outcomes, [PingOutcome::Counted]);
        assert_eq!(bindings["l"].last_ping_at, Some(1_000));
    }
}
