//! Tessera's checks for Python, an extension module (PyO3, abi3 for Python 3.9 and later):
//! `verify_license`, `runner_check`, `hub_status`. Status words are the command-line tools'
//! words; a call that cannot be made raises `TesseraError` whose `code` is the SDK's stable
//! code (`bad_argument`, `bad_trust`, `keystore`, `io`, `hub_unreachable`, `bad_answer`).
//! The two calls that do I/O release the GIL while they wait. Arguments are checked in
//! `arguments`: a wrong type is a `TypeError`, a refused value `TesseraError` (`bad_argument`).
//!
//! Features `runner` and `hub` (both default) pass through to the SDK; a build without one
//! leaves out its call, and the argument helpers only it uses lie idle.
#![cfg_attr(not(all(feature = "runner", feature = "hub")), allow(dead_code))]

mod arguments;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _tessera,
    TesseraError,
    PyException,
    "A check that could not be made; `code` says why in a word."
);

pub(crate) fn raise(py: Python<'_>, code: &str, message: String) -> PyErr {
    let err = TesseraError::new_err(message);
    if let Err(e) = err.value(py).setattr("code", code) {
        return e;
    }
    err
}

fn thrown(py: Python<'_>, e: &tessera::Error) -> PyErr {
    raise(py, e.code(), e.to_string())
}

/// A vendor's trust set (its public keys): parse once, pass to every check.
#[pyclass(frozen, module = "tessera")]
struct TrustSet {
    inner: tessera::TrustSet,
}

#[pymethods]
impl TrustSet {
    /// Parses the text of the vendor's `.pub` file (`str` or `bytes`). Raises TesseraError
    /// (`bad_trust`).
    #[new]
    fn new(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Self> {
        tessera::TrustSet::parse(&arguments::text(text, "text")?)
            .map(|inner| TrustSet { inner })
            .map_err(|e| thrown(py, &tessera::Error::Trust(e)))
    }
}

/// A license's terms (never its key).
#[pyclass(frozen, get_all, module = "tessera")]
struct License {
    id: String,
    org: String,
    product: String,
    features: Vec<String>,
    runner_limit: u32,
    issued_at: i64,
    not_before: i64,
    expires_at: i64,
    terminates_at: Option<i64>,
    grace_period_secs: u32,
    ping_interval_secs: u32,
}

#[pymethods]
impl License {
    /// Whether the license grants `feature`.
    fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    fn __repr__(&self) -> String {
        format!(
            "License(id={:?}, org={:?}, product={:?}, features={:?}, runner_limit={})",
            self.id, self.org, self.product, self.features, self.runner_limit
        )
    }
}

fn license(l: Option<&tessera::License>) -> Option<License> {
    l.map(|l| License {
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
    })
}

/// A check's answer: `status` (`valid`, `grace`, `expired`, `revoked`…), `reason` for
/// people, and what else the check knows.
#[pyclass(frozen, get_all, module = "tessera")]
struct Check {
    status: String,
    reason: String,
    /// `valid` or `grace`.
    permits_running: bool,
    grace_left_secs: Option<u64>,
    license: Option<Py<License>>,
    /// The runner's label (runner checks).
    runner: Option<String>,
    /// When the runner's lease ends (runner checks).
    lease_expires_at: Option<i64>,
    /// `online`, `offline` or `none` (hub status).
    mode: Option<String>,
    /// Runners holding a lease (hub status).
    runners_leased: Option<usize>,
    /// What the hub agent itself said (hub status; informative).
    agent_status: Option<String>,
}

#[pymethods]
impl Check {
    fn __repr__(&self) -> String {
        format!("Check(status={:?}, reason={:?})", self.status, self.reason)
    }
}

impl Check {
    fn new(
        py: Python<'_>,
        status: tessera::Status,
        reason: String,
        terms: Option<&tessera::License>,
    ) -> PyResult<Self> {
        Ok(Check {
            status: status.as_str().to_owned(),
            reason,
            permits_running: status.permits_running(),
            grace_left_secs: None,
            license: license(terms).map(|l| Py::new(py, l)).transpose()?,
            runner: None,
            lease_expires_at: None,
            mode: None,
            runners_leased: None,
            agent_status: None,
        })
    }
}

/// Verifies a license file (its text or bytes) with the vendor's trust set, for `product`
/// when given, at `now` (Unix seconds; the system clock when None).
#[pyfunction]
#[pyo3(signature = (license, trust, *, product=None, now=None))]
fn verify_license(
    py: Python<'_>,
    license: &Bound<'_, PyAny>,
    trust: &Bound<'_, PyAny>,
    product: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Check> {
    let license = arguments::text(license, "license")?;
    let trust = arguments::trust(trust)?;
    let product = arguments::name(product, "product")?;
    let now = arguments::now(now)?;
    let check = tessera::verify_license(&license, &trust, product.as_deref(), now)
        .map_err(|e| thrown(py, &e))?;
    Check::new(py, check.status, check.reason, check.license.as_ref())
}

/// Whether this runner may run, decided offline from its sealed cache in `state_dir` with
/// the key in `keystore` (`"keyutils"`, `"secret-service"`, `"systemd-creds"`, or by default the
/// one the runner was installed with).
#[cfg(feature = "runner")]
#[pyfunction]
#[pyo3(signature = (state_dir, *, keystore=None, tolerance_secs=None, now=None))]
fn runner_check(
    py: Python<'_>,
    state_dir: &Bound<'_, PyAny>,
    keystore: Option<&Bound<'_, PyAny>>,
    tolerance_secs: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Check> {
    let mut options = tessera::RunnerOptions::new(arguments::path(state_dir, "state_dir")?);
    if let Some(name) = arguments::name(keystore, "keystore")? {
        options = options.keystore_named(&name).map_err(|e| thrown(py, &e))?;
    }
    if let Some(t) = arguments::seconds(tolerance_secs, "tolerance_secs", false, f64::MAX)? {
        options = options.tolerance(t);
    }
    let now = arguments::now(now)?;
    let answer = py.detach(|| tessera::runner_check(&options, now)).map_err(|e| thrown(py, &e))?;
    let mut check = Check::new(py, answer.status, answer.reason, answer.license.as_ref())?;
    check.grace_left_secs = answer.grace_left_secs;
    check.runner = answer.runner;
    check.lease_expires_at = answer.lease_expires_at.map(tessera::UnixTime::as_unix);
    Ok(check)
}

/// The hub's standing, asked of the hub agent at `socket` and decided here from its signed
/// evidence with `trust`; `timeout` (seconds) is the whole call's deadline.
#[cfg(feature = "hub")]
#[pyfunction]
#[pyo3(signature = (socket, trust, *, product=None, tolerance_secs=None, timeout=None, now=None))]
#[allow(clippy::too_many_arguments)] // keyword arguments, as Python callers name them
fn hub_status(
    py: Python<'_>,
    socket: &Bound<'_, PyAny>,
    trust: &Bound<'_, PyAny>,
    product: Option<&Bound<'_, PyAny>>,
    tolerance_secs: Option<&Bound<'_, PyAny>>,
    timeout: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Check> {
    let mut options = tessera::HubOptions::new(arguments::path(socket, "socket")?);
    let trust = arguments::trust(trust)?;
    if let Some(product) = arguments::name(product, "product")? {
        options = options.product(product);
    }
    if let Some(t) = arguments::seconds(tolerance_secs, "tolerance_secs", false, f64::MAX)? {
        options.tolerance = t;
    }
    if let Some(t) = arguments::seconds(timeout, "timeout", true, arguments::MAX_TIMEOUT_SECS)? {
        options.timeout = t;
    }
    let now = arguments::now(now)?;
    let answer =
        py.detach(|| tessera::hub_status(&options, &trust, now)).map_err(|e| thrown(py, &e))?;
    let mut check = Check::new(py, answer.status, answer.reason, answer.license.as_ref())?;
    check.grace_left_secs = answer.grace_left_secs;
    check.mode = Some(answer.mode.as_str().to_owned());
    check.runners_leased = Some(answer.runners_leased);
    check.agent_status = Some(answer.agent_status.as_str().to_owned());
    Ok(check)
}

/// The extension module; the `tessera` package re-exports it.
#[pymodule]
fn _tessera(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TesseraError", m.py().get_type::<TesseraError>())?;
    m.add_class::<TrustSet>()?;
    m.add_class::<License>()?;
    m.add_class::<Check>()?;
    m.add_function(wrap_pyfunction!(verify_license, m)?)?;
    #[cfg(feature = "runner")]
    m.add_function(wrap_pyfunction!(runner_check, m)?)?;
    #[cfg(feature = "hub")]
    m.add_function(wrap_pyfunction!(hub_status, m)?)?;
    Ok(())
}
