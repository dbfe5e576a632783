//! The Python arguments, checked here so that a mistake reads as Python: a wrong type is a
//! `TypeError` naming the argument and the type it got; a value the library refuses (an
//! empty path, `nan`, a negative timeout, a time out of range) is `TesseraError` with code
//! `bad_argument`, naming it. Never a message about Rust types.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyMemoryView;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyFloat, PyInt, PyString};

use crate::{TrustSet, raise};

/// The longest wait for the hub agent a caller may ask for: an hour.
pub const MAX_TIMEOUT_SECS: f64 = 3600.0;

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map_or_else(|_| "an unknown type".into(), |n| n.to_string())
}

fn wrong_type(what: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, not {}", type_name(value)))
}

fn refused(py: Python<'_>, what: &str, message: impl std::fmt::Display) -> PyErr {
    raise(py, "bad_argument", format!("{what}: {message}"))
}

/// An optional argument: absent and `None` are the same.
fn given<'a, 'py>(value: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    value.filter(|v| !v.is_none())
}

/// A file's contents: `str`, `bytes`, `bytearray` or `memoryview` (the stubs' `bytes`,
/// which type checkers let all three stand for).
pub fn text(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_cow()?.as_bytes().to_vec());
    }
    if value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyByteArray>() {
        return value.extract::<Vec<u8>>();
    }
    if value.is_instance_of::<PyMemoryView>() {
        return value.call_method0("tobytes")?.extract::<Vec<u8>>();
    }
    Err(wrong_type(what, "str or bytes", value))
}

/// A path: `str`, `bytes` or `os.PathLike`; not empty, no NUL.
pub fn path(value: &Bound<'_, PyAny>, what: &str) -> PyResult<PathBuf> {
    let py = value.py();
    let fspath = py.import("os")?.getattr("fspath")?;
    // A TypeError is a value that is no path; any other exception is the caller's own
    // `__fspath__` failing, and stays theirs.
    let path = match fspath.call1((value,)) {
        Ok(path) => path,
        Err(e) if e.is_instance_of::<PyTypeError>(py) => {
            return Err(wrong_type(what, "str, bytes or os.PathLike", value));
        }
        Err(e) => return Err(e),
    };
    let path: OsString = if let Ok(text) = path.cast::<PyString>() {
        text.to_cow()?.into_owned().into()
    } else {
        OsString::from_vec(path.extract::<Vec<u8>>()?)
    };
    if path.is_empty() {
        return Err(refused(py, what, "must not be empty"));
    }
    if path.as_encoded_bytes().contains(&0) {
        return Err(refused(py, what, "must not contain a NUL character"));
    }
    Ok(PathBuf::from(path))
}

/// A `TrustSet` made by its constructor.
pub fn trust(value: &Bound<'_, PyAny>) -> PyResult<tessera::TrustSet> {
    value
        .cast::<TrustSet>()
        .map(|t| t.get().inner.clone())
        .map_err(|_| wrong_type("trust", "a tessera.TrustSet", value))
}

/// A `str` that names something (a product, a keystore): not empty, no NUL.
pub fn name(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<String>> {
    let Some(value) = given(value) else { return Ok(None) };
    let Ok(text) = value.cast::<PyString>() else {
        return Err(wrong_type(what, "str", value));
    };
    let text = text.to_cow()?;
    if text.is_empty() {
        return Err(refused(value.py(), what, "must not be empty"));
    }
    if text.contains('\0') {
        return Err(refused(value.py(), what, "must not contain a NUL character"));
    }
    Ok(Some(text.into_owned()))
}

/// An integer: an `int` or any other integer type (`__index__`, such as numpy's), never a
/// `bool` (a flag given for a number is a mistake).
fn integer<'py>(value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    if value.is_instance_of::<PyBool>() {
        return None;
    }
    if value.is_instance_of::<PyInt>() {
        return Some(value.clone());
    }
    let index = value.py().import("operator").ok()?.getattr("index").ok()?;
    index.call1((value,)).ok()
}

/// `now`: an integer of Unix seconds, or the system clock's time when absent.
pub fn now(value: Option<&Bound<'_, PyAny>>) -> PyResult<tessera::UnixTime> {
    let Some(value) = given(value) else { return Ok(tessera::now()) };
    let Some(value) = integer(value) else {
        return Err(wrong_type("now", "an int of Unix seconds (int(time.time()))", value));
    };
    let seconds = value.extract::<i64>().map_err(|_| {
        refused(value.py(), "now", format!("{value} is out of range (0 to the year 9999)"))
    })?;
    tessera::UnixTime::from_unix(seconds).map_err(|e| refused(value.py(), "now", e))
}

/// A number of seconds (`int` or `float`) in `min..=max`, finite; `positive` excludes 0.
pub fn seconds(
    value: Option<&Bound<'_, PyAny>>,
    what: &str,
    positive: bool,
    max: f64,
) -> PyResult<Option<Duration>> {
    let Some(value) = given(value) else { return Ok(None) };
    let value = match integer(value) {
        Some(value) => value,
        None if value.is_instance_of::<PyFloat>() => value.clone(),
        None => return Err(wrong_type(what, "a number of seconds (int or float)", value)),
    };
    let py = value.py();
    let secs = value.extract::<f64>().map_err(|_| refused(py, what, "out of range"))?;
    let low_ok = if positive { secs > 0.0 } else { secs >= 0.0 };
    if !secs.is_finite() || !low_ok || secs > max {
        let low = if positive { "more than 0" } else { "at least 0" };
        let high = if max < f64::MAX { format!(" and at most {max}") } else { String::new() };
        return Err(refused(py, what, format!("must be {low}{high} seconds, not {secs}")));
    }
    // Finite but past what a duration holds (1e300): refused, never a panic.
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| refused(py, what, format!("{secs} seconds is too large")))
}
