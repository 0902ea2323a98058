//! What a command that ran can fail with, and the exit code each failure gives.

use std::fmt;
use std::io;
use std::process::ExitCode;

/// Why a command failed after its command line was accepted.
#[derive(Debug)]
pub enum CliError {
    /// The request failed, or the client could not be built: printed with its cause
    /// chain and its kind. Exit 1.
    Http(hcx::Error),
    /// A local file or stream failed (`-o`, `--data-file`, `--cacert`, stdout). Exit 1.
    Io {
        /// What was being done: "cannot create out.txt".
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// Anything else, said in a sentence. Exit 1.
    Other(String),
    /// `hcx get --max-time` ran out: the request was aborted (its error, which says
    /// so). Exit 28, as curl's "operation timed out".
    MaxTime(hcx::Error),
}

impl CliError {
    /// An I/O failure while doing `what`.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        CliError::Io {
            what: what.into(),
            source,
        }
    }

    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::MaxTime(_) => ExitCode::from(28),
            _ => ExitCode::from(1),
        }
    }
}

impl fmt::Display for CliError {
    /// One line: an hcx error as `{:#}` (its message, then each cause after `": "`),
    /// followed by its kind in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            CliError::Http(e) | CliError::MaxTime(e) => format!("{e:#} [{}]", e.kind().as_str()),
            CliError::Io { what, source } => format!("{what}: {source}"),
            CliError::Other(text) => text.clone(),
        };
        // One line whatever a cause's text holds.
        f.write_str(&text.replace(['\r', '\n'], " "))
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Http(e) | CliError::MaxTime(e) => Some(e),
            CliError::Io { source, .. } => Some(source),
            CliError::Other(_) => None,
        }
    }
}

impl From<hcx::Error> for CliError {
    fn from(e: hcx::Error) -> Self {
        CliError::Http(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hcx_error_prints_its_chain_and_kind_on_one_line() {
        let cause = io::Error::new(io::ErrorKind::ConnectionRefused, "refused\nreally");
        let error = CliError::from(
            hcx::Error::new(hcx::ErrorKind::Connect, "connect to a:1 failed").with_source(cause),
        );
        assert_eq!(
            error.to_string(),
            "connect to a:1 failed: refused really [connect]"
        );
    }
}
