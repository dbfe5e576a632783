//! A hostile customer with root on the hub machine, and whatever answers in the portal's
//! place (a proxy): the hub decides from signed data only, notices a clock set back, and
//! survives any answer.

use std::time::Duration;

use axum::http::StatusCode;
use tessera_core::Status;

use crate::helpers::Registered;

/// Edits `state.json` as root would, through its JSON.
fn edit_state(dir: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    edit(&mut state);
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("write");
}

#[tokio::test]
async fn an_unsigned_time_written_into_the_state_file_changes_nothing() {
    let site = Registered::new();
    let hub = site.activated_hub("a").await;
    // Two days without a receipt: grace (one day) has run out.
    hub.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(hub.hub.status().expect("status").status, Status::GraceExpired);
    // Root lowers the high-water mark.
    edit_state(&hub.state_dir(), |s| {
        s["high_water"] = serde_json::json!(0);
    });
    let report = hub.hub.status().expect("status");
    assert_eq!(report.status, Status::GraceExpired, "{report:?}");
}

#[tokio::test]
async fn a_clock_set_back_before_the_last_receipt_is_clock_rollback() {
    let site = Registered::new();
    let hub = site.activated_hub("a").await;
    hub.hub.ping().await.expect("ping");
    hub.clock.rewind(Duration::from_secs(1800));
    assert_eq!(hub.hub.status().expect("status").status, Status::Valid, "within tolerance");
    hub.clock.rewind(Duration::from_secs(2 * 3600));
    let report = hub.hub.status().expect("status");
    assert_eq!(report.status, Status::ClockRollback, "{report:?}");
    // Even with the state file's high-water mark removed: the receipt's own time counts.
    edit_state(&hub.state_dir(), |s| {
        s.as_object_mut().expect("object").remove("high_water");
    });
    assert_eq!(hub.hub.status().expect("status").status, Status::ClockRollback);
    hub.clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(hub.hub.status().expect("status").status, Status::Valid);
}

/// A stand-in for the portal (a proxy, say) that answers every call with `status` and a
/// body of `len` bytes.
async fn huge_answers(status: StatusCode, len: usize, json: bool) -> String {
    let body = if json {
        format!(
            "{{\"error\":{{\"code\":\"{}\",\"message\":\"{}\"}}}}",
            "c".repeat(len / 2),
            "m".repeat(len / 2)
        )
    } else {
        "x".repeat(len)
    };
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { (status, body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn huge_answers_from_the_network_cannot_break_the_hub() {
    let site = Registered::new();
    let hub = site.activated_hub("a").await;
    for (status, json) in [
        (StatusCode::INTERNAL_SERVER_ERROR, false),
        (StatusCode::BAD_REQUEST, true),
        (StatusCode::OK, false),
    ] {
        let proxy = huge_answers(status, 5 * 1024 * 1024, json).await;
        edit_state(&hub.state_dir(), |s| s["portal"] = serde_json::json!(proxy));
        let failed = hub.hub.ping().await;
        assert!(failed.is_err(), "{status}: {failed:?}");
        assert!(failed.expect_err("failed").to_string().len() < 1000, "the error is bounded");
        let state = std::fs::metadata(hub.state_dir().join("state.json")).expect("state");
        assert!(state.len() < 64 * 1024, "{status}: state.json grew to {} bytes", state.len());
        let report = hub.hub.status().expect("every command still reads the state");
        assert_eq!(report.status, Status::Valid);
        assert!(report.last_failure.expect("failure kept").len() < 1000);
    }
    // The real portal again: the hub pings on.
    let url = site.portal.url.clone();
    edit_state(&hub.state_dir(), |s| s["portal"] = serde_json::json!(url));
    assert_eq!(hub.hub.ping().await.expect("ping").status, Status::Valid);
}

#[tokio::test]
async fn a_damaged_state_file_is_set_aside_and_the_hub_activates_again() {
    let site = Registered::new();
    let hub = site.activated_hub("a").await;
    let path = hub.state_dir().join("state.json");
    // Larger than the reader takes, then plain garbage.
    for junk in [vec![b' '; 5 * 1024 * 1024], b"{not json".to_vec()] {
        std::fs::write(&path, &junk).expect("write");
        // Time goes on (the call times of the lost state are behind it).
        hub.clock.advance(Duration::from_secs(1));
        let (mode, _) = hub.hub.schedule().expect("the daemon still has a schedule");
        assert_eq!(mode, tessera_hub::agent::Mode::Online, "it will ping");
        let receipt = hub.hub.ping().await.expect("the ping repairs");
        assert_eq!(receipt.status, Status::Valid);
        assert!(hub.state_dir().join("state.json.damaged").exists());
        assert_eq!(hub.hub.status().expect("status").status, Status::Valid);
    }
}
