//! A minimal blocking D-Bus client: connect to the session bus, authenticate as this user,
//! call methods and read their replies. Only what the Secret Service keystore needs: no
//! signals, no file descriptors, no server side.
//!
//! Why not zbus: it brought 69 crates and 2.9 MB (an async executor, and session crypto the
//! keystore does not need) into every product that links the SDK, for the few calls a
//! runner's key needs. The wire format is in [`wire`]; its tests hold the specification's
//! layouts, and the keystore's tests talk to a real gnome-keyring.

pub mod wire;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use wire::{Reader, Value, WireError, Writer};

/// The reference implementation's method-call timeout: a keystore that does not answer in
/// that time is reported, not waited on for ever.
const TIMEOUT: Duration = Duration::from_secs(25);

/// Bigger replies than this are refused (a key's reply is well under a kilobyte).
const MAX_MESSAGE: usize = 1 << 20;

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;

/// Why a call did not return.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error(
        "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and XDG_RUNTIME_DIR has no bus)"
    )]
    NoBus,
    #[error("cannot connect to the D-Bus session bus at {address}: {source}")]
    Connect { address: String, source: io::Error },
    #[error("the D-Bus session bus refused this user: {0}")]
    Auth(String),
    #[error("the D-Bus connection failed: {0}")]
    Io(io::Error),
    #[error("no answer on the D-Bus session bus within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("the D-Bus session bus sent a message this client cannot read: {0}")]
    Wire(#[from] WireError),
    /// The called service answered with an error.
    #[error("{name}: {message}")]
    Remote { name: String, message: String },
    #[error("the reply to {0} has an unexpected type")]
    Reply(&'static str),
}

impl From<io::Error> for DbusError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DbusError::Timeout,
            _ => DbusError::Io(e),
        }
    }
}

/// A connection to the session bus, after `Hello`.
pub struct Connection {
    stream: BufReader<Timed>,
    serial: u32,
    /// One deadline for the connection's whole life (connect, Hello, and the few calls of
    /// one keystore operation): a stuck bus costs a check [`TIMEOUT`] once, not per call.
    ends: Instant,
}

/// The socket, read against one deadline per call: a bus that keeps sending what is not the
/// reply (signals, replies to others, a byte at a time) is reported when the call's time is
/// up, not read for ever (a socket's read timeout alone restarts with every byte).
struct Timed {
    stream: UnixStream,
    deadline: Instant,
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// A method to call: where, and what.
pub struct Call<'a> {
    pub destination: &'a str,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
}

impl Connection {
    /// The session bus of `DBUS_SESSION_BUS_ADDRESS`, or the systemd user bus in
    /// `XDG_RUNTIME_DIR` (a systemd user service started without the session's environment;
    /// a cron job usually has neither, and gets [`DbusError::NoBus`]).
    pub fn session() -> Result<Self, DbusError> {
        let ends = Instant::now() + TIMEOUT;
        let addresses = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            Ok(a) if !a.is_empty() => a,
            _ => {
                let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") else {
                    return Err(DbusError::NoBus);
                };
                // Connected to by path, not through an address: a directory's name may hold
                // the address syntax's `,` `;` `%`.
                let bus = std::path::Path::new(&dir).join("bus");
                if !bus.exists() {
                    return Err(DbusError::NoBus);
                }
                let address =
                    rustix::net::SocketAddrUnix::new(bus.as_path()).map_err(io::Error::from);
                return match address.and_then(|a| connect_within(&a, ends)) {
                    Ok(stream) => Connection::start(stream, ends),
                    Err(source) => Err(DbusError::Connect {
                        address: format!("unix:path={}", bus.display()),
                        source,
                    }),
                };
            }
        };
        let mut last = DbusError::NoBus;
        for address in addresses.split(';').filter(|a| !a.is_empty()) {
            match connect(address, ends) {
                Ok(stream) => return Connection::start(stream, ends),
                Err(source) => last = DbusError::Connect { address: address.to_owned(), source },
            }
        }
        Err(last)
    }

    fn start(stream: UnixStream, ends: Instant) -> Result<Self, DbusError> {
        let left = ends.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DbusError::Timeout);
        }
        stream.set_write_timeout(Some(left))?;
        let stream = BufReader::new(Timed { stream, deadline: ends });
        let mut connection = Connection { stream, serial: 0, ends };
        connection.authenticate()?;
        let hello = Call {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
        };
        connection.call(&hello, &[])?;
        Ok(connection)
    }

    /// SASL EXTERNAL: the bus checks the socket's peer credentials against our uid.
    fn authenticate(&mut self) -> Result<(), DbusError> {
        let uid = rustix::process::geteuid().as_raw().to_string();
        let line = format!("\0AUTH EXTERNAL {}\r\n", hex::encode(uid));
        self.stream.get_mut().stream.write_all(line.as_bytes())?;
        let mut reply = String::new();
        (&mut self.stream).take(512).read_line(&mut reply)?;
        if !reply.starts_with("OK ") {
            return Err(DbusError::Auth(shown(reply.trim_end())));
        }
        self.stream.get_mut().stream.write_all(b"BEGIN\r\n")?;
        Ok(())
    }

    /// Calls a method and returns its reply's values; an error reply is [`DbusError::Remote`].
    pub fn call(&mut self, call: &Call<'_>, args: &[Value]) -> Result<Vec<Value>, DbusError> {
        self.serial = self.serial.wrapping_add(1).max(1);
        let serial = self.serial;
        let message = Zeroizing::new(method_call(call, args, serial));
        let timed = self.stream.get_mut();
        timed.deadline = self.ends;
        timed.stream.write_all(&message)?;
        loop {
            let reply = self.read_message()?;
            // Signals (NameAcquired after Hello) and anything else are not this reply.
            if reply.reply_serial != Some(serial) {
                continue;
            }
            return match reply.kind {
                METHOD_RETURN => Ok(reply.body),
                ERROR => Err(DbusError::Remote {
                    name: shown(reply.error_name.as_deref().unwrap_or("")),
                    message: shown(reply.body.first().and_then(Value::as_str).unwrap_or("")),
                }),
                _ => Err(DbusError::Wire(WireError::Invalid("a reply of an unknown kind"))),
            };
        }
    }

    fn read_message(&mut self) -> Result<Received, DbusError> {
        let mut fixed = [0u8; 16];
        self.stream.read_exact(&mut fixed)?;
        let big_endian = match fixed[0] {
            b'l' => false,
            b'B' => true,
            _ => return Err(WireError::Invalid("an unknown byte order").into()),
        };
        let number = |at: usize| {
            let b: [u8; 4] = fixed[at..at + 4].try_into().expect("four bytes");
            if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
        };
        let (body_length, fields_length) = (number(4) as usize, number(12) as usize);
        let body_start = (16 + fields_length).next_multiple_of(8);
        let total = body_start.checked_add(body_length).filter(|&t| t <= MAX_MESSAGE);
        let Some(total) = total else {
            return Err(WireError::Invalid("a message larger than this client reads").into());
        };
        // The whole message, wiped when dropped: a reply may carry the key.
        let mut message = Zeroizing::new(vec![0u8; total]);
        message[..16].copy_from_slice(&fixed);
        self.stream.read_exact(&mut message[16..])?;

        let mut header = Reader::new(&message[..body_start], big_endian);
        header.pos = 12;
        let [Value::Array(_, fields)] = &header.read_all("a(yv)")?[..] else {
            return Err(WireError::Invalid("a header without its fields").into());
        };
        let mut received =
            Received { kind: fixed[1], reply_serial: None, error_name: None, body: Vec::new() };
        let mut signature = String::new();
        for field in fields {
            let Value::Struct(pair) = field else { continue };
            let [Value::Byte(code), Value::Variant(value)] = &pair[..] else { continue };
            match code {
                4 => received.error_name = value.as_str().map(str::to_owned),
                5 => received.reply_serial = value.as_u32(),
                8 => signature = value.as_str().unwrap_or("").to_owned(),
                _ => {}
            }
        }
        let mut body = Reader::new(&message[body_start..], big_endian);
        received.body = body.read_all(&signature)?;
        Ok(received)
    }
}

struct Received {
    kind: u8,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    body: Vec<Value>,
}

/// Text from the other end as it goes into an error: at most 200 characters, control
/// characters (a terminal's escape sequences) replaced, since a process that owns a name on
/// the session bus writes what it likes.
fn shown(text: &str) -> String {
    const MAX: usize = 200;
    let mut shown: String =
        text.chars().take(MAX).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    if text.chars().nth(MAX).is_some() {
        shown.push('…');
    }
    shown
}

/// A method call message: the fixed header, the header fields, the body.
fn method_call(call: &Call<'_>, args: &[Value], serial: u32) -> Vec<u8> {
    let mut body = Writer::new();
    for arg in args {
        body.write(arg);
    }
    let signature: String = args.iter().map(Value::signature).collect();
    let field = |code: u8, value: Value| {
        Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(value))])
    };
    let mut fields = vec![
        field(1, Value::Path(call.path.into())),
        field(2, Value::Str(call.interface.into())),
        field(3, Value::Str(call.member.into())),
        field(6, Value::Str(call.destination.into())),
    ];
    if !signature.is_empty() {
        fields.push(field(8, Value::Signature(signature)));
    }
    let mut message = Writer::new();
    message.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    message.buf.extend_from_slice(&(body.buf.len() as u32).to_le_bytes());
    message.buf.extend_from_slice(&serial.to_le_bytes());
    message.write(&Value::Array("(yv)".into(), fields));
    message.pad(8);
    message.buf.extend_from_slice(&body.buf);
    message.buf
}

/// Connects to one server address of the specification's forms `unix:path=…` and
/// `unix:abstract=…` (other keys, such as `guid`, are ignored).
fn connect(address: &str, ends: Instant) -> io::Result<UnixStream> {
    let unsupported = || io::Error::new(io::ErrorKind::Unsupported, "not a unix: address");
    let keys = address.strip_prefix("unix:").ok_or_else(unsupported)?;
    for pair in keys.split(',') {
        let Some((key, value)) = pair.split_once('=') else { continue };
        let value = unescape(value)?;
        match key {
            "path" => {
                use std::os::unix::ffi::OsStrExt;
                let path = std::ffi::OsStr::from_bytes(&value);
                let addr = rustix::net::SocketAddrUnix::new(path)?;
                return connect_within(&addr, ends);
            }
            #[cfg(target_os = "linux")]
            "abstract" => {
                let addr = rustix::net::SocketAddrUnix::new_abstract_name(&value)?;
                return connect_within(&addr, ends);
            }
            _ => {}
        }
    }
    Err(unsupported())
}

/// Connects without waiting past `deadline`: a blocking connect to a bus whose queue of
/// connections is full (a daemon stopped or stuck) waits for ever.
fn connect_within(
    address: &rustix::net::SocketAddrUnix,
    deadline: Instant,
) -> io::Result<UnixStream> {
    use rustix::io::Errno;
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    loop {
        match rustix::net::connect(&fd, address) {
            Ok(()) | Err(Errno::ISCONN) => break,
            // Linux: the queue is full (nothing pending); elsewhere the connection may be
            // under way. Either way, ask again until the deadline.
            Err(Errno::AGAIN | Errno::INPROGRESS | Errno::ALREADY | Errno::INTR) => {
                if Instant::now() >= deadline {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
    rustix::io::ioctl_fionbio(&fd, false)?;
    Ok(UnixStream::from(fd))
}

/// An address value with its `%xx` escapes decoded.
fn unescape(value: &str) -> io::Result<Vec<u8>> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "a bad %-escape in the address");
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(invalid)?;
            let hex = std::str::from_utf8(hex).map_err(|_| invalid())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| invalid())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_call_is_laid_out_as_the_specification_says() {
        let call = Call { destination: "d.e", path: "/p", interface: "i.f", member: "M" };
        let message = method_call(&call, &[Value::Str("x".into())], 7);
        assert_eq!(&message[..4], b"l\x01\x00\x01");
        assert_eq!(
            u32::from_le_bytes(message[4..8].try_into().expect("4 bytes")),
            6,
            "body length"
        );
        assert_eq!(u32::from_le_bytes(message[8..12].try_into().expect("4 bytes")), 7, "serial");
        assert_eq!(message.len() % 8, 6, "header padded to 8, then the 6-byte body");
        assert_eq!(&message[message.len() - 6..], [1, 0, 0, 0, b'x', 0]);
        let mut header = Reader::new(&message, false);
        header.pos = 12;
        let [Value::Array(_, fields)] = &header.read_all("a(yv)").expect("fields")[..] else {
            panic!("header fields")
        };
        assert_eq!(fields.len(), 5, "path, interface, member, destination, signature");
    }

    /// A bus that answers the handshake, then sends messages that are never the reply (a
    /// signal every few milliseconds, as any process on the bus may send to this connection).
    fn chatty_bus() -> (UnixStream, std::thread::JoinHandle<()>) {
        let (client, server) = UnixStream::pair().expect("socket pair");
        let bus = std::thread::spawn(move || {
            let mut server = BufReader::new(server);
            let mut line = Vec::new();
            let _ = server.read_until(b'\n', &mut line);
            let _ = server.get_mut().write_all(b"OK 0123456789abcdef0123456789abcdef\r\n");
            let _ = server.read_until(b'\n', &mut line);
            let call = Call { destination: "d.e", path: "/p", interface: "i.f", member: "S" };
            let mut signal = method_call(&call, &[], 1000);
            signal[1] = 4;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if server.get_mut().write_all(&signal).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        (client, bus)
    }

    #[test]
    fn a_bus_that_never_replies_but_keeps_talking_times_out() {
        let (client, bus) = chatty_bus();
        let started = Instant::now();
        let result = Connection::start(client, started + Duration::from_millis(300));
        assert!(matches!(result, Err(DbusError::Timeout)), "{:?}", result.err());
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        bus.join().expect("bus thread");
    }

    #[test]
    fn a_connection_whose_time_is_spent_makes_no_further_call() {
        // The budget is the connection's, not each call's: spent before the first call
        // (the connect took it all), the connection times out at once.
        let (client, bus) = chatty_bus();
        let started = Instant::now();
        let result = Connection::start(client, started);
        assert!(matches!(result, Err(DbusError::Timeout)), "{:?}", result.err());
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
        bus.join().expect("bus thread");
    }

    #[test]
    fn text_from_the_bus_is_shown_short_and_without_control_characters() {
        assert_eq!(shown("Not found"), "Not found");
        assert_eq!(shown("a\x1b]0;owned\x07b"), "a\u{fffd}]0;owned\u{fffd}b");
        let long = shown(&"E".repeat(900_000));
        assert_eq!(long.chars().count(), 201, "200 characters and the ellipsis");
    }

    #[test]
    fn a_bus_that_accepts_no_connection_times_out() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bus");
        // A listener that never accepts, its queue filled: a blocking connect would wait.
        let listener = rustix::net::socket(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            None,
        )
        .expect("socket");
        let addr = rustix::net::SocketAddrUnix::new(path.as_path()).expect("address");
        rustix::net::bind(&listener, &addr).expect("bind");
        rustix::net::listen(&listener, 0).expect("listen");
        let mut queued = Vec::new();
        while let Ok(stream) = connect_within(&addr, Instant::now()) {
            queued.push(stream);
            assert!(queued.len() < 1000, "the listener's queue never filled");
        }
        let started = Instant::now();
        let refused = connect_within(&addr, Instant::now() + Duration::from_millis(300))
            .expect_err("no connection");
        assert_eq!(refused.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }

    #[test]
    fn addresses_unescape_and_only_unix_is_tried() {
        assert_eq!(unescape("/tmp/a%2cb").expect("unescaped"), b"/tmp/a,b");
        assert!(unescape("%zz").is_err());
        assert!(unescape("%2").is_err());
        assert_eq!(
            connect("tcp:host=x,port=1", Instant::now() + TIMEOUT).expect_err("refused").kind(),
            io::ErrorKind::Unsupported
        );
        assert_eq!(
            connect("unix:path=/nonexistent/tessera-bus", Instant::now() + TIMEOUT)
                .expect_err("refused")
                .kind(),
            io::ErrorKind::NotFound
        );
    }
}
