//! One HTTP/1.1 connection under the server's limits.
//!
//! hyper serves the connection; the socket it reads is wrapped in
//! [`Watched`], which enforces two deadlines whenever no request of the
//! connection is being handled: the request's headers must be complete within
//! the header timeout of their first byte (of the connection's opening, for
//! its first request), and a connection where nothing has moved for the
//! keep-alive timeout is closed. hyper's own `header_read_timeout` is not
//! used: its clock starts when hyper begins waiting for a request, so it
//! would also cut idle keep-alive connections at the header timeout, which
//! load balancers that keep connections open longer than that would race.
//!
//! While a request is being handled no deadline applies here: its body has
//! its own timeout and memory bound where it is read (`server/body.rs`), and
//! only a request whose head and body are both in takes an in-flight slot,
//! just before the router runs.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::body::{self, BodyBudget};
use super::Limits;
use crate::error::ApiError;
use crate::http::client::ClientAddr;

/// What every connection of one server shares.
pub(super) struct Shared {
    pub router: Router,
    /// One permit per request being handled.
    pub in_flight: Arc<Semaphore>,
    /// What bodies being read may hold beyond their free allowance.
    pub body_budget: BodyBudget,
    pub limits: Limits,
}

/// Serves one connection until it ends, a deadline passes, or the server
/// stops (`stop` turns true: finish the request in hand, then close).
/// `_open` is dropped when the connection is gone.
pub(super) async fn serve(
    stream: TcpStream,
    peer: IpAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
) {
    let clock = Arc::new(Clock::new());
    let io = Watched {
        stream,
        clock: clock.clone(),
        header_timeout: micros(shared.limits.header_read_timeout),
        keep_alive_timeout: micros(shared.limits.keep_alive_timeout),
        timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        armed: None,
    };
    let service = Requests {
        shared,
        clock: clock.clone(),
        peer,
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        // What one connection's unread head may hold (hyper's default is
        // ~400 KiB; every open connection may hold this much).
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                // A request in hand is finished; a connection between
                // requests (or halfway through a request's headers) closes.
                clock.stopping.store(true, Ordering::Relaxed);
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The most a request head may take (431 beyond).
const MAX_HEAD_BYTES: usize = 64 * 1024;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// When the connection last moved, and whether a request is in hand; shared
/// by the socket wrapper and the service.
struct Clock {
    opened: Instant,
    /// Requests of this connection being handled (0 or 1 on HTTP/1.1).
    handling: AtomicUsize,
    /// Microseconds since `opened` of the last byte read or written.
    last_io: AtomicU64,
    /// Microseconds since `opened` of the first byte of the next request's
    /// headers; [`NO_HEAD`] while none has arrived.
    head_from: AtomicU64,
    /// The server is stopping: close as soon as no request is in hand.
    stopping: AtomicBool,
    /// The connection's task, as last seen waiting on the socket while a
    /// request was in hand: woken when the request ends, so the idle
    /// deadlines get armed even if hyper does not read again on its own.
    waiting: Mutex<Option<Waker>>,
}

const NO_HEAD: u64 = u64::MAX;

impl Clock {
    fn new() -> Clock {
        Clock {
            opened: Instant::now(),
            handling: AtomicUsize::new(0),
            last_io: AtomicU64::new(0),
            // A new connection owes its first request's headers from the start.
            head_from: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            waiting: Mutex::new(None),
        }
    }

    fn now(&self) -> u64 {
        micros(self.opened.elapsed())
    }

    fn idle(&self) -> bool {
        self.handling.load(Ordering::Relaxed) == 0
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.idle() && self.head_from.load(Ordering::Relaxed) == NO_HEAD {
            self.head_from.store(now, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// The instant (since `opened`) the connection must be closed at, and
    /// why; `None` while a request is being handled. Both deadlines apply:
    /// a client that goes quiet halfway through its headers is idle too.
    fn deadline(
        &self,
        header_timeout: u64,
        keep_alive_timeout: u64,
    ) -> Option<(u64, &'static str)> {
        if !self.idle() {
            return None;
        }
        if self.stopping.load(Ordering::Relaxed) {
            return Some((0, "server shutting down"));
        }
        let idle = self
            .last_io
            .load(Ordering::Relaxed)
            .saturating_add(keep_alive_timeout);
        let head = match self.head_from.load(Ordering::Relaxed) {
            NO_HEAD => u64::MAX,
            from => from.saturating_add(header_timeout),
        };
        Some(if head < idle {
            (head, "header read timeout")
        } else {
            (idle, "keep-alive timeout")
        })
    }
}

/// Marks a request in hand for as long as the service works on it.
struct Handling(Arc<Clock>);

impl Handling {
    fn start(clock: &Arc<Clock>) -> Handling {
        clock.handling.fetch_add(1, Ordering::Relaxed);
        clock.head_from.store(NO_HEAD, Ordering::Relaxed);
        Handling(clock.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
        let waker = self.0.waiting.lock().ok().and_then(|mut w| w.take());
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The socket as hyper sees it: a read or write that has to wait fails once
/// the connection's deadline has passed (hyper then closes it).
struct Watched {
    stream: TcpStream,
    clock: Arc<Clock>,
    header_timeout: u64,
    keep_alive_timeout: u64,
    timer: Pin<Box<Sleep>>,
    /// The deadline `timer` is set for.
    armed: Option<u64>,
}

impl Watched {
    /// Called when the socket has nothing for us: arms the timer for the
    /// current deadline (waking this task then), or fails if it has passed.
    fn waiting(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        // Registered before the deadline is read, so a request that ends
        // in between still wakes this task.
        if let Ok(mut w) = self.clock.waiting.lock() {
            *w = Some(cx.waker().clone());
        }
        let Some((deadline, why)) = self
            .clock
            .deadline(self.header_timeout, self.keep_alive_timeout)
        else {
            return Ok(());
        };
        if self.armed != Some(deadline) {
            let at = self
                .clock
                .opened
                .checked_add(Duration::from_micros(deadline))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
            self.timer.as_mut().reset(at);
            self.armed = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(io::ErrorKind::TimedOut, why)),
            Poll::Pending => Ok(()),
        }
    }

    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.clock.wrote();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match self.waiting(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            other => other,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.waiting(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            other => other,
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.after_write(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The connection's requests: the body read whole, then the in-flight
/// bound, then the router.
struct Requests {
    shared: Arc<Shared>,
    clock: Arc<Clock>,
    /// The address the connection comes from.
    peer: IpAddr,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Requests {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Answer {
        let handling = Handling::start(&self.clock);
        let shared = self.shared.clone();
        let client = ClientAddr(
            shared
                .limits
                .trusted_proxies
                .client(self.peer, req.headers()),
        );
        Box::pin(async move {
            let _handling = handling;
            let timeout = shared.limits.body_read_timeout;
            let body::Buffered {
                request: mut req,
                _share,
            } = match body::read(req, &shared.body_budget, timeout).await {
                Ok(buffered) => buffered,
                Err(e) => return Ok(e.into_response()),
            };
            req.extensions_mut().insert(client);
            let _permit: OwnedSemaphorePermit = match shared.in_flight.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    tracing::debug!("in-flight request bound reached: 503");
                    return Ok(ApiError::over_capacity().into_response());
                }
            };
            let mut router = shared.router.clone();
            tower_service::Service::call(&mut router, req).await
        })
    }
}
