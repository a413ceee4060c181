//! Consistency checks on state: [`verify`] finds what a snapshot should
//! never contain (a URN live twice, a dependency on a resource state has no
//! record of, a resource without a cloud id, a schema this keel doesn't
//! know), each as a [`Problem`] that says what is wrong and what to do.
//! File-level checks (checksums, unreadable files, backups) are
//! [`super::LocalStore::verify`]'s, which reports through the same type.

use super::format::Seal;
use super::{LocalStore, SCHEMA_VERSION, Snapshot, StateError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// How bad a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// State is damaged or inconsistent; `state verify` fails.
    Error,
    /// Worth a look, but keel works on (a leftover that legitimate runs can
    /// also produce).
    Warning,
}

/// One thing wrong with state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// The file it is in, when it concerns a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// What is wrong.
    pub what: String,
    /// What to do about it.
    pub fix: String,
}

impl Problem {
    pub(super) fn new(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: None,
            what: what.into(),
            fix: fix.into(),
        }
    }

    fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub(super) fn in_file(mut self, file: PathBuf) -> Self {
        self.file = Some(file);
        self
    }

    /// A file keel refuses to read; the error says what to do.
    fn refused(e: &StateError, file: PathBuf) -> Self {
        Self::new(e.to_string(), "").in_file(file)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.severity == Severity::Warning {
            write!(f, "warning: ")?;
        }
        // A refused file's message names it already.
        if let Some(file) = self
            .file
            .as_ref()
            .filter(|f| !self.what.contains(&*f.to_string_lossy()))
        {
            write!(f, "{}: ", file.display())?;
        }
        write!(f, "{}", self.what)?;
        if !self.fix.is_empty() {
            write!(f, ". {}", self.fix)?;
        }
        Ok(())
    }
}

/// Checks a snapshot's consistency; an empty list means none of these
/// problems: a URN with two live records, a resource without a cloud id, an
/// unknown schema version (errors), a dependency on a URN with no record (a
/// warning: a record may have been lost, but a resource kept unchanged while
/// an explicit `depends_on` target was deleted keeps such an entry too).
///
/// ```
/// use keel::state::{ResourceState, Snapshot, verify};
/// use keel::Urn;
/// let mut snapshot = Snapshot::new("demo");
/// assert!(verify(&snapshot).is_empty());
/// snapshot.resources.push(ResourceState {
///     urn: Urn::new("demo", "aws:ec2:Subnet", "a"),
///     type_token: "aws:ec2:Subnet".into(),
///     id: String::new(),
///     inputs: serde_json::json!({}),
///     outputs: Default::default(),
///     dependencies: vec![Urn::new("demo", "aws:ec2:Vpc", "gone")],
///     pending_delete: false,
///     repair: false,
///     protect: false,
///     retain_on_delete: false,
/// });
/// let problems = verify(&snapshot);
/// assert_eq!(problems.len(), 2, "{problems:?}"); // no id, dangling dependency
/// ```
pub fn verify(snapshot: &Snapshot) -> Vec<Problem> {
    let mut problems = Vec::new();
    if snapshot.schema_version == 0 || snapshot.schema_version > SCHEMA_VERSION {
        problems.push(Problem::new(
            format!(
                "schema version {} is not one this keel knows (it knows 1 to {SCHEMA_VERSION})",
                snapshot.schema_version
            ),
            "use the keel version that wrote this state, or restore a backup this keel wrote (`state backups`, `state restore <serial>`)",
        ));
    }
    let mut live: BTreeMap<&crate::Urn, Vec<&str>> = BTreeMap::new();
    for r in snapshot.resources.iter().filter(|r| !r.pending_delete) {
        live.entry(&r.urn).or_default().push(&r.id);
    }
    for (urn, ids) in live.iter().filter(|(_, ids)| ids.len() > 1) {
        problems.push(Problem::new(
            format!("{urn} has {} live records (ids {})", ids.len(), ids.join(", ")),
            "keel writes one live record per URN, so state was edited or merged by hand; restore a backup from before (`state backups`, `state restore <serial>`), or delete the records of ids that no longer exist in the cloud",
        ));
    }
    for r in snapshot.resources.iter().filter(|r| r.id.is_empty()) {
        problems.push(Problem::new(
            format!("{} has no cloud id", r.urn),
            "keel records a resource only once the cloud has given it an id, so the record was damaged or edited; restore a backup (`state backups`, `state restore <serial>`), or find the resource in the cloud and put its id back",
        ));
    }
    let known: BTreeSet<&crate::Urn> = snapshot.resources.iter().map(|r| &r.urn).collect();
    for r in &snapshot.resources {
        for dep in r.dependencies.iter().filter(|d| !known.contains(d)) {
            problems.push(
                Problem::new(
                    format!("{} depends on {dep}, which state has no record of", r.urn),
                    format!(
                        "harmless if {dep} was deleted from the program while {} was kept unchanged; otherwise its record was lost and the resource may still exist in the cloud, untracked: restore a backup that has it (`state backups`, `state restore <serial>`)",
                        r.urn
                    ),
                )
                .warning(),
            );
        }
    }
    problems
}

/// What [`LocalStore::verify`] found.
#[derive(Debug, Serialize)]
pub struct Verification {
    /// The serial of the state as loaded (snapshot plus journal), if it
    /// could be loaded.
    pub serial: Option<u64>,
    /// How many live resources it records.
    pub resources: usize,
    /// Everything wrong, errors first.
    pub problems: Vec<Problem>,
    /// Files with nothing to check them against (written before checksums;
    /// the snapshot gets one at the next compaction).
    pub unchecked: Vec<PathBuf>,
}

impl Verification {
    /// Whether state is sound: no problem of [`Severity::Error`].
    pub fn passed(&self) -> bool {
        self.problems.iter().all(|p| p.severity != Severity::Error)
    }
}

impl LocalStore {
    /// Checks every state file of the stack without changing any: the
    /// snapshot, the journal and the backups (checksums, readability,
    /// schema version, stack), and the state they load to ([`verify`]).
    ///
    /// ```
    /// use keel::state::LocalStore;
    /// let dir = std::env::temp_dir().join(format!("keel-doc-verify-{}", std::process::id()));
    /// let store = LocalStore::open(&dir, "demo").unwrap();
    /// std::fs::write(store.journal_path(), "{\"base\":0,\"record\":\"fai").unwrap();
    /// std::fs::write(store.snapshot_path(), "{\"schema_version\": 1, \"stack\"").unwrap();
    /// let report = store.verify();
    /// assert!(!report.passed());
    /// assert!(report.problems[0].what.contains("is unreadable"));
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn verify(&self) -> Verification {
        let mut report = Verification {
            serial: None,
            resources: 0,
            problems: Vec::new(),
            unchecked: Vec::new(),
        };
        let snapshot_path = self.snapshot_path();
        match self.read_snapshot_at(&snapshot_path) {
            Ok(found) => {
                if let Some((_, Seal::Absent)) = &found {
                    report.unchecked.push(snapshot_path);
                }
                let on_disk = found.is_some();
                let mut snapshot = found.map_or_else(|| Snapshot::new(&self.stack), |(s, _)| s);
                let replayed = self.read_journal_file().and_then(|journal| {
                    let Some(journal) = journal else {
                        return Ok(false);
                    };
                    self.replay(&journal, &mut snapshot, on_disk)?;
                    Ok(journal.unchecked)
                });
                match replayed {
                    Ok(unchecked) => {
                        if unchecked {
                            report.unchecked.push(self.journal_path());
                        }
                        report.serial = Some(snapshot.serial);
                        report.resources = super::backups::live(&snapshot);
                        report.problems.extend(verify(&snapshot));
                    }
                    Err(e) => report
                        .problems
                        .push(Problem::refused(&e, self.journal_path())),
                }
            }
            Err(e) => report.problems.push(Problem::refused(&e, snapshot_path)),
        }
        match self.backup_serials() {
            Ok(serials) => {
                for serial in serials {
                    let path = self.backup_path(serial);
                    match self.read_snapshot_at(&path) {
                        Ok(Some((_, Seal::Absent))) => report.unchecked.push(path),
                        Ok(_) => {}
                        Err(e) => report.problems.push(
                            Problem::new(
                                e.to_string(),
                                format!("backup {serial} can't be restored; `state backups` lists the others"),
                            )
                            .in_file(path),
                        ),
                    }
                }
            }
            Err(e) => report
                .problems
                .push(Problem::refused(&e, self.backups_dir())),
        }
        report
            .problems
            .sort_by_key(|p| p.severity != Severity::Error);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Urn;
    use crate::state::ResourceState;

    fn vpc(name: &str, id: &str, deps: &[&str]) -> ResourceState {
        ResourceState {
            urn: Urn::new("s", "aws:ec2:Vpc", name),
            type_token: "aws:ec2:Vpc".into(),
            id: id.into(),
            inputs: serde_json::json!({}),
            outputs: Default::default(),
            dependencies: deps
                .iter()
                .map(|d| Urn::new("s", "aws:ec2:Vpc", d))
                .collect(),
            pending_delete: false,
            repair: false,
            protect: false,
            retain_on_delete: false,
        }
    }

    #[test]
    fn a_consistent_snapshot_has_no_problems() {
        let mut s = Snapshot::new("s");
        s.resources = vec![vpc("a", "vpc-1", &[]), vpc("b", "vpc-2", &["a"])];
        // A replaced resource awaiting delete shares its URN legitimately.
        let mut old = vpc("a", "vpc-0", &[]);
        old.pending_delete = true;
        s.resources.push(old);
        assert_eq!(verify(&s), vec![]);
    }

    #[test]
    fn each_kind_of_problem_is_found_and_says_what_to_do() {
        let mut s = Snapshot::new("s");
        s.schema_version = SCHEMA_VERSION + 1;
        s.resources = vec![
            vpc("a", "vpc-1", &[]),
            vpc("a", "vpc-2", &[]),
            vpc("b", "", &["ghost"]),
        ];
        let problems = verify(&s);
        let whats: Vec<&str> = problems.iter().map(|p| p.what.as_str()).collect();
        assert_eq!(problems.len(), 4, "{whats:?}");
        assert!(whats[0].starts_with("schema version 2"), "{whats:?}");
        assert!(whats[1].contains("has 2 live records (ids vpc-1, vpc-2)"));
        assert!(whats[2].ends_with("has no cloud id"));
        assert!(whats[3].contains("depends on urn:keel:s::aws:ec2:Vpc::ghost"));
        for p in &problems {
            assert!(p.fix.contains("state restore"), "{p}");
        }
        let severities: Vec<Severity> = problems.iter().map(|p| p.severity).collect();
        use Severity::{Error, Warning};
        assert_eq!(severities, [Error, Error, Error, Warning]);
        assert!(problems[3].to_string().starts_with("warning: "));
    }
}
