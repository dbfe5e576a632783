//! A clock the test sets: injected wherever a component takes a `Clock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tessera_core::time::{Clock, SystemClock, UnixTime};

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).expect("a duration in range")
}

impl TestClock {
    /// A clock standing at `t`.
    pub fn at(t: UnixTime) -> Arc<Self> {
        Arc::new(TestClock(AtomicI64::new(t.as_unix())))
    }

    /// A clock standing at the real time now.
    pub fn now_real() -> Arc<Self> {
        Self::at(SystemClock.now())
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: UnixTime) {
        self.0.store(t.as_unix(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(secs(by), Ordering::SeqCst);
    }

    /// Moves the clock back (a rolled-back clock).
    pub fn rewind(&self, by: Duration) {
        self.0.fetch_sub(secs(by), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_unix(self.0.load(Ordering::SeqCst)).expect("test time in range")
    }
}
