use crate::on_both_stores;

on_both_stores!(client_mistakes_get_json_errors_with_stable_codes_never_500, |app| {
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("/v1/ping", "application/json", b"{not json".to_vec(), 400, "malformed_json"),
        ("/v1/ping", "application/json", b"{}".to_vec(), 400, "invalid_fields"),
        (
            "/v1/ping",
            "application/json",
            br#"{"key_id":"AB","payload":"x","signature":"y"}"#.to_vec(),
            400,
            "invalid_fields",
        ),
        ("/v1/ping", "text/plain", b"{}".to_vec(), 415, "unsupported_media_type"),
        ("/v1/ping", "application/json", vec![b' '; 200 * 1024], 413, "body_too_large"),
        ("/v1/activate", "application/json", b"[1,2,3]".to_vec(), 400, "invalid_fields"),
        ("/v1/activate", "application/json", vec![0xff, 0xfe, 0x00], 400, "malformed_json"),
    ];
    for (path, content_type, body, status, code) in cases {
        let answer = app.post_raw(path, content_type, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{path} {content_type}: {answer:?}"
        );
    }
    // A well-formed envelope whose payload is not a ping.
    let key = tessera_core::keys::SigningKey::generate().expect("key");
    let junk = tessera_core::armor::Envelope::sign_payload(
        tessera_core::armor::Kind::Ping,
        &key,
        b"{\"v\":1}",
    );
    let answer = app
        .post_json("/v1/ping", None, &serde_json::to_value(junk.to_compact()).expect("json"))
        .await;
    assert_eq!((answer.status, answer.code()), (400, "malformed_call"));
    let answer = app.get("/v1/nothing-here", None).await;
    assert_eq!((answer.status, answer.code()), (404, "no_such_route"));
    let answer = app.get("/v1/ping", None).await;
    assert_eq!((answer.status, answer.code()), (405, "method_not_allowed"));
    let garbage_key = app.get("/v1/admin/licenses", Some("tsk_nonsense")).await;
    assert_eq!((garbage_key.status, garbage_key.code()), (401, "invalid_api_key"));
});

on_both_stores!(operations_endpoints_answer, |app| {
    assert_eq!(app.get("/healthz", None).await.body["status"], "ok");
    let ready = app.get("/readyz", None).await;
    assert_eq!((ready.status, ready.body["ready"].as_bool()), (200, Some(true)), "{ready:?}");
    let openapi = app.get("/openapi.json", None).await;
    assert!(openapi.body["paths"]["/v1/ping"].is_object(), "{openapi:?}");
    let delegation =
        app.http.get(format!("{}/v1/delegation", app.address)).send().await.expect("get");
    assert!(
        delegation.text().await.expect("text").starts_with("-----BEGIN TESSERA DELEGATION-----")
    );
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    hub.ping(&app, &license).await;
    let metrics = app.http.get(format!("{}/metrics", app.address)).send().await.expect("get");
    let text = metrics.text().await.expect("text");
    for family in [
        "tessera_portal_http_requests_total",
        "tessera_portal_pings_total",
        "tessera_portal_receipts_total",
        "tessera_portal_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(family), "{family} missing in\n{text}");
    }
    assert!(text.contains("status=\"counted\""));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    use crate::helpers::*;
    let app = spawn_app_with(Db::Sqlite, |mut layer| {
        layer.pings_per_minute = Some(3);
        layer.auth_failures_per_minute = Some(2);
        layer
    })
    .await
    .expect("app");
    let license = app.registered_license().await;
    let mut hub = TestHub::new("host-a", &app);
    hub.activate(&app, &license).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(hub.ping(&app, &license).await.0);
    }
    assert_eq!(statuses.iter().filter(|a| a.status == 200).count(), 3);
    let limited = statuses.last().expect("answer");
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"));
    assert!(limited.retry_after.as_deref().is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));

    let wrong = format!("tsk_0123456789abcdef_{}", "A".repeat(43));
    let codes: Vec<u16> = futures_statuses(&app, &wrong).await;
    assert_eq!(codes, vec![401, 401, 429, 429]);
}

async fn futures_statuses(app: &crate::helpers::TestApp, key: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..4 {
        out.push(app.get("/v1/admin/licenses", Some(key)).await.status);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_knows_a_license_id_cannot_silence_its_hub() {
    use crate::helpers::*;
    let app = spawn_app_with(Db::Sqlite, |mut layer| {
        layer.pings_per_minute = Some(3);
        layer.refused_pings_per_second = Some(5);
        layer.auth_failures_per_minute = Some(3);
        layer.unknown_activations_per_minute = Some(3);
        layer
    })
    .await
    .expect("app");
    let license = app.registered_license().await;
    let mut genuine = TestHub::new("host-a", &app);
    assert_eq!(genuine.activate(&app, &license).await.0.status, 200);

    // Forged pings naming the license (ids are in logs, bundles, caches): they never verify,
    // share one allowance for refused pings, and soon get 429.
    let mut stranger = TestHub::new("host-b", &app);
    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(stranger.ping(&app, &license).await.0.status);
    }
    assert!(codes.contains(&422) && codes.contains(&429), "{codes:?}");
    // The genuine hub's allowance is untouched.
    let (answer, _) = genuine.ping(&app, &license).await;
    assert_eq!(app.verify_receipt(&answer).status, tessera_core::Status::Valid);

    // Random API key ids: failures share one allowance (not one per presented id).
    let mut codes = Vec::new();
    for i in 0..6 {
        let random = format!("tsk_{:016x}_{}", 0xabc0 + i, "A".repeat(43));
        codes.push(app.get("/v1/admin/licenses", Some(&random)).await.status);
    }
    assert_eq!(codes, vec![401, 401, 401, 429, 429, 429]);
    // A key that authenticates is never held up by them.
    assert_eq!(app.get("/v1/admin/licenses", Some(&app.admin_key)).await.status, 200);

    // Guessed license keys share one allowance too; a real activation still goes through.
    let mut codes = Vec::new();
    for _ in 0..5 {
        let (unknown, _) = app.issue(|_| {});
        let mut guesser = TestHub::new("host-c", &app);
        codes.push(guesser.activate(&app, &unknown).await.0.status);
    }
    assert_eq!(codes, vec![404, 404, 404, 429, 429]);
    let other = app.registered_license().await;
    let mut second = TestHub::new("host-d", &app);
    assert_eq!(second.activate(&app, &other).await.0.status, 200);
}
