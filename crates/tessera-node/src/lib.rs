//! Tessera's checks for Node.js, a native addon (napi-rs): `verifyLicense`, `runnerCheck`,
//! `hubStatus` and the async variants of the two that do I/O. Status words are the
//! command-line tools' words; a call that cannot be made throws an `Error` whose `code` is
//! the SDK's stable code (`bad_argument`, `bad_trust`, `keystore`, `io`,
//! `hub_unreachable`, `bad_answer`).
//!
//! No `unsafe` here: napi-rs's macros make the boundary.

use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi::{Env, JsError, Task};
use napi_derive::napi;

/// An error's `code` for JavaScript: the SDK's stable code.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

type Result<T> = napi::Result<T, Code>;

fn thrown(e: &tessera::Error) -> napi::Error<Code> {
    napi::Error::new(Code(e.code()), e.to_string())
}

fn bad(what: &str, message: impl std::fmt::Display) -> napi::Error<Code> {
    napi::Error::new(Code("bad_argument"), format!("{what}: {message}"))
}

/// Seconds since the Unix epoch: the given time, or the system clock's.
fn time(now: Option<i64>) -> Result<tessera::UnixTime> {
    match now {
        Some(seconds) => tessera::UnixTime::from_unix(seconds).map_err(|e| bad("now", e)),
        None => Ok(tessera::now()),
    }
}

fn tolerance(secs: Option<i64>) -> Result<Option<Duration>> {
    secs.map(|s| {
        u64::try_from(s).map(Duration::from_secs).map_err(|_| bad("toleranceSecs", "negative"))
    })
    .transpose()
}

/// A vendor's trust set (its public keys): parse once, pass to every check.
#[napi]
pub struct TrustSet {
    inner: tessera::TrustSet,
}

#[napi]
impl TrustSet {
    /// Parses the text of the vendor's `.pub` file. Throws `bad_trust`.
    #[napi(constructor)]
    pub fn new(text: String) -> Result<Self> {
        tessera::TrustSet::parse(text.as_bytes())
            .map(|inner| TrustSet { inner })
            .map_err(|e| thrown(&tessera::Error::Trust(e)))
    }
}

/// A license's terms (never its key).
#[napi(object)]
pub struct License {
    pub id: String,
    pub org: String,
    pub product: String,
    pub features: Vec<String>,
    pub runner_limit: u32,
    pub issued_at: i64,
    pub not_before: i64,
    pub expires_at: i64,
    pub terminates_at: Option<i64>,
    pub grace_period_secs: u32,
    pub ping_interval_secs: u32,
}

impl From<&tessera::License> for License {
    fn from(l: &tessera::License) -> Self {
        License {
            id: l.id.clone(),
            org: l.org.clone(),
            product: l.product.clone(),
            features: l.features.clone(),
            runner_limit: l.runner_limit,
            issued_at: l.issued_at.as_unix(),
            not_before: l.not_before.as_unix(),
            expires_at: l.expires_at.as_unix(),
            terminates_at: l.terminates_at.map(tessera::UnixTime::as_unix),
            grace_period_secs: l.grace_period_secs,
            ping_interval_secs: l.ping_interval_secs,
        }
    }
}

fn secs(s: Option<u64>) -> Option<i64> {
    s.map(|s| i64::try_from(s).unwrap_or(i64::MAX))
}

/// Options of `verifyLicense`.
#[napi(object)]
pub struct VerifyOptions {
    /// The product this software is: another product's license is `wrong_product`.
    pub product: Option<String>,
    /// Unix seconds; the system clock when absent.
    pub now: Option<i64>,
}

/// A license file's verdict.
#[napi(object)]
pub struct LicenseCheck {
    pub status: String,
    pub reason: String,
    /// `status` is `valid`.
    pub permits_running: bool,
    /// The terms, whenever the vendor's signature over them verified.
    pub license: Option<License>,
}

/// Verifies a license file (its text or bytes) with the vendor's trust set.
#[napi]
pub fn verify_license(
    license: Either<String, Buffer>,
    trust: &TrustSet,
    options: Option<VerifyOptions>,
) -> Result<LicenseCheck> {
    let (product, now) = options.map_or((None, None), |o| (o.product, o.now));
    let bytes: &[u8] = match &license {
        Either::A(text) => text.as_bytes(),
        Either::B(buffer) => buffer,
    };
    let check = tessera::verify_license(bytes, &trust.inner, product.as_deref(), time(now)?)
        .map_err(|e| thrown(&e))?;
    Ok(LicenseCheck {
        permits_running: check.status.permits_running(),
        status: check.status.as_str().to_owned(),
        reason: check.reason,
        license: check.license.as_ref().map(License::from),
    })
}

/// Options of `runnerCheck`.
#[napi(object)]
pub struct RunnerOptions {
    /// The runner's state directory (`tessera-runner --state-dir`).
    pub state_dir: String,
    /// `keyutils` or `secret-service`; the default as the runner agent chooses it.
    pub keystore: Option<String>,
    /// How far (seconds) the clock may fall behind the latest time seen.
    pub tolerance_secs: Option<i64>,
    /// Unix seconds; the system clock when absent.
    pub now: Option<i64>,
}

/// A runner's answer.
#[napi(object)]
pub struct RunnerCheck {
    pub status: String,
    pub reason: String,
    /// `valid` or `grace`.
    pub permits_running: bool,
    pub grace_left_secs: Option<i64>,
    pub runner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub license: Option<License>,
}

fn runner_options(o: &RunnerOptions) -> Result<(tessera::RunnerOptions, tessera::UnixTime)> {
    let mut options = tessera::RunnerOptions::new(&o.state_dir);
    if let Some(name) = &o.keystore {
        options = options.keystore_named(name).map_err(|e| thrown(&e))?;
    }
    if let Some(t) = tolerance(o.tolerance_secs)? {
        options = options.tolerance(t);
    }
    Ok((options, time(o.now)?))
}

fn runner_answer(check: tessera::RunnerCheck) -> RunnerCheck {
    RunnerCheck {
        permits_running: check.status.permits_running(),
        status: check.status.as_str().to_owned(),
        reason: check.reason,
        grace_left_secs: secs(check.grace_left_secs),
        runner: check.runner,
        lease_expires_at: check.lease_expires_at.map(tessera::UnixTime::as_unix),
        license: check.license.as_ref().map(License::from),
    }
}

/// Whether this runner may run, decided offline from its sealed cache (reads the state
/// directory and the keystore: `runnerCheckAsync` does it off the main thread).
#[napi]
pub fn runner_check(options: RunnerOptions) -> Result<RunnerCheck> {
    let (options, now) = runner_options(&options)?;
    tessera::runner_check(&options, now).map(runner_answer).map_err(|e| thrown(&e))
}

/// Options of `hubStatus`.
#[napi(object)]
pub struct HubOptions {
    /// The hub agent's status socket (`tessera-hub run --status-socket`).
    pub socket: String,
    /// The product this application is.
    pub product: Option<String>,
    pub tolerance_secs: Option<i64>,
    /// How long to wait for the agent, in milliseconds (default 5000).
    pub timeout_ms: Option<u32>,
    /// Unix seconds; the system clock when absent.
    pub now: Option<i64>,
}

/// The hub's standing, as this process decided it from the agent's signed evidence.
#[napi(object)]
pub struct HubStatus {
    pub status: String,
    pub reason: String,
    /// `valid` or `grace`.
    pub permits_running: bool,
    /// `online`, `offline` or `none`.
    pub mode: String,
    pub grace_left_secs: Option<i64>,
    pub license: Option<License>,
    pub runners_leased: u32,
    /// What the agent itself said (informative).
    pub agent_status: String,
}

fn hub_options(o: &HubOptions) -> Result<(tessera::HubOptions, tessera::UnixTime)> {
    let mut options = tessera::HubOptions::new(&o.socket);
    if let Some(product) = &o.product {
        options = options.product(product.clone());
    }
    if let Some(t) = tolerance(o.tolerance_secs)? {
        options.tolerance = t;
    }
    if let Some(ms) = o.timeout_ms {
        options.timeout = Duration::from_millis(ms.max(1).into());
    }
    Ok((options, time(o.now)?))
}

fn hub_answer(s: tessera::HubStatus) -> HubStatus {
    HubStatus {
        permits_running: s.status.permits_running(),
        status: s.status.as_str().to_owned(),
        reason: s.reason,
        mode: s.mode.as_str().to_owned(),
        grace_left_secs: secs(s.grace_left_secs),
        license: s.license.as_ref().map(License::from),
        runners_leased: u32::try_from(s.runners_leased).unwrap_or(u32::MAX),
        agent_status: s.agent_status.as_str().to_owned(),
    }
}

/// Asks the local hub agent and decides the hub's standing from its signed evidence with
/// `trust` (blocks up to the timeout: `hubStatusAsync` does it off the main thread).
#[napi]
pub fn hub_status(trust: &TrustSet, options: HubOptions) -> Result<HubStatus> {
    let (options, now) = hub_options(&options)?;
    tessera::hub_status(&options, &trust.inner, now).map(hub_answer).map_err(|e| thrown(&e))
}

/// Work for libuv's thread pool; its error keeps the SDK's code.
pub enum Work {
    Runner(tessera::RunnerOptions, tessera::UnixTime),
    Hub(tessera::HubOptions, tessera::TrustSet, tessera::UnixTime),
}

/// The answer of a [`Work`].
pub enum Done {
    Runner(tessera::RunnerCheck),
    Hub(tessera::HubStatus),
}

/// A check run off the main thread; resolves to the same object as the sync call.
pub struct Check(Option<Work>);

impl Task for Check {
    type Output = std::result::Result<Done, tessera::Error>;
    type JsValue = Either<RunnerCheck, HubStatus>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(match self.0.take() {
            Some(Work::Runner(options, now)) => {
                tessera::runner_check(&options, now).map(Done::Runner)
            }
            Some(Work::Hub(options, trust, now)) => {
                tessera::hub_status(&options, &trust, now).map(Done::Hub)
            }
            None => {
                Err(tessera::Error::BadArgument { what: "task", message: "already run".into() })
            }
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        match output {
            Ok(Done::Runner(check)) => Ok(Either::A(runner_answer(check))),
            Ok(Done::Hub(status)) => Ok(Either::B(hub_answer(status))),
            // The rejection is a JavaScript Error made here, so it carries the SDK's code.
            Err(e) => Err(napi::Error::from(JsError::from(thrown(&e)).into_unknown(env))),
        }
    }
}

/// `runnerCheck` off the main thread.
#[napi(ts_return_type = "Promise<RunnerCheck>")]
pub fn runner_check_async(options: RunnerOptions) -> Result<AsyncTask<Check>> {
    let (options, now) = runner_options(&options)?;
    Ok(AsyncTask::new(Check(Some(Work::Runner(options, now)))))
}

/// `hubStatus` off the main thread.
#[napi(ts_return_type = "Promise<HubStatus>")]
pub fn hub_status_async(trust: &TrustSet, options: HubOptions) -> Result<AsyncTask<Check>> {
    let (options, now) = hub_options(&options)?;
    Ok(AsyncTask::new(Check(Some(Work::Hub(options, trust.inner.clone(), now)))))
}
