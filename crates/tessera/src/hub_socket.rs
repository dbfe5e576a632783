//! One exchange on the hub agent's status socket under one deadline: connect, write the
//! request, read the answer line. Whatever the peer does — accept late, stall, trickle a
//! byte at a time, flood, close early — the call returns by the deadline (plus the kernel's
//! timer slack) with an error that names what happened.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::Error;

/// The most an answer line may be: a license, a receipt, a delegation and an activation
/// are a few KB (each at most 64 KiB).
pub(crate) const MAX_ANSWER: usize = 1024 * 1024;

/// Writes `request` to the socket at `path` and reads one answer line (without its
/// newline), all within `timeout` from now.
pub(crate) fn exchange(path: &Path, request: &[u8], timeout: Duration) -> Result<Vec<u8>, Error> {
    if timeout.is_zero() {
        return Err(Error::BadArgument { what: "timeout", message: "must be above zero".into() });
    }
    let started = Instant::now();
    // A timeout too long to be a point in time (`Duration::MAX`) means "wait": a deadline
    // 68 years away, not an overflow panic.
    let deadline = started
        .checked_add(timeout)
        .unwrap_or_else(|| started + Duration::from_secs(i32::MAX.unsigned_abs().into()));
    let unreachable =
        |message: String| Error::HubUnreachable { path: path.display().to_string(), message };
    let late = |doing: &str| unreachable(format!("no answer within {timeout:?}: {doing}"));
    let left = || Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero());

    let socket =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| unreachable(e.to_string()))?;
    // A listener whose backlog is full makes connect wait; the send timeout bounds that wait.
    socket.set_write_timeout(Some(timeout)).map_err(|e| unreachable(e.to_string()))?;
    let address = SockAddr::unix(path).map_err(|e| unreachable(e.to_string()))?;
    match socket.connect(&address) {
        Ok(()) => {}
        Err(e) if is_timeout(&e) => {
            return Err(late("the agent did not accept the connection (too busy?)"));
        }
        Err(e) => return Err(unreachable(e.to_string())),
    }
    let step = left().ok_or_else(|| late("connecting"))?;
    socket.set_write_timeout(Some(step)).map_err(|e| unreachable(e.to_string()))?;
    match send_all(&socket, request) {
        Ok(()) => {
            // The request is whole: the agent reads to the newline or to this end.
            let _ = socket.shutdown(std::net::Shutdown::Write);
        }
        Err(e) if is_timeout(&e) => return Err(late("the agent did not take the request")),
        // The peer closed first: what it sent, if anything, says more than the broken pipe.
        Err(e) if is_closed(&e) => {}
        Err(e) => return Err(unreachable(format!("sending the request: {e}"))),
    }

    let mut answer = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let step = left().ok_or_else(|| late(&reading(answer.len())))?;
        socket.set_read_timeout(Some(step)).map_err(|e| unreachable(e.to_string()))?;
        let n = match (&socket).read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => return Err(late(&reading(answer.len()))),
            Err(e) if is_closed(&e) => 0,
            Err(e) => return Err(unreachable(format!("reading the answer: {e}"))),
        };
        if n == 0 {
            return Err(Error::BadAnswer(if answer.is_empty() {
                "the agent closed the connection without answering".into()
            } else {
                format!("the agent closed the connection after {} bytes, mid-answer", answer.len())
            }));
        }
        let seen = answer.len();
        answer.extend_from_slice(&chunk[..n]);
        if let Some(end) = answer[seen..].iter().position(|&b| b == b'\n') {
            answer.truncate(seen + end);
            return Ok(answer);
        }
        if answer.len() > MAX_ANSWER {
            return Err(Error::BadAnswer(format!("longer than {MAX_ANSWER} bytes")));
        }
    }
}

/// Sends all of `bytes` with MSG_NOSIGNAL: a peer that closed is an error here, never a
/// SIGPIPE that would end an application that does not ignore it (C, most often).
fn send_all(socket: &Socket, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match socket.send_with_flags(bytes, libc::MSG_NOSIGNAL) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn is_closed(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
}

fn reading(got: usize) -> String {
    match got {
        0 => "the agent sent nothing".into(),
        n => format!("the agent sent {n} bytes of its answer, not all of it"),
    }
}

/// A socket timeout shows as `WouldBlock` (EAGAIN) on Linux, `TimedOut` elsewhere.
fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}
