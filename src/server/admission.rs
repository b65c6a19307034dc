//! Which connections are let in: at most so many open at once in all, and at
//! most so many from one client address, so that one client (or a handful)
//! holding connections open cannot take them all. Beyond either, a new
//! connection is closed before a byte of it is read, and the rest are served
//! as before.
//!
//! Behind a load balancer every connection comes from the balancer: a
//! trusted proxy's connections count only towards the total (its clients are
//! told apart later, per request, by `X-Forwarded-For`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Limits;
use crate::http::client::{canonical, TrustedProxies};
use crate::metrics::Metrics;
use crate::time::OncePer;

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerAddress,
}

/// The rule, as a plain function: `open` connections in all, `from_here`
/// from the new connection's address (`None`: a trusted proxy, not counted).
pub fn admits(
    open: usize,
    from_here: Option<usize>,
    max_total: usize,
    max_per_address: usize,
) -> Result<(), Refusal> {
    if open >= max_total {
        return Err(Refusal::Total);
    }
    if from_here.is_some_and(|n| n >= max_per_address) {
        return Err(Refusal::PerAddress);
    }
    Ok(())
}

pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    trusted: TrustedProxies,
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    refused: AtomicU64,
    warn: OncePer,
    metrics: Arc<Metrics>,
}

/// An admitted connection's place; dropping it frees the place.
pub struct Slot {
    admission: Arc<Admission>,
    /// `None` for a trusted proxy.
    addr: Option<IpAddr>,
}

impl Admission {
    pub fn new(limits: &Limits, metrics: Arc<Metrics>) -> Admission {
        Admission {
            max_total: limits.max_connections.max(1),
            max_per_address: limits.max_connections_per_address.max(1),
            trusted: limits.trusted_proxies.clone(),
            open: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
            warn: OncePer::new(Duration::from_secs(60)),
            metrics,
        }
    }

    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let peer = canonical(peer);
        let addr = (!self.trusted.trusts(peer)).then_some(peer);
        // One lock for the check and the count, so racing accepts cannot
        // both take the last place (the accept loop is one task, but the
        // places are given back from every connection's task).
        let mut per_address = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let from_here = addr.map(|a| per_address.get(&a).copied().unwrap_or(0));
        let open = self.open.load(Ordering::Relaxed);
        if let Err(why) = admits(open, from_here, self.max_total, self.max_per_address) {
            drop(per_address);
            let c = &self.metrics.connections;
            match why {
                Refusal::Total => &c.refused_max_connections,
                Refusal::PerAddress => &c.refused_max_connections_per_address,
            }
            .fetch_add(1, Ordering::Relaxed);
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if self.warn.now() {
                tracing::warn!(
                    ?why,
                    client = %peer,
                    open,
                    refused_so_far = refused,
                    "connection refused: connection limit reached"
                );
            }
            return None;
        }
        if let Some(a) = addr {
            *per_address.entry(a).or_insert(0) += 1;
        }
        self.open.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .connections
            .open
            .fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            admission: self.clone(),
            addr,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_address = self
            .admission
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(a) = self.addr {
            if let Some(n) = per_address.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    per_address.remove(&a);
                }
            }
        }
        self.admission.open.fetch_sub(1, Ordering::Relaxed);
        let open = &self.admission.metrics.connections.open;
        open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The file descriptors this process may open, raised to the hard limit;
/// `max_connections` is kept to three quarters of it, so that the database,
/// log files and connections being closed always have descriptors left.
pub fn within_fd_limit(max_connections: usize) -> usize {
    let Some(fds) = raise_fd_limit() else {
        return max_connections;
    };
    let cap = usize::try_from(fds / 4 * 3).unwrap_or(usize::MAX).max(1);
    if max_connections > cap {
        tracing::warn!(
            max_connections,
            file_descriptors = fds,
            "PRICKLE_MAX_CONNECTIONS lowered to {cap}, three quarters of the file-descriptor limit"
        );
        return cap;
    }
    max_connections
}

/// Raises this process's file-descriptor limit to its hard limit; the limit
/// now in force, where the platform tells.
#[cfg(unix)]
pub fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
    Some(lim.rlim_cur as u64)
}

#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert_eq!(admits(0, Some(0), 10, 2), Ok(()));
        assert_eq!(admits(9, Some(1), 10, 2), Ok(()));
        assert_eq!(admits(10, Some(0), 10, 2), Err(Refusal::Total));
        assert_eq!(admits(5, Some(2), 10, 2), Err(Refusal::PerAddress));
        // A trusted proxy is held only to the total.
        assert_eq!(admits(5, None, 10, 2), Ok(()));
        assert_eq!(admits(10, None, 10, 2), Err(Refusal::Total));
    }

    #[test]
    fn places_are_given_back() {
        let limits = Limits {
            max_connections: 3,
            max_connections_per_address: 2,
            trusted_proxies: "10.0.0.1".parse().unwrap(),
            ..Limits::default()
        };
        let metrics = Arc::new(Metrics::default());
        let a = Arc::new(Admission::new(&limits, metrics.clone()));
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let first = a.admit(one).expect("first");
        let second = a.admit(mapped).expect("the same address, mapped");
        assert!(a.admit(one).is_none(), "a third from one address");
        let from_proxy = a.admit(proxy).expect("the proxy");
        assert!(a.admit("192.0.2.2".parse().unwrap()).is_none(), "total");
        drop(first);
        let third = a.admit(one).expect("a place was given back");
        drop((second, third, from_proxy));
        assert_eq!(a.open.load(Ordering::Relaxed), 0);
        let c = &metrics.connections;
        assert_eq!(c.open.load(Ordering::Relaxed), 0);
        assert_eq!(c.refused_max_connections.load(Ordering::Relaxed), 1);
        assert_eq!(
            c.refused_max_connections_per_address
                .load(Ordering::Relaxed),
            1
        );
        assert!(a.per_address.lock().unwrap().is_empty());
    }
}
