//! The `private_ecs` stack wired resource by resource: VPC, internet gateway,
//! subnets, Elastic IPs, NAT gateways and route tables declared one by one,
//! with the same ECS hosts, load balancer and web service on top.
//!
//! ```text
//! cargo run --example private_ecs_manual
//! ```

use keel_examples::stacks::private_ecs::{Options, build_manual};
use std::process::ExitCode;

fn main() -> ExitCode {
    let stack = build_manual(&Options {
        stack: "private-ecs-manual".into(),
        ..Options::default()
    });
    keel::cli::run(stack)
}
