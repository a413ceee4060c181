//! Set-like lists plan as sets: reordering a security group's rules or an
//! Auto Scaling group's subnets is no change, adding one rule is one added
//! line, and the same lists deploy and update on the simulator.

use keel::plan::{Action, render_text};
use keel::prelude::*;
use keel::provider::sim::{SimLatency, SimProvider};
use keel_tests::{plan, state_dir, up};
use std::sync::Arc;

fn stack(ingress: &[u16], subnets_reversed: bool) -> Stack {
    let mut s = Stack::new("sets");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let a = s.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    let b = s.add("b", Subnet::new(vpc.id(), "10.0.2.0/24", "us-east-1b"));
    let mut sg = SecurityGroup::new(vpc.id(), "web servers");
    for port in ingress {
        sg = sg.ingress(Rule::tcp(*port).cidr("0.0.0.0/0"));
    }
    let sg = s.add("web", sg);
    let lt = s.add(
        "web",
        LaunchTemplate::new("ami-0123456789abcdef0", "t3.micro").security_group(sg.id()),
    );
    let (first, second) = if subnets_reversed { (b, a) } else { (a, b) };
    s.add(
        "web",
        AutoScalingGroup::new(lt.id(), 0, 2)
            .subnet(first.id())
            .subnet(second.id()),
    );
    s
}

#[tokio::test]
async fn reordered_rules_are_no_change_and_one_new_rule_is_one_line() {
    let dir = state_dir();
    let sim = Arc::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let (_, report) = up(&stack(&[443, 80, 22], false), sim.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");

    let reordered = plan(&stack(&[22, 443, 80], true), sim.clone(), dir.path());
    assert!(
        !reordered.summary().has_changes(),
        "{}",
        render_text(&reordered)
    );

    let added = stack(&[22, 443, 8080, 80], true);
    let p = plan(&added, sim.clone(), dir.path());
    let sg = p
        .step(&Urn::new("sets", SecurityGroup::TYPE, "web"))
        .expect("the group has a step");
    assert_eq!(sg.action, Action::Update, "{}", render_text(&p));
    assert_eq!(sg.changes.len(), 1, "{}", render_text(&p));
    let change = &sg.changes[0];
    assert_eq!(change.path, "ingress[*]");
    assert_eq!(change.before, None);
    assert_eq!(change.after.as_ref().unwrap()["from_port"], 8080);
    assert_eq!(p.summary().update, 1, "{}", render_text(&p));
    assert!(render_text(&p).contains("+ ingress[*]: {"));

    let (_, report) = up(&added, sim.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(
        !plan(&added, sim.clone(), dir.path())
            .summary()
            .has_changes()
    );

    // Removing one is one removed line.
    let p = plan(&stack(&[22, 443, 80], false), sim, dir.path());
    let sg = p
        .step(&Urn::new("sets", SecurityGroup::TYPE, "web"))
        .unwrap();
    assert_eq!(sg.changes.len(), 1);
    assert_eq!(sg.changes[0].after, None);
}

/// A group with egress declared, as saved when declared egress was added
/// to AWS's default rule (`revoke_default_egress: false`), or as declared
/// today (the declared rules replace the default).
fn hosts(saved_before_egress_replaced_the_default: bool) -> Stack {
    let mut s = Stack::new("egress");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let mut sg = SecurityGroup::new(vpc.id(), "ECS hosts").egress(Rule::tcp(443).cidr("0.0.0.0/0"));
    if saved_before_egress_replaced_the_default {
        sg.revoke_default_egress = false;
    }
    s.add("hosts", sg);
    s
}

#[tokio::test]
async fn a_stack_saved_with_the_default_egress_previews_its_revocation() {
    let dir = state_dir();
    let sim = Arc::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let (_, report) = up(&hosts(true), sim.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");

    let p = plan(&hosts(false), sim.clone(), dir.path());
    let sg = p
        .step(&Urn::new("egress", SecurityGroup::TYPE, "hosts"))
        .expect("the group has a step");
    assert_eq!(sg.action, Action::Update, "{}", render_text(&p));
    assert_eq!(sg.changes.len(), 1, "{}", render_text(&p));
    let change = &sg.changes[0];
    assert_eq!(change.path, "revoke_default_egress");
    assert_eq!(change.before, Some(serde_json::json!(false)));
    assert_eq!(change.after, Some(serde_json::json!(true)));
    assert!(
        render_text(&p).contains("revoke_default_egress"),
        "{}",
        render_text(&p)
    );

    let (_, report) = up(&hosts(false), sim.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(!plan(&hosts(false), sim, dir.path()).summary().has_changes());
}
