//! Secrets at rest: what keeps sensitive inputs out of state files in plain
//! text. In memory every value is plaintext; only what a file store writes
//! is sealed, and it is opened again when read.
//!
//! What is sealed: in any state document (the snapshot, each journal line),
//! an object that lists `secret_paths` (a resource record: JSON pointers
//! such as `/user_data` into its `inputs`) has the value at each of those
//! pointers of its `inputs` sealed, and an object that lists
//! `secret_outputs` (the snapshot: names of exported outputs) has those
//! entries of its `outputs` sealed. The paths come from the fields a type
//! marks `#[resource(sensitive)]` and from values the program passed as
//! [`Input::secret`](crate::Input::secret) or
//! [`Output::secret`](crate::Output::secret).
//!
//! How: a sealed value is replaced by `{"keel:secret": "v1:<base64>"}`,
//! where the base64 holds a random 24-byte nonce followed by the
//! XChaCha20-Poly1305 encryption of the value's JSON, authenticated with
//! the stack's name and the pointer, so a sealed value can't be moved to
//! another field or stack unnoticed. The key is 32 random bytes, written as
//! base64: from the environment variable [`KEY_ENV`] (`KEEL_SECRETS_KEY`) if
//! it is set — so a team or CI can keep it in a secret store and out of the
//! state directory — else from `<state-dir>/<stack>/secrets.key`
//! ([`KEY_FILE`]), which is created (mode 0600) the first time something is
//! sealed. Whoever holds the state files without the key sees the structure
//! and every non-secret value, never a secret; keep the key file out of
//! version control and back it up with the state (without it the state's
//! secrets can't be read, and loading fails with an error naming the file).
//! A key of your own can be made with `openssl rand -base64 32`.
//!
//! Not covered, because they are not state: the simulator's cloud file
//! (`<state-dir>/sim/cloud.json`) holds user data as AWS itself would, and
//! the cloud holds what was sent to it.

use super::StateError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::Serialize;
#[cfg(test)]
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable that, when set, holds the key (32 bytes as
/// base64) for every stack, instead of each stack's [`KEY_FILE`].
///
/// ```
/// assert_eq!(keel::state::secrets::KEY_ENV, "KEEL_SECRETS_KEY");
/// ```
pub const KEY_ENV: &str = "KEEL_SECRETS_KEY";

/// The key file in a stack's state directory (`<state-dir>/<stack>/`).
///
/// ```
/// assert_eq!(keel::state::secrets::KEY_FILE, "secrets.key");
/// ```
pub const KEY_FILE: &str = "secrets.key";

/// The key of a sealed value's object.
const SEALED: &str = "keel:secret";
/// The format of a sealed value.
const VERSION: &str = "v1:";
/// The nonce's length (XChaCha20-Poly1305).
const NONCE_LEN: usize = 24;

/// Seals and opens the secrets of one stack's state documents.
#[derive(Debug)]
pub(super) struct Secrets {
    key_file: PathBuf,
    stack: String,
    /// The key [`KEY_ENV`] held when the store was opened, if it was set.
    env_key: Option<String>,
    key: OnceLock<(Key, String)>,
}

impl Secrets {
    /// The secrets of `stack`, whose files are in `dir`.
    pub(super) fn new(dir: &Path, stack: &str) -> Self {
        let env_key = std::env::var(KEY_ENV).ok();
        Self::with_env_key(dir, stack, env_key)
    }

    /// Like [`Secrets::new`] with `env_key` as [`KEY_ENV`]'s value.
    fn with_env_key(dir: &Path, stack: &str, env_key: Option<String>) -> Self {
        Self {
            key_file: dir.join(KEY_FILE),
            stack: stack.to_string(),
            env_key: env_key.filter(|k| !k.trim().is_empty()),
            key: OnceLock::new(),
        }
    }

    /// `value` as JSON bytes with its secrets sealed (`pretty` for the
    /// snapshot); `path` is the file they are for.
    pub(super) fn to_vec<T: Serialize>(
        &self,
        value: &T,
        pretty: bool,
        path: &Path,
    ) -> Result<Vec<u8>, StateError> {
        let corrupt = |e: serde_json::Error| StateError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let mut doc = serde_json::to_value(value).map_err(corrupt)?;
        let mut error = None;
        visit(&mut doc, &mut |slot, pointer| {
            if error.is_some() || is_sealed(slot) {
                return;
            }
            match self.seal(slot, pointer) {
                Ok(sealed) => *slot = sealed,
                Err(e) => error = Some(e),
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        if pretty {
            serde_json::to_vec_pretty(&doc)
        } else {
            serde_json::to_vec(&doc)
        }
        .map_err(corrupt)
    }

    /// Opens the sealed secrets of `doc`, read from `path`, in place.
    pub(super) fn open(&self, doc: &mut Value, path: &Path) -> Result<(), StateError> {
        let mut error = None;
        visit(doc, &mut |slot, pointer| {
            if error.is_some() || !is_sealed(slot) {
                return;
            }
            match self.unseal(slot, pointer, path) {
                Ok(value) => *slot = value,
                Err(e) => error = Some(e),
            }
        });
        error.map_or(Ok(()), Err)
    }

    /// Parses `bytes` of `path` as a `T` after opening its secrets. The
    /// outer error is about the secrets; the inner one, about the JSON.
    #[cfg(test)]
    fn parse<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        path: &Path,
    ) -> Result<serde_json::Result<T>, StateError> {
        let mut doc: Value = match serde_json::from_slice(bytes) {
            Ok(doc) => doc,
            Err(e) => return Ok(Err(e)),
        };
        self.open(&mut doc, path)?;
        Ok(serde_json::from_value(doc))
    }

    fn seal(&self, value: &Value, pointer: &str) -> Result<Value, StateError> {
        let (key, _) = self.key(true)?.ok_or_else(|| StateError::Secrets {
            path: self.key_file.clone(),
            detail: "no key could be made".into(),
        })?;
        let plain = serde_json::to_vec(value).map_err(|e| StateError::Corrupt {
            path: self.key_file.clone(),
            detail: e.to_string(),
        })?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = self.aad(pointer);
        let sealed = XChaCha20Poly1305::new(key)
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StateError::Secrets {
                path: self.key_file.clone(),
                detail: "encryption failed".into(),
            })?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let mut obj = serde_json::Map::new();
        obj.insert(
            SEALED.into(),
            Value::String(format!("{VERSION}{}", STANDARD.encode(bytes))),
        );
        Ok(Value::Object(obj))
    }

    fn unseal(&self, slot: &Value, pointer: &str, file: &Path) -> Result<Value, StateError> {
        let bad = |detail: String| StateError::Secrets {
            path: file.to_path_buf(),
            detail,
        };
        let text = slot[SEALED].as_str().unwrap_or_default();
        let bytes = text
            .strip_prefix(VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(|| {
                bad(format!(
                    "the sealed value at {pointer} is not in keel's format (`{VERSION}<base64>`); the file was edited or written by a newer keel"
                ))
            })?;
        let Some((key, source)) = self.key(false)? else {
            return Err(bad(format!(
                "it holds secrets sealed with the stack's key, and there is no key: neither {KEY_ENV} is set nor {} exists. Restore that key file (or set {KEY_ENV} to its contents) and run again",
                self.key_file.display()
            )));
        };
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let aad = self.aad(pointer);
        let plain = XChaCha20Poly1305::new(key)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                bad(format!(
                    "the secret at {pointer} can't be opened with the key from {source}: it was sealed with another key (or the file was edited). Use the key the state was written with ({KEY_ENV} or {KEY_FILE})"
                ))
            })?;
        serde_json::from_slice(&plain).map_err(|e| bad(format!("the secret at {pointer}: {e}")))
    }

    fn aad(&self, pointer: &str) -> Vec<u8> {
        format!("keel:{}:{pointer}", self.stack).into_bytes()
    }

    /// The key and where it came from; created in the key file if there is
    /// none and `create` (something is to be sealed).
    fn key(&self, create: bool) -> Result<Option<(&Key, &str)>, StateError> {
        if let Some((key, source)) = self.key.get() {
            return Ok(Some((key, source)));
        }
        let loaded = match &self.env_key {
            Some(text) => Some((self.decode_key(text, KEY_ENV)?, KEY_ENV.to_string())),
            None => self.key_from_file(create)?,
        };
        let Some(loaded) = loaded else {
            return Ok(None);
        };
        let (key, source) = self.key.get_or_init(|| loaded);
        Ok(Some((key, source)))
    }

    /// A key written as base64 of 32 bytes; `source` names where it was read.
    fn decode_key(&self, text: &str, source: &str) -> Result<Key, StateError> {
        let bytes = STANDARD.decode(text.trim()).ok().filter(|b| b.len() == 32);
        bytes
            .map(|b| *Key::from_slice(&b))
            .ok_or_else(|| StateError::Secrets {
                path: self.key_file.clone(),
                detail: format!(
                    "the key in {source} is not a keel secrets key: 32 random bytes as base64 (e.g. `openssl rand -base64 32`)"
                ),
            })
    }

    fn key_from_file(&self, create: bool) -> Result<Option<(Key, String)>, StateError> {
        let path = &self.key_file;
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let source = path.display().to_string();
        match fs::read_to_string(path) {
            Ok(text) => return Ok(Some((self.decode_key(&text, &source)?, source))),
            Err(e) if e.kind() == ErrorKind::NotFound && create => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        }
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut f = super::files::private_options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        writeln!(f, "{}", STANDARD.encode(key)).map_err(io)?;
        f.sync_all().map_err(io)?;
        if let Some(dir) = path.parent() {
            super::files::sync_dir(dir).map_err(io)?;
        }
        Ok(Some((key, source)))
    }
}

/// Whether `slot` is a sealed value.
fn is_sealed(slot: &Value) -> bool {
    slot.as_object()
        .is_some_and(|o| o.len() == 1 && o.get(SEALED).is_some_and(Value::is_string))
}

/// Calls `f` with every secret slot of `doc` and its pointer (relative to
/// the `inputs` or `outputs` holding it), in any object that lists them.
fn visit(doc: &mut Value, f: &mut dyn FnMut(&mut Value, &str)) {
    match doc {
        Value::Object(map) => {
            let names = |key: &str| -> Vec<String> {
                map.get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let paths = names("secret_paths");
            let outputs: Vec<String> = names("secret_outputs")
                .iter()
                .map(|n| format!("/{}", crate::resource::pointer_token(n)))
                .collect();
            for (holder, pointers) in [("inputs", paths), ("outputs", outputs)] {
                for pointer in &pointers {
                    if let Some(slot) = map.get_mut(holder).and_then(|v| v.pointer_mut(pointer)) {
                        f(slot, &format!("/{holder}{pointer}"));
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if k != "inputs" && k != "outputs" {
                    visit(v, f);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| visit(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{JournalRecord, ResourceState, StateStore};
    use super::*;
    use crate::resource::Urn;
    use crate::state::LocalStore;
    use serde_json::json;

    const SECRET: &str = "hunter2-at-rest";

    /// A directory removed when dropped.
    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn dir() -> Dir {
        let d = std::env::temp_dir().join(format!(
            "keel-secrets-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn record() -> JournalRecord {
        JournalRecord::Put {
            resource: ResourceState {
                urn: Urn::new("s", "aws:ec2:LaunchTemplate", "lt"),
                type_token: "aws:ec2:LaunchTemplate".into(),
                id: "lt-1".into(),
                inputs: json!({"user_data": SECRET, "env": [{"k": SECRET}], "image_id": "ami-1"}),
                outputs: Default::default(),
                dependencies: vec![],
                pending_delete: false,
                repair: false,
                protect: false,
                retain_on_delete: false,
                secret_paths: vec!["/env/0".into(), "/user_data".into()],
            },
        }
    }

    fn raw(dir: &Path) -> String {
        let mut text = String::new();
        for f in ["snapshot.json", "journal.jsonl"] {
            text += &fs::read_to_string(dir.join("s").join(f)).unwrap_or_default();
        }
        text
    }

    #[test]
    fn files_hold_secrets_sealed_and_load_them_plain() {
        let d = dir();
        let mut store = LocalStore::open(&d.0, "s").unwrap();
        let mut snap = store.load().unwrap();
        snap.serial += 1;
        store.compact(&snap).unwrap();
        assert!(
            !d.0.join("s").join(KEY_FILE).exists(),
            "no key until a secret is written"
        );
        store.append(&record()).unwrap();
        snap.apply(&record());
        let journal = raw(&d.0);
        assert!(!journal.contains(SECRET), "{journal}");
        assert_eq!(journal.matches(SEALED).count(), 2, "{journal}");
        assert!(
            journal.contains("ami-1"),
            "plain values stay readable: {journal}"
        );
        assert_eq!(store.load().unwrap().resources, snap.resources);

        snap.outputs.insert("token".into(), json!(SECRET));
        snap.secret_outputs = vec!["token".into()];
        snap.serial += 1;
        store.compact(&snap).unwrap();
        let snapshot = raw(&d.0);
        assert!(!snapshot.contains(SECRET), "{snapshot}");
        assert_eq!(snapshot.matches(SEALED).count(), 3, "{snapshot}");
        assert_eq!(store.load().unwrap(), snap);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(d.0.join("s").join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_or_wrong_key_is_a_clear_error() {
        let d = dir();
        let mut store = LocalStore::open(&d.0, "s").unwrap();
        store.load().unwrap();
        store.append(&record()).unwrap();
        drop(store);
        let key_file = d.0.join("s").join(KEY_FILE);
        let key = fs::read_to_string(&key_file).unwrap();
        fs::remove_file(&key_file).unwrap();
        let e = LocalStore::open(&d.0, "s").unwrap().load().unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StateError::Secrets { .. }), "{text}");
        assert!(
            text.contains("journal.jsonl") && text.contains(KEY_ENV),
            "{text}"
        );
        assert!(text.contains("secrets.key"), "{text}");

        // Another key: refused, naming where the key came from.
        let other = Secrets::with_env_key(&d.0.join("s"), "s", Some(STANDARD.encode([7u8; 32])));
        let line = fs::read(d.0.join("s").join("journal.jsonl")).unwrap();
        let e = other
            .parse::<Value>(&line, Path::new("journal.jsonl"))
            .unwrap_err();
        assert!(
            e.to_string().contains("another key") && e.to_string().contains(KEY_ENV),
            "{e}"
        );

        // The right key from the environment opens it.
        let env = Secrets::with_env_key(&d.0.join("s"), "s", Some(key.clone()));
        let doc: Value = env
            .parse(&line, Path::new("journal.jsonl"))
            .unwrap()
            .unwrap();
        assert_eq!(doc["resource"]["inputs"]["user_data"], SECRET);
        // A malformed key is named as such.
        let bad = Secrets::with_env_key(&d.0, "s", Some("not-a-key".into()));
        let e = bad.to_vec(&record(), false, Path::new("j")).unwrap_err();
        assert!(e.to_string().contains("32 random bytes"), "{e}");

        // A sealed value moved to another field doesn't open.
        let mut moved: Value = serde_json::from_slice(&line).unwrap();
        let sealed = moved["resource"]["inputs"]["user_data"].clone();
        moved["resource"]["inputs"]["env"][0] = sealed;
        let e = env.open(&mut moved, Path::new("j")).unwrap_err();
        assert!(e.to_string().contains("/inputs/env/0"), "{e}");
    }

    #[test]
    fn a_begin_record_and_the_pending_operation_it_leaves_are_sealed() {
        let d = dir();
        let mut store = LocalStore::open(&d.0, "s").unwrap();
        store.load().unwrap();
        let begin = JournalRecord::Begin {
            urn: Urn::new("s", "aws:ec2:LaunchTemplate", "lt"),
            operation: "create".into(),
            id: None,
            inputs: Some(json!({"user_data": SECRET, "image_id": "ami-1"})),
            dependencies: vec![],
            secret_paths: vec!["/user_data".into()],
        };
        store.append(&begin).unwrap();
        let journal = raw(&d.0);
        assert!(
            !journal.contains(SECRET) && journal.contains("ami-1"),
            "{journal}"
        );
        let mut snap = store.load().unwrap();
        let pending = &snap.pending_operations[0];
        assert_eq!(pending.inputs.as_ref().unwrap()["user_data"], SECRET);
        assert_eq!(pending.secret_paths, ["/user_data"]);
        // A snapshot written while the operation is pending seals it too.
        snap.serial += 1;
        store.compact(&snap).unwrap();
        let snapshot = raw(&d.0);
        assert!(!snapshot.contains(SECRET), "{snapshot}");
        assert_eq!(store.load().unwrap(), snap);
    }

    #[test]
    fn an_env_key_is_used_and_no_key_file_is_written() {
        let d = dir();
        let key = STANDARD.encode([1u8; 32]);
        let secrets = Secrets::with_env_key(&d.0, "s", Some(key.clone()));
        let bytes = secrets.to_vec(&record(), false, Path::new("j")).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
        assert!(!d.0.join(KEY_FILE).exists());
        let again = Secrets::with_env_key(&d.0, "s", Some(key));
        let back: JournalRecord = again.parse(&bytes, Path::new("j")).unwrap().unwrap();
        assert_eq!(back, record());
    }
}
