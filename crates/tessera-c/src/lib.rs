// Over 500 lines on purpose: the whole C boundary in one file, so every `unsafe` item and its
// reason are reviewed together.
//! Tessera's checks for C and C++: the calls of the `tessera` crate behind a C ABI, with a
//! header (`tessera.h`) that cbindgen generates in the build.
//!
//! The rules of the boundary:
//! - handles are opaque (`TesseraTrust`, `TesseraCheck`) and each has its free function;
//! - every call returns a [`TesseraCode`]; on failure, [`tessera_last_error`] holds the
//!   message (per thread, until the next call on that thread);
//! - no panic crosses: each call runs under `catch_unwind` and a panic becomes
//!   `TESSERA_CODE_PANIC`;
//! - strings in are NUL-terminated UTF-8; strings out belong to their handle and live as
//!   long as it does.
//!
//! The workspace forbids `unsafe`; here it is denied but allowed item by item where the C
//! ABI needs it (exported symbols, pointers from the caller), each with its reason.

mod status;
mod version;

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

#[cfg(feature = "hub")]
use tessera::HubOptions;
#[cfg(feature = "runner")]
use tessera::RunnerOptions;
use tessera::{Error, Status, TrustSet, UnixTime};

pub use status::TesseraStatus;
pub use version::{tessera_version, tessera_version_check};

/// The hub status call's deadline when a product has no reason to choose another, in
/// milliseconds.
pub const TESSERA_HUB_TIMEOUT_MS_DEFAULT: i64 = 5000;

/// The longest deadline `tessera_hub_status` takes: an hour, in milliseconds.
pub const TESSERA_HUB_TIMEOUT_MS_MAX: i64 = 3_600_000;

/// What a call returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TesseraCode {
    /// The call was made; the check's status says whether the product may run.
    Ok = 0,
    /// An argument is missing (NULL), not UTF-8, or not what the call takes.
    BadArgument = 1,
    /// The trust set text does not parse.
    BadTrust = 2,
    /// The OS keystore holding the runner's cache key cannot be used.
    Keystore = 3,
    /// A state file could not be read or written.
    Io = 4,
    /// The hub agent's status socket cannot be reached.
    HubUnreachable = 5,
    /// The hub agent answered something that is not a status.
    BadAnswer = 6,
    /// A bug in the library (a panic, caught at the boundary).
    Panic = 7,
}

impl From<&Error> for TesseraCode {
    fn from(e: &Error) -> Self {
        match e {
            Error::BadArgument { .. } => TesseraCode::BadArgument,
            Error::Trust(_) => TesseraCode::BadTrust,
            Error::Keystore(_) => TesseraCode::Keystore,
            Error::Io(_) => TesseraCode::Io,
            Error::HubUnreachable { .. } => TesseraCode::HubUnreachable,
            Error::BadAnswer(_) => TesseraCode::BadAnswer,
            _ => TesseraCode::BadArgument,
        }
    }
}

/// A parsed vendor trust set (the vendor's public keys). Parse once, use for every check.
pub struct TesseraTrust {
    trust: TrustSet,
}

/// The answer of a check: a status word, a reason, the license's terms.
pub struct TesseraCheck {
    status: Status,
    status_text: CString,
    reason: CString,
    grace_left_secs: Option<u64>,
    license_id: Option<CString>,
    features: Vec<String>,
    runner_limit: u32,
    json: CString,
}

impl TesseraCheck {
    fn new(
        status: Status,
        reason: &str,
        grace_left_secs: Option<u64>,
        license: Option<&tessera::License>,
        json: String,
    ) -> Self {
        TesseraCheck {
            status,
            status_text: c_string(status.as_str()),
            reason: c_string(reason),
            grace_left_secs,
            license_id: license.map(|l| c_string(&l.id)),
            features: license.map(|l| l.features.clone()).unwrap_or_default(),
            runner_limit: license.map_or(0, |l| l.runner_limit),
            json: c_string(&json),
        }
    }
}

/// Text for C: an interior NUL (never in our own text) is cut there.
fn c_string(text: &str) -> CString {
    let end = text.find('\0').unwrap_or(text.len());
    CString::new(&text[..end]).unwrap_or_default()
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_error(message: &str) {
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(c_string(message)));
}

/// Runs `body` as one C call: clears the last error, turns an error into its code and
/// message, and a panic into `Panic`.
fn call(body: impl FnOnce() -> Result<(), Error>) -> TesseraCode {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => TesseraCode::Ok,
        Ok(Err(e)) => {
            set_error(&e.to_string());
            TesseraCode::from(&e)
        }
        Err(_) => {
            set_error("internal error in the Tessera library (a panic, caught)");
            TesseraCode::Panic
        }
    }
}

fn missing(what: &'static str) -> Error {
    Error::BadArgument { what, message: "NULL".into() }
}

/// Refuses a NULL `out` before any work is done (a check that cannot be handed back is
/// not made), and sets `*out` to NULL: after a failure the caller holds NULL (whose answers
/// are all "no" and whose free does nothing), never what the variable held before.
///
/// # Safety
/// `out` is NULL (refused) or points to writable storage for a pointer.
#[allow(unsafe_code)]
unsafe fn out_given<T>(out: *mut *mut T) -> Result<(), Error> {
    if out.is_null() {
        return Err(missing("out"));
    }
    // SAFETY: not NULL; the caller promises it is writable.
    unsafe { *out = ptr::null_mut() };
    Ok(())
}

/// A NUL-terminated UTF-8 string from the caller.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
#[allow(unsafe_code)]
unsafe fn text<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(missing(what));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string alive for the call.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|_| Error::BadArgument { what, message: "not UTF-8".into() })
}

/// A path from the caller: as [`text`], and not empty.
///
/// # Safety
/// As [`text`].
#[cfg(any(feature = "runner", feature = "hub"))]
#[allow(unsafe_code)]
unsafe fn path<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Error> {
    // SAFETY: the caller's promise, passed on.
    let path = unsafe { text(ptr, what) }?;
    if path.is_empty() {
        return Err(Error::BadArgument { what, message: "empty".into() });
    }
    Ok(path)
}

/// An optional string: NULL is none.
///
/// # Safety
/// As [`text`].
#[allow(unsafe_code)]
unsafe fn optional_text<'a>(
    ptr: *const c_char,
    what: &'static str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { text(ptr, what) }.map(Some)
}

/// Stores `value` in `*out` as a new handle.
///
/// # Safety
/// `out` is NULL (refused) or points to writable storage for a pointer.
#[allow(unsafe_code)]
unsafe fn give<T>(out: *mut *mut T, value: T) -> Result<(), Error> {
    if out.is_null() {
        return Err(missing("out"));
    }
    // SAFETY: not NULL; the caller promises it is writable. The box is owned by the caller
    // from here until it passes it to the matching free function.
    unsafe { *out = Box::into_raw(Box::new(value)) };
    Ok(())
}

/// # Safety
/// `trust` is NULL or a handle from `tessera_trust_parse` not yet freed.
#[allow(unsafe_code)]
unsafe fn trust<'a>(trust: *const TesseraTrust) -> Result<&'a TrustSet, Error> {
    // SAFETY: the caller's promise: a live handle or NULL (refused).
    unsafe { trust.as_ref() }.map(|t| &t.trust).ok_or_else(|| missing("trust"))
}

fn time(now: i64) -> Result<UnixTime, Error> {
    UnixTime::from_unix(now).map_err(|e| Error::BadArgument { what: "now", message: e.to_string() })
}

#[cfg(feature = "hub")]
fn timeout(ms: i64) -> Result<std::time::Duration, Error> {
    match u64::try_from(ms) {
        Ok(ms @ 1..) if ms <= TESSERA_HUB_TIMEOUT_MS_MAX.unsigned_abs() => {
            Ok(std::time::Duration::from_millis(ms))
        }
        _ => Err(Error::BadArgument {
            what: "timeout_ms",
            message: format!("{ms} is not from 1 to {TESSERA_HUB_TIMEOUT_MS_MAX} milliseconds"),
        }),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The message of the last call on this thread that failed, or NULL. Valid until the next
/// call on this thread.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol: its name must stay unique (prefixed `tessera_`).
pub extern "C" fn tessera_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(ptr::null(), |m| m.as_ptr()))
}

/// The system clock's time now, in Unix seconds: pass it as `now`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub extern "C" fn tessera_now() -> i64 {
    tessera::now().as_unix()
}

/// Parses the vendor's trust set (the text of its `.pub` file) into `*out`; free it with
/// `tessera_trust_free`.
///
/// # Safety
/// `text` is a NUL-terminated string; `out` points to storage for a pointer.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_trust_parse(
    text: *const c_char,
    out: *mut *mut TesseraTrust,
) -> TesseraCode {
    call(|| {
        // SAFETY: the caller's promises in this function's contract.
        unsafe { out_given(out) }?;
        let text = unsafe { self::text(text, "trust text") }?;
        let trust = TrustSet::parse(text.as_bytes())?;
        // SAFETY: as above.
        unsafe { give(out, TesseraTrust { trust }) }
    })
}

/// Frees a trust set. NULL is allowed.
///
/// # Safety
/// `trust` is NULL or a handle from `tessera_trust_parse`, freed only once.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_trust_free(trust: *mut TesseraTrust) {
    if !trust.is_null() {
        // SAFETY: made by Box::into_raw in `give`; the caller frees it once.
        drop(unsafe { Box::from_raw(trust) });
    }
}

/// Verifies a license file (`len` bytes of its text) with `trust` at `now` (Unix seconds),
/// for `product` unless it is NULL. The verdict goes to `*out`; free it with
/// `tessera_check_free`.
///
/// # Safety
/// `trust` is a live handle; `license` points to `len` readable bytes; `product` is NULL or
/// a NUL-terminated string; `out` points to storage for a pointer.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_verify_license(
    trust: *const TesseraTrust,
    license: *const u8,
    len: usize,
    product: *const c_char,
    now: i64,
    out: *mut *mut TesseraCheck,
) -> TesseraCode {
    call(|| {
        // SAFETY: the caller's promises in this function's contract.
        unsafe { out_given(out) }?;
        let trust = unsafe { self::trust(trust) }?;
        if license.is_null() {
            return Err(missing("license"));
        }
        // SAFETY: not NULL; the caller promises `len` readable bytes for the call.
        let license = unsafe { std::slice::from_raw_parts(license, len) };
        // SAFETY: as above.
        let product = unsafe { optional_text(product, "product") }?;
        let check = tessera::verify_license(license, trust, product, time(now)?)?;
        let made = TesseraCheck::new(
            check.status,
            &check.reason,
            None,
            check.license.as_ref(),
            json(&check),
        );
        // SAFETY: as above.
        unsafe { give(out, made) }
    })
}

/// A runner's check from its state directory at `now`, on `keystore` (`"keyutils"`,
/// `"secret-service"`, `"systemd-creds"`, or NULL for the one the runner was installed with).
/// The answer goes to `*out`.
///
/// # Safety
/// `state_dir` is a NUL-terminated string; `keystore` NULL or one; `out` points to storage
/// for a pointer.
#[cfg(feature = "runner")]
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_runner_check(
    state_dir: *const c_char,
    keystore: *const c_char,
    now: i64,
    out: *mut *mut TesseraCheck,
) -> TesseraCode {
    call(|| {
        // SAFETY: the caller's promises in this function's contract.
        unsafe { out_given(out) }?;
        let dir = unsafe { path(state_dir, "state_dir") }?;
        let mut options = RunnerOptions::new(dir);
        // SAFETY: as above.
        if let Some(name) = unsafe { optional_text(keystore, "keystore") }? {
            options = options.keystore_named(name)?;
        }
        let check = tessera::runner_check(&options, time(now)?)?;
        let made = TesseraCheck::new(
            check.status,
            &check.reason,
            check.grace_left_secs,
            check.license.as_ref(),
            json(&check),
        );
        // SAFETY: as above.
        unsafe { give(out, made) }
    })
}

/// The hub's standing, asked of the hub agent at `socket` and checked here with `trust` at
/// `now`, for `product` unless NULL, waiting at most `timeout_ms` milliseconds for the
/// whole call (1 to `TESSERA_HUB_TIMEOUT_MS_MAX`; `TESSERA_HUB_TIMEOUT_MS_DEFAULT` when in
/// doubt). The answer goes to `*out`.
///
/// # Safety
/// `socket` is a NUL-terminated string; `trust` a live handle; `product` NULL or a
/// NUL-terminated string; `out` points to storage for a pointer.
#[cfg(feature = "hub")]
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_hub_status(
    socket: *const c_char,
    trust: *const TesseraTrust,
    product: *const c_char,
    timeout_ms: i64,
    now: i64,
    out: *mut *mut TesseraCheck,
) -> TesseraCode {
    call(|| {
        // SAFETY: the caller's promises in this function's contract.
        unsafe { out_given(out) }?;
        let socket = unsafe { path(socket, "socket") }?;
        // SAFETY: as above.
        let trust = unsafe { self::trust(trust) }?;
        let mut options = HubOptions::new(socket);
        // SAFETY: as above.
        if let Some(product) = unsafe { optional_text(product, "product") }? {
            options = options.product(product);
        }
        options.timeout = timeout(timeout_ms)?;
        let status = tessera::hub_status(&options, trust, time(now)?)?;
        let made = TesseraCheck::new(
            status.status,
            &status.reason,
            status.grace_left_secs,
            status.license.as_ref(),
            json(&status),
        );
        // SAFETY: as above.
        unsafe { give(out, made) }
    })
}

/// # Safety
/// `check` is NULL or a live handle.
#[allow(unsafe_code)]
unsafe fn check<'a>(check: *const TesseraCheck) -> Option<&'a TesseraCheck> {
    // SAFETY: the caller's promise: a live handle or NULL.
    unsafe { check.as_ref() }
}

/// The status word (`"valid"`, `"grace"`, `"revoked"`…), as the command-line tools print it.
/// Owned by the check.
///
/// # Safety
/// `check` is a live handle (NULL gives NULL).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_status(check: *const TesseraCheck) -> *const c_char {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }.map_or(ptr::null(), |c| c.status_text.as_ptr())
}

/// The status as an enum value, for a `switch` (`TESSERA_STATUS_UNRECOGNIZED` for NULL).
///
/// # Safety
/// `check` is a live handle or NULL.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_status_code(check: *const TesseraCheck) -> TesseraStatus {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }.map_or(TesseraStatus::Unrecognized, |c| c.status.into())
}

/// 1 when the status permits running (`valid`, `grace`), else 0.
///
/// # Safety
/// `check` is a live handle (NULL gives 0).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_permits_running(check: *const TesseraCheck) -> i32 {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }.is_some_and(|c| c.status.permits_running()).into()
}

/// One sentence for people, owned by the check.
///
/// # Safety
/// `check` is a live handle (NULL gives NULL).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_reason(check: *const TesseraCheck) -> *const c_char {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }.map_or(ptr::null(), |c| c.reason.as_ptr())
}

/// Seconds of grace (or of the offline activation) left, or -1 when that does not apply.
///
/// # Safety
/// `check` is a live handle (NULL gives -1).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_grace_left_secs(check: *const TesseraCheck) -> i64 {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }
        .and_then(|c| c.grace_left_secs)
        .map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX))
}

/// The license's id, or NULL when no license verified. Owned by the check.
///
/// # Safety
/// `check` is a live handle (NULL gives NULL).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_license_id(check: *const TesseraCheck) -> *const c_char {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }
        .and_then(|c| c.license_id.as_ref())
        .map_or(ptr::null(), |s| s.as_ptr())
}

/// How many runners the license allows at once (0 when no license verified).
///
/// # Safety
/// `check` is a live handle (NULL gives 0).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_runner_limit(check: *const TesseraCheck) -> u32 {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }.map_or(0, |c| c.runner_limit)
}

/// 1 when the verified license grants `feature`, else 0.
///
/// # Safety
/// `check` is a live handle; `feature` a NUL-terminated string (NULL gives 0).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_has_feature(
    check: *const TesseraCheck,
    feature: *const c_char,
) -> i32 {
    // SAFETY: this function's contract.
    let (Some(check), Ok(feature)) =
        (unsafe { self::check(check) }, unsafe { text(feature, "feature") })
    else {
        return 0;
    };
    check.features.iter().any(|f| f == feature).into()
}

/// The whole answer as one JSON object (the same fields as the other bindings), owned by
/// the check.
///
/// # Safety
/// `check` is a live handle (NULL gives NULL).
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_json(check: *const TesseraCheck) -> *const c_char {
    // SAFETY: this function's contract.
    unsafe { self::check(check) }.map_or(ptr::null(), |c| c.json.as_ptr())
}

/// Frees a check. NULL is allowed.
///
/// # Safety
/// `check` is NULL or a handle from a check call, freed only once.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_check_free(check: *mut TesseraCheck) {
    if !check.is_null() {
        // SAFETY: made by Box::into_raw in `give`; the caller frees it once.
        drop(unsafe { Box::from_raw(check) });
    }
}
