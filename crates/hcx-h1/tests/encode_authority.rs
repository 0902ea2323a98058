//! The head encoder splits the URI's authority once and reads the target's zone check,
//! its port and the derived `Host` from that one split.

use hcx_h1::{EncodeError, RequestFraming, TargetForm, encode_request_head};

fn encode(uri: &str, host: Option<&str>, form: TargetForm) -> Result<String, EncodeError> {
    let mut builder = http::Request::get(uri);
    if let Some(host) = host {
        builder = builder.header("host", host);
    }
    let request = builder.body(()).expect("request");
    let mut out = Vec::new();
    encode_request_head(&request, form, RequestFraming::None, &mut out)?;
    Ok(String::from_utf8(out).expect("ascii"))
}

#[test]
fn a_zone_is_refused_with_the_callers_host_and_a_derived_one() {
    for uri in [
        "http://[fe80::1%25eth0]:8080/a",
        "http://u:p@[fe80::1%25eth0]/a",
    ] {
        for host in [None, Some("example.com")] {
            for form in [TargetForm::Origin, TargetForm::Absolute] {
                let result = encode(uri, host, form);
                assert!(
                    matches!(result, Err(EncodeError::InvalidTarget { .. })),
                    "{uri} {host:?} {form:?}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn plain_and_careful_authorities_make_the_same_host() {
    for (uri, host_line) in [
        ("http://127.0.0.1:18091/small", "host: 127.0.0.1:18091\r\n"),
        ("http://example.com:80/", "host: example.com\r\n"),
        ("http://u:p@example.com:8080/", "host: example.com:8080\r\n"),
        ("http://[::1]:81/", "host: [::1]:81\r\n"),
        ("http://[::1]:80/", "host: [::1]\r\n"),
        (
            "http://www.a-long-host-name.example.org:8443/",
            "host: www.a-long-host-name.example.org:8443\r\n",
        ),
    ] {
        let head = encode(uri, None, TargetForm::Origin).expect(uri);
        assert!(head.contains(host_line), "{uri}: {head:?}");
    }
}

#[test]
fn a_port_past_65535_or_five_digits_is_refused() {
    for uri in [
        "http://h:65536/",
        "http://h:000080/",
        "http://127.0.0.1:99999999999999999999/",
    ] {
        for form in [TargetForm::Origin, TargetForm::Absolute] {
            let result = encode(uri, None, form);
            assert!(
                matches!(result, Err(EncodeError::InvalidTarget { .. })),
                "{uri} {form:?}: {result:?}"
            );
        }
        // With the caller's Host, the absolute-form still reads the port.
        let result = encode(uri, Some("h"), TargetForm::Absolute);
        assert!(
            matches!(result, Err(EncodeError::InvalidTarget { .. })),
            "{uri}: {result:?}"
        );
    }
    let head = encode("http://h:00080/x", None, TargetForm::Absolute).expect("five digits");
    assert!(
        head.starts_with("GET http://h:80/x HTTP/1.1\r\nhost: h\r\n"),
        "{head:?}"
    );
}
