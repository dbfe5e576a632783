//! Tessera's checks for Node.js, a native addon (napi-rs): `verifyLicense`, `runnerCheck`,
//! `hubStatus` and the async variants of the two that do I/O. Status words are the
//! command-line tools' words (`Status`); a call that cannot be made throws an `Error` whose
//! `code` is the SDK's stable code (`bad_argument`, `bad_trust`, `keystore`, `io`,
//! `hub_unreachable`, `bad_answer`). Every argument is checked here (`arguments`): a wrong
//! type, an unknown option or `NaN` is `bad_argument` naming it.
//!
//! No `unsafe` here: napi-rs's macros make the boundary.
//!
//! Features `runner` and `hub` (both default) pass through to the SDK; a build without one
//! leaves out its calls, and the argument helpers only they use lie idle.
#![cfg_attr(
    not(all(feature = "runner", feature = "hub")),
    allow(dead_code, unused_imports, unused_variables)
)]

mod arguments;
mod words;

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::{Env, JsError, Task};
use napi_derive::napi;

pub use words::{Mode, Status};

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

/// A vendor's trust set (its public keys): parse once, pass to every check.
#[napi]
pub struct TrustSet {
    inner: tessera::TrustSet,
}

#[napi]
impl TrustSet {
    /// Parses the text of the vendor's `.pub` file (a string or a Buffer). Throws
    /// `bad_trust`.
    #[napi(constructor, ts_args_type = "text: string | Buffer")]
    pub fn new(text: Option<Unknown<'_>>, extra: Option<Unknown<'_>>) -> Result<Self> {
        arguments::no_more(extra, "new TrustSet", "(text)")?;
        let text = arguments::bytes(text, "text")?;
        tessera::TrustSet::parse(text.as_ref())
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

/// A license file's verdict.
#[napi(object)]
pub struct LicenseCheck {
    #[napi(ts_type = "Status")]
    pub status: Status,
    pub reason: String,
    /// `status` is `valid`.
    pub permits_running: bool,
    /// The terms, whenever the vendor's signature over them verified.
    pub license: Option<License>,
}

/// Verifies a license file (its text or bytes) with the vendor's trust set. Options:
/// `product`, `now`.
#[napi(
    ts_args_type = "license: string | Buffer, trust: TrustSet, options?: VerifyOptions | undefined | null"
)]
pub fn verify_license(
    license: Option<Unknown<'_>>,
    trust: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
    extra: Option<Unknown<'_>>,
) -> Result<LicenseCheck> {
    arguments::no_more(extra, "verifyLicense", "(license, trust, options?)")?;
    let license = arguments::bytes(license, "license")?;
    let trust = arguments::trust(trust)?;
    let options = arguments::Options::new(options, "verifyLicense", &["product", "now"], false)?;
    let product = options.name("product")?;
    let now = options.now()?;
    let check = tessera::verify_license(license.as_ref(), &trust.inner, product.as_deref(), now)
        .map_err(|e| thrown(&e))?;
    Ok(LicenseCheck {
        permits_running: check.status.permits_running(),
        status: check.status.into(),
        reason: check.reason,
        license: check.license.as_ref().map(License::from),
    })
}

/// A runner's answer.
#[napi(object)]
pub struct RunnerCheck {
    #[napi(ts_type = "Status")]
    pub status: Status,
    pub reason: String,
    /// `valid` or `grace`.
    pub permits_running: bool,
    pub grace_left_secs: Option<i64>,
    pub runner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub license: Option<License>,
}

#[cfg(feature = "runner")]
fn runner_options(
    options: Option<Unknown<'_>>,
) -> Result<(tessera::RunnerOptions, tessera::UnixTime)> {
    let o = arguments::Options::new(
        options,
        "runnerCheck",
        &["stateDir", "keystore", "toleranceSecs", "now"],
        true,
    )?;
    let mut options = tessera::RunnerOptions::new(o.required_name("stateDir")?);
    if let Some(name) = o.name("keystore")? {
        options = options.keystore_named(&name).map_err(|e| thrown(&e))?;
    }
    if let Some(t) = o.tolerance()? {
        options = options.tolerance(t);
    }
    Ok((options, o.now()?))
}

#[cfg(feature = "runner")]
fn runner_answer(check: tessera::RunnerCheck) -> RunnerCheck {
    RunnerCheck {
        permits_running: check.status.permits_running(),
        status: check.status.into(),
        reason: check.reason,
        grace_left_secs: secs(check.grace_left_secs),
        runner: check.runner,
        lease_expires_at: check.lease_expires_at.map(tessera::UnixTime::as_unix),
        license: check.license.as_ref().map(License::from),
    }
}

/// Whether this runner may run, decided offline from its sealed cache (reads the state
/// directory and the keystore: `runnerCheckAsync` does it off the main thread). Options:
/// `stateDir` (required), `keystore`, `toleranceSecs`, `now`.
#[cfg(feature = "runner")]
#[napi(ts_args_type = "options: RunnerOptions")]
pub fn runner_check(
    options: Option<Unknown<'_>>,
    extra: Option<Unknown<'_>>,
) -> Result<RunnerCheck> {
    arguments::no_more(extra, "runnerCheck", "(options)")?;
    let (options, now) = runner_options(options)?;
    tessera::runner_check(&options, now).map(runner_answer).map_err(|e| thrown(&e))
}

/// The hub's standing, as this process decided it from the agent's signed evidence.
#[napi(object)]
pub struct HubStatus {
    #[napi(ts_type = "Status")]
    pub status: Status,
    pub reason: String,
    /// `valid` or `grace`.
    pub permits_running: bool,
    #[napi(ts_type = "Mode")]
    pub mode: Mode,
    pub grace_left_secs: Option<i64>,
    pub license: Option<License>,
    pub runners_leased: u32,
    /// What the agent itself said (informative).
    #[napi(ts_type = "Status")]
    pub agent_status: Status,
}

#[cfg(feature = "hub")]
fn hub_options(options: Option<Unknown<'_>>) -> Result<(tessera::HubOptions, tessera::UnixTime)> {
    let o = arguments::Options::new(
        options,
        "hubStatus",
        &["socket", "product", "toleranceSecs", "timeoutMs", "now"],
        true,
    )?;
    let mut options = tessera::HubOptions::new(o.required_name("socket")?);
    if let Some(product) = o.name("product")? {
        options = options.product(product);
    }
    if let Some(t) = o.tolerance()? {
        options.tolerance = t;
    }
    if let Some(t) = o.timeout()? {
        options.timeout = t;
    }
    Ok((options, o.now()?))
}

#[cfg(feature = "hub")]
fn hub_answer(s: tessera::HubStatus) -> HubStatus {
    HubStatus {
        permits_running: s.status.permits_running(),
        status: s.status.into(),
        reason: s.reason,
        mode: s.mode.into(),
        grace_left_secs: secs(s.grace_left_secs),
        license: s.license.as_ref().map(License::from),
        runners_leased: u32::try_from(s.runners_leased).unwrap_or(u32::MAX),
        agent_status: s.agent_status.into(),
    }
}

/// Asks the local hub agent and decides the hub's standing from its signed evidence with
/// `trust` (waits up to `timeoutMs`, 5000 by default: `hubStatusAsync` waits off the main
/// thread). Options: `socket` (required), `product`, `toleranceSecs`, `timeoutMs`, `now`.
#[cfg(feature = "hub")]
#[napi(ts_args_type = "trust: TrustSet, options: HubOptions")]
pub fn hub_status(
    trust: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
    extra: Option<Unknown<'_>>,
) -> Result<HubStatus> {
    arguments::no_more(extra, "hubStatus", "(trust, options)")?;
    let trust = arguments::trust(trust)?;
    let (options, now) = hub_options(options)?;
    tessera::hub_status(&options, &trust.inner, now).map(hub_answer).map_err(|e| thrown(&e))
}

/// Work for libuv's thread pool, or the argument error to reject with.
pub enum Work {
    #[cfg(feature = "runner")]
    Runner(tessera::RunnerOptions, tessera::UnixTime),
    #[cfg(feature = "hub")]
    Hub(tessera::HubOptions, tessera::TrustSet, tessera::UnixTime),
    Refused(napi::Error<Code>),
}

/// The answer of a [`Work`].
pub enum Done {
    #[cfg(feature = "runner")]
    Runner(tessera::RunnerCheck),
    #[cfg(feature = "hub")]
    Hub(tessera::HubStatus),
}

/// A check run off the main thread; resolves to the same object as the sync call, or
/// rejects with the same `Error` (its `code` included).
pub struct Check(Option<Work>);

impl Task for Check {
    type Output = std::result::Result<Done, (&'static str, String)>;
    type JsValue = napi::bindgen_prelude::Either<RunnerCheck, HubStatus>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let failed = |e: tessera::Error| (e.code(), e.to_string());
        Ok(match self.0.take() {
            #[cfg(feature = "runner")]
            Some(Work::Runner(options, now)) => {
                tessera::runner_check(&options, now).map(Done::Runner).map_err(failed)
            }
            #[cfg(feature = "hub")]
            Some(Work::Hub(options, trust, now)) => {
                tessera::hub_status(&options, &trust, now).map(Done::Hub).map_err(failed)
            }
            Some(Work::Refused(e)) => Err((e.status.0, e.reason)),
            None => Err(("bad_argument", "task: already run".into())),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        use napi::bindgen_prelude::Either;
        match output {
            #[cfg(feature = "runner")]
            Ok(Done::Runner(check)) => Ok(Either::A(runner_answer(check))),
            #[cfg(feature = "hub")]
            Ok(Done::Hub(status)) => Ok(Either::B(hub_answer(status))),
            // The rejection is a JavaScript Error made here, so it carries the code.
            Err((code, message)) => {
                let error = napi::Error::new(Code(code), message);
                Err(napi::Error::from(JsError::from(error).into_unknown(env)))
            }
        }
    }
}

/// `runnerCheck` off the main thread (a bad argument rejects).
#[cfg(feature = "runner")]
#[napi(ts_args_type = "options: RunnerOptions", ts_return_type = "Promise<RunnerCheck>")]
pub fn runner_check_async(
    options: Option<Unknown<'_>>,
    extra: Option<Unknown<'_>>,
) -> AsyncTask<Check> {
    let checked = arguments::no_more(extra, "runnerCheckAsync", "(options)");
    let work = match checked.and_then(|()| runner_options(options)) {
        Ok((options, now)) => Work::Runner(options, now),
        Err(e) => Work::Refused(e),
    };
    AsyncTask::new(Check(Some(work)))
}

/// `hubStatus` off the main thread (a bad argument rejects).
#[cfg(feature = "hub")]
#[napi(
    ts_args_type = "trust: TrustSet, options: HubOptions",
    ts_return_type = "Promise<HubStatus>"
)]
pub fn hub_status_async(
    trust: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
    extra: Option<Unknown<'_>>,
) -> AsyncTask<Check> {
    let work = match arguments::no_more(extra, "hubStatusAsync", "(trust, options)")
        .and_then(|()| arguments::trust(trust))
        .and_then(|trust| Ok((trust.inner.clone(), hub_options(options)?)))
    {
        Ok((trust, (options, now))) => Work::Hub(options, trust, now),
        Err(e) => Work::Refused(e),
    };
    AsyncTask::new(Check(Some(work)))
}
