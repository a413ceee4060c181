//! The `private_ecs` example stack behind keel's command line
//! (`keel::cli::run`), built with the tests so they can run it as a process:
//! signals, exit codes and what a following run finds.

use keel_examples::stacks::private_ecs::{Options, build};
use std::process::ExitCode;

fn main() -> ExitCode {
    keel::cli::run(build(&Options::default()))
}
