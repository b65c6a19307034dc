//! A request's body, read whole before the request may take an in-flight
//! slot: a client trickling its body holds its own connection and nothing
//! else, so no number of them can make the server refuse other clients.
//!
//! What bodies being read may hold in memory is bounded: the first
//! [`FREE_BYTES`] of each body are covered by the connection limits (every
//! open connection may hold that much), and what lies beyond is charged to one
//! budget shared by the whole server, in KiB, as the bytes arrive. A body
//! that finds the budget spent stops being read (hyper stops reading its
//! socket) until others finish, within its own body timeout. Small bodies,
//! which are nearly all of an API's, never wait.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::http::request::MAX_BODY_BYTES;

/// Bytes of each body that need no share of the budget.
pub const FREE_BYTES: usize = 16 * 1024;

const KIB: usize = 1024;

/// The budget all bodies beyond their first [`FREE_BYTES`] share.
pub struct BodyBudget {
    kib: Arc<Semaphore>,
}

impl BodyBudget {
    pub fn new(max_bytes: usize) -> BodyBudget {
        let kib = (max_bytes / KIB).clamp(MAX_BODY_BYTES / KIB, Semaphore::MAX_PERMITS);
        BodyBudget {
            kib: Arc::new(Semaphore::new(kib)),
        }
    }

    /// KiB of the budget not held by a body.
    #[cfg(test)]
    pub fn available_kib(&self) -> usize {
        self.kib.available_permits()
    }
}

/// KiB of the shared budget a body of `len` bytes needs.
fn charge_kib(len: usize) -> usize {
    len.saturating_sub(FREE_BYTES).div_ceil(KIB)
}

/// The request with its body in memory, and the share of the budget the body
/// holds (released when the request is done with it).
pub struct Buffered {
    pub request: Request<Body>,
    pub _share: Option<OwnedSemaphorePermit>,
}

/// Reads `req`'s body within `timeout` of now: 413 beyond
/// [`MAX_BODY_BYTES`] (declared or sent), 408 when it is late.
pub async fn read(
    req: Request<Incoming>,
    budget: &BodyBudget,
    timeout: Duration,
) -> Result<Buffered, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::payload_too_large());
    }
    let (parts, mut body) = req.into_parts();
    let deadline = Instant::now() + timeout;
    // Nearly every body arrives in one chunk: kept as it came, not copied.
    let mut data = Chunks::default();
    let mut share: Option<OwnedSemaphorePermit> = None;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(ApiError::request_timeout()),
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return Err(ApiError::parse_error("Request body could not be read."))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if data.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large());
        }
        let held = share.as_ref().map_or(0, |p| p.num_permits());
        let wanted = charge_kib(data.len() + chunk.len());
        if wanted > held {
            let more = budget
                .kib
                .clone()
                .acquire_many_owned(u32::try_from(wanted - held).expect("a body is at most 1 MiB"));
            let more = match tokio::time::timeout_at(deadline, more).await {
                Err(_) => return Err(ApiError::request_timeout()),
                Ok(Err(_closed)) => return Err(ApiError::over_capacity()),
                Ok(Ok(more)) => more,
            };
            match share.as_mut() {
                Some(held) => held.merge(more),
                None => share = Some(more),
            }
        }
        data.push(chunk);
    }
    let body: Bytes = data.into_bytes();
    Ok(Buffered {
        request: Request::from_parts(parts, Body::from(body)),
        _share: share,
    })
}

/// A body's chunks: the first as it came, more joined in one buffer.
#[derive(Default)]
struct Chunks {
    first: Option<Bytes>,
    joined: BytesMut,
}

impl Chunks {
    fn len(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.joined.len()
    }

    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        match self.first.take() {
            None if self.joined.is_empty() => self.first = Some(chunk),
            first => {
                if let Some(first) = first {
                    self.joined.extend_from_slice(&first);
                }
                self.joined.extend_from_slice(&chunk);
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self.first {
            Some(first) => first,
            None => self.joined.freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_are_free_and_large_ones_pay_by_the_kib() {
        assert_eq!(charge_kib(0), 0);
        assert_eq!(charge_kib(FREE_BYTES), 0);
        assert_eq!(charge_kib(FREE_BYTES + 1), 1);
        assert_eq!(charge_kib(FREE_BYTES + KIB), 1);
        assert_eq!(charge_kib(FREE_BYTES + KIB + 1), 2);
        assert_eq!(
            charge_kib(MAX_BODY_BYTES),
            (MAX_BODY_BYTES - FREE_BYTES) / KIB
        );
    }

    #[test]
    fn chunks_join_in_order() {
        let mut c = Chunks::default();
        assert_eq!(c.len(), 0);
        c.push(Bytes::from_static(b"ab"));
        assert_eq!(c.len(), 2);
        c.push(Bytes::new());
        c.push(Bytes::from_static(b"cd"));
        c.push(Bytes::from_static(b"e"));
        assert_eq!(c.len(), 5);
        assert_eq!(&c.into_bytes()[..], b"abcde");
        let mut one = Chunks::default();
        one.push(Bytes::from_static(b"x"));
        assert_eq!(&one.into_bytes()[..], b"x");
        assert!(Chunks::default().into_bytes().is_empty());
    }

    #[test]
    fn the_budget_holds_at_least_one_whole_body() {
        assert_eq!(BodyBudget::new(0).available_kib(), MAX_BODY_BYTES / KIB);
        assert_eq!(BodyBudget::new(64 << 20).available_kib(), 64 * 1024);
    }
}
