//! The `private_ecs` example: its plan (snapshot), its deployment on the
//! simulator with both container instances registered, and the tutorial's
//! failure (no NAT route) leaving the cluster empty.

use keel::components::NatStrategy;
use keel::plan::{render_json, render_text};
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::testing::TestProvider;
use keel_examples::stacks::private_ecs::{Options, build, build_manual};
use keel_tests::{destroy, plan, state_dir, up};
use std::sync::Arc;
use std::time::Duration;

fn sim() -> SimProvider {
    SimProvider::in_memory().with_latency(SimLatency::none())
}

#[test]
fn plan_of_the_example() {
    let dir = state_dir();
    let stack = build(&Options::default());
    let p = plan(&stack, Arc::new(sim()), dir.path());
    insta::assert_snapshot!("private_ecs_plan", render_text(&p));
    insta::assert_json_snapshot!("private_ecs_plan_json", render_json(&p));
}

#[tokio::test]
async fn deploys_registers_two_instances_and_destroys_cleanly() {
    let dir = state_dir();
    let sim = sim();
    let provider = TestProvider::new(sim.clone());
    let shared: Arc<dyn Provider> = Arc::new(provider.clone());
    let stack = build(&Options::default());

    let (p, report) = up(&stack, shared.clone(), dir.path(), 10).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(p.summary().create, stack.len());
    assert_eq!(
        report.outputs["registered_container_instances"], 2,
        "{:?}",
        report.outputs
    );
    assert_eq!(report.outputs["connected_container_instances"], 2);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let cluster = report.outputs["cluster_name"].as_str().unwrap().to_string();
    assert!(cluster.starts_with("app-"), "{cluster}");
    assert_eq!(sim.registered_instances(&cluster), 2);
    assert_eq!(
        report.outputs["nat_public_ips"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        report.outputs["private_subnet_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Again: nothing to do, no writes.
    let writes = provider.mutating_calls();
    let (p, report) = up(&stack, shared.clone(), dir.path(), 10).await;
    assert!(!p.summary().has_changes(), "{}", render_text(&p));
    assert!(report.succeeded());
    assert_eq!(provider.mutating_calls(), writes);

    let (_, report) = destroy(&stack, shared, dir.path()).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn single_nat_layout_also_registers() {
    let dir = state_dir();
    let sim = sim();
    let stack = build(&Options {
        nat: NatStrategy::Single,
        ..Options::default()
    });
    let (p, report) = up(&stack, Arc::new(sim.clone()), dir.path(), 10).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(p.summary().create, stack.len());
    assert_eq!(
        report.outputs["nat_public_ips"].as_array().unwrap().len(),
        1
    );
    assert_eq!(report.outputs["registered_container_instances"], 2);
}

#[tokio::test]
async fn without_the_nat_route_no_instance_registers() {
    let dir = state_dir();
    let sim = sim();
    let stack = build_manual(&Options {
        omit_private_nat_route: true,
        registration_timeout: Duration::from_millis(200),
        service_timeout: Duration::from_millis(200),
        ..Options::default()
    });
    let (_, report) = up(&stack, Arc::new(sim.clone()), dir.path(), 10).await;
    assert!(
        report.succeeded(),
        "every resource is created; the cluster just stays empty"
    );
    assert_eq!(report.outputs["registered_container_instances"], 0);
    // Nothing registers, so no task runs and no target is healthy: each
    // export's wait is reported, and none is met.
    assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
    assert_eq!(
        report.unmet,
        [
            "registered_container_instances",
            "running_tasks",
            "healthy_targets"
        ]
    );
    let cluster = report.outputs["cluster_name"].as_str().unwrap();
    assert_eq!(sim.registered_instances(cluster), 0);
}

#[test]
fn the_cli_runs_the_example_again_with_no_changes_and_destroys() {
    let dir = state_dir();
    let d = dir.path().to_str().unwrap().to_string();
    let stack = build(&Options::default());
    let run = |args: &[&str]| {
        let mut out = Vec::new();
        let mut all = vec!["private_ecs"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--state-dir", &d]);
        let code = keel::cli::run_with(&stack, all, &mut out);
        (code, String::from_utf8(out).unwrap())
    };

    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("aws:ec2:NatGateway net-nat-a: created nat-"),
        "{out}"
    );
    assert!(out.contains("registered_container_instances  2"), "{out}");

    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");

    let (code, out) = run(&["preview", "--json"]);
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["summary"]["same"], stack.len());

    let (code, out) = run(&["destroy", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{} deleted", stack.len())), "{out}");
    let cloud = SimProvider::open(&keel::cli::sim_path(dir.path()), SimLatency::none()).unwrap();
    assert_eq!(cloud.resource_count(), 0);
}

#[test]
fn the_example_passes_the_checks_and_its_broken_variant_is_stopped_before_anything_is_created() {
    let good = keel::analysis::check(&build(&Options::default()));
    assert!(good.findings.is_empty(), "{}", good.render_text());
    let manual = keel::analysis::check(&build_manual(&Options::default()));
    assert!(manual.findings.is_empty(), "{}", manual.render_text());

    let broken = build_manual(&Options {
        stack: "private-ecs-broken".into(),
        omit_private_nat_route: true,
        registration_timeout: Duration::from_millis(200),
        service_timeout: Duration::from_millis(200),
        ..Options::default()
    });
    let report = keel::analysis::check(&broken);
    insta::assert_snapshot!("private_ecs_broken_check", report.render_text());

    let dir = state_dir();
    let d = dir.path().to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let mut out = Vec::new();
        let mut all = vec!["private_ecs_broken"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--state-dir", &d]);
        let code = keel::cli::run_with(&broken, all, &mut out);
        (code, String::from_utf8(out).unwrap())
    };
    for args in [&["preview"][..], &["up"], &[]] {
        let (code, out) = run(args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(out.contains("error[E001]"), "{out}");
        assert!(
            out.contains("fix: route 0.0.0.0/0 of route table private-a to NAT gateway nat-a (in public subnet public-a)"),
            "{out}"
        );
        assert!(out.contains("nothing was created or changed"), "{out}");
    }
    let cloud = SimProvider::open(&keel::cli::sim_path(dir.path()), SimLatency::none()).unwrap();
    assert_eq!(cloud.resource_count(), 0, "no provider call was made");

    let (code, out) = run(&["check", "--json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["findings"][0]["code"], "E001");
    assert_eq!(doc["findings"][0]["severity"], "error");

    // --skip-checks deploys anyway, and the simulator agrees: nothing
    // registers, so the export's wait isn't met and `up` exits non-zero.
    let (code, out) = run(&["up", "--skip-checks"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: applied, but `registered_container_instances`, `running_tasks`, `healthy_targets` did not reach"),
        "{out}"
    );
    assert!(out.contains("deploying despite failed checks"), "{out}");
    assert!(out.contains("registered_container_instances  0"), "{out}");
}

/// The hosts' group declares exactly the egress they need: HTTPS. Declared
/// egress replaces AWS's default rule, so moving that one port to 8443
/// leaves the agent unable to reach ECS, and the checks say so, naming ECS
/// and the group.
#[test]
fn the_hosts_egress_on_8443_instead_of_443_is_an_error_naming_ecs_and_the_group() {
    for stack in [
        build(&Options {
            hosts_egress_port: 8443,
            ..Options::default()
        }),
        build_manual(&Options {
            hosts_egress_port: 8443,
            ..Options::default()
        }),
    ] {
        let report = keel::analysis::check(&stack);
        let text = report.render_text();
        let e009: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.code.as_str() == "E009")
            .collect();
        assert_eq!(e009.len(), 2, "one per private subnet: {text}");
        for f in e009 {
            assert!(f.message.contains("ECS"), "{text}");
            assert_eq!(f.urn.name(), "ecs-hosts", "{text}");
            assert!(
                f.blocked_at
                    .as_deref()
                    .is_some_and(|b| b.contains("ecs-hosts")),
                "{text}"
            );
            assert!(f.fix.contains("security group ecs-hosts"), "{text}");
        }
        assert!(report.codes().iter().all(|c| c.starts_with('E')), "{text}");
    }
}

#[test]
fn the_component_without_nat_gateways_fails_the_checks() {
    let stack = build(&Options {
        nat: NatStrategy::None,
        ..Options::default()
    });
    let report = keel::analysis::check(&stack);
    // The hosts can't register (E001 per subnet), so the service has
    // nowhere to run: one E026 naming that root cause.
    assert_eq!(
        report.codes(),
        ["E001", "E001", "E026"],
        "{}",
        report.render_text()
    );
    assert!(
        report.findings[0]
            .fix
            .contains("add an Elastic IP and a public NAT gateway in subnet net-public-a")
    );
}

/// `keel::cli::run_with` works from inside a tokio runtime (a
/// `#[tokio::main]` program): it used to panic with "Cannot start a runtime
/// from within a runtime".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_runs_inside_a_tokio_runtime() {
    let dir = state_dir();
    let d = dir.path().to_str().unwrap().to_string();
    let stack = build(&Options::default());
    let mut out = Vec::new();
    let code = keel::cli::run_with(&stack, ["prog", "up", "--yes", "--state-dir", &d], &mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("registered_container_instances"), "{text}");
    let mut again = Vec::new();
    assert_eq!(
        keel::cli::run_with(&stack, ["prog", "preview", "--state-dir", &d], &mut again),
        0
    );
    assert!(String::from_utf8(again).unwrap().contains("No changes."));
}
