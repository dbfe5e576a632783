//! The runner API over real HTTP on loopback: runner keys enrolled by single-use tokens,
//! leases up to the limit for keys (not names), releases by the holder, expiry, replays
//! and copies of a runner refused.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera_core::activation::{self, ActivationClaims, RunnerAction, RunnerCall};
use tessera_core::keys::SigningKey;
use tessera_core::receipt::Nonce;
use tessera_core::time::Clock;
use tessera_hub::runners::{RunnerApi, router};
use tessera_hub::slots::LeaseAnswer;

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

/// A runner as the hub sees it: its key, the lease nonce it holds, its clock.
struct SimRunner {
    key: SigningKey,
    label: String,
    holds: Option<Nonce>,
    time_ms: i64,
}

impl SimRunner {
    fn new(label: &str) -> Self {
        SimRunner {
            key: SigningKey::generate().expect("key"),
            label: label.to_owned(),
            holds: None,
            time_ms: 1,
        }
    }

    /// A signed call, with a fresh nonce.
    fn call(&mut self, action: RunnerAction) -> (String, Nonce) {
        self.time_ms += 1;
        let nonce = Nonce::generate().expect("nonce");
        let call = RunnerCall {
            runner_key: self.key.public_key().clone(),
            label: self.label.clone(),
            action,
            nonce,
            holds: self.holds,
            runner_time_ms: self.time_ms,
            machine: None,
        };
        (activation::sign_runner_call(&call, &self.key), nonce)
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    token: Option<&str>,
    call: &str,
) -> (u16, serde_json::Value) {
    let mut request = http.post(format!("{url}{path}")).json(&json!({ "call": call }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("call");
    let code = response.status().as_u16();
    (code, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// A lease call; on success the runner keeps the lease's nonce, as a real one does.
async fn take(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    runner: &mut SimRunner,
) -> (u16, serde_json::Value) {
    let (call, nonce) = runner.call(RunnerAction::Lease);
    let (code, body) = post(http, url, "/v1/lease", token, &call).await;
    if code == 200 && body["lease"].is_string() {
        runner.holds = Some(nonce);
    }
    (code, body)
}

#[tokio::test]
async fn slots_are_leased_to_runner_keys_up_to_the_limit() {
    let vendor = Vendor::new();
    let (hub, url) = serving_hub(&vendor).await;
    let http = crate::helpers::http();
    let token = |hub: &TestHub| hub.hub.create_runner_token().expect("token");

    let mut r1 = SimRunner::new("r1");
    let t1 = token(&hub);
    let (code, body) = take(&http, &url, Some(&t1), &mut r1).await;
    assert_eq!(code, 200, "{body}");
    let answer: LeaseAnswer = serde_json::from_value(body).expect("answer");
    // The lease is signed with the hub key the bundle names, for this runner's key, and
    // answers this call's nonce.
    let lease =
        activation::verify_lease(answer.lease.expect("lease").as_bytes(), &answer.bundle.hub_key)
            .expect("lease verifies");
    assert_eq!(lease.runner_key_id, r1.key.key_id());
    assert_eq!(Some(lease.nonce), r1.holds);
    assert!(
        answer.bundle.activation.is_some()
            && answer.bundle.license.contains("BEGIN TESSERA LICENSE")
    );

    // A token enrolls one runner: a second key cannot use it.
    let mut r2 = SimRunner::new("r2");
    let (code, body) = take(&http, &url, Some(&t1), &mut r2).await;
    assert_eq!((code, body["error"]["code"].as_str()), (401, Some("invalid_token")));
    // An enrolled key needs no token; an unknown one without a token is refused.
    let (code, body) = take(&http, &url, None, &mut r2).await;
    assert_eq!((code, body["error"]["code"].as_str()), (401, Some("not_enrolled")));
    assert_eq!(take(&http, &url, Some(&token(&hub)), &mut r2).await.0, 200);
    assert_eq!(take(&http, &url, None, &mut r1).await.0, 200, "renewing is not a new slot");

    // A third machine that calls itself r1 is a third key: the limit of 2 holds.
    let mut impostor = SimRunner::new("r1");
    let (code, body) = take(&http, &url, Some(&token(&hub)), &mut impostor).await;
    assert_eq!((code, body["error"]["code"].as_str()), (409, Some("runner_limit_exceeded")));
    assert_eq!(hub.hub.status().expect("status").runners_leased, 2);

    // A release is signed by the holder: the impostor's release gives back nothing of r2's.
    let (release, _) = impostor.call(RunnerAction::Release);
    assert_eq!(post(&http, &url, "/v1/release", None, &release).await.0, 204);
    assert_eq!(hub.hub.status().expect("status").runners_leased, 2);
    let (release, _) = r2.call(RunnerAction::Release);
    assert_eq!(post(&http, &url, "/v1/release", None, &release).await.0, 204);
    assert_eq!(take(&http, &url, None, &mut impostor).await.0, 200);
    // The operator cannot free a slot a signed lease still holds (that lease is valid
    // out there whatever the hub's list says), nor forget its runner: the slot stays
    // counted until the lease ends or the runner signs its release.
    let impostor_id = impostor.key.key_id().to_string();
    let until = hub.hub.release_runner(&impostor_id).expect("operator release");
    assert!(until.is_some(), "the release reports the lease's end");
    assert_eq!(hub.hub.status().expect("status").runners_leased, 2);
    assert!(matches!(
        hub.hub.forget_runner(&impostor_id),
        Err(tessera_hub::slots::LeaseError::Leased { .. })
    ));
    assert_eq!(hub.hub.status().expect("status").runners_leased, 2);
    let mut third = SimRunner::new("r3");
    let (code, _) = take(&http, &url, Some(&token(&hub)), &mut third).await;
    assert_eq!(code, 409, "a third runner while two leases run");

    // Leases not renewed within their TTL free their slots.
    hub.clock.advance(Duration::from_secs(601));
    assert_eq!(hub.hub.status().expect("status").runners_leased, 0);
    assert_eq!(take(&http, &url, None, &mut r2).await.0, 200);
    assert_eq!(take(&http, &url, None, &mut impostor).await.0, 200);
    assert_eq!(take(&http, &url, None, &mut r1).await.0, 409);
}

#[tokio::test]
async fn a_replayed_call_and_a_copied_runner_are_refused() {
    let vendor = Vendor::new();
    let (hub, url) = serving_hub(&vendor).await;
    let http = crate::helpers::http();
    let mut original = SimRunner::new("r1");
    let token = hub.hub.create_runner_token().expect("token");
    assert_eq!(take(&http, &url, Some(&token), &mut original).await.0, 200);

    // The same signed call again (captured on the network, or a saved request file).
    let (call, _) = original.call(RunnerAction::Lease);
    assert_eq!(post(&http, &url, "/v1/lease", None, &call).await.0, 200);
    let (code, body) = post(&http, &url, "/v1/lease", None, &call).await;
    assert_eq!((code, body["error"]["code"].as_str()), (409, Some("stale_call")));

    // A copy of the runner's state (same key, same lease held) on a second machine.
    let mut copy = SimRunner {
        key: SigningKey::from_secret_text(&original.key.to_secret_text()).expect("key"),
        label: "r1".into(),
        holds: original.holds,
        time_ms: original.time_ms + 10_000,
    };
    original.time_ms += 2_000;
    assert_eq!(take(&http, &url, None, &mut original).await.0, 200);
    assert_eq!(take(&http, &url, None, &mut original).await.0, 200);
    let (code, body) = take(&http, &url, None, &mut copy).await;
    assert_eq!((code, body["error"]["code"].as_str()), (409, Some("cloned")), "{body}");
    // The operator sees it; the copy stays refused, the original goes on.
    let runners = hub.hub.runners().expect("runners");
    assert!(runners[0].cloned_at.is_some(), "{runners:?}");
    assert_eq!(take(&http, &url, None, &mut copy).await.0, 409);
    assert_eq!(take(&http, &url, None, &mut original).await.0, 200);
}

#[tokio::test]
async fn the_runner_api_wants_a_valid_token_and_well_formed_calls() {
    let vendor = Vendor::new();
    let (hub, url) = serving_hub(&vendor).await;
    let token = hub.hub.create_runner_token().expect("token");
    let http = crate::helpers::http();

    // A token with a known id but the wrong secret.
    let last = if token.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let (code, body) = take(&http, &url, Some(&forged), &mut SimRunner::new("r1")).await;
    assert_eq!((code, body["error"]["code"].as_str()), (401, Some("invalid_token")));

    let (code, body) = take(&http, &url, Some(&token), &mut SimRunner::new("bad name!")).await;
    assert_eq!((code, body["error"]["code"].as_str()), (400, Some("invalid_runner")));

    // A call signed by another key than the one it names.
    let mut honest = SimRunner::new("r1");
    let (call, _) = honest.call(RunnerAction::Lease);
    let mut claims = activation::open_runner_call(call.as_bytes()).expect("call");
    claims.runner_key = SigningKey::generate().expect("key").public_key().clone();
    let forged = activation::sign_runner_call(&claims, &honest.key);
    let (code, body) = post(&http, &url, "/v1/lease", Some(&token), &forged).await;
    assert_eq!((code, body["error"]["code"].as_str()), (400, Some("malformed_call")));

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
