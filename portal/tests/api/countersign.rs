//! Runner keys countersigned in ping receipts (a license with `runner_countersign`): at most
//! the license's runner limit at once, each key holding its place until the grace of the
//! last receipt that named it ends.

use std::time::Duration;

use tessera_core::Status;
use tessera_core::keys::{KeyId, SigningKey};
use tessera_core::receipt::Countersigned;

use crate::helpers::{TestApp, TestHub};
use crate::on_both_stores;
use tessera_core::license::Claims;

pub(crate) fn runner(seed: u8) -> KeyId {
    SigningKey::from_seed(&[seed; 32]).key_id()
}

/// A registered countersign license for 2 runners with a one-day grace, and its hub, activated.
pub(crate) async fn countersign_hub(app: &TestApp) -> (tessera_core::license::Claims, TestHub) {
    let (license, text) = app.issue(|terms| {
        terms.runners = 2;
        terms.grace_period = Duration::from_secs(86_400);
        terms.runner_countersign = true;
    });
    assert_eq!(app.register(&text).await.status, 201);
    let mut hub = TestHub::new("host-a", app);
    let (answer, _) = hub.activate(app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, Status::Valid);
    (license, hub)
}

/// Pings an hour later asking for `runners`; the receipt's countersignature.
pub(crate) async fn ask(
    app: &TestApp,
    hub: &mut TestHub,
    license: &Claims,
    runners: &[KeyId],
) -> Countersigned {
    app.clock.advance(Duration::from_secs(3600));
    hub.runners = Some(runners.to_vec());
    let (answer, _) = hub.ping(app, license).await;
    let receipt = app.verify_receipt(&answer);
    assert_eq!(receipt.status, Status::Valid);
    receipt.runners.expect("the receipt answers the runner keys asked for")
}

on_both_stores!(the_portal_countersigns_at_most_the_runner_limit, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    let answer = ask(&app, &mut hub, &license, &[runner(1), runner(2), runner(3)]).await;
    assert_eq!(answer.limit, 2);
    assert_eq!(answer.keys, [runner(1), runner(2)]);
    assert_eq!(answer.refused, [runner(3)]);
    // The honest hub's next ping: the same two are countersigned again.
    let again = ask(&app, &mut hub, &license, &[runner(1), runner(2)]).await;
    assert_eq!((again.keys, again.refused), (vec![runner(1), runner(2)], vec![]));
    // Only key ids are kept, each until the grace of the receipt that named it last ends
    // (a day), and the hour a runner's check allows a clock behind.
    let rows = app.portal.store.countersigned_runners(&license.id.to_string()).await.expect("db");
    let until = app.now().as_unix() + 86_400 + 3600;
    let mut kept: Vec<(String, i64)> =
        rows.into_iter().map(|r| (r.runner_place, r.until)).collect();
    kept.sort();
    let mut expected = vec![(runner(1).to_string(), until), (runner(2).to_string(), until)];
    expected.sort();
    assert_eq!(kept, expected);
});

on_both_stores!(a_hub_rotating_keys_across_pings_never_gets_more_than_the_limit, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    let first = ask(&app, &mut hub, &license, &[runner(1), runner(2)]).await;
    assert_eq!(first.keys, [runner(1), runner(2)]);
    // A patched hub drops 1 and 2 from its list and asks for two more: 1 and 2 still run on
    // the receipt that named them, so the new keys get nothing, ping after ping, within its grace.
    for _ in 0..23 {
        let rotated = ask(&app, &mut hub, &license, &[runner(3), runner(4)]).await;
        assert!(rotated.keys.is_empty(), "{rotated:?}");
        assert_eq!(rotated.refused, [runner(3), runner(4)]);
    }
});

on_both_stores!(a_key_whose_countersignature_ended_frees_its_place, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    ask(&app, &mut hub, &license, &[runner(1), runner(2)]).await;
    // Runner 2 released at the hub: from the next ping on only 1 is asked for. Key 2 holds its
    // place as long as a runner may run on the last receipt naming it: its grace (a day) and
    // the hour a runner's check allows a clock behind.
    let held = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!((held.keys, held.refused), (vec![runner(1)], vec![runner(3)]));
    app.clock.advance(Duration::from_secs(86_400 - 3 * 3600));
    let still = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!(still.refused, [runner(3)], "two hours before key 2's end");
    let tolerated = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!(tolerated.refused, [runner(3)], "the grace is over, the clock tolerance is not");
    let freed = ask(&app, &mut hub, &license, &[runner(1), runner(3)]).await;
    assert_eq!((freed.keys, freed.refused), (vec![runner(1), runner(3)], vec![]));
    let rows = app.portal.store.countersigned_runners(&license.id.to_string()).await.expect("db");
    assert_eq!(rows.len(), 2, "the ended key's row is gone: {rows:?}");
    assert!(rows.iter().all(|r| r.runner_place != runner(2).to_string()));
});

on_both_stores!(a_refused_hub_gets_no_countersignature, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    let id = license.id.to_string();
    assert_eq!(app.admin(&format!("/v1/admin/licenses/{id}/suspend")).await.status, 200);
    app.clock.advance(Duration::from_secs(3600));
    hub.runners = Some(vec![runner(1)]);
    let (answer, _) = hub.ping(&app, &license).await;
    let receipt = app.verify_receipt(&answer);
    assert_eq!(receipt.status, Status::Suspended);
    assert_eq!(receipt.runners, None);
    assert!(app.portal.store.countersigned_runners(&id).await.expect("db").is_empty());
});

on_both_stores!(a_ping_that_asks_for_nothing_gets_no_countersignature, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    app.clock.advance(Duration::from_secs(3600));
    let (answer, _) = hub.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).runners, None);
});

on_both_stores!(a_deleted_license_takes_its_countersigned_runners_with_it, |app| {
    let (license, mut hub) = countersign_hub(&app).await;
    ask(&app, &mut hub, &license, &[runner(1)]).await;
    let id = license.id.to_string();
    assert_eq!(app.portal.store.countersigned_runners(&id).await.expect("db").len(), 1);
    // Seven years and a week after the contract's end (2028-03-01): the license goes.
    app.clock.set("2035-03-08T00:00:00Z".parse().expect("t"));
    assert_eq!(app.portal.forget_ended_licenses().await.expect("job"), 1);
    assert!(app.portal.store.license(&id).await.expect("db").is_none());
    assert!(app.portal.store.countersigned_runners(&id).await.expect("db").is_empty());
});
