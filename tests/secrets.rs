//! Secrets end to end through keel's command line. On the simulator: a
//! secret (user data built from `Output::secret_value`, an instance profile
//! passed as `Input::secret`) shows as `[sensitive]` in previews, progress,
//! provider errors, outputs and `--json`, while the state files on disk don't
//! hold it in plain text and loading them gives it back. On moto, through
//! the aws provider, with recognizable fake AWS credentials: neither the
//! credentials nor the secret reach any state file, any printed output or
//! the exports, drift in a secret is reported as `[sensitive]`, and the
//! secret round-trips (a second preview plans no changes).

use keel::prelude::*;
use keel::provider::sim::SimProvider;
use keel::state::{LocalStore, StateStore};
use keel_tests::moto::Moto;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SECRET: &str = "tok-hunter2-7f3a9c";
const ROTATED: &str = "tok-rotated-0b1d2e";
const MISSING_PROFILE: &str = "profile-s3cr3t-missing";

/// A cluster and a launch template whose user data carries `token`,
/// exported as `user_data`.
fn stack(name: &str, token: &str) -> Stack {
    let mut stack = Stack::new(name);
    let cluster = stack.add("app", EcsCluster::new());
    let user_data = Output::secret_value(token.to_string())
        .zip(&cluster.name())
        .map(|(t, c)| format!("echo ECS_CLUSTER={c} >> /etc/ecs/ecs.config\nexport TOKEN={t}\n"));
    assert!(user_data.is_secret(), "derived from a secret");
    stack.add(
        "hosts",
        LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small").user_data(user_data.clone()),
    );
    stack.export("cluster", cluster.name());
    stack.export("user_data", user_data);
    stack
}

fn cli(stack: &Stack, dir: &Path, args: &[&str]) -> (u8, String) {
    let mut argv = vec!["prog"];
    argv.extend_from_slice(args);
    argv.extend(["--state-dir", dir.to_str().unwrap()]);
    let mut out = Vec::new();
    let code = keel::cli::run_with(stack, argv, &mut out);
    (code, String::from_utf8(out).unwrap())
}

/// Every file under `dir`, as text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    out
}

#[test]
fn secrets_show_as_sensitive_and_state_files_hold_them_sealed_on_the_simulator() {
    let dir = keel_tests::state_dir();
    let first = stack("secret-sim", SECRET);

    let (code, up) = cli(&first, dir.path(), &["up", "--yes"]);
    assert_eq!(code, 0, "{up}");
    assert!(up.contains("created"), "progress lines: {up}");
    let outputs = up.split("Outputs:").nth(1).expect("outputs printed");
    assert!(outputs.contains("user_data  \"[sensitive]\""), "{outputs}");
    assert!(outputs.contains("cluster"), "{outputs}");

    // The raw state files don't hold the secret; loading them gives it back.
    let state_dir = dir.path().join("secret-sim");
    for (path, text) in files(&state_dir) {
        assert!(!text.contains(SECRET), "{path} holds the secret:\n{text}");
    }
    let snapshot = std::fs::read_to_string(state_dir.join("snapshot.json")).unwrap();
    assert!(snapshot.contains("keel:secret"), "{snapshot}");
    assert!(state_dir.join("secrets.key").exists());
    let loaded = LocalStore::open(dir.path(), "secret-sim")
        .unwrap()
        .load()
        .unwrap();
    let lt = loaded
        .resources
        .iter()
        .find(|r| r.urn.name() == "hosts")
        .unwrap();
    assert!(lt.inputs["user_data"].as_str().unwrap().contains(SECRET));
    assert_eq!(lt.secret_paths, ["/user_data"]);
    assert!(
        loaded.outputs["user_data"]
            .as_str()
            .unwrap()
            .contains(SECRET)
    );
    assert_eq!(loaded.secret_outputs, ["user_data"]);
    // The simulator's cloud holds user data as AWS would: it is the cloud,
    // not state.
    let cloud = std::fs::read_to_string(keel::cli::sim_path(dir.path())).unwrap();
    assert!(cloud.contains(SECRET));

    // It round-trips: nothing to do.
    let (code, again) = cli(&first, dir.path(), &["preview"]);
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("No changes."), "{again}");

    // A new secret: the plan says it changes, never what it is.
    let rotated = stack("secret-sim", ROTATED);
    let (code, preview) = cli(&rotated, dir.path(), &["preview"]);
    assert_eq!(code, 0, "{preview}");
    assert!(
        preview.contains("~ user_data: \"[sensitive]\" => \"[sensitive]\""),
        "{preview}"
    );
    let (code, json) = cli(&rotated, dir.path(), &["preview", "--json"]);
    assert_eq!(code, 0, "{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let step = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "hosts")
        .unwrap();
    assert_eq!(step["action"], "update");
    let change = &step["changes"][0];
    assert_eq!(
        (
            &change["path"],
            &change["before"],
            &change["after"],
            &change["sensitive"]
        ),
        (
            &Value::from("user_data"),
            &Value::from("[sensitive]"),
            &Value::from("[sensitive]"),
            &Value::from(true)
        )
    );
    let (code, updated) = cli(&rotated, dir.path(), &["up", "--yes", "--json"]);
    assert_eq!(code, 0, "{updated}");
    let doc: Value = serde_json::from_str(&updated).unwrap();
    assert_eq!(doc["outputs"]["user_data"], "[sensitive]");
    for text in [&up, &again, &preview, &json, &updated] {
        assert!(!text.contains(SECRET) && !text.contains(ROTATED), "{text}");
    }
    for (path, text) in files(&state_dir) {
        assert!(!text.contains(ROTATED), "{path} holds the secret:\n{text}");
    }

    // A provider error that quotes a secret input quotes `[sensitive]`.
    let mut failing = Stack::new("secret-sim-fail");
    failing.add(
        "hosts",
        LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small")
            .iam_instance_profile(Input::secret(InstanceProfileName::new(MISSING_PROFILE))),
    );
    let (code, text) = cli(&failing, dir.path(), &["up", "--yes"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("Value ([sensitive]) for parameter"), "{text}");
    let (code, json) = cli(&failing, dir.path(), &["up", "--yes", "--json"]);
    assert_eq!(code, 1, "{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["steps"][0]["status"], "failed", "{doc:#}");
    for text in [&text, &json] {
        assert!(!text.contains(MISSING_PROFILE), "{text}");
    }

    // A plan still works in memory: the same stack against a store that
    // never sealed anything.
    let sim = std::sync::Arc::new(SimProvider::in_memory());
    let store = Box::new(keel::state::MemoryStore::new("secret-sim"));
    let opts = keel::ops::Options::new();
    let report = keel::ops::blocking::up(&first, sim, store, &opts).unwrap();
    let applied = report.applied.unwrap();
    assert!(
        applied.outputs["user_data"]
            .as_str()
            .unwrap()
            .contains(SECRET)
    );
    assert_eq!(applied.secret_outputs, ["user_data"]);
}

// Recognizable fake credentials: if any of them shows up in a state file or
// in what keel prints, it leaked.
const ACCESS_KEY_ID: &str = "AKIAKEELTESTSECRET01";
const SECRET_ACCESS_KEY: &str = "keelTestSecretAccessKey/DoNotLeak+0123456789ab";
const SESSION_TOKEN: &str = "KeelTestSessionToken//DoNotLeak/IQoJb3JpZ2luX2VjE0123456789";
const DRIFTED: &str = "tok-drifted-by-hand-5e6f";

/// Runs the `secret-stack` program (keel's command line) against moto with
/// the fake credentials and the stack key in the environment only.
fn secret_stack(moto: &Moto, dir: &Path, home: &Path, key: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secret-stack"));
    cmd.env_clear()
        .args(args)
        .args(["--provider", "aws", "--state-dir", dir.to_str().unwrap()])
        .env("HOME", home)
        .env("SECRET_STACK_NAME", "secret-moto")
        .env("SECRET_STACK_TOKEN", SECRET)
        .env("KEEL_SECRETS_KEY", key)
        .env("KEEL_SIM_LATENCY", "0");
    for (k, v) in moto.aws_env() {
        cmd.env(k, v);
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN);
    let out = cmd.output().expect("run the secret-stack program");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_or_secret_reaches_state_or_output_on_moto() {
    let moto = Moto::shared();
    let dir = keel_tests::state_dir();
    let home = keel_tests::state_dir();
    let key = "S2VlbFRlc3RTdGFja0tleS0zMi1ieXRlcy1sb25nISE=";
    let run = |args: &[&str]| secret_stack(moto, dir.path(), home.path(), key, args);
    let mut printed = Vec::new();

    let (ok, up) = run(&["up", "--yes"]);
    assert!(ok, "{up}");
    assert!(up.contains("user_data  \"[sensitive]\""), "{up}");
    printed.push(up);
    let (ok, json) = run(&["preview", "--json"]);
    assert!(ok, "{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["summary"]["create"], 0, "{doc:#}");
    assert_eq!(
        doc["summary"]["update"], 0,
        "the secret round-trips: {doc:#}"
    );
    printed.push(json);

    // The secret really reached the cloud.
    let conf = keel_tests::moto_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    if std::env::var_os("KEEL_SECRETS_KEY").is_none() {
        // This process has no key: the sealed secrets can't be opened, and
        // the error says why and what to do.
        let state = LocalStore::open(dir.path(), "secret-moto").unwrap().load();
        let e = state.unwrap_err().to_string();
        assert!(
            e.contains("KEEL_SECRETS_KEY") && e.contains("secrets.key"),
            "{e}"
        );
    }
    let templates = ec2
        .describe_launch_templates()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:keel:stack")
                .values("secret-moto")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = templates.launch_templates()[0]
        .launch_template_id()
        .unwrap()
        .to_string();
    let user_data = |version: &str| {
        let ec2 = ec2.clone();
        let (id, version) = (id.clone(), version.to_string());
        async move {
            let v = ec2
                .describe_launch_template_versions()
                .launch_template_id(id)
                .versions(version)
                .send()
                .await
                .unwrap();
            let data = v.launch_template_versions()[0]
                .launch_template_data()
                .and_then(|d| d.user_data())
                .unwrap()
                .to_string();
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            String::from_utf8(bytes).unwrap()
        }
    };
    assert!(user_data("$Latest").await.contains(SECRET));

    // Drift in the secret, by hand: reported, as `[sensitive]`, then repaired.
    use base64::Engine;
    let drifted =
        base64::engine::general_purpose::STANDARD.encode(format!("export TOKEN={DRIFTED}\n"));
    let version = ec2
        .create_launch_template_version()
        .launch_template_id(&id)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-0c55b159cbfafe1f0")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
                .user_data(drifted)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let number = version
        .launch_template_version()
        .and_then(|v| v.version_number())
        .unwrap();
    ec2.modify_launch_template()
        .launch_template_id(&id)
        .default_version(number.to_string())
        .send()
        .await
        .unwrap();
    let (ok, refresh) = run(&["refresh"]);
    assert!(ok, "{refresh}");
    assert!(
        refresh.contains("user_data: \"[sensitive]\" => \"[sensitive]\""),
        "{refresh}"
    );
    printed.push(refresh);
    let (ok, repair) = run(&["up", "--yes", "--json"]);
    assert!(ok, "{repair}");
    let doc: Value = serde_json::from_str(&repair).unwrap();
    assert_eq!(doc["summary"]["update"], 1, "{doc:#}");
    assert_eq!(doc["outputs"]["user_data"], "[sensitive]", "{doc:#}");
    printed.push(repair);
    assert!(user_data("$Latest").await.contains(SECRET));
    let (ok, again) = run(&["preview"]);
    assert!(ok, "{again}");
    assert!(again.contains("No changes."), "{again}");
    printed.push(again);

    // Nothing secret anywhere: not in what was printed, not in any file
    // under the state directory (which, with the key in the environment,
    // has no key file either).
    let state_files = files(dir.path());
    assert!(
        state_files.iter().all(|(p, _)| !p.ends_with("secrets.key")),
        "{state_files:?}"
    );
    let everything = printed
        .iter()
        .map(|p| ("printed".to_string(), p.clone()))
        .chain(state_files);
    for (place, text) in everything {
        for secret in [
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            SESSION_TOKEN,
            SECRET,
            DRIFTED,
        ] {
            assert!(!text.contains(secret), "{secret} found in {place}:\n{text}");
        }
    }

    let (ok, gone) = run(&["destroy", "--yes"]);
    assert!(ok, "{gone}");
}
