//! The D-Bus wire format (the specification's "Marshaling" section): the values the Secret
//! Service client sends and reads, their signatures and alignment, both byte orders on read.
//! Sends are little-endian.

use zeroize::Zeroizing;

/// One D-Bus value. Numbers the client never sends are read as [`Value::Number`].
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    U32(u32),
    Str(String),
    Path(String),
    Signature(String),
    /// An array of bytes (`ay`): a secret travels in one, so it is wiped when dropped.
    Bytes(Zeroizing<Vec<u8>>),
    /// An array with its element's signature (an empty array still needs it).
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
    /// A number of another type (`n q i x t d h`), as its type code and raw bits.
    Number(u8, u64),
}

/// No `Debug` with contents: a [`Value::Bytes`] may be a secret.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value({})", self.signature())
    }
}

/// Why bytes are not a D-Bus value of the expected type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("the message ends inside a value")]
    Truncated,
    #[error("invalid D-Bus data: {0}")]
    Invalid(&'static str),
}

/// Variants inside variants, arrays inside arrays: deeper than the specification's limits
/// (32 + 32 + 64) is refused before it can exhaust the stack.
const MAX_DEPTH: usize = 128;

impl Value {
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::U32(_) => "u".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Bytes(_) => "ay".into(),
            Value::Array(element, _) => format!("a{element}"),
            Value::Struct(fields) => {
                format!("({})", fields.iter().map(Value::signature).collect::<String>())
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
            Value::Number(code, _) => char::from(*code).to_string(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(n) => Some(*n),
            _ => None,
        }
    }

    /// The object paths of an `ao`.
    pub fn as_paths(&self) -> Option<Vec<String>> {
        match self {
            Value::Array(element, items) if element == "o" => {
                items.iter().map(|v| v.as_str().map(str::to_owned)).collect()
            }
            _ => None,
        }
    }

    /// A string-to-string dictionary (`a{ss}`).
    pub fn string_dict<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Array(
            "{ss}".into(),
            pairs
                .into_iter()
                .map(|(k, v)| {
                    Value::DictEntry(Box::new(Value::Str(k.into())), Box::new(Value::Str(v.into())))
                })
                .collect(),
        )
    }
}

/// The alignment of a type, by the first byte of its signature.
fn alignment(code: u8) -> usize {
    match code {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b'h' | b's' | b'o' | b'a' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1,
    }
}

/// Appends values at offsets counted from the start of `buf`, which must be where the
/// message (or its 8-aligned body) starts.
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    pub fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, n: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    pub fn write(&mut self, value: &Value) {
        match value {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::U32(n) => self.u32(*n),
            Value::Str(s) | Value::Path(s) => {
                self.u32(s.len() as u32);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Signature(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Bytes(bytes) => {
                self.u32(bytes.len() as u32);
                self.buf.extend_from_slice(bytes);
            }
            Value::Array(element, items) => {
                self.u32(0);
                let length_at = self.buf.len() - 4;
                self.pad(alignment(element.as_bytes().first().copied().unwrap_or(b'y')));
                let start = self.buf.len();
                for item in items {
                    self.write(item);
                }
                let length = (self.buf.len() - start) as u32;
                self.buf[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for field in fields {
                    self.write(field);
                }
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.write(k);
                self.write(v);
            }
            Value::Variant(inner) => {
                self.write(&Value::Signature(inner.signature()));
                self.write(inner);
            }
            Value::Number(code, bits) => {
                let align = alignment(*code);
                self.pad(align);
                self.buf.extend_from_slice(&bits.to_le_bytes()[..align]);
            }
        }
    }
}

/// Reads values from `buf`, aligned from its start, in the message's byte order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
    big_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], big_endian: bool) -> Self {
        Reader { buf, pos: 0, big_endian }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn align(&mut self, align: usize) -> Result<(), WireError> {
        let padding = (align - self.pos % align) % align;
        if self.take(padding)?.iter().any(|&b| b != 0) {
            return Err(WireError::Invalid("padding that is not zero"));
        }
        Ok(())
    }

    fn number(&mut self, size: usize) -> Result<u64, WireError> {
        self.align(size)?;
        let bytes = self.take(size)?;
        let mut n = 0u64;
        for i in 0..size {
            let b = if self.big_endian { bytes[i] } else { bytes[size - 1 - i] };
            n = (n << 8) | u64::from(b);
        }
        Ok(n)
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(self.number(4)? as u32)
    }

    fn text(&mut self, length: usize) -> Result<String, WireError> {
        let bytes = self.take(length)?;
        if self.take(1)? != [0] {
            return Err(WireError::Invalid("a string without its terminating zero"));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Invalid("a string not in UTF-8"))
    }

    /// Reads every complete type of `signature`, in order (a message body).
    pub fn read_all(&mut self, signature: &str) -> Result<Vec<Value>, WireError> {
        let sig = signature.as_bytes();
        let mut values = Vec::new();
        let mut at = 0;
        while at < sig.len() {
            let end = type_end(sig, at, 0)?;
            values.push(self.read(&sig[at..end], 0)?);
            at = end;
        }
        Ok(values)
    }

    /// Reads one value of the single complete type `sig`.
    fn read(&mut self, sig: &[u8], depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::Invalid("values nested too deep"));
        }
        Ok(match sig[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return Err(WireError::Invalid("a boolean that is neither 0 nor 1")),
            },
            b'u' => Value::U32(self.u32()?),
            code @ (b'n' | b'q' | b'i' | b'h' | b'x' | b't' | b'd') => {
                Value::Number(code, self.number(alignment(code))?)
            }
            b's' => {
                let length = self.u32()? as usize;
                Value::Str(self.text(length)?)
            }
            b'o' => {
                let length = self.u32()? as usize;
                Value::Path(self.text(length)?)
            }
            b'g' => {
                let length = usize::from(self.take(1)?[0]);
                Value::Signature(self.text(length)?)
            }
            b'a' => {
                let length = self.u32()? as usize;
                let element = &sig[1..];
                self.align(alignment(element[0]))?;
                let end = self.pos.checked_add(length).ok_or(WireError::Truncated)?;
                if end > self.buf.len() {
                    return Err(WireError::Truncated);
                }
                if element == b"y" {
                    return Ok(Value::Bytes(Zeroizing::new(self.take(length)?.to_vec())));
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.read(element, depth + 1)?);
                }
                if self.pos != end {
                    return Err(WireError::Invalid("an array's elements overrun its length"));
                }
                Value::Array(String::from_utf8_lossy(element).into_owned(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                let mut at = 0;
                while at < inner.len() {
                    let end = type_end(inner, at, depth + 1)?;
                    fields.push(self.read(&inner[at..end], depth + 1)?);
                    at = end;
                }
                if sig[0] == b'(' {
                    Value::Struct(fields)
                } else {
                    let mut fields = fields.into_iter();
                    match (fields.next(), fields.next(), fields.next()) {
                        (Some(k), Some(v), None) => Value::DictEntry(Box::new(k), Box::new(v)),
                        _ => {
                            return Err(WireError::Invalid(
                                "a dictionary entry without two fields",
                            ));
                        }
                    }
                }
            }
            b'v' => {
                let length = usize::from(self.take(1)?[0]);
                let inner = self.text(length)?;
                let bytes = inner.as_bytes();
                if bytes.is_empty() || type_end(bytes, 0, depth + 1)? != bytes.len() {
                    return Err(WireError::Invalid("a variant's signature is not one type"));
                }
                Value::Variant(Box::new(self.read(bytes, depth + 1)?))
            }
            _ => return Err(WireError::Invalid("an unknown type in a signature")),
        })
    }
}

/// Where the single complete type that starts at `sig[at]` ends.
fn type_end(sig: &[u8], at: usize, depth: usize) -> Result<usize, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::Invalid("a signature nested too deep"));
    }
    match sig.get(at) {
        None => Err(WireError::Invalid("a signature that ends inside a type")),
        Some(b'a') => type_end(sig, at + 1, depth + 1),
        Some(open @ (b'(' | b'{')) => {
            let close = if *open == b'(' { b')' } else { b'}' };
            let mut i = at + 1;
            while sig.get(i) != Some(&close) {
                i = type_end(sig, i, depth + 1)?;
            }
            if i == at + 1 {
                return Err(WireError::Invalid("an empty structure in a signature"));
            }
            Ok(i + 1)
        }
        Some(
            b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b'h' | b's' | b'o'
            | b'g' | b'v',
        ) => Ok(at + 1),
        Some(_) => Err(WireError::Invalid("an unknown type in a signature")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[Value]) -> Vec<Value> {
        let mut w = Writer::new();
        for v in values {
            w.write(v);
        }
        let signature: String = values.iter().map(Value::signature).collect();
        let mut r = Reader::new(&w.buf, false);
        let back = r.read_all(&signature).expect("reads back");
        assert_eq!(r.pos, w.buf.len(), "every byte read");
        back
    }

    #[test]
    fn the_secret_service_calls_round_trip() {
        let secret = Value::Struct(vec![
            Value::Path("/org/freedesktop/secrets/session/1".into()),
            Value::Bytes(Zeroizing::new(vec![])),
            Value::Bytes(Zeroizing::new(vec![1, 2, 3])),
            Value::Str("application/octet-stream".into()),
        ]);
        let properties = Value::Array(
            "{sv}".into(),
            vec![Value::DictEntry(
                Box::new(Value::Str("org.freedesktop.Secret.Item.Attributes".into())),
                Box::new(Value::Variant(Box::new(Value::string_dict([("service", "x")])))),
            )],
        );
        let values = vec![properties, secret, Value::Bool(true), Value::Array("o".into(), vec![])];
        assert_eq!(round_trip(&values), values);
    }

    /// The specification's own layout: `(yu)` pads the byte to a 4-aligned number, and an
    /// empty `a(y)` after a 4-byte length still pads to 8.
    #[test]
    fn alignment_follows_the_specification() {
        let mut w = Writer::new();
        w.write(&Value::Struct(vec![Value::Byte(7), Value::U32(0x0102_0304)]));
        assert_eq!(w.buf, [7, 0, 0, 0, 4, 3, 2, 1]);
        let mut w = Writer::new();
        w.write(&Value::Array("(y)".into(), vec![]));
        assert_eq!(w.buf, [0, 0, 0, 0, 0, 0, 0, 0]);
        let mut w = Writer::new();
        w.write(&Value::Variant(Box::new(Value::Str("ab".into()))));
        assert_eq!(w.buf, [1, b's', 0, 0, 2, 0, 0, 0, b'a', b'b', 0]);
    }

    #[test]
    fn big_endian_messages_are_read() {
        let buf = [0, 0, 0, 2, b'h', b'i', 0];
        assert_eq!(Reader::new(&buf, true).read_all("s"), Ok(vec![Value::Str("hi".into())]));
    }

    #[test]
    fn malformed_data_is_refused_not_a_panic() {
        let cases: &[(&[u8], &str)] = &[
            (&[5, 0, 0, 0, b'a'], "s"),          // length past the end
            (&[1, 0, 0, 0, b'a', 1], "s"),       // no terminating zero
            (&[2, 0, 0, 0], "b"),                // boolean 2
            (&[1, b'q', 0], "v"),                // variant of an unknown type
            (&[2, b'a', b'a', 0], "v"),          // variant of an incomplete type
            (&[0xff, 0xff, 0xff, 0x7f], "ao"),   // array longer than the message
            (&[1, 0, 0, 0, 0xff, 0xfe, 0], "s"), // not UTF-8
        ];
        for (bytes, signature) in cases {
            let result = Reader::new(bytes, false).read_all(signature);
            assert!(result.is_err(), "{bytes:?} as {signature} was read");
        }
        // A variant nested past the limit: refused, not a stack overflow.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[1, b'v', 0]);
        }
        let refused = Reader::new(&deep, false).read_all("v").expect_err("too deep");
        assert!(refused.to_string().contains("nested too deep"), "{refused}");
        assert!(Reader::new(&[], false).read_all("a(").is_err());
        assert!(Reader::new(&[], false).read_all("()").is_err());
    }
}
