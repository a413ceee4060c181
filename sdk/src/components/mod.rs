//! Higher-level building blocks that declare several resources at once and
//! hand back typed handles to everything they made (like awsx's `ec2.Vpc` or
//! the CDK's `Vpc`). A component only calls [`crate::Stack::add`]; the
//! resources it makes are ordinary resources in the plan.

mod network;

pub use network::{NatStrategy, Network, NetworkHandles, Zone};
