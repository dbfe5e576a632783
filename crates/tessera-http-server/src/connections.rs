//! Which connections may stay open: a cap per source address and a total cap, decided in one
//! place under one lock.
//!
//! - An address (an IPv6 /64: one machine's whole prefix) at its cap has its new connection
//!   closed at once. It is never queued, so one address can never hold more than its share.
//! - When every slot is taken, a connection from an address under its cap still gets in: the
//!   oldest connection that has been outside a request for at least [`MIN_IDLE`] (idle
//!   keep-alive, silent, half-sent headers, a stalled TLS handshake) is closed for it. A
//!   younger one may be an honest client still in its handshake: a churning address must not
//!   close it. Next comes a kept-alive connection between two of its requests, however
//!   briefly: it has been served, and a client that sends a request every second must not
//!   make its connections unclosable (HTTP lets a server close a kept-alive connection at
//!   any time between requests). When none is between requests, the oldest connection of
//!   the address holding the most is closed, if that address holds more than the
//!   newcomer's would. Otherwise the newcomer is closed.
//!
//! Refusals and evictions are logged at most once a minute per address (refusals) or for
//! the whole server (evictions), with counts, never once per connection.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How often one kind of log line may be written (per address for refusals).
const LOG_EVERY: Duration = Duration::from_secs(60);

/// How long a connection must have been outside a request before a newcomer may take its
/// place: longer than a TLS handshake and a request's headers take on a slow honest link.
pub(crate) const MIN_IDLE: Duration = Duration::from_secs(2);

/// The address a connection counts against: IPv4 as it is (also when mapped into IPv6), IPv6
/// by its /64 prefix, which one machine or site usually holds whole.
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

struct Entry {
    key: IpAddr,
    busy: bool,
    /// Whether a request of it has ended: a kept-alive connection, not one still in its
    /// handshake or first request's headers.
    served: bool,
    /// When it opened or its last request ended.
    idle_since: Instant,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// By id, so in the order they opened: the first is the oldest.
    open: BTreeMap<u64, Entry>,
    per_address: HashMap<IpAddr, usize>,
    /// When a refusal for the address was last logged, and the refusals since.
    refusals_logged: HashMap<IpAddr, (Instant, u64)>,
    evictions_logged: Option<Instant>,
    evictions_unlogged: u64,
}

/// The open connections of one server.
pub(crate) struct Registry {
    per_address: usize,
    total: usize,
    inner: Mutex<Inner>,
}

/// An open connection's place; dropping it frees the place.
pub(crate) struct Ticket {
    id: u64,
    registry: Arc<Registry>,
    close: Arc<Notify>,
}

impl Registry {
    pub(crate) fn new(per_address: usize, total: usize) -> Arc<Self> {
        let total = total.max(1);
        Arc::new(Registry {
            per_address: per_address.clamp(1, total),
            total,
            inner: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent counts (no step panics midway).
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a new connection from `ip`, or `None`: close it at once.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Option<Ticket> {
        let key = source_key(ip);
        let mut inner = self.lock();
        let held = inner.per_address.get(&key).copied().unwrap_or(0);
        if held >= self.per_address {
            let (last, count) = inner.refusals_logged.entry(key).or_insert((now, 0));
            *count += 1;
            if *count == 1 || now.duration_since(*last) >= LOG_EVERY {
                tracing::warn!(
                    address = %key,
                    open = held,
                    refused = *count,
                    "an address is at its connection limit: closing its new connections"
                );
                *last = now;
                *count = 0;
            }
            if inner.refusals_logged.len() > 4096 {
                inner.refusals_logged.retain(|_, (at, _)| now.duration_since(*at) < LOG_EVERY);
            }
            return None;
        }
        if inner.open.len() >= self.total {
            let victim = Self::victim(&inner, held, now);
            let Some(victim) = victim else {
                tracing::debug!("connection limit reached: closing a new connection");
                return None;
            };
            if let Some(entry) = Self::remove(&mut inner, victim) {
                entry.close.notify_one();
            }
            inner.evictions_unlogged += 1;
            if inner.evictions_logged.is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
                tracing::warn!(
                    total = self.total,
                    closed = inner.evictions_unlogged,
                    "the connection limit is reached: closing the oldest idle connections for new ones"
                );
                inner.evictions_logged = Some(now);
                inner.evictions_unlogged = 0;
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let close = Arc::new(Notify::new());
        inner.open.insert(
            id,
            Entry { key, busy: false, served: false, idle_since: now, close: close.clone() },
        );
        *inner.per_address.entry(key).or_insert(0) += 1;
        Some(Ticket { id, registry: self.clone(), close })
    }

    /// The connection to close for a newcomer whose address holds `held`.
    fn victim(inner: &Inner, held: usize, now: Instant) -> Option<u64> {
        let long_idle =
            |e: &Entry| !e.busy && now.saturating_duration_since(e.idle_since) >= MIN_IDLE;
        if let Some((id, _)) = inner.open.iter().find(|(_, e)| long_idle(e)) {
            return Some(*id);
        }
        let between_requests = inner
            .open
            .iter()
            .filter(|(_, e)| !e.busy && e.served)
            .min_by_key(|(_, e)| e.idle_since);
        if let Some((id, _)) = between_requests {
            return Some(*id);
        }
        let (biggest, count) = inner.per_address.iter().max_by_key(|(_, n)| **n)?;
        if *count <= held + 1 {
            return None;
        }
        inner.open.iter().find(|(_, e)| e.key == *biggest).map(|(id, _)| *id)
    }

    fn remove(inner: &mut Inner, id: u64) -> Option<Entry> {
        let entry = inner.open.remove(&id)?;
        if let Some(n) = inner.per_address.get_mut(&entry.key) {
            *n -= 1;
            if *n == 0 {
                inner.per_address.remove(&entry.key);
            }
        }
        Some(entry)
    }

    fn set_busy(&self, id: u64, busy: bool, now: Instant) {
        if let Some(entry) = self.lock().open.get_mut(&id) {
            entry.served |= entry.busy && !busy;
            entry.busy = busy;
            entry.idle_since = now;
        }
    }

    /// Connections open now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().open.len()
    }
}

impl Ticket {
    /// Completes when the connection is to be closed for a newcomer.
    pub(crate) async fn evicted(&self) {
        self.close.notified().await;
    }

    /// A handle that marks the connection busy from another task (the request's).
    pub(crate) fn handle(&self) -> Handle {
        Handle { id: self.id, registry: self.registry.clone() }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        Registry::remove(&mut inner, self.id);
    }
}

/// Marks a connection busy from its requests.
#[derive(Clone)]
pub(crate) struct Handle {
    id: u64,
    registry: Arc<Registry>,
}

impl Handle {
    /// Marks the connection as inside a request until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy {
        self.registry.set_busy(self.id, true, Instant::now());
        Busy { id: self.id, registry: self.registry.clone() }
    }
}

/// While it lives, its connection is inside a request and is not closed for a newcomer
/// unless every connection is.
pub(crate) struct Busy {
    id: u64,
    registry: Arc<Registry>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.registry.set_busy(self.id, false, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn an_address_at_its_cap_is_refused_and_others_are_not() {
        let registry = Registry::new(2, 10);
        let now = Instant::now();
        let a1 = registry.admit(v4(1), now).expect("first");
        let _a2 = registry.admit(v4(1), now).expect("second");
        assert!(registry.admit(v4(1), now).is_none(), "a third from one address");
        assert!(registry.admit(v4(2), now).is_some(), "another address");
        drop(a1);
        assert!(registry.admit(v4(1), now).is_some(), "a freed place is taken again");
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(source_key(mapped), v4(7));
        assert_eq!(
            source_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "::".parse::<IpAddr>().expect("ip")
        );
    }

    #[tokio::test]
    async fn a_full_server_closes_the_oldest_idle_connection_for_a_newcomer() {
        let registry = Registry::new(3, 4);
        let now = Instant::now();
        let held: Vec<Ticket> =
            (0..4).map(|i| registry.admit(v4(1 + i / 3), now).expect("place")).collect();
        let _inside = held[0].handle().busy();
        let later = now + MIN_IDLE;
        let newcomer = registry.admit(v4(9), later).expect("a newcomer under its cap gets in");
        assert_eq!(registry.open(), 4);
        // The oldest idle one is the second (the first is inside a request).
        tokio::time::timeout(Duration::from_secs(5), held[1].evicted()).await.expect("evicted");
        drop(newcomer);
    }

    #[tokio::test]
    async fn a_connection_just_opened_is_not_closed_for_a_newcomer() {
        // Four addresses, one connection each, all just opened (honest clients still in
        // their TLS handshake): a churning fifth address gets no place among them.
        let registry = Registry::new(3, 4);
        let now = Instant::now();
        let held: Vec<Ticket> =
            (0..4).map(|i| registry.admit(v4(1 + i), now).expect("place")).collect();
        let soon = now + MIN_IDLE / 2;
        for _ in 0..10 {
            assert!(registry.admit(v4(9), soon).is_none(), "a young connection was closed");
        }
        assert_eq!(registry.open(), 4);
        // Once they have sat idle that long, the oldest gives way.
        let newcomer = registry.admit(v4(9), now + MIN_IDLE).expect("in");
        tokio::time::timeout(Duration::from_secs(5), held[0].evicted()).await.expect("evicted");
        drop(newcomer);
    }

    #[tokio::test]
    async fn a_kept_alive_connection_between_requests_gives_way_however_briefly_idle() {
        // One connection per address, each sending a request every second (never idle for
        // MIN_IDLE): a newcomer from a fifth address still gets in, for the one that has
        // waited longest since its last request; one inside a request is kept.
        let registry = Registry::new(3, 4);
        let now = Instant::now();
        let held: Vec<Ticket> =
            (0..4).map(|i| registry.admit(v4(1 + i), now).expect("place")).collect();
        let at = |ms: u64| now + Duration::from_millis(ms);
        for (i, ticket) in held.iter().enumerate() {
            let handle = ticket.handle();
            registry.set_busy(handle.id, true, at(100 * i as u64));
            registry.set_busy(handle.id, false, at(100 * i as u64 + 10));
        }
        let _inside = held[0].handle().busy();
        let newcomer = registry.admit(v4(9), at(500)).expect("a newcomer gets in");
        assert_eq!(registry.open(), 4);
        tokio::time::timeout(Duration::from_secs(5), held[1].evicted()).await.expect("evicted");
        drop(newcomer);
    }

    #[test]
    fn when_every_connection_is_busy_the_biggest_holder_gives_way() {
        let registry = Registry::new(3, 4);
        let now = Instant::now();
        let held: Vec<Ticket> =
            (0..4).map(|i| registry.admit(v4(1 + i / 3), now).expect("place")).collect();
        let _busy: Vec<Busy> = held.iter().map(|t| t.handle().busy()).collect();
        // v4(1) holds 3, v4(2) holds 1: a newcomer from v4(2) would hold 2 < 3, it gets in.
        let newcomer = registry.admit(v4(2), now).expect("in");
        let _also_busy = newcomer.handle().busy();
        // Now v4(1) holds 2 and v4(2) holds 2 (the evicted one was v4(1)'s oldest): another
        // from v4(2) would hold 3 > 2: refused.
        assert!(registry.admit(v4(2), now).is_none());
        // A newcomer from a third address (1 < 2) still gets in.
        assert!(registry.admit(v4(3), now).is_some());
    }
}
