//! ECS container instances in private subnets that register with their
//! cluster, because each private subnet routes 0.0.0.0/0 to a NAT gateway in
//! a public subnet.
//!
//! ```text
//! cargo run --example private_ecs                 # preview and apply on the simulator
//! cargo run --example private_ecs -- preview      # plan only
//! cargo run --example private_ecs -- destroy --yes
//! ```
//!
//! Set `NAT` below to `NatLayout::Single` for one shared NAT gateway.

use keel_examples::stacks::private_ecs::{build, NatLayout, Options};
use std::process::ExitCode;

/// One NAT gateway per availability zone, or one shared.
const NAT: NatLayout = NatLayout::PerAz;

fn main() -> ExitCode {
    let stack = build(&Options {
        nat: NAT,
        ..Options::default()
    });
    keel::cli::run(stack)
}
