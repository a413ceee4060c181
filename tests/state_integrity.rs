//! Integrity of state: checksums catch damage in the snapshot and the
//! journal, every damaged-state case is refused with a message that says
//! what happened and what to do (leaving the files as they were), the
//! snapshots kept in `backups/` put state back (`state restore`), and
//! `state verify` reports problems with exit status 1. State files are
//! private (0600, directories 0700).

use keel::prelude::*;
use keel::state::{JournalRecord, LocalStore, StateError, StateStore};
use std::path::{Path, PathBuf};

fn stack() -> Stack {
    let mut s = Stack::new("app");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    s.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    s
}

/// Runs the stack's command line; returns the exit code and the output.
fn cli(dir: &Path, args: &[&str]) -> (u8, String) {
    let mut out = Vec::new();
    let d = dir.to_str().unwrap();
    let all = ["prog"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--state-dir", d]);
    let code = keel::cli::run_with(&stack(), all, &mut out);
    (code, String::from_utf8(out).unwrap())
}

/// A state directory where `up` has run `runs` times, each followed by a
/// compaction with a new serial (as a run that changes something makes).
fn deployed(runs: usize) -> tempfile::TempDir {
    let dir = keel_tests::state_dir();
    for _ in 0..runs {
        let (code, out) = cli(dir.path(), &["up", "--yes"]);
        assert_eq!(code, 0, "{out}");
        let mut store = LocalStore::open(dir.path(), "app").unwrap();
        let mut s = store.load().unwrap();
        s.serial += 1;
        store.compact(&s).unwrap();
    }
    dir
}

fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join("app/snapshot.json")
}

fn journal_path(dir: &Path) -> PathBuf {
    dir.join("app/journal.jsonl")
}

/// Loads the stack's state, expecting a refusal that leaves every file as
/// it was.
fn refused(dir: &Path) -> StateError {
    let files = [snapshot_path(dir), journal_path(dir)].map(|p| std::fs::read(p).ok());
    let mut store = LocalStore::open(dir, "app").unwrap();
    let e = store.load().expect_err("damaged state must be refused");
    let after = [snapshot_path(dir), journal_path(dir)].map(|p| std::fs::read(p).ok());
    assert_eq!(files, after, "a refused load modified state files");
    e
}

fn begin(name: &str) -> JournalRecord {
    JournalRecord::begin(Urn::new("app", "aws:ec2:Subnet", name), "create")
}

#[test]
fn a_changed_byte_in_the_snapshot_is_caught_and_restore_undoes_it() {
    let dir = deployed(1);
    let path = snapshot_path(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"checksum\": \"sha256:"), "{text}");
    // Bit rot in a cloud id: still valid JSON, but not what keel wrote.
    let damaged = text.replacen("\"id\": \"vpc-", "\"id\": \"vpd-", 1);
    assert_ne!(damaged, text);
    std::fs::write(&path, &damaged).unwrap();

    let e = refused(dir.path());
    assert!(matches!(e, StateError::Checksum { line: None, .. }), "{e}");
    let msg = e.to_string();
    for needed in [
        "snapshot.json is damaged",
        "hashes to",
        "the file was not modified",
        "state backups",
        "state restore <serial>",
    ] {
        assert!(msg.contains(needed), "`{needed}` missing from: {msg}");
    }
    let (code, out) = cli(dir.path(), &["preview"]);
    assert_eq!(code, 1);
    assert!(out.contains("is damaged"), "{out}");

    // `state verify` says so too, and fails.
    let (code, out) = cli(dir.path(), &["state", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: ") && out.contains("1 problem(s) found"),
        "{out}"
    );

    // The copy kept in backups/ has the same serial: restore it.
    let (code, out) = cli(dir.path(), &["state", "backups"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("       2  "), "{out}");
    let (code, out) = cli(dir.path(), &["state", "restore", "2"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("it is now serial 3"), "{out}");
    // The damaged file is kept aside, byte for byte.
    let aside: Vec<PathBuf> = std::fs::read_dir(dir.path().join("app/backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().contains("set-aside."))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read_to_string(&aside[0]).unwrap(), damaged);
    let (code, out) = cli(dir.path(), &["state", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("State is sound: serial 3, 2 resources."),
        "{out}"
    );
    let (code, out) = cli(dir.path(), &["preview"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes. 2 resources unchanged."), "{out}");
}

#[test]
fn journal_lines_are_checked_a_torn_last_line_is_not_damage() {
    let dir = keel_tests::state_dir();
    let mut store = LocalStore::open(dir.path(), "app").unwrap();
    store.load().unwrap();
    for name in ["a", "b", "c"] {
        store.append(&begin(name)).unwrap();
    }
    drop(store);
    let path = journal_path(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("\"checksum\":\"sha256:").count(), 3, "{text}");

    // A torn last line is a crash artifact: cut off, the rest loads.
    let torn = format!("{text}{}", &text[..40]);
    std::fs::write(&path, &torn).unwrap();
    let mut store = LocalStore::open(dir.path(), "app").unwrap();
    assert_eq!(store.load().unwrap().pending_operations.len(), 3);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    drop(store);

    // A whole line that changed is damage, in the middle or at the end.
    for (line, damaged) in [
        (2, text.replacen("::b\"", "::x\"", 1)),
        (3, text.replacen("::c\"", "::x\"", 1)),
    ] {
        std::fs::write(&path, &damaged).unwrap();
        match refused(dir.path()) {
            StateError::Checksum {
                line: l, path: p, ..
            } => {
                assert_eq!((l, p), (Some(line), path.clone()))
            }
            e => panic!("expected a checksum error, got {e}"),
        }
    }
    std::fs::write(&path, &text).unwrap();
    let e = StateError::Checksum {
        path: path.clone(),
        line: Some(2),
        detail: "x".into(),
    };
    assert!(
        e.to_string().contains("journal.jsonl line 2 is damaged"),
        "{e}"
    );
}

#[test]
fn state_written_before_checksums_still_loads_and_gets_one() {
    let dir = keel_tests::state_dir();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(
        snapshot_path(dir.path()),
        r#"{"schema_version": 1, "stack": "app", "lineage": "x", "serial": 4, "resources": []}"#,
    )
    .unwrap();
    std::fs::write(
        journal_path(dir.path()),
        "{\"base\":4,\"record\":\"begin\",\"urn\":\"urn:keel:app::aws:ec2:Subnet::a\",\"operation\":\"create\"}\n",
    )
    .unwrap();
    let (code, out) = cli(dir.path(), &["state", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("has no checksum").count(), 2, "{out}");

    let mut store = LocalStore::open(dir.path(), "app").unwrap();
    let mut s = store.load().unwrap();
    assert_eq!(s.pending_operations.len(), 1);
    s.serial += 1;
    store.compact(&s).unwrap();
    drop(store);
    // The old snapshot was kept before being replaced, and the new has a checksum.
    let (code, out) = cli(dir.path(), &["state", "backups"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("       5  ") && out.contains("       4  "),
        "{out}"
    );
    let (code, out) = cli(dir.path(), &["state", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.matches("has no checksum").count(),
        1,
        "only the backup of 4: {out}"
    );
}

#[test]
fn a_journal_whose_snapshot_was_lost_is_refused_and_recovered_from_its_copy() {
    let dir = deployed(1);
    let mut store = LocalStore::open(dir.path(), "app").unwrap();
    let before = store.load().unwrap();
    store.append(&begin("new")).unwrap();
    drop(store);
    std::fs::remove_file(snapshot_path(dir.path())).unwrap();

    let e = refused(dir.path());
    assert!(
        matches!(
            e,
            StateError::JournalAhead {
                base: 2,
                found: None,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("snapshot.json is missing") && msg.contains("`state restore 2`"),
        "{msg}"
    );
    // Without a snapshot, the lost resources would be created again: keel
    // stops before planning.
    let (code, out) = cli(dir.path(), &["up", "--yes"]);
    assert_eq!(code, 1, "{out}");

    // The operation in the journal is unsettled: restore waits for --force.
    let (code, out) = cli(dir.path(), &["state", "restore", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("1 operation(s) began and never recorded an end (create urn:keel:app::aws:ec2:Subnet::new)")
            && out.contains("--force"),
        "{out}"
    );
    let (code, out) = cli(dir.path(), &["state", "restore", "2", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(1 journal record(s) replayed over it)"),
        "{out}"
    );
    let mut store = LocalStore::open(dir.path(), "app").unwrap();
    let after = store.load().unwrap();
    assert_eq!(after.resources, before.resources);
    assert_eq!(after.serial, 3);
    assert_eq!(after.pending_operations.len(), 1, "still reported");
    assert!(!journal_path(dir.path()).exists());
    // The journal itself is kept, byte for byte.
    assert_eq!(store.set_aside().unwrap().len(), 1);
}

#[test]
fn restore_refuses_a_damaged_journal_unless_forced_and_keeps_it() {
    let dir = deployed(2);
    let journal = journal_path(dir.path());
    std::fs::write(&journal, "{\"base\":4,\"rec\n{}\n").unwrap();
    let (code, out) = cli(dir.path(), &["state", "restore", "3"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("journal.jsonl is unreadable: line 1"), "{out}");
    assert!(journal.exists());
    let (code, out) = cli(dir.path(), &["state", "restore", "3", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("it is now serial 5"), "{out}");
    let store = LocalStore::open(dir.path(), "app").unwrap();
    let aside = store.set_aside().unwrap();
    assert_eq!(aside.len(), 1, "the current snapshot has its copy already");
    assert_eq!(
        std::fs::read_to_string(&aside[0]).unwrap(),
        "{\"base\":4,\"rec\n{}\n"
    );
    // Restoring a serial no backup has names those that exist.
    drop(store);
    let (code, out) = cli(dir.path(), &["state", "restore", "99"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no backup of snapshot serial 99") && out.contains("(kept: 1, 2, 3, 4, 5)"),
        "{out}"
    );
}

#[test]
fn only_the_last_backups_are_kept() {
    let dir = keel_tests::state_dir();
    let mut store = LocalStore::open(dir.path(), "app").unwrap().keep_backups(3);
    let mut s = store.load().unwrap();
    for _ in 0..6 {
        s.serial += 1;
        store.compact(&s).unwrap();
    }
    let kept: Vec<u64> = store.backups().unwrap().iter().map(|b| b.serial).collect();
    assert_eq!(kept, [6, 5, 4]);
    assert!(
        store
            .backups()
            .unwrap()
            .iter()
            .all(|b| b.resources == Some(0) && b.damage.is_none())
    );
    let mut store = store.keep_backups(0);
    s.serial += 1;
    store.compact(&s).unwrap();
    let kept: Vec<u64> = store.backups().unwrap().iter().map(|b| b.serial).collect();
    assert_eq!(
        kept,
        [6],
        "with none to keep, compaction writes none and prunes down to one"
    );
}

#[test]
fn verify_reports_inconsistent_state_with_what_to_do() {
    let dir = keel_tests::state_dir();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    let vpc = |name: &str, id: &str, deps: &str| {
        format!(
            r#"{{"urn": "urn:keel:app::aws:ec2:Vpc::{name}", "type": "aws:ec2:Vpc", "id": "{id}", "inputs": {{}}, "outputs": {{}}, "dependencies": [{deps}]}}"#
        )
    };
    let resources = [
        vpc("a", "vpc-1", ""),
        vpc("a", "vpc-2", ""),
        vpc("b", "", "\"urn:keel:app::aws:ec2:Vpc::ghost\""),
    ]
    .join(",");
    std::fs::write(
        snapshot_path(dir.path()),
        format!(r#"{{"schema_version": 1, "stack": "app", "lineage": "x", "serial": 1, "resources": [{resources}]}}"#),
    )
    .unwrap();
    let (code, out) = cli(dir.path(), &["state", "verify"]);
    assert_eq!(code, 1, "{out}");
    for needed in [
        "error: urn:keel:app::aws:ec2:Vpc::a has 2 live records (ids vpc-1, vpc-2)",
        "error: urn:keel:app::aws:ec2:Vpc::b has no cloud id",
        "warning: urn:keel:app::aws:ec2:Vpc::b depends on urn:keel:app::aws:ec2:Vpc::ghost",
        "2 problem(s) found",
    ] {
        assert!(out.contains(needed), "`{needed}` missing from: {out}");
    }
    let (code, out) = cli(dir.path(), &["state", "verify", "--json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 3);
    assert_eq!(doc["problems"][2]["severity"], "warning");
}

#[test]
fn every_refusal_says_what_to_do() {
    let dir = keel_tests::state_dir();
    let at = PathBuf::from("/state/app/snapshot.json");
    let io = |kind: std::io::ErrorKind| StateError::Io {
        path: at.clone(),
        source: kind.into(),
    };
    let cases = [
        (
            io(std::io::ErrorKind::PermissionDenied),
            "check its owner and permissions",
        ),
        (io(std::io::ErrorKind::StorageFull), "free some space"),
        (io(std::io::ErrorKind::IsADirectory), "move it away"),
        (io(std::io::ErrorKind::Other), "fix the cause"),
        (
            StateError::Corrupt {
                path: at.clone(),
                detail: "x".into(),
            },
            "`state restore <serial>` puts one back",
        ),
        (
            StateError::NewerSchema {
                path: at.clone(),
                found: 9,
                supported: 1,
            },
            "upgrade keel",
        ),
        (
            StateError::WrongStack {
                path: at.clone(),
                found: "a".into(),
                expected: "b".into(),
            },
            "check `--state-dir`",
        ),
        (
            StateError::JournalAhead {
                path: at.clone(),
                journal: at.clone(),
                base: 3,
                found: Some(1),
            },
            "has serial 1",
        ),
    ];
    for (e, advice) in cases {
        assert!(
            e.to_string().contains(advice),
            "`{advice}` missing from: {e}"
        );
    }
    let _held = LocalStore::open(dir.path(), "app").unwrap();
    let (code, out) = cli(dir.path(), &["state", "verify"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("stack is locked by process") && out.contains("wait for it to finish"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = deployed(1);
    let mut store = LocalStore::open(dir.path(), "app").unwrap();
    store.load().unwrap();
    store.append(&begin("x")).unwrap();
    let mode = |p: PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let app = dir.path().join("app");
    for file in [
        "snapshot.json",
        "journal.jsonl",
        "lock",
        "backups/snapshot.2.json",
    ] {
        assert_eq!(mode(app.join(file)), 0o600, "{file}");
    }
    for d in ["", "backups"] {
        assert_eq!(mode(app.join(d)), 0o700, "{d}");
    }
    assert_eq!(mode(keel::cli::sim_path(dir.path())), 0o600);
    assert_eq!(mode(dir.path().join("sim")), 0o700);
}
