//! The runner API over real HTTP on loopback: tokens, the bundle, leases up to the limit,
//! lease expiry.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera_core::activation::{self, ActivationClaims};
use tessera_core::time::Clock;
use tessera_hub::agent::{Bundle, LeaseGrant};
use tessera_hub::runners::{RunnerApi, router};

use crate::helpers::{TestHub, Vendor, host};

/// An offline-activated hub with a runner limit of 2, serving runners on 127.0.0.1:0.
async fn serving_hub(vendor: &Vendor) -> (TestHub, String) {
    let (_, license) = vendor.license(2, None);
    let hub = TestHub::new(host("a"));
    let request = hub
        .hub
        .activation_request(license.as_bytes(), vendor.trust_text().as_bytes())
        .expect("request");
    let claims = activation::open_request(request.as_bytes()).expect("request");
    let answer =
        ActivationClaims::answer(&claims, hub.clock.now(), Duration::from_secs(86_400 * 30));
    hub.hub
        .install_offline(activation::sign_activation(&answer, &vendor.key).as_bytes())
        .expect("install");
    let api = Arc::new(RunnerApi { hub: hub.hub.clone(), lease_ttl: Duration::from_secs(600) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router(api)).await });
    (hub, url)
}

async fn take(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    runner: &str,
) -> (u16, serde_json::Value) {
    let response = http
        .post(format!("{url}/v1/lease"))
        .bearer_auth(token)
        .json(&json!({ "runner": runner }))
        .send()
        .await
        .expect("lease call");
    (response.status().as_u16(), response.json().await.expect("json"))
}

#[tokio::test]
async fn runners_lease_up_to_the_limit_and_expired_leases_free_their_slot() {
    let vendor = Vendor::new();
    let (hub, url) = serving_hub(&vendor).await;
    let token = hub.hub.create_runner_token().expect("token");
    let http = crate::helpers::http();

    let (code, body) = take(&http, &url, &token, "r1").await;
    assert_eq!(code, 200, "{body}");
    let grant: LeaseGrant = serde_json::from_value(body).expect("grant");
    // The lease is signed with the hub key the bundle names.
    let bundle: Bundle = http
        .get(format!("{url}/v1/bundle"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("bundle")
        .json()
        .await
        .expect("json");
    let lease =
        activation::verify_lease(grant.lease.as_bytes(), &bundle.hub_key).expect("lease verifies");
    assert_eq!(lease.runner, "r1");
    assert!(bundle.activation.is_some() && bundle.license.contains("BEGIN TESSERA LICENSE"));

    assert_eq!(take(&http, &url, &token, "r2").await.0, 200);
    // r1 renewing is not a new slot.
    assert_eq!(take(&http, &url, &token, "r1").await.0, 200);
    let (code, body) = take(&http, &url, &token, "r3").await;
    assert_eq!(code, 409);
    assert_eq!(body["error"]["code"], "runner_limit_exceeded");
    assert_eq!(hub.hub.status().expect("status").runners_leased, 2);

    // Releasing frees a slot at once.
    let released = http
        .delete(format!("{url}/v1/lease/r2"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("release");
    assert_eq!(released.status().as_u16(), 204);
    assert_eq!(take(&http, &url, &token, "r3").await.0, 200);
    assert_eq!(take(&http, &url, &token, "r4").await.0, 409);

    // Leases not renewed within their TTL free their slots.
    hub.clock.advance(Duration::from_secs(601));
    assert_eq!(hub.hub.status().expect("status").runners_leased, 0);
    assert_eq!(take(&http, &url, &token, "r4").await.0, 200);
    assert_eq!(take(&http, &url, &token, "r5").await.0, 200);
    assert_eq!(take(&http, &url, &token, "r6").await.0, 409);
}

#[tokio::test]
async fn the_runner_api_wants_a_valid_token_and_well_formed_calls() {
    let vendor = Vendor::new();
    let (hub, url) = serving_hub(&vendor).await;
    let token = hub.hub.create_runner_token().expect("token");
    let http = crate::helpers::http();

    let no_token = http.get(format!("{url}/v1/bundle")).send().await.expect("call");
    assert_eq!(no_token.status().as_u16(), 401);
    let body: serde_json::Value = no_token.json().await.expect("json");
    assert_eq!(body["error"]["code"], "missing_token");

    // A token with a known id but the wrong secret.
    let last = if token.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let (code, body) = take(&http, &url, &forged, "r1").await;
    assert_eq!((code, body["error"]["code"].as_str()), (401, Some("invalid_token")));

    let (code, body) = take(&http, &url, &token, "bad name!").await;
    assert_eq!((code, body["error"]["code"].as_str()), (400, Some("invalid_runner")));

    let garbage = http
        .post(format!("{url}/v1/lease"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("call");
    assert_eq!(garbage.status().as_u16(), 400);
    let untyped = http
        .post(format!("{url}/v1/lease"))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .expect("call");
    assert_eq!(untyped.status().as_u16(), 415);
    let huge = http
        .post(format!("{url}/v1/lease"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .expect("call");
    assert_eq!(huge.status().as_u16(), 413);
    let body: serde_json::Value = huge.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "body_too_large");

    // Only the hash of a token is stored.
    let state = std::fs::read_to_string(hub.state_dir().join("state.json")).expect("state");
    assert!(!state.contains(&token[token.len() - 20..]));
}
