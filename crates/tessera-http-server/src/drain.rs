//! Reading out what a refused request still sends, before its answer goes.
//!
//! A request refused before its body is read (too large, wrong media type, no token) leaves
//! the rest of the body on its way. Closing a socket with unread data makes the kernel send a
//! reset, and the reset can reach the client before it reads the answer: it sees a broken
//! connection instead of `413 body_too_large`. So, like a web server's lingering close, the
//! unread rest is read and thrown away — at most [`DRAIN_BYTES`] within [`DRAIN_TIME`], so a
//! client that never stops sending costs a bounded amount — and only then is the answer sent.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

/// At most this much of a refused body is read and thrown away.
pub const DRAIN_BYTES: u64 = 8 * 1024 * 1024;
/// At most this long is spent reading it.
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

type Slot = Arc<Mutex<Option<Body>>>;

/// A request body that, when the handler drops it unfinished, leaves the rest in a slot.
struct Returning {
    inner: Option<Body>,
    slot: Slot,
}

impl http_body::Body for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && !http_body::Body::is_end_stream(&inner)
        {
            // A poisoned lock only means another drop panicked: the rest is then not drained.
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(inner);
            }
        }
    }
}

/// Middleware: runs the request, then reads out what its handler left unread.
pub async fn drain_unread(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let slot: Slot = Arc::default();
    let body = Body::new(Returning { inner: Some(body), slot: slot.clone() });
    let response = next.run(Request::from_parts(parts, body)).await;
    let rest = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(rest) = rest {
        let _ = tokio::time::timeout(DRAIN_TIME, discard(rest)).await;
    }
    response
}

async fn discard(mut body: Body) {
    let mut read = 0u64;
    while read < DRAIN_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            _ => return,
        }
    }
}
