//! A mistake the tutorial warns about: the container instances' security
//! group doesn't admit the load balancer on the dynamic host ports
//! (32768–65535), so the tasks run but their targets never turn healthy and
//! the load balancer answers 503. `preview` names the blocked hop and the
//! rule to add before anything is created:
//!
//! ```text
//! cargo run --example private_ecs_hosts_closed -- preview
//! ```

use keel_examples::stacks::private_ecs::{Options, build};
use std::process::ExitCode;

fn main() -> ExitCode {
    let stack = build(&Options {
        stack: "private-ecs-hosts-closed".into(),
        hosts_admit_load_balancer: false,
        ..Options::default()
    });
    keel::cli::run(stack)
}
