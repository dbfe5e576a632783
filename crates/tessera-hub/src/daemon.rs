//! `tessera-hub run`: pings on schedule with jitter, backs off on failure, serves runners,
//! stops cleanly on SIGTERM/SIGINT. Never exits on a network error.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::Status;
use tessera_core::keys::fill_random;

use crate::agent::{Hub, Mode};
use crate::runners::{RunnerApi, router};

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Where runners reach the hub.
    pub runner_listen: SocketAddr,
    /// How long a lease granted to a runner lasts.
    pub lease_ttl: Duration,
    /// First retry delay after a failed ping; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
    /// Runner API connections open at once; when all are taken, the oldest idle one is
    /// closed for a newcomer.
    pub max_connections: usize,
    /// Runner API connections open at once from one source address; one more is closed at
    /// once.
    pub max_connections_per_address: usize,
    /// The local status socket for the vendor's hub application ([`crate::local`]).
    pub status_socket: Option<std::path::PathBuf>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            runner_listen: SocketAddr::from(([127, 0, 0, 1], 7480)),
            lease_ttl: Duration::from_secs(600),
            min_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(15 * 60),
            max_connections: 512,
            max_connections_per_address: 64,
            status_socket: None,
        }
    }
}

/// The delay before the next ping after `failures` failures in a row.
pub fn next_delay(
    interval: Duration,
    failures: u32,
    config: &DaemonConfig,
    jitter: f64,
) -> Duration {
    if failures == 0 {
        // Up to 10% early, so thousands of hubs installed at once spread out and the next
        // receipt still comes before the deadline.
        interval.mul_f64(1.0 - 0.1 * jitter.clamp(0.0, 1.0))
    } else {
        let exp = config.min_backoff.saturating_mul(1u32 << (failures - 1).min(16));
        let capped = exp.min(config.max_backoff).min(interval.max(config.min_backoff));
        // Full jitter on the upper half keeps retries of many hubs apart.
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    match fill_random(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

/// Runs until `shutdown` completes. Binds the runner port first, so a taken port is an
/// error at start, not later.
pub async fn run(
    hub: Arc<Hub>,
    config: DaemonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.runner_listen).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("runner listener {}: {e}", config.runner_listen))
    })?;
    let addr = listener.local_addr()?;
    let status_socket = match &config.status_socket {
        Some(path) => Some((
            crate::local::bind(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("status socket {}: {e}", path.display()))
            })?,
            path.clone(),
        )),
        None => None,
    };
    println!("runners: listening on {addr}");
    tracing::info!(%addr, "serving runners");
    let api = Arc::new(RunnerApi { hub: hub.clone(), lease_ttl: config.lease_ttl });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    // The runner API listens on the LAN: slow or idle connections are closed, their
    // number capped, in all and per address (tessera-http-server).
    let limits = tessera_http_server::Limits {
        max_connections: config.max_connections,
        max_connections_per_address: config.max_connections_per_address,
        ..tessera_http_server::Limits::default()
    };
    let server = tokio::spawn(async move {
        tessera_http_server::serve(listener, router(api), limits, None, async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        })
        .await
    });
    let local = status_socket.map(|(socket, path)| {
        // Logged, not printed: the runner address stays the one line on standard output.
        tracing::info!(socket = %path.display(), "serving the local status socket");
        tokio::spawn(crate::local::serve(hub.clone(), socket, path, stop_rx.clone()))
    });
    let pinger = tokio::spawn(ping_loop(hub, config, stop_rx));
    shutdown.await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    let _ = pinger.await;
    if let Some(local) = local {
        let _ = local.await;
    }
    match server.await {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(e)),
    }
}

async fn ping_loop(
    hub: Arc<Hub>,
    config: DaemonConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    let mut last_status: Option<Status> = None;
    loop {
        let (mode, interval) = hub.schedule().unwrap_or((Mode::None, Duration::from_secs(3600)));
        if mode == Mode::Online {
            match hub.ping().await {
                Ok(receipt) => {
                    failures = 0;
                    tracing::info!(status = %receipt.status, portal_time = %receipt.portal_time, "ping answered");
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "ping failed");
                }
            }
        }
        match hub.status() {
            Ok(r) => {
                if last_status != Some(r.status) {
                    if r.status.permits_running() {
                        tracing::info!(status = %r.status, reason = %r.reason, "hub status");
                    } else {
                        tracing::error!(status = %r.status, reason = %r.reason, "hub status");
                    }
                    last_status = Some(r.status);
                }
            }
            Err(e) => tracing::error!(error = %e, "hub status"),
        }
        let delay = next_delay(interval, failures, &config, jitter());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_success_waits_about_an_interval() {
        let config = DaemonConfig::default();
        let hour = Duration::from_secs(3600);
        assert_eq!(next_delay(hour, 0, &config, 0.0), hour);
        assert_eq!(next_delay(hour, 0, &config, 1.0), hour.mul_f64(0.9));
        assert_eq!(next_delay(hour, 1, &config, 1.0), Duration::from_secs(30));
        assert_eq!(next_delay(hour, 2, &config, 1.0), Duration::from_secs(60));
        assert_eq!(next_delay(hour, 3, &config, 1.0), Duration::from_secs(120));
        assert_eq!(next_delay(hour, 30, &config, 1.0), Duration::from_secs(900));
        assert_eq!(next_delay(hour, 30, &config, 0.0), Duration::from_secs(450));
        // Never longer than the interval itself.
        let minute = Duration::from_secs(60);
        assert_eq!(next_delay(minute, 30, &config, 1.0), minute);
    }
}
