//! A request body that must arrive whole within a time of its request's headers.
//!
//! Past the time, reading it fails and the request is answered `408 request_timeout` with
//! the connection closed: a client that sends a body a byte at a time holds its connection
//! for at most that long.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Frame, SizeHint};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a late body's reader gets.
#[derive(Debug, thiserror::Error)]
#[error("the request's body did not arrive in time")]
pub(crate) struct BodyTimedOut;

/// `inner`, failing once its deadline passes before its end.
pub(crate) struct Timed<B> {
    inner: B,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
    done: bool,
}

impl<B> Timed<B> {
    /// `inner`, due within `within` of now; `timed_out` is set when it was late.
    pub(crate) fn new(inner: B, within: Duration, timed_out: Arc<AtomicBool>) -> Self {
        Timed { inner, deadline: Box::pin(tokio::time::sleep(within)), timed_out, done: false }
    }
}

impl<B> http_body::Body for Timed<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    self.timed_out.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps `guard` until it is sent whole (or dropped): a connection
/// streaming a long answer is still inside its request.
pub(crate) struct Holding<G> {
    inner: axum::body::Body,
    _guard: G,
}

impl<G> Holding<G> {
    pub(crate) fn new(inner: axum::body::Body, guard: G) -> Self {
        Holding { inner, _guard: guard }
    }
}

impl<G: Unpin> http_body::Body for Holding<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
