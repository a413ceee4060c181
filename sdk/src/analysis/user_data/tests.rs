use super::*;
use base64::Engine;

fn joins(user_data: &str) -> Option<String> {
    agent_cluster(Some(user_data)).joins().map(str::to_string)
}

fn named(user_data: &str) -> String {
    match agent_cluster(Some(user_data)) {
        AgentCluster::Named(n) => n,
        other => panic!("{user_data:?}: {other:?}"),
    }
}

fn default_why(user_data: Option<&str>) -> (UserDataForm, String) {
    match agent_cluster(user_data) {
        AgentCluster::Default { form, why } => (form, why),
        other => panic!("{user_data:?}: {other:?}"),
    }
}

fn unknown(user_data: &str) -> String {
    match agent_cluster(Some(user_data)) {
        AgentCluster::Unknown(what) => what,
        other => panic!("{user_data:?}: {other:?}"),
    }
}

#[test]
fn shell_echo_forms() {
    let cases = [
        "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\n",
        "#!/bin/bash\necho \"ECS_CLUSTER=app\" >> /etc/ecs/ecs.config;\n",
        "#!/bin/sh\necho 'ECS_CLUSTER=app' > /etc/ecs/ecs.config\n",
        "#!/usr/bin/env bash\nset -euxo pipefail\necho ECS_CLUSTER=app | tee -a /etc/ecs/ecs.config > /dev/null\n",
        "#!/bin/bash\necho \"ECS_CLUSTER=app\" | sudo tee /etc/ecs/ecs.config\n",
        "#!/bin/bash\nprintf 'ECS_CLUSTER=%s\\n' app >> /etc/ecs/ecs.config\n",
        "#!/bin/bash\nprintf \"ECS_CLUSTER=app\\nECS_ENABLE_TASK_IAM_ROLE=true\\n\" >> /etc/ecs/ecs.config\n",
        "#!/bin/bash\necho -e \"ECS_LOGLEVEL=info\\nECS_CLUSTER=app\" >> /etc/ecs/ecs.config\n",
        "#!/bin/bash\nsudo sh -c 'echo ECS_CLUSTER=app >> /etc/ecs/ecs.config'\n",
        "#!/bin/bash\nyum update -y && echo ECS_CLUSTER=app >> /etc/ecs/ecs.config\n",
        "#!/bin/bash\ntee -a /etc/ecs/ecs.config <<< ECS_CLUSTER=app\n",
        "#!/bin/bash\necho ECS_CLUSTER=app \\\n  >> /etc/ecs/ecs.config\n",
    ];
    for c in cases {
        assert_eq!(
            joins(c).as_deref(),
            Some("app"),
            "{c:?}: {:?}",
            agent_cluster(Some(c))
        );
    }
}

#[test]
fn heredocs() {
    let cases = [
        "#!/bin/bash\ncat <<EOF > /etc/ecs/ecs.config\nECS_CLUSTER=app\nECS_ENABLE_CONTAINER_METADATA=true\nEOF\n",
        "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER=app\nEOF\n",
        "#!/bin/bash\ncat >> /etc/ecs/ecs.config <<\"END\"\nECS_CLUSTER=app\nEND\n",
        "#!/bin/bash\nif true; then\n\tcat <<-EOF >> /etc/x\n\tfoo\n\tEOF\nfi\ncat <<-EOF >> /etc/ecs/ecs.config\n\tECS_CLUSTER=app\n\tEOF\n",
        "#!/bin/bash\nNAME=app\ncat <<EOF | tee -a /etc/ecs/ecs.config\nECS_CLUSTER=$NAME\nEOF\n",
        "#!/bin/bash\ncat <<EOF | sudo tee /etc/ecs/ecs.config >/dev/null\nECS_CLUSTER=app\nEOF\necho done\n",
    ];
    for c in cases {
        assert_eq!(
            joins(c).as_deref(),
            Some("app"),
            "{c:?}: {:?}",
            agent_cluster(Some(c))
        );
    }
    // A quoted delimiter keeps `$NAME` as written.
    let quoted =
        "#!/bin/bash\nNAME=app\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER=$NAME\nEOF\n";
    assert_eq!(named(quoted), "$NAME");
}

#[test]
fn the_last_assignment_wins_and_overwrites_reset() {
    let two = "#!/bin/bash\necho ECS_CLUSTER=first >> /etc/ecs/ecs.config\necho ECS_CLUSTER=second >> /etc/ecs/ecs.config\n";
    assert_eq!(named(two), "second");
    let in_one = "#!/bin/bash\ncat <<EOF >> /etc/ecs/ecs.config\nECS_CLUSTER=first\nECS_CLUSTER=second\nEOF\n";
    assert_eq!(named(in_one), "second");
    // `>` replaces the file: the earlier setting is gone.
    let replaced = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\necho ECS_LOGLEVEL=debug > /etc/ecs/ecs.config\n";
    assert_eq!(default_why(Some(replaced)).0, UserDataForm::Script);
    let appended = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\necho ECS_LOGLEVEL=debug >> /etc/ecs/ecs.config\n";
    assert_eq!(named(appended), "app");
    let removed =
        "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\nrm -f /etc/ecs/ecs.config\n";
    assert_eq!(joins(removed).as_deref(), Some("default"));
}

#[test]
fn writes_elsewhere_comments_and_shell_variables_dont_count() {
    let other_file = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config.bak\n";
    let (form, why) = default_why(Some(other_file));
    assert_eq!(form, UserDataForm::Script);
    assert!(
        why.contains("ECS_CLUSTER appears, but not in a write"),
        "{why}"
    );
    let heredoc_elsewhere = "#!/bin/bash\ncat <<EOF > /tmp/notes\nECS_CLUSTER=app\nEOF\n";
    assert_eq!(joins(heredoc_elsewhere).as_deref(), Some("default"));
    let comment = "#!/bin/bash\n# echo ECS_CLUSTER=app >> /etc/ecs/ecs.config\necho hi # ECS_CLUSTER=x >> /etc/ecs/ecs.config\n";
    assert_eq!(joins(comment).as_deref(), Some("default"));
    // A shell variable isn't the agent's config.
    let exported = "#!/bin/bash\nexport ECS_CLUSTER=app\n";
    assert_eq!(joins(exported).as_deref(), Some("default"));
    let echoed = "#!/bin/bash\necho ECS_CLUSTER=app\n";
    assert_eq!(joins(echoed).as_deref(), Some("default"));
    let quoted_hash = "#!/bin/bash\necho 'ECS_CLUSTER=app' >> /etc/ecs/ecs.config # sets it\n";
    assert_eq!(named(quoted_hash), "app");
    let config_comment =
        "#!/bin/bash\ncat <<EOF >> /etc/ecs/ecs.config\n# ECS_CLUSTER=old\nECS_CLUSTER=app\nEOF\n";
    assert_eq!(named(config_comment), "app");
}

#[test]
fn variables_the_script_sets_expand() {
    let script = "#!/bin/bash\nCLUSTER=app\nCONF=/etc/ecs/ecs.config\necho \"ECS_CLUSTER=${CLUSTER}\" >> $CONF\n";
    assert_eq!(named(script), "app");
    let empty = "#!/bin/bash\necho ECS_CLUSTER= >> /etc/ecs/ecs.config\n";
    assert_eq!(default_why(Some(empty)).1, "it sets ECS_CLUSTER empty");
}

#[test]
fn unreadable_scripts_say_what() {
    let computed = "#!/bin/bash\necho ECS_CLUSTER=$(curl -s http://169.254.169.254/x) >> /etc/ecs/ecs.config\n";
    assert!(unknown(computed).contains("$(curl -s http://169.254.169.254/x)"));
    let env = "#!/bin/bash\necho ECS_CLUSTER=$CLUSTER_NAME >> /etc/ecs/ecs.config\n";
    assert!(unknown(env).contains("$CLUSTER_NAME"), "{}", unknown(env));
    let fetched = "#!/bin/bash\ncurl -s https://example.com/bootstrap.sh | bash\n";
    assert!(unknown(fetched).contains("curl -s https://example.com/bootstrap.sh | bash"));
    let sourced = "#!/bin/bash\nsource /opt/bootstrap.sh\n";
    assert!(unknown(sourced).contains("/opt/bootstrap.sh"));
    let sed = "#!/bin/bash\nsed -i 's/^ECS_CLUSTER=.*/ECS_CLUSTER=app/' /etc/ecs/ecs.config\n";
    assert!(unknown(sed).contains("sed -i"));
    let conditional = "#!/bin/bash\nif [ -f /opt/prod ]; then\n  echo ECS_CLUSTER=prod >> /etc/ecs/ecs.config\nfi\n";
    assert!(unknown(conditional).contains("conditionally (inside `if`)"));
    let or = "#!/bin/bash\ngrep -q ECS_CLUSTER /etc/ecs/ecs.config || echo ECS_CLUSTER=app >> /etc/ecs/ecs.config\n";
    assert!(unknown(or).contains("after `||`"));
    let function = "#!/bin/bash\nsetup() {\n  echo ECS_CLUSTER=app >> /etc/ecs/ecs.config\n}\n";
    assert!(unknown(function).contains("a function"));
    let group =
        "#!/bin/bash\n{ echo ECS_CLUSTER=app; echo ECS_LOGLEVEL=debug; } >> /etc/ecs/ecs.config\n";
    assert!(
        unknown(group).contains("compound command"),
        "{}",
        unknown(group)
    );
    let path = "#!/bin/bash\necho ECS_CLUSTER=app >> \"$CONFIG_FILE\"\n";
    assert!(unknown(path).contains("$CONFIG_FILE"));
    let python = "#!/usr/bin/python3\nopen('/etc/ecs/ecs.config', 'a').write('ECS_CLUSTER=app')\n";
    assert!(unknown(python).contains("/usr/bin/python3"));
    // Unreadable things followed by a definite write are overridden.
    let then_set = "#!/bin/bash\ncurl -s https://example.com/x.sh | bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\n";
    assert_eq!(named(then_set), "app");
    // A conditional write that doesn't touch ECS_CLUSTER changes nothing.
    let harmless = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\nif [ -n \"$DEBUG\" ]; then echo ECS_LOGLEVEL=debug >> /etc/ecs/ecs.config; fi\n";
    assert_eq!(named(harmless), "app");
    // Nothing after an unconditional `exit` runs.
    let exits = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\nexit 0\necho ECS_CLUSTER=other >> /etc/ecs/ecs.config\n";
    assert_eq!(named(exits), "app");
}

#[test]
fn no_user_data_and_text_cloud_init_doesnt_run_join_default() {
    assert_eq!(
        default_why(None),
        (UserDataForm::None, "there is no user data".into())
    );
    assert_eq!(default_why(Some("  \n")).0, UserDataForm::None);
    let (form, why) = default_why(Some("echo ECS_CLUSTER=app >> /etc/ecs/ecs.config\n"));
    assert_eq!(form, UserDataForm::Text);
    assert!(why.contains("no `#!` line"), "{why}");
    let script = "#!/bin/bash\nyum install -y htop\n";
    assert_eq!(default_why(Some(script)).0, UserDataForm::Script);
}

#[test]
fn cloud_config_write_files() {
    let block = "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    content: |\n      ECS_CLUSTER=app\n      ECS_ENABLE_TASK_IAM_ROLE=true\n    append: true\n";
    assert_eq!(named(block), "app");
    let unindented = "#cloud-config\npackages:\n  - jq\nwrite_files:\n- path: /etc/motd\n  content: ECS_CLUSTER=nope\n- content: \"ECS_CLUSTER=app\\n\"\n  path: /etc/ecs/ecs.config\n  permissions: '0644'\n";
    assert_eq!(named(unindented), "app");
    let encoded = base64::engine::general_purpose::STANDARD.encode("ECS_CLUSTER=app\n");
    let b64 = format!(
        "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    encoding: b64\n    content: {encoded}\n"
    );
    assert_eq!(named(&b64), "app");
    let gz = "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    encoding: gz+b64\n    content: H4sIAAAA\n";
    assert!(unknown(gz).contains("gz+b64"));
    // runcmd runs after write_files: its write wins.
    let runcmd = "#cloud-config\nruncmd:\n  - echo ECS_CLUSTER=late >> /etc/ecs/ecs.config\n  - [ sh, -c, \"echo ECS_LOGLEVEL=info >> /etc/ecs/ecs.config\" ]\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    content: ECS_CLUSTER=early\n";
    assert_eq!(named(runcmd), "late");
    let nothing = "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    content: |\n      ECS_LOGLEVEL=debug\n";
    let (form, why) = default_why(Some(nothing));
    assert_eq!(form, UserDataForm::CloudConfig);
    assert!(
        why.contains("cloud-config never writes ECS_CLUSTER"),
        "{why}"
    );
}

fn mime(parts: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "Content-Type: multipart/mixed; boundary=\"==BOUNDARY==\"\nMIME-Version: 1.0\n\n",
    );
    for (content_type, encoding, body) in parts {
        out.push_str(&format!(
            "--==BOUNDARY==\nContent-Type: {content_type}; charset=\"us-ascii\"\nContent-Transfer-Encoding: {encoding}\n\n{body}\n"
        ));
    }
    out.push_str("--==BOUNDARY==--\n");
    out
}

#[test]
fn mime_multipart() {
    let script = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config";
    let plain = mime(&[
        ("text/cloud-config", "7bit", "#cloud-config\npackages: [jq]"),
        ("text/x-shellscript", "7bit", script),
    ]);
    assert_eq!(named(&plain), "app");
    assert_eq!(named(&plain.replace('\n', "\r\n")), "app");
    let encoded = base64::engine::general_purpose::STANDARD.encode(script);
    let b64 = mime(&[("text/x-shellscript", "base64", &encoded)]);
    assert_eq!(named(&b64), "app");
    // Scripts run after cloud-config's write_files, whatever the order.
    let ordered = mime(&[
        ("text/x-shellscript", "7bit", script),
        (
            "text/cloud-config",
            "7bit",
            "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    content: ECS_CLUSTER=early\n",
        ),
    ]);
    assert_eq!(named(&ordered), "app");
    let gzip = mime(&[
        ("text/x-shellscript", "7bit", script),
        ("application/x-gzip", "base64", "H4sIAAAAAAAAA0tMSgYA"),
    ]);
    assert!(unknown(&gzip).contains("MIME part 2"), "{}", unknown(&gzip));
    let none = mime(&[(
        "text/x-shellscript",
        "7bit",
        "#!/bin/bash\nyum install -y jq",
    )]);
    assert_eq!(default_why(Some(&none)).0, UserDataForm::Mime);
    let nested = mime(&[(
        "multipart/mixed; boundary=\"inner\"",
        "7bit",
        "--inner\nContent-Type: text/x-shellscript\n\n#!/bin/bash\necho ECS_CLUSTER=deep >> /etc/ecs/ecs.config\n--inner--",
    )]);
    assert_eq!(named(&nested), "deep");
}

#[test]
fn bottlerocket_settings() {
    assert_eq!(named("[settings.ecs]\ncluster = \"app\"\n"), "app");
    assert_eq!(
        named(
            "[settings]\nmotd = \"hi\"\n[settings.ecs]\nallow-privileged-containers = true\ncluster = 'app' # ours\n"
        ),
        "app"
    );
    assert_eq!(named("settings.ecs.cluster = \"app\"\n"), "app");
    let (form, _) = default_why(Some("[settings.kubernetes]\napi-server = \"x\"\n"));
    assert_eq!(form, UserDataForm::Bottlerocket);
}

#[test]
fn output_placeholders_are_names() {
    let p = "keel-ref:urn:keel:t::aws:ecs:Cluster::app#name";
    let script = format!("#!/bin/bash\necho ECS_CLUSTER={p} >> /etc/ecs/ecs.config\n");
    assert_eq!(named(&script), p);
    let heredoc = format!("#!/bin/bash\ncat <<EOF >> /etc/ecs/ecs.config\nECS_CLUSTER={p}\nEOF\n");
    assert_eq!(named(&heredoc), p);
}
