//! The admin API at scale: pages and filters over thousands of licenses, batch
//! registration, lookup by key, and streamed usage exports.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Connection;
use tessera_core::UnixTime;
use tessera_portal::domain::standing::license_status;
use tessera_portal::store::day_counts::DayCounts;
use tessera_portal::store::{LicenseRow, LicenseState};

use crate::on_both_stores;

const DAY: i64 = 86_400;
const ORGS: [&str; 5] = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli"];
const PRODUCTS: [&str; 3] = ["acme-hub", "globex-hub", "edge-hub"];

/// A license row made up for listing (no signature needed to be listed), spread over
/// organizations, products, dates and states by `i`.
pub fn synthetic(i: u64, now: i64) -> LicenseRow {
    // A multiplicative hash scatters the ids, so that licenses added during a walk land
    // before and after its cursor.
    let scattered = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let pick = |n: u64| usize::try_from((scattered >> 20) % n).expect("small");
    let not_before = now + DAY * (i64::try_from(i % 7).expect("small") - 5);
    let expires_at = now + DAY * (i64::try_from(i % 11).expect("small") * 10 - 30);
    let terminates_at = i.is_multiple_of(3).then_some(expires_at + DAY * 20);
    LicenseRow {
        id: format!("{:08x}-{:04x}-4000-8000-{:012x}", scattered >> 32, i % 0xffff, i),
        key_sha256: format!("{:064x}", u128::from(i) * 7 + 1),
        org: ORGS[pick(5)].to_owned(),
        product: PRODUCTS[pick(3)].to_owned(),
        runners: 3,
        runner_countersign: false,
        not_before,
        expires_at,
        terminates_at,
        grace_period_secs: 7 * DAY,
        ping_interval_secs: 3600,
        state: match i % 17 {
            0 => LicenseState::Revoked,
            1 | 2 => LicenseState::Suspended,
            _ => LicenseState::Active,
        },
        registered_at: now,
        status_changed_at: now,
    }
}

/// What the walk knows of a license: its row, and its binding (activated, last ping).
#[derive(Clone)]
struct Known {
    row: LicenseRow,
    activated: bool,
    last_ping: Option<i64>,
}

/// A filter as a query string and as a rule over [`Known`].
struct Case {
    query: String,
    holds: Box<dyn Fn(&Known) -> bool>,
}

fn cases(now: UnixTime) -> Vec<Case> {
    let t = now.as_unix();
    let mut cases = vec![
        Case { query: String::new(), holds: Box::new(|_| true) },
        Case { query: "org=Globex".into(), holds: Box::new(|k| k.row.org == "Globex") },
        Case { query: "product=edge-hub".into(), holds: Box::new(|k| k.row.product == "edge-hub") },
        Case {
            query: format!("expiring_before={}", t + 30 * DAY),
            holds: Box::new(move |k| k.row.expires_at < t + 30 * DAY),
        },
        Case { query: "activated=true".into(), holds: Box::new(|k| k.activated) },
        Case { query: "activated=false".into(), holds: Box::new(|k| !k.activated) },
        Case {
            // An RFC 3339 time works as well as Unix seconds.
            query: format!(
                "silent_since={}",
                UnixTime::from_unix(t - DAY).expect("time").to_string().replace('+', "%2B")
            ),
            holds: Box::new(move |k| k.activated && k.last_ping.is_none_or(|p| p < t - DAY)),
        },
        Case {
            query: "org=Initech&standing=valid&activated=false".into(),
            holds: Box::new(move |k| {
                k.row.org == "Initech"
                    && !k.activated
                    && license_status(&k.row, now) == tessera_core::Status::Valid
            }),
        },
    ];
    for word in ["valid", "not_yet_valid", "expired", "terminated", "suspended", "revoked"] {
        cases.push(Case {
            query: format!("standing={word}"),
            holds: Box::new(move |k| license_status(&k.row, now).as_str() == word),
        });
    }
    cases
}

on_both_stores!(
    pages_walk_every_license_once_under_every_filter_while_licenses_are_added,
    tune = |mut layer| {
        layer.admin_requests_per_second = Some(10_000);
        layer
    },
    |app| {
        let mut known: BTreeMap<String, Known> = BTreeMap::new();
        // Real licenses, registered in one batch; some bound to hubs, some of those silent.
        let issued: Vec<_> = (0..12).map(|_| app.issue(|_| {})).collect();
        let texts: Vec<&str> = issued.iter().map(|(_, text)| text.as_str()).collect();
        let batch = app
            .post_json(
                "/v1/admin/licenses/batch",
                Some(&app.admin_key),
                &serde_json::json!({ "licenses": texts }),
            )
            .await;
        assert_eq!(batch.status, 200, "{batch:?}");
        app.clock.advance(std::time::Duration::from_secs(3 * 86_400));
        let now = app.now();
        let mut hubs = Vec::new();
        for (n, (claims, _)) in issued.iter().enumerate() {
            let id = claims.id.to_string();
            let row = app.portal.store.license(&id).await.expect("db").expect("registered");
            let mut entry = Known { row, activated: false, last_ping: None };
            if n < 8 {
                let mut hub = TestHub::new(&format!("host-{n}"), &app);
                let (answer, _) = hub.activate(&app, claims).await;
                assert_eq!(answer.status, 200, "{answer:?}");
                entry.activated = true;
                entry.last_ping = Some(now.as_unix());
                hubs.push((id.clone(), claims, hub));
            }
            known.insert(id, entry);
        }
        // Time passes; half of the bound hubs ping again (the others fall silent).
        app.clock.advance(std::time::Duration::from_secs(2 * 86_400));
        let now = app.now();
        for (id, claims, hub) in hubs.iter_mut().take(4) {
            let (answer, _) = hub.ping(&app, claims).await;
            assert_eq!(answer.status, 200, "{answer:?}");
            known.get_mut(id.as_str()).expect("known").last_ping = Some(now.as_unix());
        }
        // Ten thousand more, spread over organizations, products, dates and states.
        let rows: Vec<LicenseRow> = (0..10_000).map(|i| synthetic(i, now.as_unix())).collect();
        app.portal.store.register_licenses(&rows).await.expect("rows");
        for row in rows {
            known.insert(row.id.clone(), Known { row, activated: false, last_ping: None });
        }
        let key = Some(app.admin_key.as_str());
        let mut added_rows: BTreeMap<String, Known> = BTreeMap::new();
        let mut added = 0u64;
        for case in cases(now) {
            let expected: BTreeSet<&String> =
                known.iter().filter(|(_, k)| (case.holds)(k)).map(|(id, _)| id).collect();
            let mut seen: Vec<String> = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let mut path = format!("/v1/admin/licenses?limit=337&{}", case.query);
                if let Some(cursor) = &after {
                    path.push_str(&format!("&after={cursor}"));
                }
                let page = app.get(&path, key).await;
                assert_eq!(page.status, 200, "{path}: {page:?}");
                for license in page.body["licenses"].as_array().expect("licenses") {
                    seen.push(license["id"].as_str().expect("id").to_owned());
                }
                // Licenses registered while the walk goes on, some before the cursor.
                let more: Vec<LicenseRow> =
                    (0..25).map(|j| synthetic(1_000_000 + added + j, now.as_unix())).collect();
                added += 25;
                app.portal.store.register_licenses(&more).await.expect("more");
                for row in more {
                    added_rows
                        .insert(row.id.clone(), Known { row, activated: false, last_ping: None });
                }
                match page.body["next"].as_str() {
                    Some(next) => after = Some(next.to_owned()),
                    None => break,
                }
            }
            let unique: BTreeSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "{}: a license was repeated", case.query);
            let present: BTreeSet<&String> =
                seen.iter().filter(|id| known.contains_key(*id)).collect();
            assert_eq!(present, expected, "{}: skipped or wrongly included", case.query);
            assert!(!expected.is_empty(), "{}: the store has no case for it", case.query);
            // Licenses added during the walk may be seen or not, but only if they match.
            for id in seen.iter().filter(|id| !known.contains_key(*id)) {
                let added = added_rows.get(id).expect("a license the test registered");
                assert!((case.holds)(added), "{}: {id} does not match", case.query);
            }
        }
    }
);

on_both_stores!(list_queries_are_checked, |app| {
    let key = Some(app.admin_key.as_str());
    for (query, needle) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("standing=dormant", "standing"),
        ("expiring_before=soon", "expiring_before"),
        ("activated=maybe", "activated"),
        ("colour=blue", "colour"),
        ("format=csv", "format"),
        ("after=%00", "after"),
        ("org=Acme%00", "org"),
        ("product=x%0A", "product"),
        ("after=not%20an%20id", "after"),
    ] {
        let answer = app.get(&format!("/v1/admin/licenses?{query}"), key).await;
        assert_eq!((answer.status, answer.code()), (400, "invalid_query"), "{query}");
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {message}");
    }
    let answer = app.get("/v1/admin/usage?limit=10", key).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_query"));
});

on_both_stores!(a_batch_registers_many_and_answers_for_each, |app| {
    let issued: Vec<_> = (0..5).map(|_| app.issue(|_| {})).collect();
    assert_eq!(app.register(&issued[0].1).await.status, 201);
    let stranger = tessera_core::keys::SigningKey::generate().expect("key");
    let foreign = tessera_core::license::sign(&issued[1].0, &stranger).expect("sign");
    let mut licenses: Vec<String> = issued.iter().map(|(_, text)| text.clone()).collect();
    licenses.push(foreign);
    licenses.push("not a license".to_owned());
    licenses.push(issued[2].1.clone());
    let answer = app
        .post_json(
            "/v1/admin/licenses/batch",
            Some(&app.admin_key),
            &serde_json::json!({ "licenses": licenses }),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let outcomes: Vec<(&str, &str)> = answer.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["outcome"].as_str().unwrap_or("?"), r["status"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("already", "valid"),
            ("registered", "valid"),
            ("registered", "valid"),
            ("registered", "valid"),
            ("registered", "valid"),
            ("refused", "unknown_key"),
            ("refused", "malformed"),
            ("already", "valid"),
        ]
    );
    for (claims, _) in &issued {
        assert!(app.portal.store.license(&claims.id.to_string()).await.expect("db").is_some());
    }
    let empty = app
        .post_json(
            "/v1/admin/licenses/batch",
            Some(&app.admin_key),
            &serde_json::json!({ "licenses": [] }),
        )
        .await;
    assert_eq!((empty.status, empty.code()), (400, "invalid_fields"));
    let many = vec!["x"; 1001];
    let too_many = app
        .post_json(
            "/v1/admin/licenses/batch",
            Some(&app.admin_key),
            &serde_json::json!({ "licenses": many }),
        )
        .await;
    assert_eq!((too_many.status, too_many.code()), (400, "invalid_fields"));
    // A batch body may be far larger than other calls' (64 KiB), but not without end.
    let huge = vec!["x".repeat(1 << 20); 5];
    let too_large = app
        .post_json(
            "/v1/admin/licenses/batch",
            Some(&app.admin_key),
            &serde_json::json!({ "licenses": huge }),
        )
        .await;
    assert_eq!(too_large.status, 413);
});

on_both_stores!(a_license_is_found_by_its_key_sent_in_a_body, |app| {
    let (claims, text) = app.issue(|_| {});
    assert_eq!(app.register(&text).await.status, 201);
    let key = Some(app.admin_key.as_str());
    // As a person pastes it: lower case, spaces.
    let typed = claims.key.expose().to_lowercase().replace('-', " ");
    let found = app
        .post_json("/v1/admin/licenses/lookup", key, &serde_json::json!({ "license_key": typed }))
        .await;
    assert_eq!(found.status, 200, "{found:?}");
    assert_eq!(found.body["license"]["id"].as_str(), Some(claims.id.to_string().as_str()));
    assert_eq!(found.body["license"]["status"].as_str(), Some("valid"));
    let by_id = app
        .post_json("/v1/admin/licenses/lookup", key, &serde_json::json!({ "id": claims.id }))
        .await;
    assert_eq!(by_id.body["license"]["key_sha256"], found.body["license"]["key_sha256"]);
    let other = tessera_core::license::LicenseKey::generate().expect("key");
    let unknown = app
        .post_json(
            "/v1/admin/licenses/lookup",
            key,
            &serde_json::json!({ "license_key": other.expose() }),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "unknown_license"));
    let both = app
        .post_json(
            "/v1/admin/licenses/lookup",
            key,
            &serde_json::json!({ "license_key": other.expose(), "id": claims.id }),
        )
        .await;
    assert_eq!((both.status, both.code()), (400, "invalid_fields"));
    let garbled = app
        .post_json("/v1/admin/licenses/lookup", key, &serde_json::json!({ "license_key": "x" }))
        .await;
    assert_eq!((garbled.status, garbled.code()), (400, "invalid_fields"));
});

/// Adds `months` months of pings (and one day not yet rolled up, `today`) for each of
/// `licenses`, straight into the store at `url`, as years of hourly pings would have left
/// them.
pub async fn seed_usage(url: &str, licenses: &[LicenseRow], months: i64, today: UnixTime) {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(url).await.expect("connect");
    let mut tx = db.begin().await.expect("begin");
    for chunk in licenses.chunks(200) {
        let mut values = Vec::new();
        for license in chunk {
            for m in 0..months {
                let month = 202_501 + (m / 12) * 100 + m % 12;
                values.push(format!("('{}', {month}, {})", license.id, 700 + m));
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO ping_months (license_id, month, pings) VALUES {}",
            values.join(", ")
        )))
        .execute(&mut *tx)
        .await
        .expect("months");
        for license in chunk {
            let mut history = DayCounts::default();
            history.add(today.as_unix() / DAY, 24);
            sqlx::query("UPDATE licenses SET day_counts = $1, days_from = $2 WHERE id = $3")
                .bind(history.encode())
                .bind(history.first_day())
                .bind(&license.id)
                .execute(&mut *tx)
                .await
                .expect("day counts");
        }
    }
    tx.commit().await.expect("commit");
}

on_both_stores!(usage_exports_stream_every_row_in_three_formats_with_filters, |app| {
    let t = app.now().as_unix();
    let rows: Vec<LicenseRow> = (0..2_500).map(|i| synthetic(i, t)).collect();
    app.portal.store.register_licenses(&rows).await.expect("rows");
    seed_usage(app.portal.settings.database_url.expose(), &rows, 12, app.now()).await;
    let body = |query: &str| {
        let request = app
            .http
            .get(format!("{}/v1/admin/usage?{query}", app.address))
            .bearer_auth(&app.admin_key);
        async move {
            let response = request.send().await.expect("export");
            assert_eq!(response.status(), 200);
            response.text().await.expect("body")
        }
    };
    // Every license: 12 months plus the current month's unrolled day.
    let expected_rows = rows.len() * 13;
    let lines = body("format=jsonl").await;
    let parsed: Vec<serde_json::Value> =
        lines.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(parsed.len(), expected_rows);
    let ids: Vec<&str> = parsed.iter().map(|r| r["license_id"].as_str().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "in license id order");
    let total: i64 = parsed.iter().map(|r| r["pings"].as_i64().expect("pings")).sum();
    let per_license: i64 = (0..12).map(|m| 700 + m).sum::<i64>() + 24;
    assert_eq!(total, per_license * i64::try_from(rows.len()).expect("small"));

    let json: serde_json::Value = serde_json::from_str(&body("").await).expect("JSON");
    assert_eq!(json["usage"].as_array().expect("usage").len(), expected_rows);
    let csv = body("format=csv").await;
    assert!(csv.starts_with("license_id,org,product,month,pings\n"), "{}", &csv[..80]);
    assert_eq!(csv.lines().count(), expected_rows + 1);

    let globex = rows.iter().filter(|r| r.org == "Globex").count();
    let filtered = body("format=jsonl&org=Globex").await;
    assert_eq!(filtered.lines().count(), globex * 13);
    let none = body("format=csv&org=Nobody").await;
    assert_eq!(none, "license_id,org,product,month,pings\n");
    let none: serde_json::Value = serde_json::from_str(&body("org=Nobody").await).expect("JSON");
    assert_eq!(none, serde_json::json!({ "usage": [] }));
});

on_both_stores!(organizations_are_paged_in_name_order_with_their_license_counts, |app| {
    let t = app.now().as_unix();
    let mut rows: Vec<LicenseRow> = (0..300).map(|i| synthetic(i, t)).collect();
    // 150 more organizations, the even ones with two licenses.
    for n in 0..150u64 {
        for copy in 0..(1 + (n + 1) % 2) {
            let mut row = synthetic(10_000 + n * 2 + copy, t);
            row.org = format!("Org {n:03}");
            rows.push(row);
        }
    }
    app.portal.store.register_licenses(&rows).await.expect("rows");
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        *expected.entry(row.org.clone()).or_default() += 1;
    }
    let key = Some(app.admin_key.as_str());
    let (mut seen, mut after, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let cursor =
            after.as_ref().map(|a| format!("&after={}", urlencoding(a))).unwrap_or_default();
        let page = app.get(&format!("/v1/admin/organizations?limit=7{cursor}"), key).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        pages += 1;
        for entry in page.body["organizations"].as_array().expect("organizations") {
            let org = entry["org"].as_str().expect("org").to_owned();
            seen.push((org, entry["licenses"].as_i64().expect("count")));
        }
        match page.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected.into_iter().collect::<Vec<_>>(), "each once, in name order");
    assert_eq!(pages, 155usize.div_ceil(7));
    for query in ["limit=0", "limit=1001", "org=x", "after=Org%00"] {
        let answer = app.get(&format!("/v1/admin/organizations?{query}"), key).await;
        assert_eq!((answer.status, answer.code()), (400, "invalid_query"), "{query}");
    }
    assert_eq!(app.get("/v1/admin/organizations", None).await.status, 401);
});

/// `text` for a query string.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

on_both_stores!(the_list_by_last_validation_pages_through_both_parts_both_ways, |app| {
    use tessera_portal::store::{LicenseFilter, LicenseSort, ListCursor, ListOrder};
    let store = &app.portal.store;
    let now = app.now();
    let t = now.as_unix();
    // 60 licenses: 20 never bound, 10 bound and never pinged, 30 pinged, three at each of
    // ten times (ties broken by the id).
    let rows: Vec<LicenseRow> = (0..60).map(|i| synthetic(i, t)).collect();
    store.register_licenses(&rows).await.expect("rows");
    let mut last_ping: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let last = match i {
            0..20 => {
                last_ping.insert(row.id.clone(), None);
                continue;
            }
            20..30 => None,
            _ => Some(t - 1000 * i64::try_from(i % 10).expect("small")),
        };
        last_ping.insert(row.id.clone(), last);
        sqlx::query(
            "INSERT INTO activations (license_id, fingerprint, hub_key, activated_at, \
             last_ping_at, last_hub_time_ms) VALUES ($1, '{}', $2, $3, $4, 0)",
        )
        .bind(row.id.clone())
        .bind(format!("tessera-pub-v1:hub{i}"))
        .bind(t)
        .bind(last)
        .execute(store.pool())
        .await
        .expect("binding");
    }
    let product = PRODUCTS[0].to_owned();
    let filters = [
        ("every license", LicenseFilter::default(), None),
        ("bound", LicenseFilter { activated: Some(true), ..Default::default() }, None),
        ("one product", LicenseFilter { product: Some(product.clone()), ..Default::default() }, {
            Some(product)
        }),
    ];
    for (name, filter, product) in &filters {
        let held = |row: &LicenseRow| {
            (filter.activated != Some(true) || rows.iter().position(|r| r.id == row.id) >= Some(20))
                && product.as_ref().is_none_or(|p| &row.product == p)
        };
        for descending in [false, true] {
            // Never pinged first (as before every ping), then by the last ping; the id breaks
            // ties.
            let mut expected: Vec<(i64, String)> = rows
                .iter()
                .filter(|row| held(row))
                .map(|row| (last_ping[&row.id].unwrap_or(-1), row.id.clone()))
                .collect();
            expected.sort();
            if descending {
                expected.reverse();
            }
            let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
            let order = ListOrder { sort: LicenseSort::LastPing, descending };
            for limit in [1u32, 7, 25, 100] {
                let what = format!("{name}, descending {descending}, {limit} a page");
                // Forwards, page after page.
                let mut walked: Vec<String> = Vec::new();
                let mut cursor = ListCursor::Start;
                let mut last_id;
                loop {
                    let page =
                        store.license_list(filter, order, cursor, limit, now).await.expect("page");
                    let ids: Vec<String> = page.iter().map(|s| s.license.id.clone()).collect();
                    assert!(ids.len() <= limit as usize, "{what}");
                    let at = walked.len();
                    assert_eq!(ids, expected[at..(at + ids.len())], "{what}: page at {at}");
                    walked.extend(ids);
                    match walked.last() {
                        Some(id) if page.len() == limit as usize => last_id = id.clone(),
                        _ => break,
                    }
                    cursor = ListCursor::After(&last_id);
                }
                assert_eq!(walked, expected, "{what}: forwards");
                // Backwards from the last license, page before page.
                let Some(end) = expected.last() else { continue };
                let mut back: Vec<String> = vec![end.clone()];
                let mut first_id = end.clone();
                loop {
                    let cursor = ListCursor::Before(&first_id);
                    let page =
                        store.license_list(filter, order, cursor, limit, now).await.expect("page");
                    let ids: Vec<String> = page.iter().map(|s| s.license.id.clone()).collect();
                    let at = expected.len() - back.len() - ids.len();
                    assert_eq!(ids, expected[at..(at + ids.len())], "{what}: page before");
                    back.splice(0..0, ids.iter().cloned());
                    match ids.first() {
                        Some(id) if ids.len() == limit as usize => first_id = id.clone(),
                        _ => break,
                    }
                }
                assert_eq!(back, expected, "{what}: backwards");
            }
        }
    }
    // A cursor that is no license answers an empty page, as the other orders do.
    let order = ListOrder { sort: LicenseSort::LastPing, descending: true };
    let filter = LicenseFilter::default();
    let none = store.license_list(&filter, order, ListCursor::After("nothing"), 10, now).await;
    assert!(none.expect("page").is_empty());
});
