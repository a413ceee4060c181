//! `cargo xtask emulator start|stop`: one moto server that outlives xtask, for
//! running tests or examples against it by hand:
//!
//! ```text
//! eval "$(cargo xtask emulator start)"   # sets KEEL_MOTO_ENDPOINT
//! cargo test --workspace
//! cargo xtask emulator stop
//! ```
//!
//! Owns the detached server's files in the target directory: `moto.endpoint`,
//! `moto.pid` and `moto.log`. Installing moto, picking a port and readiness
//! checks are the shared harness's (`tests/support/moto.rs`). Unlike the
//! tests' launcher, this server does not die with its parent: `stop` ends it.

use crate::moto;
use anyhow::{Context, Result, bail};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

struct Files {
    endpoint: PathBuf,
    pid: PathBuf,
    log: PathBuf,
}

fn files() -> Files {
    let dir = moto::target_dir();
    Files {
        endpoint: dir.join("moto.endpoint"),
        pid: dir.join("moto.pid"),
        log: dir.join("moto.log"),
    }
}

/// Starts a detached server (or finds the running one) and prints
/// `KEEL_MOTO_ENDPOINT=…` on stdout.
pub fn start() -> Result<()> {
    let files = files();
    if let Ok(endpoint) = fs::read_to_string(&files.endpoint) {
        let endpoint = endpoint.trim();
        if moto::answers(endpoint).is_ok() {
            eprintln!("emulator: already running");
            println!("{}={endpoint}", moto::ENDPOINT_VAR);
            return Ok(());
        }
        stop()?; // left over from a server that is gone
    }
    let python = moto::install()?;
    let mut attempt = 1;
    let (child, endpoint) = loop {
        let port = moto::free_port()?;
        match spawn(&python, port, &files) {
            Ok(started) => break started,
            Err(e) if attempt < 3 && format!("{e:#}").contains("Address already in use") => {
                eprintln!("emulator: port {port} was taken meanwhile; trying another");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    fs::write(&files.pid, child.id().to_string()).context("writing moto.pid")?;
    fs::write(&files.endpoint, &endpoint).context("writing moto.endpoint")?;
    eprintln!(
        "emulator: moto (pid {}) on {endpoint}, log {}",
        child.id(),
        files.log.display()
    );
    println!("{}={endpoint}", moto::ENDPOINT_VAR);
    // `child` is not waited for: it keeps running after xtask exits.
    Ok(())
}

/// Spawns `python -m moto.server` on `port` and waits until it answers.
fn spawn(python: &std::path::Path, port: u16, files: &Files) -> Result<(Child, String)> {
    let log = fs::File::create(&files.log).context("creating moto.log")?;
    let mut child = Command::new(python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .envs(moto::SERVER_ENV)
        .stdin(Stdio::null())
        // A file, not our stdout: `$(cargo xtask emulator start)` must not
        // wait for the server to close the pipe.
        .stdout(log.try_clone().context("duplicating the log handle")?)
        .stderr(log)
        // Its own process group: a Ctrl-C meant for the shell's next
        // command doesn't reach it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {} -m moto.server", python.display()))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + READY_TIMEOUT;
    let failure = loop {
        if let Some(status) = child.try_wait()? {
            break format!("moto exited ({status}) before answering");
        }
        if moto::answers(&endpoint).is_ok() {
            return Ok((child, endpoint));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break format!("moto did not answer on {endpoint} within {READY_TIMEOUT:?}");
        }
        thread::sleep(POLL);
    };
    let log = fs::read_to_string(&files.log).unwrap_or_default();
    bail!("{failure}; {}:\n{log}", files.log.display())
}

/// Stops the server `start` recorded, if it still runs, and removes its files.
pub fn stop() -> Result<()> {
    let files = files();
    let pid = match fs::read_to_string(&files.pid) {
        Ok(pid) => Some(
            pid.trim()
                .parse::<u32>()
                .with_context(|| format!("{} holds no pid", files.pid.display()))?,
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("reading moto.pid"),
    };
    match pid {
        Some(pid) if is_moto(pid) => {
            let status = Command::new("kill")
                .arg(pid.to_string())
                .status()
                .context("running kill")?;
            if !status.success() && is_moto(pid) {
                bail!("kill {pid} failed ({status})");
            }
            let deadline = Instant::now() + STOP_TIMEOUT;
            while is_moto(pid) {
                if Instant::now() >= deadline {
                    bail!("moto (pid {pid}) still runs {STOP_TIMEOUT:?} after SIGTERM");
                }
                thread::sleep(POLL);
            }
            eprintln!("emulator: stopped moto (pid {pid})");
        }
        Some(pid) => eprintln!("emulator: moto (pid {pid}) was not running"),
        None => eprintln!("emulator: not started (no {})", files.pid.display()),
    }
    for file in [&files.pid, &files.endpoint] {
        match fs::remove_file(file) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", file.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `pid` is a live moto server (not a reused pid, not a zombie:
/// a zombie's cmdline is empty).
fn is_moto(pid: u32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("moto.server"))
}
