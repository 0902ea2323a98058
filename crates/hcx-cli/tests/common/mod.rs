//! Running the `hcx` binary and reading what it printed.

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

/// The result type of the tests.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Bounds every request the binary makes, so a broken test fails instead of hanging.
pub const TIMEOUT: &str = "10s";

/// What a run of `hcx` left: exit code, stdout and stderr as text.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Runs `hcx args…` to its end, stdin closed.
pub fn hcx(args: &[&str]) -> std::io::Result<Run> {
    let output = Command::new(env!("CARGO_BIN_EXE_hcx"))
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    Ok(Run::from(output))
}

/// Like [`hcx`], for a run that must end by itself: killed after `limit` if it has
/// not (its `code` is then `None`), so a regression fails the test instead of hanging.
pub fn hcx_within(args: &[&str], limit: std::time::Duration) -> std::io::Result<Run> {
    finish_within(hcx_spawn(args)?, limit)
}

/// Starts `hcx args…`, stdin closed, stdout and stderr captured: for a test that acts
/// on the process while it runs, then ends it with [`finish_within`].
pub fn hcx_spawn(args: &[&str]) -> std::io::Result<std::process::Child> {
    Command::new(env!("CARGO_BIN_EXE_hcx"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Waits for `child` to end and reads what it printed; killed after `limit` if it has
/// not ended by then (its `code` is then `None`).
pub fn finish_within(
    child: std::process::Child,
    limit: std::time::Duration,
) -> std::io::Result<Run> {
    let pid = child.id().to_string();
    let (ended, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(limit).is_err() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    });
    let output = child.wait_with_output();
    let _ = ended.send(());
    let _ = watchdog.join();
    Ok(Run::from(output?))
}

/// A loopback port nothing listens on (bound, then closed).
pub fn closed_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A fresh path under cargo's temporary directory for this test target.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hcx-cli-{}-{name}", std::process::id()))
}
