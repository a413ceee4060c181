//! The operations of [`crate::ops`] for code with no async runtime: each
//! runs on a runtime of its own, or, when called from inside one (a
//! `#[tokio::main]` program, a test), on a thread of its own while the
//! caller's thread waits, since a runtime can't block one of its own
//! threads.

use super::{Options, Preview, UpReport};
use crate::analysis;
use crate::engine::{EngineError, RefreshReport};
use crate::provider::Provider;
use crate::stack::IntoValid;
use crate::state::StateStore;
use std::future::Future;
use std::sync::Arc;

/// Runs the future `make` returns to completion from synchronous code,
/// inside a tokio runtime or not. The future is made on the thread that
/// runs it, so it need not be `Send`.
pub(crate) fn block_on<M, F>(make: M) -> Result<F::Output, EngineError>
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    let run = move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(make()))
            .map_err(EngineError::Runtime)
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| {
            scope
                .spawn(run)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    } else {
        run()
    }
}

/// [`crate::ops::preview`], blocking.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sim = Arc::new(SimProvider::in_memory());
/// let preview = keel::ops::blocking::preview(&stack, sim, Box::new(MemoryStore::new("demo")), &Default::default()).unwrap();
/// assert_eq!(preview.plan.summary().create, 1);
/// ```
pub fn preview<'a>(
    stack: impl IntoValid<'a> + Send,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<Preview, EngineError> {
    block_on(|| super::preview(stack, provider, store, options))?
}

/// [`crate::ops::up`], blocking.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::MemoryStore;
/// use std::sync::Arc;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sim = Arc::new(SimProvider::in_memory());
/// let report = keel::ops::blocking::up(&stack, sim, Box::new(MemoryStore::new("demo")), &Default::default()).unwrap();
/// assert!(report.succeeded());
/// ```
pub fn up<'a>(
    stack: impl IntoValid<'a> + Send,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<UpReport, EngineError> {
    block_on(|| super::up(stack, provider, store, options))?
}

/// [`crate::ops::destroy`], blocking.
pub fn destroy<'a>(
    stack: impl IntoValid<'a> + Send,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<UpReport, EngineError> {
    block_on(|| super::destroy(stack, provider, store, options))?
}

/// [`crate::ops::refresh`], blocking.
pub fn refresh<'a>(
    stack: impl IntoValid<'a> + Send,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + 'a>,
    options: &Options<'a>,
) -> Result<RefreshReport, EngineError> {
    block_on(|| super::refresh(stack, provider, store, options))?
}

/// [`crate::ops::check`] (which never blocks: it reads no state and calls
/// no provider), here for symmetry.
pub fn check<'a>(stack: impl IntoValid<'a>) -> Result<analysis::Report, EngineError> {
    Ok(super::check(stack)?)
}
