//! [`Interrupt`]: the handle that asks a run to stop. Whoever holds a clone
//! (the command line's signal handler, a test, an embedding program) calls
//! [`Interrupt::interrupt`]; the executor then starts no further step, gives
//! the calls in flight the handle's grace period to finish (their results
//! are recorded), abandons those still running at the bound (their begin
//! records stay in the journal for the next run to reconcile) and reports
//! the rest as not started. This module owns the handle; the executor's side
//! lives in `executor::stop`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long calls in flight may take to finish after an interrupt, unless
/// the handle says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// A request to stop a run, shared by cheap clones: every clone sees the
/// same request, and the grace period chosen when the handle was made.
///
/// ```
/// use keel::engine::Interrupt;
/// use std::time::Duration;
///
/// let stop = Interrupt::with_grace(Duration::from_secs(5));
/// let handler = stop.clone(); // e.g. moved into a signal handler
/// assert!(!stop.is_interrupted());
/// handler.interrupt();
/// assert!(stop.is_interrupted());
/// assert_eq!(stop.grace(), Duration::from_secs(5));
///
/// // Waiting for it returns at once now; a future raced against it loses.
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// stop.interrupted().await;
/// assert_eq!(stop.unless_interrupted(std::future::pending::<()>()).await, None);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    requested: watch::Sender<bool>,
    grace: Duration,
}

impl Default for Interrupt {
    fn default() -> Self {
        Self::with_grace(DEFAULT_GRACE)
    }
}

impl Interrupt {
    /// A handle not yet triggered, with the [`DEFAULT_GRACE`] period.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle not yet triggered whose run gives calls in flight `grace`
    /// to finish once interrupted (zero abandons them at once).
    pub fn with_grace(grace: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                requested: watch::Sender::new(false),
                grace,
            }),
        }
    }

    /// Asks the run to stop. Calling it again changes nothing.
    pub fn interrupt(&self) {
        self.inner.requested.send_replace(true);
    }

    /// Whether [`Interrupt::interrupt`] was called on any clone.
    pub fn is_interrupted(&self) -> bool {
        *self.inner.requested.borrow()
    }

    /// How long calls in flight may take to finish after an interrupt.
    pub fn grace(&self) -> Duration {
        self.inner.grace
    }

    /// Completes once the handle is interrupted (at once if it is already).
    pub async fn interrupted(&self) {
        let mut requested = self.inner.requested.subscribe();
        // The sender lives as long as `self`, so waiting can't fail.
        let _ = requested.wait_for(|on| *on).await;
    }

    /// Runs `work` unless the handle is interrupted first: `None` if it
    /// was (then `work` is dropped where it stood), else its output.
    pub async fn unless_interrupted<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            () = self.interrupted() => None,
            out = work => Some(out),
        }
    }
}
