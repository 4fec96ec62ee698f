//! A private pcscd for tests: started with a reader configuration kept in the repository
//! (`tests/pcscd/*.conf`), stopped by PID.
//!
//! pcsc-lite has one socket per machine (`/run/pcscd/pcscd.comm`), so tests that need pcscd take
//! a machine-wide lock first (a bound loopback port: released by the kernel even when the test
//! process dies). A pcscd this harness did not start (a system one, or socket activation) is
//! never killed: [`Pcscd::start`] reports it instead. A stale socket left by a dead pcscd is
//! removed.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The vpcd driver the reader configuration loads.
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/// pcsc-lite's socket.
pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
/// pcsc-lite's PID file.
pub const PCSCD_PID_FILE: &str = "/run/pcscd/pcscd.pid";
/// The first vpcd port of `tests/pcscd/reader.conf` (the second slot is this + 1).
pub const VPCD_PORT: u16 = 40_000;
/// Reader names of `tests/pcscd/reader.conf`.
pub const VPCD_READERS: [&str; 2] = ["geid vpcd 00 00", "geid vpcd 00 01"];
/// The loopback port used as a machine-wide lock around pcscd tests.
const LOCK_PORT: u16 = 40_099;

/// Why pcscd tests cannot run here, or `None` when pcscd and vpcd are installed.
pub fn missing() -> Option<String> {
    let pcscd = ["/usr/sbin/pcscd", "/usr/bin/pcscd", "/sbin/pcscd"]
        .iter()
        .find(|p| Path::new(p).exists());
    if pcscd.is_none() {
        return Some(
            "pcscd is not installed (Debian package pcscd; scripts/setup installs it)".into(),
        );
    }
    if !Path::new(VPCD_DRIVER).exists() {
        return Some(format!(
            "the vpcd driver {VPCD_DRIVER} is not installed (Debian package vsmartcard-vpcd)"
        ));
    }
    None
}

/// A reader configuration kept in the repository.
pub fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/pcscd")
        .join(name)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "pcscd")
}

fn running_pcscd() -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(PCSCD_PID_FILE)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    pid_alive(pid).then_some(pid)
}

/// The machine-wide lock for pcscd tests.
pub struct PcscdLock(#[allow(dead_code)] TcpListener);

impl PcscdLock {
    /// Waits up to two minutes for the lock.
    pub fn acquire() -> io::Result<PcscdLock> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match TcpListener::bind(("127.0.0.1", LOCK_PORT)) {
                Ok(l) => return Ok(PcscdLock(l)),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// A pcscd started by this harness. Dropping it stops pcscd (SIGTERM, then SIGKILL) and
/// releases the lock.
pub struct Pcscd {
    child: Option<Child>,
    log: PathBuf,
    _lock: PcscdLock,
}

/// Holds the lock with no pcscd running (for "pcscd not running" tests).
pub fn without_pcscd() -> io::Result<PcscdLock> {
    let lock = PcscdLock::acquire()?;
    if let Some(pid) = running_pcscd() {
        return Err(io::Error::other(format!(
            "a pcscd not started by the test harness is running (pid {pid})"
        )));
    }
    Ok(lock)
}

impl Pcscd {
    /// Starts `pcscd -f -c CONFIG` and waits until it answers.
    pub fn start(config: &Path) -> io::Result<Pcscd> {
        let lock = PcscdLock::acquire()?;
        if let Some(pid) = running_pcscd() {
            return Err(io::Error::other(format!(
                "a pcscd not started by the test harness is running (pid {pid}); stop it (or its systemd socket unit) first"
            )));
        }
        if Path::new(PCSCD_SOCKET).exists() {
            std::fs::remove_file(PCSCD_SOCKET)?; // stale: no pcscd is alive
        }
        let log = std::env::temp_dir().join(format!("geid-pcscd-{}.log", std::process::id()));
        let out = std::fs::File::create(&log)?;
        let child = Command::new("pcscd")
            .args(["-f", "-c"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut p = Pcscd {
            child: Some(child),
            log,
            _lock: lock,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(PCSCD_SOCKET).exists() {
            if let Some(status) = p.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(io::Error::other(format!(
                    "pcscd exited ({status}): {}",
                    p.log_text()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "pcscd did not start: {}",
                    p.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(p)
    }

    /// pcscd's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What pcscd logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops pcscd (SIGTERM, then SIGKILL after 3 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        if running_pcscd().is_none() && Path::new(PCSCD_SOCKET).exists() {
            let _ = std::fs::remove_file(PCSCD_SOCKET);
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.stop();
    }
}
