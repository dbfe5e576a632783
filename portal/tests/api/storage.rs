use sqlx::Row;
use tessera_portal::domain::pings::record as record_pings;
use tessera_portal::store::{Backend, DAYS_KEPT, PingOutcome, PingRecord, day_of};

use crate::helpers::TestApp;
use crate::on_both_stores;

async fn columns(app: &TestApp, table: &str) -> Vec<String> {
    let sql = match app.portal.store.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1)",
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1"
        }
    };
    sqlx::query(sql)
        .bind(table)
        .fetch_all(app.portal.store.pool())
        .await
        .expect("columns")
        .iter()
        .map(|row| row.try_get::<String, _>(0).expect("name"))
        .collect()
}

on_both_stores!(the_schema_has_no_column_for_addresses_agents_bodies_or_raw_keys, |app| {
    let tables = ["licenses", "activations", "ping_days", "ping_months", "api_keys"];
    let mut all = Vec::new();
    for table in tables {
        let found = columns(&app, table).await;
        assert!(!found.is_empty(), "table {table} not found");
        all.extend(found.into_iter().map(|c| format!("{table}.{c}")));
    }
    for column in &all {
        let lower = column.to_lowercase();
        for forbidden in ["ip", "addr", "agent", "body", "request", "email", "user", "host"] {
            let field = lower.split('.').nth(1).unwrap_or_default();
            assert!(
                !field.split('_').any(|word| word == forbidden),
                "column {column} looks like it stores {forbidden}"
            );
        }
        // Keys and secrets appear only as hashes.
        let field = lower.split('.').nth(1).unwrap_or_default();
        if field.contains("key") || field.contains("secret") {
            assert!(
                // Hub keys are public keys (and a reset's admitted key, a public key id).
                lower.ends_with("_sha256")
                    || lower.ends_with("activations.hub_key")
                    || lower.ends_with("activations.previous_hub_key")
                    || lower.ends_with("licenses.admit_hub_key"),
                "{column} stores a key that is not a hash"
            );
        }
    }
    // (The people tables, users and sessions, are checked in web.rs.)
    assert_eq!(all.len(), 19 + 19 + 3 + 3 + 10, "a new column needs a look: {all:?}");

    // And no raw license key lands anywhere in the database file.
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    if app.portal.store.backend() == Backend::Sqlite {
        app.portal.store.pool().close().await;
        let mut everything = Vec::new();
        for entry in std::fs::read_dir(app.dir.path().join("data")).expect("ls") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("portal.db")) {
                everything.extend(std::fs::read(&path).expect("read"));
            }
        }
        let key = license.key.expose();
        assert!(
            !everything.windows(key.len()).any(|w| w == key.as_bytes()),
            "raw license key stored"
        );
    }
});

on_both_stores!(the_rollup_conserves_totals_across_the_90_day_boundary_and_is_idempotent, |app| {
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let store = &app.portal.store;
    let now = app.now();
    // Pings on 200 consecutive days ending today, some days several.
    let mut hub_time = hub.time_ms;
    let mut expected_total = 0i64;
    for back in 0..200i64 {
        let at = tessera_core::UnixTime::from_unix(now.as_unix() - back * 86_400).expect("t");
        let pings = 1 + back % 3;
        for _ in 0..pings {
            hub_time += 1;
            let record = PingRecord {
                license_id: id.clone(),
                hub_key: hub.key.public_key().to_string(),
                hub_time_ms: hub_time,
                at,
                holds: None,
                answer: tessera_core::receipt::Nonce::generate().expect("nonce"),
                held_at: None,
            };
            let outcome = record_pings(store, &[record]).await.expect("record");
            assert_eq!(outcome, vec![tessera_portal::store::PingOutcome::Counted]);
            expected_total += 1;
        }
    }
    let total =
        |usage: &[tessera_portal::store::MonthlyUsage]| usage.iter().map(|u| u.pings).sum::<i64>();
    let before = store.monthly_usage(&id).await.expect("usage");
    assert_eq!(total(&before), expected_total);

    let report = app.portal.rollup().await.expect("rollup");
    assert_eq!(report.days_rolled as i64, 200 - DAYS_KEPT);
    let after = store.monthly_usage(&id).await.expect("usage");
    assert_eq!(after, before, "every month's total is unchanged by the rollup");
    let days = store.daily_pings(&id).await.expect("days");
    assert_eq!(days.len() as i64, DAYS_KEPT);
    assert!(days.iter().all(|(day, _)| *day > day_of(now) - DAYS_KEPT));

    let again = app.portal.rollup().await.expect("rollup");
    assert_eq!(again.days_rolled, 0);
    assert_eq!(store.monthly_usage(&id).await.expect("usage"), before);
});

on_both_stores!(the_rollup_walks_every_license_in_chunks_and_conserves_totals, |app| {
    // More licenses than one rollup transaction takes (1,000), each with 100 days of history:
    // every one is rolled, once, and not a ping is lost.
    let store = &app.portal.store;
    let today = day_of(app.now());
    let rows: Vec<_> =
        (0..2_500).map(|i| crate::listing::synthetic(i, app.now().as_unix())).collect();
    store.register_licenses(&rows).await.expect("licenses");
    let mut history = tessera_portal::store::day_counts::DayCounts::default();
    for day in today - 99..=today {
        history.add(day, 3);
    }
    sqlx::query("UPDATE licenses SET day_counts = $1, days_from = $2")
        .bind(history.encode())
        .bind(history.first_day())
        .execute(store.pool())
        .await
        .expect("history");
    let before = store.day_pings_total().await.expect("total");
    assert_eq!(before, 2_500 * 100 * 3);
    let report = app.portal.rollup().await.expect("rollup");
    assert_eq!(report.days_rolled, 2_500 * (100 - DAYS_KEPT as u64));
    assert_eq!(report.pings_moved, 2_500 * (100 - DAYS_KEPT) * 3);
    assert_eq!(store.day_pings_total().await.expect("total"), 2_500 * DAYS_KEPT * 3);
    let months: i64 = sqlx::query("SELECT CAST(SUM(pings) AS BIGINT) FROM ping_months")
        .fetch_one(store.pool())
        .await
        .expect("months")
        .try_get(0)
        .expect("sum");
    assert_eq!(months + store.day_pings_total().await.expect("total"), before);
    assert_eq!(app.portal.rollup().await.expect("rollup").days_rolled, 0);
});

on_both_stores!(a_ping_checked_against_a_replaced_hub_key_is_not_counted, |app| {
    // A ping is checked against the bound hub key, then written; if the same host
    // re-activated with a new key in between, the write must refuse it. Both ping paths'
    // writes are driven directly: the race itself is too narrow to hit over HTTP.
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut old = TestHub::new("host-a", &app);
    assert_eq!(old.activate(&app, &license).await.0.status, 200);
    let mut new = TestHub::new("host-a", &app);
    new.time_ms = old.time_ms;
    let (answer, _) = new.activate(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, tessera_core::Status::Valid);
    let record = |hub: &TestHub, hub_time_ms: i64| PingRecord {
        license_id: id.clone(),
        hub_key: hub.key.public_key().to_string(),
        hub_time_ms,
        at: app.now(),
        holds: None,
        answer: tessera_core::receipt::Nonce::generate().expect("nonce"),
        held_at: None,
    };
    let store = &app.portal.store;
    let later = new.time_ms + 1_000;
    assert_eq!(
        record_pings(store, &[record(&old, later)]).await.expect("record"),
        [PingOutcome::WrongKey]
    );
    assert!(store.daily_pings(&id).await.expect("days").is_empty(), "nothing was counted");
    assert_eq!(
        record_pings(store, &[record(&new, later + 2)]).await.expect("record"),
        [PingOutcome::Counted]
    );
    assert_eq!(
        record_pings(store, &[record(&new, later + 2)]).await.expect("record"),
        [PingOutcome::Stale]
    );
});

on_both_stores!(one_round_judges_a_license_twice_in_order_beside_unknown_and_replayed, |app| {
    // A round's write judges its pings in order against the binding as the earlier ones in
    // the same round left it (the pooled path reads all bindings once, then writes all).
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut hub = TestHub::new("host-a", &app);
    assert_eq!(hub.activate(&app, &license).await.0.status, 200);
    let record = |license_id: &str, hub_time_ms: i64| PingRecord {
        license_id: license_id.to_owned(),
        hub_key: hub.key.public_key().to_string(),
        hub_time_ms,
        at: app.now(),
        holds: None,
        answer: tessera_core::receipt::Nonce::generate().expect("nonce"),
        held_at: None,
    };
    let t = hub.time_ms + 1_000;
    let unknown = "01900000-0000-7000-8000-000000000000";
    let round = [record(&id, t), record(unknown, t), record(&id, t + 1), record(&id, t + 1)];
    assert_eq!(
        record_pings(&app.portal.store, &round).await.expect("record"),
        [PingOutcome::Counted, PingOutcome::NotActivated, PingOutcome::Counted, PingOutcome::Stale]
    );
    let days = app.portal.store.daily_pings(&id).await.expect("days");
    assert_eq!(days.iter().map(|(_, count)| *count).sum::<i64>(), 2, "{days:?}");
    // The next round starts from the second ping's hub time.
    assert_eq!(
        record_pings(&app.portal.store, &[record(&id, t + 1)]).await.expect("record"),
        [PingOutcome::Stale]
    );
});

on_both_stores!(a_round_looked_up_answers_each_ping_in_order_a_license_twice_too, |app| {
    // The checker's one read: each ping of a round gets its license and binding, in order,
    // a license that pings twice in the round both times.
    let license = app.registered_license().await;
    let id = license.id.to_string();
    let mut hub = TestHub::new("host-a", &app);
    assert_eq!(hub.activate(&app, &license).await.0.status, 200);
    let unknown = "01900000-0000-7000-8000-000000000000".to_owned();
    let round = [id.clone(), unknown, id.clone(), id.clone()];
    let source = app.portal.store.ping_source().clone();
    // On its own thread, as the pipeline's: a PostgreSQL reader runs a runtime of its own.
    let found = std::thread::spawn(move || {
        let mut reader = source.reader().expect("reader");
        reader.lookup(&round.iter().map(String::as_str).collect::<Vec<_>>()).expect("lookup")
    })
    .join()
    .expect("reader thread");
    let bound = hub.key.public_key().to_string();
    let seen: Vec<Option<(String, Option<String>)>> = found
        .into_iter()
        .map(|f| f.map(|f| (f.license.id, f.activation.map(|a| a.hub_key))))
        .collect();
    let hit = Some((id, Some(bound)));
    assert_eq!(seen, [hit.clone(), None, hit.clone(), hit]);
});

on_both_stores!(
    day_rows_an_earlier_version_wrote_move_into_the_license_and_every_count_stays,
    |app| {
        let license = app.registered_license().await;
        let id = license.id.to_string();
        let mut hub = TestHub::new("host-a", &app);
        hub.activate(&app, &license).await;
        let (answer, _) = hub.ping(&app, &license).await;
        assert_eq!(answer.status, 200);
        let today = day_of(app.now());
        // Rows as an earlier version left them in ping_days: today's (to be merged with the
        // ping just counted) and two older days.
        let pool = app.portal.store.pool();
        for (day, pings) in [(today, 5i64), (today - 3, 24), (today - 40, 7)] {
            sqlx::query("INSERT INTO ping_days (license_id, day, pings) VALUES ($1, $2, $3)")
                .bind(&id)
                .bind(day)
                .bind(pings)
                .execute(pool)
                .await
                .expect("old row");
        }
        // The next start moves them.
        let url = app.portal.settings.database_url.expose().to_owned();
        let reopened = tessera_portal::store::Store::open(&url).await.expect("reopen");
        let days = reopened.daily_pings(&id).await.expect("days");
        assert_eq!(days, vec![(today - 40, 7), (today - 3, 24), (today, 6)]);
        let left: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ping_days")
            .fetch_one(reopened.pool())
            .await
            .expect("count");
        assert_eq!(left, 0);
        // A second start finds nothing to move and changes nothing.
        let again = tessera_portal::store::Store::open(&url).await.expect("reopen");
        assert_eq!(again.daily_pings(&id).await.expect("days"), days);
        let monthly: i64 =
            again.monthly_usage(&id).await.expect("usage").iter().map(|u| u.pings).sum();
        assert_eq!(monthly, 7 + 24 + 6);
    }
);

/// Every `table.column` the schema has, but the migrations' own table.
async fn schema_columns(app: &TestApp) -> std::collections::BTreeSet<String> {
    let tables: Vec<String> = match app.portal.store.backend() {
        Backend::Sqlite => sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'sqlite_%'",
        ),
        Backend::Postgres => sqlx::query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
        ),
    }
    .fetch_all(app.portal.store.pool())
    .await
    .expect("tables")
    .iter()
    .map(|row| row.try_get::<String, _>(0).expect("name"))
    .collect();
    let mut all = std::collections::BTreeSet::new();
    for table in tables {
        for column in columns(app, &table).await {
            all.insert(format!("{table}.{column}"));
        }
    }
    all
}

on_both_stores!(privacy_md_lists_every_column_of_the_schema, |app| {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PRIVACY.md"),
    )
    .expect("docs/PRIVACY.md");
    // The first cell of every table row: `table.column`.
    let documented: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .collect();
    // SQLite's name index is tables of its own (PostgreSQL's is an index of `licenses`).
    let sqlite_only: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|line| line.contains("(SQLite only"))
        .filter_map(|line| line.strip_prefix("| `")?.split_once('`').map(|(n, _)| n.to_owned()))
        .collect();
    let real = schema_columns(&app).await;
    let undocumented: Vec<_> = real.difference(&documented).collect();
    let gone: Vec<_> = documented
        .difference(&real)
        .filter(|name| {
            app.portal.store.backend() == Backend::Sqlite || !sqlite_only.contains(*name)
        })
        .collect();
    assert!(undocumented.is_empty(), "columns missing from docs/PRIVACY.md: {undocumented:?}");
    assert!(gone.is_empty(), "docs/PRIVACY.md lists columns the schema has not: {gone:?}");
});

on_both_stores!(a_license_is_deleted_seven_years_after_its_contract_ends_with_its_counts, |app| {
    // Ends 2028-03-01 (the helper's default); another terminates later than it expires.
    let (ended, ended_text) = app.issue(|_| {});
    let (later, later_text) = app.issue(|t| {
        t.terminates_at = Some("2030-06-01T00:00:00Z".parse().expect("t"));
    });
    assert_eq!(app.register(&ended_text).await.status, 201);
    assert_eq!(app.register(&later_text).await.status, 201);
    let mut hub = TestHub::new("retention", &app);
    hub.activate(&app, &ended).await;
    hub.ping(&app, &ended).await;
    let (ended_id, later_id) = (ended.id.to_string(), later.id.to_string());
    let store = &app.portal.store;

    // Seven years after 2028-03-01, less a day: both stay.
    app.clock.set("2035-02-27T00:00:00Z".parse().expect("t"));
    assert_eq!(app.portal.forget_ended_licenses().await.expect("job"), 0);
    // A week later the first is gone, with its binding and counts; the other ends in 2030.
    app.clock.set("2035-03-08T00:00:00Z".parse().expect("t"));
    assert_eq!(app.portal.forget_ended_licenses().await.expect("job"), 1);
    assert!(store.license(&ended_id).await.expect("db").is_none());
    assert!(store.activation(&ended_id).await.expect("db").is_none());
    assert!(store.monthly_usage(&ended_id).await.expect("db").is_empty());
    assert!(store.license(&later_id).await.expect("db").is_some());
    app.clock.set("2037-06-02T00:00:00Z".parse().expect("t"));
    assert_eq!(app.portal.forget_ended_licenses().await.expect("job"), 1);
    assert!(store.license(&later_id).await.expect("db").is_none());
});

on_both_stores!(
    ledger_entries_are_cut_after_seven_years_at_a_signed_checkpoint_and_still_verify,
    |app| {
        use tessera_core::ledger::{CUT_ACTION, Export, LedgerError, verify};
        // Entries now (the admin key's, a registration, a suspension)...
        let claims = app.registered_license().await;
        let id = claims.id.to_string();
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
        // ...and seven years and a week later, one more.
        app.clock.advance(std::time::Duration::from_secs((7 * 365 + 9) * 86_400));
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await.status, 200);
        let cut = app.portal.cut_ledger().await.expect("cut");
        assert_eq!(cut, 3, "the three old entries go");
        assert_eq!(app.portal.cut_ledger().await.expect("again"), 0);
        let export = async || {
            let text = app
                .http
                .get(format!("{}/v1/admin/audit", app.address))
                .bearer_auth(&app.admin_key)
                .send()
                .await
                .expect("audit")
                .text()
                .await
                .expect("body");
            Export::from_lines(text.lines()).expect("export")
        };
        // What is left verifies from the frontier and the checkpoint alone, and an entry
        // records the cut.
        let after_cut = export().await;
        let verified = verify(&after_cut, &app.trust, None).expect("sound after the cut");
        assert_eq!((verified.starts_after, verified.entries), (3, 2), "{verified:?}");
        let (cut_entry, _) = after_cut.entries.last().expect("the cut entry");
        assert_eq!(cut_entry.action, CUT_ACTION);
        assert_eq!(cut_entry.target, "seq:1-3 count:3");
        // The tree goes on after the cut, and the export verifies against the one before.
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
        let verified =
            verify(&export().await, &app.trust, Some(&after_cut)).expect("sound across the cut");
        assert_eq!((verified.starts_after, verified.entries), (3, 3), "{verified:?}");
        assert_eq!(verified.extends, Some(5));

        // An insider deletes the oldest entry held and writes the frontier it leaves (correct,
        // computed from the export): no cut entry records it.
        let mut frontier = after_cut.frontier.clone().expect("a frontier");
        frontier.push(after_cut.entries[0].1);
        let pool = app.portal.store.pool();
        sqlx::query("DELETE FROM ledger WHERE seq = 4").execute(pool).await.expect("delete");
        let hashes: Vec<String> = frontier.hashes().iter().map(hex::encode).collect();
        sqlx::query("UPDATE ledger_frontier SET size = 4, hashes = $1")
            .bind(hashes.join(" "))
            .execute(pool)
            .await
            .expect("frontier");
        assert_eq!(
            verify(&export().await, &app.trust, None),
            Err(LedgerError::UnrecordedCut { to: 4 })
        );
    }
);

on_both_stores!(
    a_witness_file_that_is_corrupt_or_of_another_history_stops_signing_but_not_the_portal,
    |app| {
        let claims = app.registered_license().await;
        let id = claims.id.to_string();
        // Signed now, or a moment ago by the portal's own minute: either way covered.
        app.portal.sign_ledger_head().await.expect("signs");
        assert_eq!(app.portal.ledger_refused(), None);
        let store = &app.portal.store;
        let size = store.ledger_size().await.expect("size");
        assert_eq!(store.last_checkpoint_size().await.expect("size"), Some(size));
        let witness = app.portal.ledger_witness();
        let signed = std::fs::read_to_string(&witness).expect("the witness file is written");
        // Corrupt: refused, said, and hubs still served.
        std::fs::write(&witness, "not a checkpoint\n").expect("write");
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
        assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
        let why = app.portal.ledger_refused().expect("refused");
        assert!(why.contains("is not a checkpoint"), "{why}");
        let ready = app.get("/readyz", None).await;
        assert_eq!(ready.status, 200, "{}", ready.body);
        assert_eq!(ready.body["ledger"]["signing"], false);
        // Put back, the portal signs again.
        std::fs::write(&witness, &signed).expect("write");
        assert!(app.portal.sign_ledger_head().await.expect("signs"));
        assert_eq!(app.portal.ledger_refused(), None);
        // A witness from the future (more entries than the database holds): refused.
        let mut later = tessera_core::ledger::Export::from_lines(signed.lines()).expect("line");
        let newest = later.checkpoints.pop().expect("one");
        let bigger = newest.note.replacen(
            &format!("\n{}\n", newest.checkpoint.size),
            &format!("\n{}\n", newest.checkpoint.size + 100),
            1,
        );
        let line =
            tessera_core::ledger::Signed::parse(&bigger, newest.signed_at).expect("note").to_line();
        std::fs::write(&witness, line + "\n").expect("write");
        assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/reinstate")).await.status, 200);
        assert!(!app.portal.sign_ledger_head().await.expect("no store error"));
        let why = app.portal.ledger_refused().expect("refused");
        assert!(why.contains("does not extend the checkpoint"), "{why}");
    }
);

on_both_stores!(a_nul_character_in_any_value_is_a_bad_request_not_a_crash, |app| {
    // PostgreSQL stores no NUL in text: the portal answers the caller's mistake as one, on
    // both stores alike.
    let key = Some(app.admin_key.as_str());
    let api = app.get("/v1/admin/licenses/a%00b", key).await;
    // SQLite holds any text: no such license. PostgreSQL: the value itself is refused.
    match app.portal.store.backend() {
        Backend::Sqlite => assert_eq!(api.status, 404, "{api:?}"),
        Backend::Postgres => {
            assert_eq!(api.status, 400, "{api:?}");
            assert!(api.body.to_string().contains("NUL character"), "{api:?}");
        }
    }
    let export = app.get("/v1/admin/people/a%00/export", key).await;
    assert!(matches!(export.status, 400 | 404), "{export:?}");
    // The store itself names the refusal as the caller's.
    if app.portal.store.backend() == Backend::Postgres {
        let refused = app.portal.store.license("a\0b").await.expect_err("no NUL in PostgreSQL");
        assert!(refused.is_unstorable_text(), "{refused}");
    }
});
