//! The tutorial's failure: the private subnets' route tables have no
//! 0.0.0.0/0 route to the NAT gateways, so container instances could never
//! reach ECS. `preview` (and `up`) catch it before anything is created:
//!
//! ```text
//! cargo run --example private_ecs_broken -- preview
//! ```

use keel_examples::stacks::private_ecs::{Options, build_manual};
use std::process::ExitCode;

fn main() -> ExitCode {
    let stack = build_manual(&Options {
        stack: "private-ecs-broken".into(),
        omit_private_nat_route: true,
        ..Options::default()
    });
    keel::cli::run(stack)
}
