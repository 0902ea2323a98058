//! Review findings on the RETRY and REDIRECT elements, end to end against loopback
//! servers: each test pins a behaviour that was once wrong.

mod common;

use common::{TestResult, client};
use hcx::ErrorKind;
use hcx_testserver::{Method, Reply, TestServer};

fn redirect(status: u16, location: &str) -> Reply {
    Reply::new(status).header("location", location)
}

/// A `Location` with a scheme that has no host (`mailto:`, `javascript:`, `about:`)
/// is a redirect error that names it, as Apache's "Redirect URI does not specify a
/// valid host name". It once reached the route planner mangled: `mailto:ops@example.com`
/// became the host `example.com` and was reported as "cannot send to example.com: the
/// URI has no scheme", naming neither the Location nor the redirect.
#[test]
fn a_location_without_a_host_is_a_redirect_error_that_names_it() -> TestResult {
    // (location, as the error shows it: what looks like userinfo is never shown)
    for (location, shown) in [
        ("mailto:ops@example.com", "\"***@example.com\""),
        ("javascript:alert(1)", "\"javascript:alert(1)\""),
        ("about:blank", "\"about:blank\""),
    ] {
        let server = TestServer::builder()
            .route(Method::GET, "/s", redirect(302, location))
            .default_reply(Reply::ok())
            .start()?;
        let client = client()?;
        let error = client
            .get(server.url("/s"))
            .err()
            .ok_or("a Location without a host cannot be followed")?;
        assert_eq!(error.kind(), ErrorKind::Redirect, "{location}: {error:#}");
        let message = error.to_string();
        assert!(message.contains(shown), "{message}");
        assert!(message.contains(&server.url("/s")), "{message}");
        // The first request went out and was answered: the caller must not resend it.
        assert!(error.is_request_sent(), "{location}");
        assert_eq!(server.stats().requests_received, 1, "{location}");
        assert_eq!(client.stats().pool.leased, 0, "{location}");
    }
    Ok(())
}
