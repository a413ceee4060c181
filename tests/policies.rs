//! Policies run where the network checks run: a stack that breaks an error
//! policy is refused by `check` and by `preview` with no provider call; a
//! warning policy is reported and blocks nothing.

use keel::analysis::Severity;
use keel::policy::{Policy, Violation, builtins};
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::MemoryStore;
use keel::testing::*;
use std::sync::Arc;

/// A VPC and a security group open to SSH from anywhere.
fn stack(severity: Severity) -> Stack {
    let mut s = Stack::new("policies");
    s.policy(builtins::no_ssh_from_anywhere().with_severity(severity));
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    s.add(
        "bastion",
        SecurityGroup::new(vpc.id(), "bastion").ingress(Rule::tcp(22).cidr("0.0.0.0/0")),
    );
    s
}

#[test]
fn an_error_policy_refuses_the_stack_before_any_call() {
    let s = stack(Severity::Error);
    let report = keel::ops::check(&s).unwrap();
    assert!(report.has_errors());
    let f = &report.findings[0];
    assert_eq!(
        (f.code.as_str(), f.policy.as_deref()),
        ("P001", Some("no-ssh-from-anywhere"))
    );
    assert_eq!(f.urn.name(), "bastion");
    let text = report.render_text();
    assert!(
        text.starts_with("error[P001 no-ssh-from-anywhere]: "),
        "{text}"
    );

    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let store = Box::new(MemoryStore::new(s.name()));
    let options = keel::ops::Options::default();
    let preview = keel::ops::blocking::preview(&s, Arc::new(sim.clone()), store, &options).unwrap();
    assert!(preview.blocked);
    assert!(sim.api_calls().is_empty(), "{:?}", sim.api_calls());
}

#[test]
fn a_warning_policy_is_reported_and_blocks_nothing() {
    let s = stack(Severity::Warning);
    let deployed = apply(&s);
    let checks = &deployed.report.preview.checks;
    assert_eq!(checks.codes(), ["P001"]);
    assert!(!checks.has_errors());
    assert!(deployed.report.succeeded());
}

#[test]
fn a_program_policy_is_a_closure_over_the_typed_stack() {
    let mut s = stack(Severity::Warning);
    s.policy(Policy::new(
        "vpcs-are-16",
        Severity::Error,
        |stack: &Stack| {
            let wrong = stack
                .resources::<Vpc>()
                .filter(|v| !v.cidr_block.ends_with("/16"));
            wrong
                .map(|v| {
                    Violation::new(v.urn(), format!("VPC {} isn't a /16", v.name()))
                        .field("cidr_block")
                })
                .collect()
        },
    ));
    assert_policies(&s);
    s.add("other", Vpc::new("10.1.0.0/20"));
    let report = keel::ops::check(&s).unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.policy.as_deref() == Some("vpcs-are-16"))
        .unwrap();
    assert_eq!(
        (f.code.as_str(), f.urn.name(), f.field.as_deref()),
        ("P000", "other", Some("cidr_block"))
    );
}
