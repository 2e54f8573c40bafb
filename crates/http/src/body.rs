//! The request body front-ends read: hyper's body, cut when the client sends it slower than the
//! minimum body rate.
//!
//! The rate is measured over the time the handler actually waits for bytes, so a handler that is
//! busy (writing to disk, waiting on a lock) never makes its client look slow.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed or the client sent a malformed body.
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    /// The client sent the body slower than the minimum body rate.
    #[error("the request body arrived slower than {min_rate} bytes per second")]
    TooSlow {
        /// The minimum rate, in bytes per second.
        min_rate: u64,
    },
}

/// The least a body must deliver per `window` of waiting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinRate {
    pub(crate) bytes_per_second: u64,
    pub(crate) window: Duration,
}

/// A request's body (see the module documentation).
pub struct RequestBody {
    inner: Incoming,
    rate: Option<MinRate>,
    /// Bytes received in the current window.
    received: u64,
    /// Time spent waiting for bytes in the current window.
    waited: Duration,
    /// When the current wait began.
    waiting: Option<Instant>,
    /// The timer that ends the window, kept between waits (re-armed, not re-allocated).
    timer: Option<Pin<Box<Sleep>>>,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, rate: Option<MinRate>) -> Self {
        Self {
            inner,
            rate,
            received: 0,
            waited: Duration::ZERO,
            waiting: None,
            timer: None,
        }
    }

    fn stop_waiting(&mut self) {
        if let Some(since) = self.waiting.take() {
            self.waited += since.elapsed();
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stop_waiting();
                if let Some(Ok(f)) = &frame {
                    this.received += f.data_ref().map_or(0, |d| d.len() as u64);
                }
                if let Some(rate) = this.rate
                    && this.waited >= rate.window
                {
                    this.received = 0;
                    this.waited = Duration::ZERO;
                }
                Poll::Ready(frame.map(|r| r.map_err(BodyError::from)))
            }
            Poll::Pending => {
                let Some(rate) = this.rate else {
                    return Poll::Pending;
                };
                loop {
                    let since = match this.waiting {
                        Some(since) => since,
                        None => {
                            let now = Instant::now();
                            let deadline = now + rate.window.saturating_sub(this.waited);
                            match &mut this.timer {
                                Some(timer) => timer.as_mut().reset(deadline),
                                None => {
                                    this.timer = Some(Box::pin(tokio::time::sleep_until(deadline)))
                                }
                            }
                            this.waiting = Some(now);
                            now
                        }
                    };
                    let Some(timer) = this.timer.as_mut() else {
                        return Poll::Pending;
                    };
                    ready!(timer.as_mut().poll(cx));
                    // A whole window spent waiting: enough bytes, or the body is cut.
                    this.waited += since.elapsed();
                    this.waiting = None;
                    let needed = rate.bytes_per_second.saturating_mul(rate.window.as_secs());
                    if this.received < needed {
                        return Poll::Ready(Some(Err(BodyError::TooSlow {
                            min_rate: rate.bytes_per_second,
                        })));
                    }
                    this.received = 0;
                    this.waited = Duration::ZERO;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
