//! `keel-bench`: how long testing a generated stack takes with
//! `keel::testing`, at 1,000 and 10,000 resources, next to the figures the
//! peers' own test tools took on comparable stacks (issue 12: AWS CDK's
//! assertions and Pulumi's mocks). Run by `cargo xtask bench` in release
//! mode; prints a table and asserts nothing about times.

mod stacks;

use keel::policy::builtins;
use keel::prelude::*;
use keel::testing::{Endpoint, assert_egress_via_nat, assert_reaches};
use std::time::{Duration, Instant};

/// What the peers took, as measured for the issue (seconds): AWS CDK 2.276
/// `Template.fromStack` + assertions (validator on / off) at 1,200 and
/// 12,000 resources; Pulumi 3.272 mocks at ~1,000 and 10,000.
const PEERS: [(&str, f64, f64); 3] = [
    ("AWS CDK assertions", 5.0, 81.0),
    ("AWS CDK, validator off", 0.6, 6.7),
    ("Pulumi mocks", 4.7, 42.0),
];

/// One measured run over a stack of about `n` resources.
struct Run {
    resources: usize,
    declare: Duration,
    queries: Duration,
    network: Duration,
    policies: Duration,
    checks: Duration,
    assertions: usize,
}

impl Run {
    fn total(&self) -> Duration {
        self.declare + self.queries + self.network + self.policies + self.checks
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Declares, queries, asserts on the network, runs the four built-in
/// policies and the pre-deploy checks over a generated stack of about `n`
/// resources.
fn run(n: usize) -> Run {
    let (stack, declare) = time(|| stacks::cells(n));
    let (found, queries) = time(|| {
        let mut found = 0;
        // every NAT gateway sits in a public subnet of its zone
        for nat in stack.resources::<NatGateway>() {
            let subnet = stack
                .follow::<Subnet>(nat.subnet_id.as_ref().unwrap())
                .unwrap();
            assert!(subnet.name().contains("public"));
            found += 1;
        }
        // every private route table sends 0.0.0.0/0 to a NAT gateway
        for table in stack
            .resources::<RouteTable>()
            .filter(|t| t.name().contains("private"))
        {
            let nat = table.routes.iter().find_map(|r| match &r.target {
                RouteTarget::NatGateway(n) => stack.follow::<NatGateway>(n),
                _ => None,
            });
            assert!(nat.is_some(), "{}", table.name());
            found += 1;
        }
        found += stack.counts().len();
        found
    });
    let (network_assertions, network) = time(|| {
        let mut count = 0;
        for subnet in stack
            .resources::<Subnet>()
            .filter(|s| s.name().contains("private"))
        {
            assert_egress_via_nat(&stack, &subnet);
            count += 1;
        }
        for group in stack.resources::<AutoScalingGroup>() {
            assert_reaches(&stack, &group, Endpoint::Ecs);
            count += 1;
        }
        count
    });
    let (violations, policies) = time(|| {
        let all = [
            builtins::no_ssh_from_anywhere(),
            builtins::no_public_ip_in_private_subnets(),
            builtins::nat_per_zone(),
            builtins::require_tag("team"),
        ];
        all.iter()
            .map(|p| p.check(&stack).len())
            .collect::<Vec<_>>()
    });
    // The generated stack breaks only the tag policy (it tags nothing).
    assert_eq!(&violations[..3], [0, 0, 0]);
    let (report, checks) = time(|| keel::analysis::check(&stack));
    assert!(!report.has_errors(), "{}", report.render_text());
    Run {
        resources: stack.len(),
        declare,
        queries,
        network,
        policies,
        checks,
        assertions: found + network_assertions,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    println!("keel::testing over generated stacks (release build; best of 3 runs)\n");
    println!(
        "{:>9}  {:>10}  {:>10}  {:>12}  {:>10}  {:>10}  {:>10}  {:>10}",
        "resources",
        "declare",
        "queries",
        "net asserts",
        "policies",
        "checks",
        "total",
        "assertions"
    );
    let mut totals = Vec::new();
    for n in [1_000, 10_000] {
        let best = (0..3)
            .map(|_| run(n))
            .min_by_key(Run::total)
            .expect("three runs");
        println!(
            "{:>9}  {:>10}  {:>10}  {:>12}  {:>10}  {:>10}  {:>10}  {:>10}",
            best.resources,
            ms(best.declare),
            ms(best.queries),
            ms(best.network),
            ms(best.policies),
            ms(best.checks),
            ms(best.total()),
            best.assertions
        );
        totals.push(best.total().as_secs_f64());
    }
    println!("\nside by side (seconds; peers as measured for issue 12):");
    println!("{:<24}  {:>10}  {:>10}", "", "~1,000", "~10,000");
    println!(
        "{:<24}  {:>10.3}  {:>10.3}",
        "keel::testing", totals[0], totals[1]
    );
    for (peer, small, large) in PEERS {
        println!(
            "{:<24}  {:>10.1}  {:>10.1}   keel is {:.0}× / {:.0}× faster",
            peer,
            small,
            large,
            small / totals[0],
            large / totals[1]
        );
    }
}
