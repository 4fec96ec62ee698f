#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! The built `geid-host` over pipes, as the browser runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use geid_host::config::DEV_EXTENSION_ID;
use geid_protocol::framing::{read_frame, write_frame};
use serde_json::Value;

pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Host {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    rx: Receiver<Option<Value>>,
}

impl Host {
    pub fn start(caller: &str, dir: &Path) -> Host {
        Host::start_with(
            caller,
            dir,
            r#"{"cardTimeoutSecs": 30, "pinTimeoutSecs": 30}"#,
            &[],
        )
    }

    /// Starts the host with this configuration file content and extra environment.
    pub fn start_with(caller: &str, dir: &Path, config_json: &str, env: &[(&str, &Path)]) -> Host {
        let config = dir.join("host.json");
        std::fs::write(&config, config_json).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_geid-host"))
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .arg(caller)
            .env("HOME", dir)
            .env("GEID_HOST_CONFIG", &config)
            .env("GEID_HOST_LOG_FILE", dir.join("host.log"))
            .env("GEID_HOST_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            match read_frame(&mut stdout, 1 << 20) {
                Ok(Some(f)) => {
                    if tx.send(Some(serde_json::from_slice(&f).unwrap())).is_err() {
                        return;
                    }
                }
                _ => {
                    let _ = tx.send(None);
                    return;
                }
            }
        });
        Host { child, stdin, rx }
    }

    pub fn chromium(dir: &Path) -> Host {
        Host::start(&format!("chrome-extension://{DEV_EXTENSION_ID}/"), dir)
    }

    pub fn send(&mut self, v: Value) {
        let s = self.stdin.as_mut().unwrap();
        write_frame(s, v.to_string().as_bytes(), 1 << 16).unwrap();
        s.flush().unwrap();
    }

    pub fn recv(&mut self) -> Value {
        self.rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap()
            .expect("host closed stdout")
    }

    /// Skips progress events; returns the next other message.
    pub fn next(&mut self) -> Value {
        loop {
            let m = self.recv();
            if !(m["type"] == "event" && m["event"] == "progress") {
                return m;
            }
        }
    }

    pub fn close_and_wait(mut self) -> Duration {
        let t = Instant::now();
        drop(self.stdin.take());
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return t.elapsed();
            }
            assert!(t.elapsed() < Duration::from_secs(5), "host did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
