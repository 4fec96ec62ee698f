//! The host's log: a size-capped file in the user's state folder, never stdout.
//!
//! stdout is the protocol channel, so a stray line there would break the browser connection.
//! The log keeps one rotated predecessor (`host.log.1`); each file stays under 1 MiB. What is
//! logged: requests by id and command name, outcomes by error code, timings. Never a PIN, a
//! nonce, or a certificate.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Largest log file before it rotates.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

struct Inner {
    path: PathBuf,
    file: Option<File>,
    len: u64,
    max: u64,
}

/// A log file that rotates to `<name>.1` when it would exceed its cap.
#[derive(Clone)]
pub struct RotatingFile(Arc<Mutex<Inner>>);

impl RotatingFile {
    /// Opens (appending) or creates `path`, creating its folder.
    pub fn open(path: &Path, max: u64) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(RotatingFile(Arc::new(Mutex::new(Inner {
            path: path.to_owned(),
            file: Some(file),
            len,
            max,
        }))))
    }
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        self.len = 0;
        Ok(())
    }
}

/// A handle writing one log event.
pub struct Writer(Arc<Mutex<Inner>>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| io::Error::other("log lock poisoned"))?;
        if inner.len + buf.len() as u64 > inner.max && inner.len > 0 {
            inner.rotate()?;
        }
        let buf = &buf[..buf.len().min(inner.max as usize)];
        let n = match inner.file.as_mut() {
            Some(f) => f.write(buf)?,
            None => return Err(io::Error::other("log file closed")),
        };
        inner.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock() {
            Ok(mut inner) => inner.file.as_mut().map_or(Ok(()), |f| f.flush()),
            Err(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = Writer;
    fn make_writer(&'a self) -> Writer {
        Writer(self.0.clone())
    }
}

/// Starts logging to `$XDG_STATE_HOME/geid/host.log` (or `GEID_HOST_LOG_FILE`), at the level in
/// `GEID_HOST_LOG` (default `info`). Returns the log path, or `None` when no log could be opened
/// (the host then runs without one; it never falls back to stdout).
pub fn init() -> Option<PathBuf> {
    let path = std::env::var_os("GEID_HOST_LOG_FILE")
        .map(PathBuf::from)
        .or_else(|| crate::config::user_state_dir().map(|d| d.join("host.log")))?;
    let file = RotatingFile::open(&path, MAX_LOG_BYTES).ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("GEID_HOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(file)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_cap_and_keeps_one_predecessor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/host.log");
        let log = RotatingFile::open(&path, 100).unwrap();
        for i in 0..30 {
            let mut w = log.make_writer();
            writeln!(w, "line {i:02} of the log").unwrap();
        }
        let current = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(dir.path().join("state/host.log.1"))
            .unwrap()
            .len();
        assert!(current <= 100 && old <= 100, "{current} {old}");
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 29"));
        assert_eq!(
            std::fs::read_dir(dir.path().join("state")).unwrap().count(),
            2
        );
    }
}
