//! The server over real loopback sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::post;

/// A server with one route that takes at most 16 KiB, on a port of its own.
fn start() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("address");
    let router = Router::new()
        .route(
            "/small",
            post(|body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>| async move {
                match body {
                    Ok(_) => (StatusCode::OK, "taken"),
                    Err(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too large"),
                }
            }),
        )
        .layer(DefaultBodyLimit::max(16 * 1024));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        runtime
            .block_on(tessera_http_server::serve(
                listener,
                router,
                Default::default(),
                None,
                async {
                    let _ = stopped.await;
                },
            ))
            .expect("serve");
    });
    (address, stop)
}

/// Sends a request with a body of `len` bytes, all of it, then reads the answer.
fn post_raw(address: std::net::SocketAddr, len: usize) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "POST /small HTTP/1.1\r\nhost: x\r\ncontent-length: {len}\r\n\r\n")?;
    stream.write_all(&vec![b' '; len])?;
    let mut answer = String::new();
    // The connection stays open (keep-alive): read until the answer's body is in.
    let mut buf = [0u8; 4096];
    while !(answer.ends_with("too large") || answer.ends_with("taken")) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    Ok(answer)
}

#[test]
fn a_body_over_the_limit_gets_its_413_not_a_reset_connection() {
    let (address, stop) = start();
    // A client that writes its whole body before reading: without the drain the server
    // closes on megabytes of unread data, the kernel resets the connection, and the write or
    // the read fails ("Broken pipe" here within a few rounds). Several rounds, since a reset
    // is a race.
    for round in 0..20 {
        let answer = post_raw(address, [100_000, 1 << 20, 4 << 20][round % 3])
            .unwrap_or_else(|e| panic!("round {round}: the connection broke: {e}"));
        assert!(answer.starts_with("HTTP/1.1 413"), "round {round}: {answer}");
        assert!(answer.ends_with("too large"), "round {round}: {answer}");
    }
    let answer = post_raw(address, 100).expect("a small body");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _ = stop.send(());
}

#[test]
fn a_body_past_what_is_drained_ends_its_connection_and_the_server_goes_on() {
    let (address, stop) = start();
    // 64 MiB is far past the 8 MiB drained: the server answers and closes that connection
    // (the client's write may fail then); the next client is served as usual.
    let _ = post_raw(address, 64 * 1024 * 1024);
    let answer = post_raw(address, 100).expect("a small body after a huge one");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _ = stop.send(());
}
