//! A local AWS API for tests: moto's server (`moto[server]`, pinned to
//! [`MOTO_VERSION`]), installed by the project into a virtualenv under the
//! target directory and started on a free loopback port.
//!
//! [`Moto::shared`] gives all tests of one test process one server, started on
//! first use — or the server named by `KEEL_MOTO_ENDPOINT`, which `cargo xtask
//! ci` and `cargo xtask emulator start` provide. A server started here runs
//! `tests/moto_launcher.py`, which exits when this process ends, however it
//! ends, so no moto outlives a test run. [`Moto::reset`] wipes *everything* on
//! the server: tests that reset must not overlap with other tests using it;
//! the others use unique names.
//!
//! Owns: installing moto (once per target directory, guarded by a lock file
//! against concurrent test processes), starting it and waiting until it
//! answers, and a tiny HTTP client for moto's control API. Doesn't own: AWS
//! SDK clients; tests build those from [`Moto::aws_env`].
//!
//! Only `std` and `anyhow`: `xtask` compiles this same file (`#[path]`) so
//! that it shares the code without building keel.

use anyhow::{Context, Result, bail};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The pinned `moto[server]` version.
pub const MOTO_VERSION: &str = "5.2.5";
/// Names an already running moto server to use instead of starting one.
pub const ENDPOINT_VAR: &str = "KEEL_MOTO_ENDPOINT";

/// How long a started server may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// An install lock older than this is left over from a killed process.
const STALE_LOCK: Duration = Duration::from_secs(10 * 60);
/// How long to wait for another process's install.
const LOCK_WAIT: Duration = Duration::from_secs(15 * 60);
/// How often bounded readiness and lock loops poll.
const POLL: Duration = Duration::from_millis(100);

/// A moto server: either started (and owned) by this value, or external.
pub struct Moto {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub endpoint: String,
    /// The launcher, when this value started it. Holding it keeps the
    /// launcher's stdin open; dropping the value kills it.
    child: Option<Child>,
}

/// One HTTP response: status code and body (lossily decoded as UTF-8).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Moto {
    /// The server for this test process: started on first use (installing
    /// moto if needed), or the one `KEEL_MOTO_ENDPOINT` names. Panics with
    /// the reason if moto can't be had — in every test that asks.
    #[track_caller]
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Result<Moto, String>> = OnceLock::new();
        let moto = SHARED.get_or_init(|| Moto::from_env_or_start().map_err(|e| format!("{e:#}")));
        match moto {
            Ok(moto) => moto,
            Err(e) => panic!("moto is not available: {e}"),
        }
    }

    /// The server `KEEL_MOTO_ENDPOINT` names if it is set, else a new one.
    pub fn from_env_or_start() -> Result<Moto> {
        match std::env::var(ENDPOINT_VAR) {
            Ok(endpoint) if !endpoint.trim().is_empty() => Moto::connect(endpoint.trim()),
            _ => Moto::start(),
        }
    }

    /// An already running server; fails unless it answers within 10 s.
    pub fn connect(endpoint: &str) -> Result<Moto> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        wait_until_answers(&endpoint, Duration::from_secs(10))
            .with_context(|| format!("moto at {endpoint} (from {ENDPOINT_VAR}) does not answer"))?;
        Ok(Moto {
            endpoint,
            child: None,
        })
    }

    /// Installs moto if needed and starts a server owned by the returned
    /// value: it stops when the value is dropped or this process ends.
    pub fn start() -> Result<Moto> {
        let python = install()?;
        let launcher = workspace_root().join("tests").join("moto_launcher.py");
        let mut attempt = 1;
        loop {
            // Another process can take the port between `free_port` and
            // moto's bind; then try another one.
            let port = free_port()?;
            match launch(&python, &launcher, port) {
                Err(e) if attempt < 3 && format!("{e:#}").contains("Address already in use") => {
                    progress(&format!(
                        "moto: port {port} was taken meanwhile; trying another"
                    ));
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Wipes all state on the server (`POST /moto-api/reset`). Panics if
    /// moto doesn't confirm.
    #[track_caller]
    pub fn reset(&self) {
        match self.request("POST", "/moto-api/reset", &[], "") {
            Ok(r) if r.status == 200 => {}
            Ok(r) => panic!("moto reset answered {}: {}", r.status, r.body),
            Err(e) => panic!("moto reset failed: {e:#}"),
        }
    }

    /// The environment an AWS SDK client (or a keel program with the aws
    /// provider) needs to talk to this server with fake credentials.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
    }

    /// Sends one request to the server; see [`http`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Response> {
        http(&self.endpoint, method, path, headers, body)
    }

    /// POSTs an AWS query-protocol form (`Action=…&Version=…`, values
    /// percent-encoded) to `service` (`ec2`, `iam`, `autoscaling`…) in
    /// us-east-1. moto routes by the credential scope of the Authorization
    /// header and doesn't check signatures, so the signature is fake.
    pub fn query(&self, service: &str, form: &str) -> Result<Response> {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        self.request(
            "POST",
            "/",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form,
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // Ignored: it may have exited already; either way it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The workspace root: both crates that compile this file (`tests`, `xtask`)
/// sit directly under it.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("the crate sits inside the workspace")
        .to_path_buf()
}

/// `$CARGO_TARGET_DIR` if set (relative to the workspace root if relative),
/// else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// Makes sure `<target>/moto-venv` has moto [`MOTO_VERSION`] with its server
/// extras; returns the venv's python. Needs only `python3` with `venv` and
/// pip's access to PyPI. Concurrent callers wait for one installer.
pub fn install() -> Result<PathBuf> {
    let venv = target_dir().join("moto-venv");
    let python = venv.join("bin").join("python");
    if installed(&python) {
        return Ok(python);
    }
    fs::create_dir_all(target_dir()).context("creating the target directory")?;
    let _lock = InstallLock::acquire(&target_dir().join("moto-venv.lock"))?;
    if installed(&python) {
        return Ok(python); // another process installed it while we waited
    }
    let started = Instant::now();
    progress(&format!(
        "moto: installing moto[server]=={MOTO_VERSION} into {} (first run only, about a minute)",
        venv.display()
    ));
    // --clear: a venv that fails the check is half-installed or has another
    // moto version; start over rather than patch it.
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv))
    .context("creating the virtualenv (moto needs python3 with the venv module, e.g. Debian's python3-venv)")?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        &format!("moto[server]=={MOTO_VERSION}"),
    ]))
    .context("installing moto with pip")?;
    if !installed(&python) {
        bail!(
            "pip installed moto into {} but `import moto, flask` with version {MOTO_VERSION} still fails",
            venv.display()
        );
    }
    progress(&format!("moto: installed in {:.0?}", started.elapsed()));
    Ok(python)
}

/// A free loopback port: bound, read and released. Another process may take
/// it before moto binds it; [`Moto::start`] retries when that happens.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Ok once `GET {endpoint}/moto-api/` answers 200.
pub fn answers(endpoint: &str) -> Result<()> {
    let response = http(endpoint, "GET", "/moto-api/", &[], "")?;
    if response.status != 200 {
        bail!("GET /moto-api/ answered {}", response.status);
    }
    Ok(())
}

/// Polls [`answers`] until it succeeds or `timeout` passes.
pub fn wait_until_answers(endpoint: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match answers(endpoint) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("no answer from {endpoint} within {timeout:?}")));
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// One HTTP/1.0 request (so the answer is never chunked) to an `http://`
/// endpoint; `body` is sent with a Content-Length. 2 s to connect, 30 s to
/// answer.
pub fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Response> {
    let authority = endpoint
        .strip_prefix("http://")
        .with_context(|| format!("only http:// endpoints are supported, not {endpoint}"))?;
    let authority = authority.split('/').next().unwrap_or(authority);
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = connect(&with_port)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;

    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending {method} {path} to {endpoint}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the answer to {method} {path} from {endpoint}"))?;

    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("malformed HTTP answer from {endpoint}: {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status code in the HTTP answer from {endpoint}: {head:?}"))?;
    Ok(Response {
        status,
        body: body.to_string(),
    })
}

fn connect(host_port: &str) -> Result<TcpStream> {
    let mut last = None;
    for addr in host_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {host_port}"))?
    {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(e).with_context(|| format!("connecting to {host_port}")),
        None => bail!("{host_port} resolves to no address"),
    }
}

/// Environment moto's server needs to behave like AWS for keel: AWS managed
/// IAM policies (such as the ECS instance role's) exist, as they do in AWS.
pub const SERVER_ENV: [(&str, &str); 1] = [("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")];

/// Starts the launcher on `port` and waits for its `READY` line and for
/// moto to answer.
fn launch(python: &Path, launcher: &Path, port: u16) -> Result<Moto> {
    let mut child = Command::new(python)
        .arg(launcher)
        .arg(port.to_string())
        .envs(SERVER_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} {}", python.display(), launcher.display()))?;
    let stderr = StderrTail::drain(child.stderr.take().context("piped stderr")?);
    let stdout = child.stdout.take().context("piped stdout")?;
    let (lines, ready) = mpsc::channel();
    // Reads stdout to the end so the launcher never blocks on a full pipe.
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line); // the receiver is gone once READY came
        }
    });

    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + READY_TIMEOUT;
    let expected = format!("READY {port}");
    loop {
        match ready.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.trim() == expected => break,
            Ok(_) => continue,
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let status = child.wait()?;
                bail!(
                    "moto on port {port} was not ready within {READY_TIMEOUT:?} (killed: {status}); \
                     launcher stderr:\n{}",
                    stderr.finish()
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait()?;
                bail!(
                    "moto's launcher exited ({status}) before it was ready on port {port}; \
                     launcher stderr:\n{}",
                    stderr.finish()
                );
            }
        }
    }
    let moto = Moto {
        endpoint,
        child: Some(child), // from here on, dropping `moto` stops it
    };
    wait_until_answers(
        &moto.endpoint,
        deadline.saturating_duration_since(Instant::now()),
    )?;
    progress(&format!("moto: serving on {}", moto.endpoint));
    Ok(moto)
}

/// The launcher's stderr, read continuously; the last 64 KiB are kept for
/// error messages.
struct StderrTail {
    buffer: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl StderrTail {
    const KEEP: usize = 64 * 1024;

    fn drain(mut stderr: ChildStderr) -> StderrTail {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&buffer);
        let reader = thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                let mut kept = shared.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(&chunk[..n]);
                let excess = kept.len().saturating_sub(Self::KEEP);
                kept.drain(..excess);
            }
        });
        StderrTail { buffer, reader }
    }

    /// Everything kept, once the launcher has exited (its stderr closed).
    fn finish(self) -> String {
        let _ = self.reader.join();
        let kept = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&kept).into_owned()
    }
}

/// Whether `python` imports moto [`MOTO_VERSION`] and flask (the server extra).
fn installed(python: &Path) -> bool {
    let check = format!("import moto, flask; assert moto.__version__ == '{MOTO_VERSION}'");
    Command::new(python)
        .args(["-c", &check])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `command` to completion; on failure the error carries its output.
fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Progress on the real stderr: `eprintln!` would be captured by the test
/// harness and stay invisible during a minute-long install.
fn progress(message: &str) {
    let _ = writeln!(io::stderr(), "{message}");
}

/// A lock file created with `create_new`, holding the installer's pid;
/// removed on drop.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Result<InstallLock> {
        let deadline = Instant::now() + LOCK_WAIT;
        let mut told = false;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(InstallLock(path.to_path_buf()));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if lock_is_stale(path) {
                        progress(&format!("moto: removing stale lock {}", path.display()));
                        // Ignored: a concurrent waiter may have removed it.
                        let _ = fs::remove_file(path);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        bail!(
                            "waited {LOCK_WAIT:?} for another process to install moto; \
                             remove {} if no install is running",
                            path.display()
                        );
                    }
                    if !told {
                        progress(&format!(
                            "moto: waiting for another process installing moto (lock {})",
                            path.display()
                        ));
                        told = true;
                    }
                    thread::sleep(POLL);
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("creating lock {}", path.display()));
                }
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A lock is stale when older than [`STALE_LOCK`], or when its pid is known
/// not to run any more (checked through /proc where there is one).
fn lock_is_stale(path: &Path) -> bool {
    let old = fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > STALE_LOCK));
    let owner_gone = fs::read_to_string(path)
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| {
            Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
        });
    old || owner_gone
}
