//! The ping path's statements over the pool: one lookup query per round and one transaction
//! that records a round. On PostgreSQL they run through its own driver ([`pg_pings`]); the
//! `Any` statements here serve an in-memory SQLite store (tests). The rule a write follows,
//! [`plan_round`], is the one both use, and the SQLite file's ping path too.
//!
//! [`pg_pings`]: super::pg_pings

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::AssertSqlSafe;

use tessera_core::chain::{Chain, Link};

use super::day_counts::DayCounts;

use super::{
    ACTIVATION_COLUMNS, ActivationRow, LicenseRow, PingOutcome, PingRecord, Store, StoreError,
    activation_from_row, day_of, license_from_row, stored_nonce,
};

/// Rows per multi-row statement (five parameters each: well under SQLite's limit).
const PINGS_PER_STATEMENT: usize = 500;

impl Store {
    /// Looks up many licenses with their activations in one query (the ping path's read).
    pub async fn licenses_with_activations(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(LicenseRow, Option<ActivationRow>)>, StoreError> {
        if let Some(pg) = &self.pg_pings {
            return pg.lookup(ids).await;
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
        let activation_columns = ACTIVATION_COLUMNS
            .split(',')
            .map(|c| format!("a.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, l.expires_at, \
             l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, l.registered_at, \
             l.status_changed_at, {activation_columns} \
             FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id IN ({placeholders})"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(license_and_activation).collect()
    }

    /// Records a batch of authenticated pings in one transaction (one durable commit for
    /// all), returning what happened to each, in order, by the rule of `judge_write`.
    /// The whole batch takes a few statements, not a few per ping: one read of the
    /// bindings, one `UPDATE … FROM (VALUES …)` of last-ping times and chains, one of
    /// copies noticed, and one of the day counts. A license twice in one batch is judged in
    /// order against the binding as the first ping left it.
    pub async fn record_pings(&self, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
        if let Some(pg) = &self.pg_pings {
            return pg.record(pings).await;
        }
        let mut tx = self.begin_write().await?;
        let ids = round_ids(pings);
        let mut bindings: HashMap<String, Binding> = HashMap::new();
        for chunk in ids.chunks(PINGS_PER_STATEMENT) {
            let placeholders =
                (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
            let sql = format!(
                "{BINDINGS_WITH_HISTORY} WHERE a.license_id IN ({placeholders}) \
                 ORDER BY a.license_id"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *tx).await? {
                let (id, binding) = binding_from_row(&row)?;
                bindings.insert(id, binding);
            }
        }
        let round = plan_round(pings, &mut bindings);
        for chunk in round.counted.chunks(PINGS_PER_STATEMENT) {
            let values = (0..chunk.len())
                .map(|k| {
                    let p = 5 * k;
                    format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
                })
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "UPDATE activations SET last_ping_at = v.column2, last_hub_time_ms = v.column3, \
                 chain_confirmed = v.column4, chain_pending = v.column5 \
                 FROM (VALUES {values}) AS v WHERE activations.license_id = v.column1"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (id, at) in chunk {
                let binding = &bindings[*id];
                query = query
                    .bind(*id)
                    .bind(*at)
                    .bind(binding.last_hub_time_ms)
                    .bind(binding.chain.confirmed.map(|n| n.to_string()))
                    .bind(binding.chain.pending.map(|n| n.to_string()));
            }
            query.execute(&mut *tx).await?;
            // The day counts: one row per license, as the activations above.
            let values = (0..chunk.len())
                .map(|k| format!("(${}, ${}, ${})", 3 * k + 1, 3 * k + 2, 3 * k + 3))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "UPDATE licenses SET day_counts = v.column2, days_from = v.column3 \
                 FROM (VALUES {values}) AS v WHERE licenses.id = v.column1"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (id, _) in chunk {
                let history = &bindings[*id].history;
                query = query.bind(*id).bind(history.encode()).bind(history.first_day());
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in round.cloned.chunks(PINGS_PER_STATEMENT) {
            let placeholders =
                (2..=chunk.len() + 1).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
            let sql = format!(
                "UPDATE activations SET cloned_at = $1 WHERE license_id IN ({placeholders})"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(round.cloned_at);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(round.outcomes)
    }
}

/// A row of the lookup: the license, and its binding when the left join found one (no
/// activation reads as a NULL `license_id`).
pub(super) fn license_and_activation<R: super::ReadRow>(
    row: &R,
) -> Result<(LicenseRow, Option<ActivationRow>), StoreError> {
    let license = license_from_row(row)?;
    let activation = match row.opt_text("license_id")? {
        None => None,
        Some(_) => Some(activation_from_row(row)?),
    };
    Ok((license, activation))
}

/// The bindings a round's write reads, with their licenses' day counts (the pool paths add
/// which licenses, and PostgreSQL the lock).
pub(super) const BINDINGS_WITH_HISTORY: &str = "SELECT a.license_id, a.hub_key, \
     a.last_ping_at, a.last_hub_time_ms, a.chain_confirmed, a.chain_pending, l.day_counts \
     FROM activations a JOIN licenses l ON l.id = a.license_id";

/// A row of [`BINDINGS_WITH_HISTORY`]: the license id and its binding.
pub(super) fn binding_from_row<R: super::ReadRow>(
    row: &R,
) -> Result<(String, Binding), StoreError> {
    let binding = Binding {
        hub_key: row.text("hub_key")?,
        last_ping_at: row.opt_int("last_ping_at")?,
        last_hub_time_ms: row.int("last_hub_time_ms")?,
        chain: Chain {
            confirmed: stored_nonce(row.opt_text("chain_confirmed")?)?,
            pending: stored_nonce(row.opt_text("chain_pending")?)?,
        },
        history: stored_history(row.opt_bytes("day_counts")?.as_deref())?,
    };
    Ok((row.text("license_id")?, binding))
}

/// The distinct license ids of a round, in order: concurrent writers (another portal, the
/// rollup) lock rows in one order and never deadlock.
pub(super) fn round_ids(pings: &[PingRecord]) -> Vec<&str> {
    let mut ids: Vec<&str> = pings.iter().map(|p| p.license_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A binding as a ping's write sees it, with its license's day counts.
pub(super) struct Binding {
    pub hub_key: String,
    pub last_ping_at: Option<i64>,
    pub last_hub_time_ms: i64,
    pub chain: Chain,
    pub history: DayCounts,
}

/// Day counts as stored; damaged bytes are a corrupt row.
pub(super) fn stored_history(bytes: Option<&[u8]>) -> Result<DayCounts, StoreError> {
    DayCounts::decode(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What a round's write does, decided against the bindings as the transaction read them.
pub(super) struct Round<'a> {
    /// Each ping's outcome, in order.
    pub outcomes: Vec<PingOutcome>,
    /// The licenses with counted pings, in id order, with the last ping's time; their
    /// bindings (chain, hub time, day counts) hold what to write.
    pub counted: Vec<(&'a str, i64)>,
    /// The licenses a copy of whose hub was noticed, in id order.
    pub cloned: Vec<&'a str>,
    /// The time a noticed copy is marked with.
    pub cloned_at: i64,
}

/// Judges a round's pings in order against `bindings`, advancing each binding as its
/// counted pings do: a license's second ping in the round sees what the first left.
pub(super) fn plan_round<'a>(
    pings: &'a [PingRecord],
    bindings: &mut HashMap<String, Binding>,
) -> Round<'a> {
    let mut outcomes = Vec::with_capacity(pings.len());
    let mut counted: BTreeMap<&str, i64> = BTreeMap::new();
    let mut cloned: BTreeSet<&str> = BTreeSet::new();
    for ping in pings {
        let binding = bindings.get_mut(&ping.license_id);
        outcomes.push(match judge_write(binding.as_deref(), ping) {
            Write::Count(chain, outcome) => {
                if let Some(binding) = binding {
                    binding.last_ping_at = Some(ping.at.as_unix());
                    binding.last_hub_time_ms = ping.hub_time_ms;
                    binding.chain = chain;
                    binding.history.add(day_of(ping.at), 1);
                }
                counted.insert(&ping.license_id, ping.at.as_unix());
                outcome
            }
            Write::Cloned => {
                cloned.insert(&ping.license_id);
                PingOutcome::Cloned
            }
            Write::Refuse(outcome) => outcome,
        });
    }
    Round {
        outcomes,
        counted: counted.into_iter().collect(),
        cloned: cloned.into_iter().collect(),
        cloned_at: pings.first().map_or(0, |p| p.at.as_unix()),
    }
}

/// What the write does with one authentic ping.
pub(super) enum Write {
    /// Count it (as `Counted` or `Resynced`); the binding's chain becomes this.
    Count(Chain, PingOutcome),
    /// A copy of the hub: mark the binding, answer `cloned`.
    Cloned,
    Refuse(PingOutcome),
}

/// The one rule both ping paths' writes follow, against the binding as it is inside the
/// write transaction: still bound (not reset), to the key that signed (not replaced), a
/// newer call than the last (not a replay), holding the latest receipt (not a copy left
/// behind, [`tessera_core::chain`]) — or proving, by a receipt the portal signed after the
/// binding's last ping, that it follows a chain the portal forgot (a restore from a backup).
/// A copy left behind cannot prove that: the receipt it holds was signed at or before the
/// ping that moved the chain past it, whose time is the binding's last ping or older.
pub(super) fn judge_write(binding: Option<&Binding>, ping: &PingRecord) -> Write {
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

#[cfg(test)]
mod tests {
    use tessera_core::UnixTime;
    use tessera_core::receipt::Nonce;

    use super::*;

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
        let pings = [ping(7, Some(1_500)), {
            let mut twin = ping(8, Some(1_600));
            twin.hub_time_ms += 1;
            twin.at = UnixTime::from_unix(2_000).expect("time");
            twin
        }];
        let mut bindings = HashMap::from([("l".to_owned(), binding())]);
        let round = plan_round(&pings, &mut bindings);
        assert_eq!(round.outcomes, [PingOutcome::Resynced, PingOutcome::Cloned]);
        assert_eq!(bindings["l"].last_ping_at, Some(2_000));
        assert_eq!(round.counted, [("l", 2_000)]);
        assert_eq!(round.cloned, ["l"]);
    }
}
