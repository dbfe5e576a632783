//! Where a Tessera client may send a call: the one rule the hub (to its portal) and the
//! vendor CLI (an admin API key to the portal) share. `https://` always; `http://` only to
//! this machine (loopback), or when the operator says so explicitly (`--insecure-http`):
//! on any other network, plain HTTP hands API keys to whoever listens and lets a proxy
//! answer in the portal's place.

/// A portal URL that may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not an http or https URL.
    #[error("{url:?} is not an http(s) URL")]
    NotHttp {
        /// The URL given.
        url: String,
    },
    /// Plain http to another machine, without leave to use it.
    #[error(
        "{url:?} is plain http to another machine: use https, or give --insecure-http if this \
         network is trusted"
    )]
    Insecure {
        /// The URL given.
        url: String,
    },
}

/// Checks a portal URL: `https`, or `http` to loopback, or `http` anywhere when
/// `insecure_http` is set.
pub fn check_portal_url(url: &str, insecure_http: bool) -> Result<(), UrlError> {
    let parsed = url::Url::parse(url).map_err(|_| UrlError::NotHttp { url: url.to_owned() })?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(UrlError::Insecure { url: url.to_owned() }),
        _ => Err(UrlError::NotHttp { url: url.to_owned() }),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_told() {
        assert!(check_portal_url("https://portal.example.com", false).is_ok());
        assert!(check_portal_url("http://127.0.0.1:8080", false).is_ok());
        assert!(check_portal_url("http://localhost:8080", false).is_ok());
        assert!(check_portal_url("http://[::1]:8080", false).is_ok());
        assert!(matches!(
            check_portal_url("http://portal.example.com", false),
            Err(UrlError::Insecure { .. })
        ));
        assert!(matches!(
            check_portal_url("http://10.0.0.5", false),
            Err(UrlError::Insecure { .. })
        ));
        assert!(check_portal_url("http://portal.example.com", true).is_ok());
        assert!(matches!(check_portal_url("ftp://x", true), Err(UrlError::NotHttp { .. })));
        assert!(matches!(check_portal_url("portal", false), Err(UrlError::NotHttp { .. })));
        // A name that only looks local is not loopback.
        assert!(check_portal_url("http://localhost.evil.example", false).is_err());
    }
}
