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
    fn from(output: Output) -> Self {
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

/// A certificate in PEM, from its DER bytes.
pub fn pem_certificate(der: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                base64.push(char::from(TABLE[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                base64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
