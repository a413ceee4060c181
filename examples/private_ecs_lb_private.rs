//! A mistake that looks harmless: the internet-facing load balancer placed
//! in the private subnets, whose route tables send 0.0.0.0/0 to NAT
//! gateways, not to the internet gateway. AWS creates it, and no request
//! from the internet ever arrives. The targets need not sit in the load
//! balancer's subnets: it belongs in the public ones. `preview` says so
//! before anything is created:
//!
//! ```text
//! cargo run --example private_ecs_lb_private -- preview
//! ```

use keel_examples::stacks::private_ecs::{Options, build};
use std::process::ExitCode;

fn main() -> ExitCode {
    let stack = build(&Options {
        stack: "private-ecs-lb-private".into(),
        load_balancer_in_private_subnets: true,
        ..Options::default()
    });
    keel::cli::run(stack)
}
