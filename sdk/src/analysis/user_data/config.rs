//! The agent's config file as user data writes it: text written to a file
//! (with holes where a value can't be computed) and what
//! `/etc/ecs/ecs.config` says about `ECS_CLUSTER` after each write.

use super::{AgentCluster, UserDataForm};

/// Stands for one value keel can't compute inside a [`Text`].
pub(super) const HOLE: char = '\u{1}';

/// Text a command produces; each [`HOLE`] stands for the value described
/// by the entry of `holes` at its rank.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Text {
    pub s: String,
    pub holes: Vec<String>,
}

impl Text {
    pub(super) fn literal(s: impl Into<String>) -> Self {
        Self {
            s: s.into(),
            holes: Vec::new(),
        }
    }

    /// A text that is one unknown value.
    pub(super) fn hole(what: impl Into<String>) -> Self {
        let mut t = Self::default();
        t.push_hole(what);
        t
    }

    pub(super) fn push_str(&mut self, s: &str) {
        self.s.push_str(s);
    }

    pub(super) fn push_hole(&mut self, what: impl Into<String>) {
        self.s.push(HOLE);
        self.holes.push(what.into());
    }

    pub(super) fn push_text(&mut self, t: &Text) {
        self.s.push_str(&t.s);
        self.holes.extend(t.holes.iter().cloned());
    }

    /// Whether all of it is known.
    pub(super) fn is_known(&self) -> bool {
        self.holes.is_empty()
    }

    /// The text for messages: holes shown as what they stand for.
    pub(super) fn shown(&self) -> String {
        let mut holes = self.holes.iter();
        self.s
            .chars()
            .map(|c| match c {
                HOLE => holes.next().cloned().unwrap_or_default(),
                c => c.to_string(),
            })
            .collect()
    }
}

/// What `ECS_CLUSTER` is in the agent's config so far.
#[derive(Clone, Debug, Default, PartialEq)]
enum Setting {
    /// Not set (the AMI's file doesn't set it).
    #[default]
    Unset,
    Value(String),
    Unknown(String),
}

/// The agent's config file, `ECS_CLUSTER` wise.
#[derive(Clone, Debug, Default)]
pub(super) struct EcsConfig {
    setting: Setting,
}

impl EcsConfig {
    /// What writing `content` to the file (appending, or replacing it)
    /// would make the setting, or `None` if it leaves it as is.
    fn after(&self, content: &Text, append: bool) -> Option<Setting> {
        let mut found = None;
        let mut rank = 0;
        for line in content.s.split('\n') {
            let end = rank + line.matches(HOLE).count();
            let holes = content.holes.get(rank..end).unwrap_or_default();
            rank = end;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let shown = || Text {
                s: line.to_string(),
                holes: holes.to_vec(),
            };
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let key = key.trim();
            if key.contains(HOLE) {
                found = Some(Setting::Unknown(format!(
                    "a line of {} is written as `{}`",
                    super::ECS_CONFIG,
                    shown().shown()
                )));
            } else if key == "ECS_CLUSTER" {
                let value = unquote(value.trim());
                found = Some(if value.contains(HOLE) {
                    Setting::Unknown(format!("ECS_CLUSTER is written as `{}`", shown().shown()))
                } else {
                    Setting::Value(value.to_string())
                });
            }
        }
        match (found, append) {
            (Some(s), _) => Some(s),
            (None, false) => Some(Setting::Unset),
            (None, true) => None,
        }
    }

    /// Writes `content` to the file, appending or replacing it.
    pub(super) fn write(&mut self, content: &Text, append: bool) {
        if let Some(s) = self.after(content, append) {
            self.setting = s;
        }
    }

    /// A write that may or may not happen (`why` says why): if it would
    /// change the setting, the setting becomes unknown.
    pub(super) fn write_maybe(&mut self, content: &Text, append: bool, why: &str) {
        if let Some(s) = self.after(content, append)
            && s != self.setting
        {
            self.setting = Setting::Unknown(why.to_string());
        }
    }

    /// Something that may have changed the file in a way keel can't follow.
    pub(super) fn unknown(&mut self, what: String) {
        self.setting = Setting::Unknown(what);
    }

    /// The decision once everything has run; `text` is the user data.
    pub(super) fn decide(self, form: UserDataForm, text: &str) -> AgentCluster {
        match self.setting {
            Setting::Value(v) if !v.is_empty() => AgentCluster::Named(v),
            Setting::Value(_) => AgentCluster::Default {
                form,
                why: "it sets ECS_CLUSTER empty".into(),
            },
            Setting::Unknown(what) => AgentCluster::Unknown(what),
            Setting::Unset => AgentCluster::Default {
                form,
                why: unset_reason(form, text),
            },
        }
    }
}

fn unset_reason(form: UserDataForm, text: &str) -> String {
    let file = super::ECS_CONFIG;
    let mentioned = if text.contains("ECS_CLUSTER") {
        " (ECS_CLUSTER appears, but not in a write to that file)"
    } else {
        ""
    };
    match form {
        UserDataForm::None => "there is no user data".into(),
        UserDataForm::Script => format!("its script never writes ECS_CLUSTER to {file}{mentioned}"),
        UserDataForm::CloudConfig => {
            format!("its cloud-config never writes ECS_CLUSTER to {file}{mentioned}")
        }
        UserDataForm::Mime => {
            format!("none of its MIME parts writes ECS_CLUSTER to {file}{mentioned}")
        }
        UserDataForm::Bottlerocket => {
            "its Bottlerocket settings don't set settings.ecs.cluster".into()
        }
        UserDataForm::Text => {
            "it has no `#!` line, `#cloud-config` header or MIME header, so cloud-init doesn't run it".into()
        }
    }
}

/// A value without the quotes around it (as systemd's environment files
/// read it).
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}
