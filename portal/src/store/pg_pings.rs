//! The ping path's statements on PostgreSQL, on a small pool of its own with PostgreSQL's
//! own driver. Each statement is one fixed text that takes a round's values as arrays
//! (`= ANY($1)`, `unnest`), so every connection prepares it once and PostgreSQL plans it
//! once, whatever the size of the round; rows are read in their own types rather than copied
//! through the `Any` driver. The rule the write follows is the pool path's
//! ([`plan_round`]).

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::pings::{
    BINDINGS_WITH_HISTORY, Binding, binding_from_row, license_and_activation, plan_round, round_ids,
};
use super::{ActivationRow, LicenseRow, PingOutcome, PingRecord, StoreError};

/// The license and its binding, for each license id of a round.
const LOOKUP: &str = "SELECT l.id, l.key_sha256, l.org, l.product, l.runners, l.not_before, \
     l.expires_at, l.terminates_at, l.grace_period_secs, l.ping_interval_secs, l.status, \
     l.registered_at, l.status_changed_at, a.license_id, a.fingerprint, a.fingerprint_version, \
     a.hub_key, a.activated_at, a.last_ping_at, a.last_hub_time_ms, a.chain_confirmed, \
     a.chain_pending, a.cloned_at, a.rebinds, a.rebound_at, a.repairs, a.repairs_from, \
     a.repaired_at \
     FROM licenses l LEFT JOIN activations a ON a.license_id = l.id WHERE l.id = ANY($1)";

/// The bindings of a round with their day counts, locked for the write transaction in
/// license id order (several portals, and the rollup, lock in the same order: no deadlock).
static BINDINGS: LazyLock<String> = LazyLock::new(|| {
    format!("{BINDINGS_WITH_HISTORY} WHERE a.license_id = ANY($1) ORDER BY a.license_id FOR UPDATE")
});

/// The counted pings of a round in one statement: each license's last-ping time and chain,
/// and its day counts.
const COUNT: &str = "WITH v AS ( \
       SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], \
                            $6::bytea[], $7::int8[]) \
         AS v(id, at, hub_time_ms, confirmed, pending, day_counts, days_from) \
     ), touched AS ( \
       UPDATE activations a SET last_ping_at = v.at, last_hub_time_ms = v.hub_time_ms, \
         chain_confirmed = v.confirmed, chain_pending = v.pending \
       FROM v WHERE a.license_id = v.id \
     ) \
     UPDATE licenses l SET day_counts = v.day_counts, days_from = v.days_from \
     FROM v WHERE l.id = v.id";

/// Copies of hubs noticed in a round.
const CLONED: &str = "UPDATE activations SET cloned_at = $1 WHERE license_id = ANY($2)";

/// PostgreSQL's ping path: two connections are all it uses at once (a lookup round and a
/// write round); a third lets one be replaced without a wait.
#[derive(Debug, Clone)]
pub(super) struct PgPings {
    pool: PgPool,
}

impl PgPings {
    /// Connects to the database the store has already migrated.
    pub async fn connect(url: &str) -> Result<PgPings, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(3)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgPings { pool })
    }

    /// Looks up many licenses with their bindings in one query.
    pub async fn lookup(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(LicenseRow, Option<ActivationRow>)>, StoreError> {
        let rows = sqlx::query(LOOKUP).bind(ids).fetch_all(&self.pool).await?;
        rows.iter().map(license_and_activation).collect()
    }

    /// Records a round of authenticated pings in one transaction, with three statements
    /// at most: lock and read the bindings, write the counted pings, mark noticed copies.
    pub async fn record(&self, pings: &[PingRecord]) -> Result<Vec<PingOutcome>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids = round_ids(pings);
        let mut bindings: HashMap<String, Binding> = HashMap::with_capacity(ids.len());
        let query = sqlx::query(AssertSqlSafe(BINDINGS.as_str()));
        for row in query.bind(&ids).fetch_all(&mut *tx).await? {
            let (id, binding) = binding_from_row(&row)?;
            bindings.insert(id, binding);
        }
        let round = plan_round(pings, &mut bindings);
        if !round.counted.is_empty() {
            let n = round.counted.len();
            let (mut ids, mut at, mut hub_time_ms) =
                (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut confirmed, mut pending) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut day_counts, mut days_from) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for (id, last) in &round.counted {
                let binding = &bindings[*id];
                ids.push(*id);
                at.push(*last);
                hub_time_ms.push(binding.last_hub_time_ms);
                confirmed.push(binding.chain.confirmed.map(|n| n.to_string()));
                pending.push(binding.chain.pending.map(|n| n.to_string()));
                day_counts.push(binding.history.encode());
                days_from.push(binding.history.first_day());
            }
            sqlx::query(COUNT)
                .bind(ids)
                .bind(at)
                .bind(hub_time_ms)
                .bind(confirmed)
                .bind(pending)
                .bind(day_counts)
                .bind(days_from)
                .execute(&mut *tx)
                .await?;
        }
        if !round.cloned.is_empty() {
            sqlx::query(CLONED).bind(round.cloned_at).bind(&round.cloned).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(round.outcomes)
    }
}
