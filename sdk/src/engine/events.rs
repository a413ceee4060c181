//! Progress events the executor emits as steps start, finish, fail, are
//! skipped or, once the run is interrupted, are abandoned, and the
//! [`EventSink`] that receives them (the CLI prints them; tests collect
//! them).

use crate::plan::Action;
use crate::provider::ProviderError;
use crate::resource::Urn;
use std::sync::Mutex;
use std::time::Duration;

/// Something that happened to one step.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A provider call started.
    Started {
        /// The resource.
        urn: Urn,
        /// What is being done (`Delete` also for the old half of a replacement).
        action: Action,
    },
    /// A provider call succeeded.
    Finished {
        /// The resource.
        urn: Urn,
        /// What was done.
        action: Action,
        /// The cloud id.
        id: String,
        /// How long the call took.
        elapsed: Duration,
    },
    /// A provider call failed.
    Failed {
        /// The resource.
        urn: Urn,
        /// What was tried.
        action: Action,
        /// Why it failed.
        error: ProviderError,
        /// How long the call took.
        elapsed: Duration,
    },
    /// A resource declared with `retain_on_delete()` was dropped from state
    /// and left in the cloud (no provider call).
    Retained {
        /// The resource.
        urn: Urn,
        /// Its cloud id, still in use.
        id: String,
    },
    /// A step didn't run because a step it depends on failed.
    Skipped {
        /// The resource.
        urn: Urn,
        /// What would have been done.
        action: Action,
        /// The failed resource that blocked it.
        blocked_by: Urn,
    },
    /// The run was interrupted: no further step starts, and the calls in
    /// flight get `grace` to finish.
    Interrupted {
        /// Calls still running.
        in_flight: usize,
        /// Steps withdrawn before they started.
        not_started: usize,
        /// How long the calls in flight may still take.
        grace: Duration,
    },
    /// A call still running at the end of the grace period was abandoned;
    /// the next run reconciles it with the cloud.
    Abandoned {
        /// The resource.
        urn: Urn,
        /// What was being done.
        action: Action,
        /// How long the call had run.
        elapsed: Duration,
    },
}

/// Receives [`Event`]s; called from the executor's loop, so keep it quick.
pub trait EventSink: Send + Sync {
    /// One event.
    fn event(&self, event: &Event);
}

/// Ignores events.
///
/// ```
/// use keel::engine::{EventSink, NullSink};
/// let sink: &dyn EventSink = &NullSink;
/// # let _ = sink;
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    fn event(&self, _: &Event) {}
}

/// Keeps every event, for tests.
///
/// ```
/// use keel::engine::{EventLog, EventSink};
/// let log = EventLog::default();
/// assert!(log.events().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct EventLog(Mutex<Vec<Event>>);

impl EventLog {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl EventSink for EventLog {
    fn event(&self, event: &Event) {
        if let Ok(mut e) = self.0.lock() {
            e.push(event.clone());
        }
    }
}
