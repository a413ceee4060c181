//! Signals for the command line: SIGINT, SIGTERM and SIGHUP (Ctrl-C alone
//! off Unix). Before the apply starts, a signal ends the process at once
//! (nothing has been applied; the state lock dies with the process). During
//! the apply, the first signal triggers the run's [`Interrupt`]: no further
//! step starts, calls in flight get the grace period and are recorded, state
//! is compacted and the lock released, and a summary says what was and
//! wasn't done; a second signal exits at once, leaving a journal the next
//! run recovers. Either way the exit code is 128 plus the first signal's
//! number (130, 143, 129). This module owns catching signals, those
//! messages and the interrupt summary; [`super::run_with`] installs no
//! handler.

use super::{CliError, Printer, verb};
use crate::engine::{ApplyReport, Event, Interrupt, Outcome};
use crate::plan::Action;
use crate::resource::Urn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A signal the command line stops on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    #[cfg_attr(not(unix), allow(dead_code))]
    Terminate,
    /// SIGHUP (the terminal went away).
    #[cfg_attr(not(unix), allow(dead_code))]
    Hangup,
}

impl Signal {
    pub(super) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }

    /// 128 plus the signal's number, as shells report a process it ended.
    pub(super) fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
            Signal::Hangup => 129,
        }
    }
}

/// The command's interrupt, the first signal received, and whether the
/// apply has started. Clones share all three.
#[derive(Clone, Debug)]
pub(super) struct Signals {
    interrupt: Interrupt,
    first: Arc<OnceLock<Signal>>,
    applying: Arc<AtomicBool>,
    catch: bool,
}

impl Signals {
    /// With `catch`, [`Signals::listen`] installs handlers; without, the
    /// interrupt is only the run's.
    pub(super) fn new(grace: Duration, catch: bool) -> Self {
        Self {
            interrupt: Interrupt::with_grace(grace),
            first: Arc::new(OnceLock::new()),
            applying: Arc::new(AtomicBool::new(false)),
            catch,
        }
    }

    /// The handle the apply stops on.
    pub(super) fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// The first signal received, if any.
    pub(super) fn received(&self) -> Option<Signal> {
        self.first.get().copied()
    }

    /// From now on a first signal interrupts the apply instead of ending
    /// the process.
    pub(super) fn applying(&self) {
        self.applying.store(true, Ordering::SeqCst);
    }

    /// Installs the handlers (if catching) on the current tokio runtime;
    /// they live as long as it does.
    pub(super) fn listen(&self) -> Result<(), CliError> {
        if !self.catch {
            return Ok(());
        }
        let failed = |e: std::io::Error| {
            CliError::Refused(format!("could not install the signal handlers: {e}"))
        };
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut int = signal(SignalKind::interrupt()).map_err(failed)?;
            let mut term = signal(SignalKind::terminate()).map_err(failed)?;
            let mut hup = signal(SignalKind::hangup()).map_err(failed)?;
            let me = self.clone();
            tokio::spawn(async move {
                loop {
                    let signal = tokio::select! {
                        Some(()) = int.recv() => Signal::Interrupt,
                        Some(()) = term.recv() => Signal::Terminate,
                        Some(()) = hup.recv() => Signal::Hangup,
                        else => return,
                    };
                    me.on(signal);
                }
            });
        }
        #[cfg(not(unix))]
        {
            let me = self.clone();
            let _ = failed;
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    me.on(Signal::Interrupt);
                }
            });
        }
        Ok(())
    }

    fn on(&self, signal: Signal) {
        let first = self.first.set(signal).is_ok();
        if first && self.applying.load(Ordering::SeqCst) {
            // The printer announces the stop when the executor takes it.
            self.interrupt.interrupt();
            return;
        }
        let code = self.received().unwrap_or(signal).exit_code();
        if first {
            eprintln!(
                "\nInterrupted by {}: stopping before anything was applied.",
                signal.name()
            );
        } else {
            eprintln!(
                "\nInterrupted again by {}: stopping at once. Calls in flight stay recorded as begun; the next run reconciles them with the cloud.",
                signal.name()
            );
        }
        std::process::exit(i32::from(code));
    }
}

/// The progress line of an [`Event::Interrupted`] or [`Event::Abandoned`].
pub(super) fn event_line(event: &Event) -> Option<String> {
    match event {
        Event::Interrupted {
            in_flight: 0,
            not_started,
            ..
        } => Some(format!(
            "Interrupted: no call in flight, {not_started} steps not started; stopping."
        )),
        Event::Interrupted {
            in_flight, grace, ..
        } => Some(format!(
            "Interrupted: waiting up to {}s for {in_flight} calls in flight (press Ctrl-C again to stop at once)…",
            grace.as_secs()
        )),
        Event::Abandoned {
            urn,
            action,
            elapsed,
        } => Some(format!(
            "  {:<3} {} {}: {} abandoned after {:.1}s; the next run reconciles it",
            "!",
            urn.type_token(),
            urn.name(),
            verb(*action, false),
            elapsed.as_secs_f64()
        )),
        _ => None,
    }
}

/// The JSON status of a step the interrupt stopped.
pub(super) fn status(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Abandoned { .. } => "abandoned",
        _ => "not_started",
    }
}

/// What an interrupted run did and didn't do, and how to finish it.
pub(super) fn print_summary(
    printer: &Printer<'_>,
    signal: Signal,
    command: &str,
    report: &ApplyReport,
) {
    let outcomes = &report.execution.outcomes;
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let done = count(|o| matches!(o, Outcome::Done { action } if *action != Action::Same));
    let failed = count(|o| matches!(o, Outcome::Failed { .. } | Outcome::Skipped { .. }));
    let left: Vec<(&Urn, Action, bool)> = outcomes
        .iter()
        .filter_map(|(urn, o)| match o {
            Outcome::NotStarted { action } if *action != Action::Same => {
                Some((urn, *action, false))
            }
            Outcome::Abandoned { action } => Some((urn, *action, true)),
            _ => None,
        })
        .collect();
    let abandoned = left.iter().filter(|(_, _, a)| *a).count();
    printer.text(&format!(
        "\nInterrupted by {}: {done} done, {failed} failed or skipped, {} not started, {abandoned} abandoned.",
        signal.name(),
        left.len() - abandoned,
    ));
    for (title, abandoned) in [
        ("Not started:", false),
        (
            "Abandoned while in flight (the next run reconciles them with the cloud):",
            true,
        ),
    ] {
        let mut steps = left.iter().filter(|(_, _, a)| *a == abandoned).peekable();
        if steps.peek().is_some() {
            printer.text(title);
        }
        for (urn, action, _) in steps {
            printer.text(&format!(
                "    {:<3} {} {} ({action})",
                action.symbol(),
                urn.type_token(),
                urn.name()
            ));
        }
    }
    if left.is_empty() && failed == 0 {
        printer.text("Every step had finished; nothing is left to do.");
    } else {
        printer.text(&format!("Run `{command}` again to finish."));
    }
}
