//! The JavaScript arguments, checked here: every mistake (a wrong type, a misspelt option,
//! `NaN` for a time) is one `bad_argument` error that names the argument, never napi-rs's
//! own error codes and never a silent default.

use napi::bindgen_prelude::{Buffer, ClassInstance, FromNapiValue, JsObjectValue, Object, Unknown};
use napi::{JsValue, ValueType};

use crate::{Result, TrustSet, bad};

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The longest wait for the hub agent a caller may ask for: an hour (a longer one is a
/// mistake, such as seconds given as milliseconds times a thousand).
pub const MAX_TIMEOUT_MS: f64 = 3_600_000.0;

/// A failure of the JavaScript engine itself while reading an argument.
fn engine<T>(result: napi::Result<T>, what: &str) -> Result<T> {
    result.map_err(|e| bad(what, format!("cannot be read ({})", e.reason)))
}

/// What a value is, for messages: "a number", "null"…
fn kind(value: &Unknown<'_>) -> &'static str {
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "a boolean",
        Ok(ValueType::Number) => "a number",
        Ok(ValueType::String) => "a string",
        Ok(ValueType::Symbol) => "a symbol",
        Ok(ValueType::Function) => "a function",
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "an array",
        Ok(ValueType::Object) => "an object",
        // Without napi-rs's `napi6` feature a bigint is its `Unknown`; the only other kind
        // (an external) never comes from JavaScript code.
        _ => "a bigint",
    }
}

/// `undefined` and `null` are "not given".
fn given<'env>(value: Option<Unknown<'env>>, what: &str) -> Result<Option<Unknown<'env>>> {
    let Some(value) = value else { return Ok(None) };
    match engine(value.get_type(), what)? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => Ok(Some(value)),
    }
}

/// Nothing after the arguments `call` takes (`takes`): an extra one, such as a time given
/// after the options object, would otherwise be dropped without a word.
pub fn no_more(extra: Option<Unknown<'_>>, call: &str, takes: &str) -> Result<()> {
    match given(extra, "arguments")? {
        None => Ok(()),
        Some(value) => Err(bad(
            "arguments",
            format!("{call} takes {takes}; an extra argument ({}) was given", kind(&value)),
        )),
    }
}

/// A string that names something (a path, a product): not empty, no NUL.
fn name(value: Unknown<'_>, what: &str) -> Result<String> {
    if engine(value.get_type(), what)? != ValueType::String {
        return Err(bad(what, format!("must be a string, not {}", kind(&value))));
    }
    let text = engine(String::from_unknown(value), what)?;
    if text.is_empty() {
        return Err(bad(what, "must not be empty"));
    }
    if text.contains('\0') {
        return Err(bad(what, "must not contain a NUL character"));
    }
    Ok(text)
}

/// A file's contents given as a string or a Buffer (or another Uint8Array).
pub enum Bytes {
    Text(String),
    Buffer(Buffer),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Text(text) => text.as_bytes(),
            Bytes::Buffer(buffer) => buffer,
        }
    }
}

/// The text of a file: a string or a Buffer.
pub fn bytes(value: Option<Unknown<'_>>, what: &str) -> Result<Bytes> {
    let Some(value) = given(value, what)? else {
        return Err(bad(what, "is required (a string or a Buffer)"));
    };
    if engine(value.get_type(), what)? == ValueType::String {
        return Ok(Bytes::Text(engine(String::from_unknown(value), what)?));
    }
    if engine(value.is_buffer(), what)? {
        return Ok(Bytes::Buffer(engine(Buffer::from_unknown(value), what)?));
    }
    Err(bad(what, format!("must be a string or a Buffer, not {}", kind(&value))))
}

/// A `TrustSet` made by its constructor.
pub fn trust<'env>(value: Option<Unknown<'env>>) -> Result<ClassInstance<'env, TrustSet>> {
    let refused = |value: &Unknown<'_>| {
        bad("trust", format!("must be a TrustSet (new TrustSet(text)), not {}", kind(value)))
    };
    let Some(value) = given(value, "trust")? else {
        return Err(bad("trust", "is required (a TrustSet)"));
    };
    if engine(value.get_type(), "trust")? != ValueType::Object {
        return Err(refused(&value));
    }
    ClassInstance::<TrustSet>::from_unknown(value).map_err(|_| refused(&value))
}

/// An options object, its keys checked against those the call takes.
pub struct Options<'env> {
    object: Option<Object<'env>>,
}

impl<'env> Options<'env> {
    /// The options of `call`, which takes the keys `known`; `required` when the call has
    /// an option without a default (a path).
    pub fn new(
        value: Option<Unknown<'env>>,
        call: &str,
        known: &[&str],
        required: bool,
    ) -> Result<Self> {
        let object = match given(value, "options")? {
            None if required => {
                return Err(bad("options", format!("{call} needs an options object")));
            }
            None => None,
            Some(value) => {
                let object = engine(value.get_type(), "options")? == ValueType::Object
                    && !engine(value.is_array(), "options")?;
                if !object {
                    return Err(bad(
                        "options",
                        format!("{call} takes an object of options, not {}", kind(&value)),
                    ));
                }
                Some(engine(Object::from_unknown(value), "options")?)
            }
        };
        if let Some(object) = &object {
            for key in engine(Object::keys(object), "options")? {
                if !known.contains(&key.as_str()) {
                    return Err(bad(
                        &key,
                        format!("not an option of {call} (it takes {})", known.join(", ")),
                    ));
                }
            }
        }
        Ok(Options { object })
    }

    fn get(&self, key: &str) -> Result<Option<Unknown<'env>>> {
        let Some(object) = &self.object else { return Ok(None) };
        given(Some(engine(object.get_named_property::<Unknown<'env>>(key), key)?), key)
    }

    /// A string option that names something (a path, a product, a keystore).
    pub fn name(&self, key: &str) -> Result<Option<String>> {
        self.get(key)?.map(|value| name(value, key)).transpose()
    }

    /// A string option without which the call cannot be made.
    pub fn required_name(&self, key: &str) -> Result<String> {
        self.name(key)?.ok_or_else(|| bad(key, "is required"))
    }

    /// A whole number in `min..=max`, in `unit`s.
    pub fn whole(&self, key: &str, min: f64, max: f64, unit: &str) -> Result<Option<f64>> {
        let Some(value) = self.get(key)? else { return Ok(None) };
        if engine(value.get_type(), key)? != ValueType::Number {
            return Err(bad(key, format!("must be a number of {unit}, not {}", kind(&value))));
        }
        let number = engine(f64::from_unknown(value), key)?;
        if !number.is_finite() || number.fract() != 0.0 {
            return Err(bad(key, format!("must be a whole number of {unit}, not {number}")));
        }
        if !(min..=max).contains(&number) {
            return Err(bad(key, format!("must be from {min} to {max} {unit}, not {number}")));
        }
        Ok(Some(number))
    }

    /// `now`: Unix seconds, or the system clock's time when absent.
    pub fn now(&self) -> Result<tessera::UnixTime> {
        let max = tessera::UnixTime::MAX_SECONDS as f64;
        match self.whole("now", 0.0, max, "Unix seconds")? {
            // A whole number in range: the conversion is exact.
            Some(seconds) => {
                tessera::UnixTime::from_unix(seconds as i64).map_err(|e| bad("now", e))
            }
            None => Ok(tessera::now()),
        }
    }

    /// `toleranceSecs`: how far the clock may fall behind the latest time seen.
    pub fn tolerance(&self) -> Result<Option<std::time::Duration>> {
        Ok(self
            .whole("toleranceSecs", 0.0, MAX_SAFE_INTEGER, "seconds")?
            .map(std::time::Duration::from_secs_f64))
    }

    /// `timeoutMs`: the whole call's deadline, from 1 ms to an hour.
    pub fn timeout(&self) -> Result<Option<std::time::Duration>> {
        Ok(self
            .whole("timeoutMs", 1.0, MAX_TIMEOUT_MS, "milliseconds")?
            .map(|ms| std::time::Duration::from_secs_f64(ms / 1000.0)))
    }
}
