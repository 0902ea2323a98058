//! `hcx get`: one request, its body to stdout or a file, its lifecycle with `-v`.

use std::fs::File;
use std::io::{self, Read, Write};

use hcx::Error;

use crate::cli::GetArgs;
use crate::client::{self, RequestTemplate};
use crate::error::CliError;
use crate::verbose::VerboseListener;

/// Sends the request the flags describe and writes the body out. Any status is a
/// success (as curl without `--fail`); a request that fails is exit 1.
pub fn run(args: &GetArgs) -> Result<(), CliError> {
    let template = RequestTemplate::new(&args.url, &args.request)?;
    let mut builder = client::builder(&args.client, &template)?;
    if args.verbose {
        builder = builder.event_listener(VerboseListener::new(io::stderr()));
    }
    let client = builder.build()?;
    let response = client.execute(template.request())?;
    let mut body = response.into_body();
    match &args.output {
        Some(path) => {
            let shown = path.display();
            let mut file = File::create(path)
                .map_err(|e| CliError::io(format!("cannot create {shown}"), e))?;
            copy(&mut body, &mut file, &format!("writing to {shown}"))
        }
        None => copy(&mut body, &mut io::stdout().lock(), "writing to stdout"),
    }
}

/// Copies the body to `out`, telling a failed read (the request's) from a failed
/// write (the output's).
fn copy(body: &mut impl Read, out: &mut impl Write, writing: &str) -> Result<(), CliError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(e).into()),
        };
        out.write_all(&buf[..n])
            .map_err(|e| CliError::io(writing, e))?;
    }
    out.flush().map_err(|e| CliError::io(writing, e))
}
