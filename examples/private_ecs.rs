//! ECS container instances in private subnets that register with their
//! cluster, because each private subnet routes 0.0.0.0/0 to a NAT gateway in
//! a public subnet. The network comes from the `Network` component; see
//! `private_ecs_manual` for the same stack wired resource by resource.
//!
//! ```text
//! cargo run --example private_ecs                 # check, preview and apply on the simulator
//! cargo run --example private_ecs -- check        # pre-deploy checks only
//! cargo run --example private_ecs -- preview      # plan only
//! cargo run --example private_ecs -- destroy --yes
//! ```
//!
//! Set `NAT` below to `NatStrategy::Single` for one shared NAT gateway (the
//! checks then warn that one zone's outage cuts the other off).

use keel::components::NatStrategy;
use keel_examples::stacks::private_ecs::{Options, build};
use std::process::ExitCode;

/// One NAT gateway per availability zone, one shared, or none.
const NAT: NatStrategy = NatStrategy::OnePerAz;

fn main() -> ExitCode {
    let stack = build(&Options {
        nat: NAT,
        ..Options::default()
    });
    keel::cli::run(stack)
}
