//! Slow and idle clients, for the servers' connection limits: connections that send half a
//! request and stop, or nothing at all.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `n` connections to `address` (`host:port`) that each send the start of a request's
/// headers and then nothing more.
pub fn half_sent(address: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut stream = TcpStream::connect(address).expect("connect");
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ").expect("write");
            stream
        })
        .collect()
}

/// `n` connections to `address` that send nothing at all (for TLS: no handshake).
pub fn silent(address: &str, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| TcpStream::connect(address).expect("connect")).collect()
}

/// Whether the server closed `stream` (EOF or reset) within `wait`.
pub fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or similar before the close: keep reading to the end.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}
