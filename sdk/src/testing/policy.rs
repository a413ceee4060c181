//! Policies in tests: [`assert_policies`] runs every policy a stack
//! registers and fails on the errors, [`assert_policy`] runs one policy and
//! fails on any violation. Both fail with the findings rendered as `check`
//! renders them (code, policy, resource, field, fix).

use crate::analysis::{Finding, Report};
use crate::policy::Policy;
use crate::stack::Stack;

fn fail(what: &str, findings: Vec<Finding>) -> ! {
    panic!("{what}:\n{}", Report { findings }.render_text())
}

/// Runs every policy registered on `stack` ([`Stack::policy`]) and panics
/// if any reports an error, showing each error finding; warnings pass.
///
/// ```
/// use keel::policy::builtins;
/// use keel::prelude::*;
/// use keel::testing::assert_policies;
/// let mut stack = Stack::new("demo");
/// stack.policy(builtins::require_tag("team"));
/// stack.add("main", Vpc::new("10.0.0.0/16").tag("team", "network"));
/// assert_policies(&stack);
/// ```
///
/// A violation fails with the rendered finding:
///
/// ```should_panic
/// # use keel::policy::builtins;
/// # use keel::prelude::*;
/// # use keel::testing::assert_policies;
/// let mut stack = Stack::new("demo");
/// stack.policy(builtins::require_tag("team"));
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert_policies(&stack); // error[P002 require-tag-team]: aws:ec2:Vpc main has no `team` tag
/// ```
#[track_caller]
pub fn assert_policies(stack: &Stack) {
    let errors: Vec<Finding> = stack
        .policies()
        .iter()
        .flat_map(|p| p.check(stack))
        .filter(Finding::is_error)
        .collect();
    if !errors.is_empty() {
        fail(
            &format!("stack {} breaks its policies", stack.name()),
            errors,
        );
    }
}

/// Runs `policy` over `stack` (registered or not) and panics if it reports
/// anything, whatever the severity.
///
/// ```
/// use keel::policy::builtins;
/// use keel::prelude::*;
/// use keel::testing::assert_policy;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.add("web", SecurityGroup::new(vpc.id(), "web").ingress(Rule::tcp(443).cidr("0.0.0.0/0")));
/// assert_policy(&stack, &builtins::no_ssh_from_anywhere());
/// ```
#[track_caller]
pub fn assert_policy(stack: &Stack, policy: &Policy) {
    let findings = policy.check(stack);
    if !findings.is_empty() {
        fail(
            &format!("stack {} breaks policy {}", stack.name(), policy.name()),
            findings,
        );
    }
}
