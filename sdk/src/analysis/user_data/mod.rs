//! Which cluster an instance's ECS agent joins, read from its user data the
//! way the instance runs it. The agent reads `ECS_CLUSTER` from
//! `/etc/ecs/ecs.config` (the last assignment wins) once cloud-init is done,
//! and joins `default` when nothing sets it. So the reader follows every
//! write to that file in the forms cloud-init runs: a shell script (`#!`,
//! see [`shell`]), a `#cloud-config` document (`write_files`, `bootcmd`,
//! `runcmd`, see [`cloud_config`]), a MIME multipart archive of those (parts
//! by content type, base64 decoded), or Bottlerocket's TOML settings
//! (`[settings.ecs] cluster`). What it can't follow (a computed value, a
//! script fetched at boot, a compressed part) makes the answer
//! [`AgentCluster::Unknown`], saying what; it never guesses. The simulator
//! and the pre-deploy analysis both decide with [`agent_cluster`].

mod cloud_config;
mod config;
mod mime;
mod shell;
#[cfg(test)]
mod tests;

use config::EcsConfig;

/// The file the ECS agent reads its settings from.
pub(crate) const ECS_CONFIG: &str = "/etc/ecs/ecs.config";

/// The form of an instance's user data, as cloud-init (or Bottlerocket)
/// reads it.
///
/// ```
/// use keel::analysis::{AgentCluster, UserDataForm, agent_cluster};
/// let read = agent_cluster(Some("#cloud-config\npackages: [jq]\n"));
/// assert!(matches!(read, AgentCluster::Default { form: UserDataForm::CloudConfig, .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserDataForm {
    /// No user data at all.
    None,
    /// A script (`#!/bin/bash`…) or a `#cloud-boothook`.
    Script,
    /// A `#cloud-config` document.
    CloudConfig,
    /// A MIME multipart archive of parts.
    Mime,
    /// Bottlerocket settings (TOML).
    Bottlerocket,
    /// Text cloud-init doesn't run: no `#!` line and no known header.
    Text,
}

/// Which cluster an instance's ECS agent joins, as its user data says.
///
/// ```
/// use keel::analysis::{AgentCluster, agent_cluster};
/// let script = "#!/bin/bash\necho ECS_CLUSTER=app >> /etc/ecs/ecs.config\n";
/// assert_eq!(agent_cluster(Some(script)), AgentCluster::Named("app".into()));
/// assert_eq!(agent_cluster(Some(script)).joins(), Some("app"));
/// assert_eq!(agent_cluster(None).joins(), Some("default"));
/// let computed = "#!/bin/bash\necho ECS_CLUSTER=$(cat /opt/name) >> /etc/ecs/ecs.config\n";
/// assert_eq!(agent_cluster(Some(computed)).joins(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentCluster {
    /// `ECS_CLUSTER` is set to this name (a literal, or the placeholder of
    /// an output when read before deploy).
    Named(String),
    /// Nothing sets `ECS_CLUSTER` (or it is set empty): the agent joins the
    /// cluster named `default`.
    Default {
        /// The user data's form (what a fix must be written in).
        form: UserDataForm,
        /// Why, in words: "there is no user data"…
        why: String,
    },
    /// keel can't tell: what it couldn't read.
    Unknown(String),
}

impl AgentCluster {
    /// The name of the cluster the agent joins (`default` when nothing sets
    /// it); `None` when unknown.
    ///
    /// ```
    /// use keel::analysis::AgentCluster;
    /// assert_eq!(AgentCluster::Unknown("a script fetched at boot".into()).joins(), None);
    /// ```
    pub fn joins(&self) -> Option<&str> {
        match self {
            AgentCluster::Named(n) => Some(n),
            AgentCluster::Default { .. } => Some("default"),
            AgentCluster::Unknown(_) => None,
        }
    }
}

/// Reads which cluster the ECS agent of an instance launched with
/// `user_data` joins (see [`AgentCluster`]). Writes to
/// `/etc/ecs/ecs.config` count in the order the instance makes them:
/// boothooks, cloud-config `bootcmd`, `write_files` (deferred ones after),
/// scripts, then `runcmd`.
///
/// ```
/// use keel::analysis::{AgentCluster, UserDataForm, agent_cluster};
/// let heredoc = "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER=app\nEOF\n";
/// assert_eq!(agent_cluster(Some(heredoc)).joins(), Some("app"));
/// let toml = "[settings.ecs]\ncluster = \"app\"\n";
/// assert_eq!(agent_cluster(Some(toml)).joins(), Some("app"));
/// // No `#!` line: cloud-init doesn't run it, so the agent joins `default`.
/// let text = "echo ECS_CLUSTER=app >> /etc/ecs/ecs.config";
/// assert!(matches!(agent_cluster(Some(text)), AgentCluster::Default { form: UserDataForm::Text, .. }));
/// ```
pub fn agent_cluster(user_data: Option<&str>) -> AgentCluster {
    let Some(text) = user_data.filter(|t| !t.trim().is_empty()) else {
        return AgentCluster::Default {
            form: UserDataForm::None,
            why: "there is no user data".into(),
        };
    };
    let text = text.replace("\r\n", "\n");
    let mut run = Boot::default();
    let form = run.add(&text, None);
    if let Some(what) = run.unreadable.first() {
        return AgentCluster::Unknown(what.clone());
    }
    if form == UserDataForm::Bottlerocket {
        return bottlerocket(&text);
    }
    let mut config = EcsConfig::default();
    for step in run.steps() {
        match step {
            Step::Script(s) => shell::read(s, &mut config),
            Step::Write(w) => w.apply(&mut config),
        }
    }
    config.decide(form, &text)
}

/// One thing the instance does at boot that may touch the agent's config.
#[derive(Clone, Debug)]
enum Step {
    /// A shell script (or one command of `bootcmd`/`runcmd`).
    Script(String),
    /// A `write_files` entry for the agent's config.
    Write(cloud_config::FileWrite),
}

/// The boot stages a user data's parts fall into, in the order cloud-init
/// runs them.
#[derive(Debug, Default)]
struct Boot {
    boothooks: Vec<Step>,
    bootcmd: Vec<Step>,
    write_files: Vec<Step>,
    deferred: Vec<Step>,
    scripts: Vec<Step>,
    runcmd: Vec<Step>,
    /// Things that can't be placed (they may run at any stage).
    unreadable: Vec<String>,
}

impl Boot {
    fn steps(&self) -> impl Iterator<Item = &Step> {
        [
            &self.boothooks,
            &self.bootcmd,
            &self.write_files,
            &self.deferred,
            &self.scripts,
            &self.runcmd,
        ]
        .into_iter()
        .flatten()
    }

    /// Adds a document (the whole user data, or a MIME part whose content
    /// type, if any, is `content_type`), returning its form.
    fn add(&mut self, text: &str, content_type: Option<&str>) -> UserDataForm {
        let first = text.lines().next().unwrap_or("").trim();
        let kind = content_type.map(str::to_ascii_lowercase);
        match kind.as_deref() {
            Some(t) if t.starts_with("multipart/") => return self.mime(text),
            Some(t) if t.starts_with("text/x-shellscript") => {
                self.scripts.push(Step::Script(text.to_string()));
                return UserDataForm::Script;
            }
            Some("text/cloud-boothook") => {
                self.boothooks.push(Step::Script(text.to_string()));
                return UserDataForm::Script;
            }
            Some("text/cloud-config") => {
                self.cloud_config(text);
                return UserDataForm::CloudConfig;
            }
            Some("text/plain" | "text/x-not-multipart") | None => {}
            Some(other) => {
                if mentions_ecs(text) || !other.starts_with("text/") {
                    self.unreadable.push(format!(
                        "a MIME part of type {other}, which keel can't read"
                    ));
                }
                return UserDataForm::Mime;
            }
        }
        if content_type.is_none() && mime::is_mime(text) {
            return self.mime(text);
        }
        if first.starts_with("#cloud-config") {
            self.cloud_config(text);
            UserDataForm::CloudConfig
        } else if first.starts_with("#cloud-boothook") {
            self.boothooks.push(Step::Script(text.to_string()));
            UserDataForm::Script
        } else if let Some(interpreter) = first.strip_prefix("#!") {
            if shell::is_shell(interpreter) {
                self.scripts.push(Step::Script(text.to_string()));
            } else if mentions_ecs(text) {
                self.unreadable.push(format!(
                    "a script run by `{}`, which keel can't read",
                    interpreter.trim()
                ));
            }
            UserDataForm::Script
        } else if first.starts_with("#include") {
            self.unreadable.push(
                "`#include` user data, fetched at boot from URLs keel can't read".to_string(),
            );
            UserDataForm::Text
        } else if content_type.is_none() && is_bottlerocket(text) {
            UserDataForm::Bottlerocket
        } else {
            UserDataForm::Text
        }
    }

    fn cloud_config(&mut self, text: &str) {
        let doc = cloud_config::read(text);
        self.bootcmd.extend(doc.bootcmd);
        for (w, deferred) in doc.write_files {
            if deferred {
                self.deferred.push(Step::Write(w));
            } else {
                self.write_files.push(Step::Write(w));
            }
        }
        self.runcmd.extend(doc.runcmd);
    }

    fn mime(&mut self, text: &str) -> UserDataForm {
        match mime::parts(text) {
            Ok(parts) => {
                for part in parts {
                    match part {
                        Ok(p) => {
                            self.add(&p.body, Some(&p.content_type));
                        }
                        Err(what) => self.unreadable.push(what),
                    }
                }
            }
            Err(what) => self.unreadable.push(what),
        }
        UserDataForm::Mime
    }
}

/// Whether `text` says anything about the ECS agent.
pub(crate) fn mentions_ecs(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("ecs_") || lower.contains("/etc/ecs") || lower.contains("settings.ecs")
}

/// Whether headerless user data is Bottlerocket's TOML settings.
fn is_bottlerocket(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| {
        l.starts_with("[settings") || l.starts_with("settings.") || l.starts_with("[\"settings")
    })
}

/// The cluster Bottlerocket's ECS agent joins: `settings.ecs.cluster`, as
/// `cluster` in table `[settings.ecs]`, `ecs.cluster` in `[settings]` or
/// `settings.ecs.cluster` at the top.
fn bottlerocket(text: &str) -> AgentCluster {
    let mut table = String::new();
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header.split(']').next().unwrap_or("");
            table = name.replace(['"', ' '], "");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().replace(['"', ' '], "");
        let full = if table.is_empty() {
            key
        } else {
            format!("{table}.{key}")
        };
        if full != "settings.ecs.cluster" {
            continue;
        }
        let value = value.split(" #").next().unwrap_or("").trim();
        found = Some(match toml_string(value) {
            Some(v) => v,
            None => {
                return AgentCluster::Unknown(format!(
                    "Bottlerocket's settings.ecs.cluster is `{value}`, not a string"
                ));
            }
        });
    }
    match found {
        Some(name) if !name.is_empty() => AgentCluster::Named(name),
        _ => AgentCluster::Default {
            form: UserDataForm::Bottlerocket,
            why: "its Bottlerocket settings don't set settings.ecs.cluster".into(),
        },
    }
}

/// A TOML basic or literal string's value.
fn toml_string(value: &str) -> Option<String> {
    if let Some(inner) = value.strip_prefix('\'') {
        return inner.strip_suffix('\'').map(str::to_string);
    }
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}
