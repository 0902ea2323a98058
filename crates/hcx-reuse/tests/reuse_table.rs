//! The reuse rules as a table: given a request and a response head, expect a decision.
//!
//! The first two groups port, as behaviour, every case of Apache HttpCore's
//! `TestDefaultConnectionReuseStrategy`, the 4.4 line and the 5.x line, rewritten as rows
//! against our API. Their argument checks (`null` response or context →
//! `IllegalArgumentException` / `NullPointerException`) have no rows: the types rule
//! such calls out. Old 4.0 cases on a closed or stale connection have none either:
//! connection state is the engine's business (its stale probe), not this crate's.
//! Where the lines disagree with each other or with the RFC, the row says which way we
//! go and why.

use hcx_h1::ResponseHead;
use hcx_reuse::{CloseReason, ConnectionReuseStrategy, DefaultReuseStrategy, Exchange};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

type Fields = &'static [(&'static str, &'static [u8])];

struct Case {
    /// The behaviour pinned, and where it comes from.
    name: &'static str,
    method: Method,
    request: Fields,
    request_body_complete: bool,
    /// The version the request went out with (HTTP/1.1 unless a row says otherwise).
    request_version: Version,
    version: Version,
    status: u16,
    response: Fields,
    expect: Reuse,
}

/// What a row expects: the reuse strategy keeps or closes, or the codec refuses to
/// frame the response at all (the engine then fails the exchange and closes without
/// asking the strategy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reuse {
    Keep,
    Close(CloseReason),
    CodecRefuses,
}

const KEEP: Reuse = Reuse::Keep;
const CODEC_REFUSES: Reuse = Reuse::CodecRefuses;

fn close(reason: CloseReason) -> Reuse {
    Reuse::Close(reason)
}

/// A GET whose request has no special headers: the shape of almost every Apache case.
fn get(name: &'static str, version: Version, status: u16, response: Fields, expect: Reuse) -> Case {
    Case {
        name,
        method: Method::GET,
        request: &[],
        request_body_complete: true,
        request_version: V11,
        version,
        status,
        response,
        expect,
    }
}

fn with_method(method: Method, case: Case) -> Case {
    Case { method, ..case }
}

fn with_request(request: Fields, case: Case) -> Case {
    Case { request, ..case }
}

fn sent_as_http10(case: Case) -> Case {
    Case {
        request_version: V10,
        ..case
    }
}

const V09: Version = Version::HTTP_09;
const V10: Version = Version::HTTP_10;
const V11: Version = Version::HTTP_11;

const CHUNKED: (&str, &[u8]) = ("transfer-encoding", b"chunked");
const CL10: (&str, &[u8]) = ("content-length", b"10");

fn apache_4_4_cases() -> Vec<Case> {
    use CloseReason::*;
    vec![
        // 4.4 testNoContentLengthResponseHttp1_0 (also 5.x).
        // Both rules apply; the framing verdict comes first (the engine's floor).
        get(
            "http10_without_length_or_keep_alive_closes",
            V10,
            200,
            &[],
            close(CloseDelimitedBody),
        ),
        // 4.4 testNoContentLengthResponseHttp1_1 (also 5.x).
        get(
            "http11_without_length_reads_until_close",
            V11,
            200,
            &[],
            close(CloseDelimitedBody),
        ),
        // 4.4 testChunkedContent (also 5.x).
        get(
            "chunked_http11_response_is_reused",
            V11,
            200,
            &[CHUNKED],
            KEEP,
        ),
        // 4.4 testIgnoreInvalidKeepAlive (also 5.x): keep-alive cannot rescue a body
        // that ends at close.
        get(
            "keep_alive_token_does_not_rescue_unframed_body",
            V10,
            200,
            &[("connection", b"keep-alive")],
            close(CloseDelimitedBody),
        ),
        // 4.4 testExplicitClose (also 5.x).
        get(
            "response_close_token_closes",
            V11,
            200,
            &[CHUNKED, ("connection", b"close")],
            close(ResponseConnectionClose),
        ),
        // 4.4 testExplicitKeepAlive (also 5.x).
        get(
            "keep_alive_token_keeps_http10_alive",
            V10,
            200,
            &[CL10, ("connection", b"keep-alive")],
            KEEP,
        ),
        // 4.4 testHTTP10Default (also 5.x).
        get(
            "http10_closes_by_default",
            V10,
            200,
            &[CL10],
            close(Http10WithoutKeepAlive),
        ),
        // 4.4 testHTTP11Default (also 5.x).
        get("http11_persists_by_default", V11, 200, &[CL10], KEEP),
        // 4.4 testFutureHTTP: a version above 1.1 persists by default. `http::Version`
        // has no 3.45; HTTP/2 and HTTP/3 stand in for it.
        get(
            "later_version_http2_persists_by_default",
            Version::HTTP_2,
            200,
            &[CL10],
            KEEP,
        ),
        get(
            "later_version_http3_persists_by_default",
            Version::HTTP_3,
            200,
            &[CL10],
            KEEP,
        ),
        // 4.4 testBrokenConnectionDirective1 (also 5.x): `keep--alive` is a valid but
        // unknown token.
        get(
            "misspelt_keep_alive_is_an_unknown_option",
            V10,
            200,
            &[CL10, ("connection", b"keep--alive")],
            close(Http10WithoutKeepAlive),
        ),
        // 4.4 testBrokenConnectionDirective2 (also 5.x): a `null` value is an empty one.
        get(
            "empty_connection_header_leaves_http10_default",
            V10,
            200,
            &[CL10, ("connection", b"")],
            close(Http10WithoutKeepAlive),
        ),
        // 4.4 testConnectionTokens1 (also 5.x).
        get(
            "close_token_found_in_a_list_in_any_case",
            V11,
            200,
            &[CHUNKED, ("connection", b"yadda, cLOSe, dumdy")],
            close(ResponseConnectionClose),
        ),
        // 4.4 testConnectionTokens2 (also 5.x).
        get(
            "keep_alive_token_found_in_a_list_in_any_case",
            V11,
            200,
            &[CHUNKED, ("connection", b"yadda, kEEP-alive, dumdy")],
            KEEP,
        ),
        // 4.4 testConnectionTokens3 (also 5.x).
        get(
            "close_token_wins_over_keep_alive",
            V11,
            200,
            &[CHUNKED, ("connection", b"yadda, keep-alive, close, dumdy")],
            close(ResponseConnectionClose),
        ),
        // 4.4 testConnectionTokens4 (also 5.x).
        get(
            "connection_takes_precedence_over_proxy_connection",
            V11,
            200,
            &[
                CHUNKED,
                ("connection", b"yadda, close, dumdy"),
                ("proxy-connection", b"keep-alive"),
            ],
            close(ResponseConnectionClose),
        ),
        // 4.4 testConnectionTokens5 (also 5.x).
        get(
            "proxy_connection_close_ignored_when_connection_present",
            V11,
            200,
            &[
                CHUNKED,
                ("connection", b"yadda, dumdy"),
                ("proxy-connection", b"close"),
            ],
            KEEP,
        ),
        // 4.4 testConnectionTokens6 (also 5.x).
        get(
            "empty_connection_still_hides_proxy_connection",
            V11,
            200,
            &[CHUNKED, ("connection", b""), ("proxy-connection", b"close")],
            KEEP,
        ),
        // 4.4 testConnectionTokensInvalid: 4.4's tokenizer throws on `=` and 4.4 then
        // closes; 5.x's lenient tokenizer (which dropped the case) reads one unknown
        // token and would keep. RFC 9110 §7.6.1 allows only tokens here; a value we
        // cannot parse may mean anything to the server, `close` included: follow 4.4.
        get(
            "non_token_connection_option_closes",
            V11,
            200,
            &[CHUNKED, ("connection", b"keep-alive=true")],
            close(ResponseConnectionMalformed),
        ),
        // 4.4 testMultipleContentLength (also 5.x).
        get(
            "differing_content_lengths_close",
            V11,
            200,
            &[CL10, ("content-length", b"11")],
            CODEC_REFUSES,
        ),
        // 4.4 testInvalidContentLength.
        get(
            "non_numeric_content_length_closes",
            V11,
            200,
            &[("content-length", b"crap")],
            CODEC_REFUSES,
        ),
        // 4.4 testInvalidNegativeContentLength.
        get(
            "negative_content_length_closes",
            V11,
            200,
            &[("content-length", b"-10")],
            CODEC_REFUSES,
        ),
        // 4.4 testNoContentResponse (also 5.x).
        get("no_content_needs_no_length", V11, 204, &[], KEEP),
        // 4.4 testNoContentResponseHttp10 (also 5.x).
        get(
            "no_content_over_http10_still_needs_keep_alive",
            V10,
            204,
            &[],
            close(Http10WithoutKeepAlive),
        ),
    ]
}

fn apache_5_cases() -> Vec<Case> {
    use CloseReason::*;
    vec![
        // 5.x testRequestExplicitClose.
        with_request(
            &[("connection", b"close")],
            get(
                "request_close_token_beats_response_keep_alive",
                V11,
                200,
                &[CHUNKED, ("connection", b"keep-alive")],
                close(RequestConnectionClose),
            ),
        ),
        // 5.x testRequestNoExplicitClose.
        with_request(
            &[("connection", b"blah, blah, blah")],
            get(
                "request_unknown_options_do_not_close",
                V11,
                200,
                &[CHUNKED, ("connection", b"keep-alive")],
                KEEP,
            ),
        ),
        // 5.x testRequestExplicitCloseMultipleTokens.
        with_request(
            &[
                ("connection", b"blah, blah, blah"),
                ("connection", b"keep-alive"),
                ("connection", b"close"),
            ],
            get(
                "request_close_token_found_across_field_lines",
                V11,
                200,
                &[CHUNKED, ("connection", b"keep-alive")],
                close(RequestConnectionClose),
            ),
        ),
        // 5.x testRequestClose.
        with_request(
            &[("connection", b"close")],
            get(
                "request_close_token_closes_length_delimited_response",
                V11,
                200,
                &[CL10, ("connection", b"keep-alive")],
                close(RequestConnectionClose),
            ),
        ),
        // 5.x testHeadRequestWithout.
        with_method(
            Method::HEAD,
            get("head_response_needs_no_length", V11, 200, &[], KEEP),
        ),
        // 5.x testHttp204ContentLengthGreaterThanZero.
        get(
            "no_content_with_positive_length_closes",
            V11,
            204,
            &[CL10, ("connection", b"keep-alive")],
            close(InvalidBodilessResponse),
        ),
        // 5.x testHttp204ContentLengthEqualToZero.
        get(
            "no_content_with_zero_length_is_reused",
            V11,
            204,
            &[("content-length", b"0"), ("connection", b"keep-alive")],
            KEEP,
        ),
        // 5.x testHttp204ChunkedContent.
        get(
            "no_content_with_transfer_encoding_closes",
            V11,
            204,
            &[CHUNKED, ("connection", b"keep-alive")],
            close(InvalidBodilessResponse),
        ),
        // 5.x testResponseHTTP10TransferEncodingPresent. 4.4 disagrees (it reuses a
        // chunked HTTP/1.0 response with keep-alive); RFC 9112 §6.1 says treat such
        // framing as faulty and close: follow 5.x.
        get(
            "transfer_encoding_on_http10_is_refused",
            V10,
            200,
            &[CHUNKED, ("connection", b"keep-alive")],
            CODEC_REFUSES,
        ),
        // 5.x disagrees with 4.4 on HTTP/1.0: it returns at the first `keep-alive`
        // token and so keeps `keep-alive, close`. RFC 9112 §9.6: `close` means the
        // sender closes. Follow 4.4.
        get(
            "close_token_wins_over_keep_alive_on_http10",
            V10,
            200,
            &[CL10, ("connection", b"keep-alive, close")],
            close(ResponseConnectionClose),
        ),
    ]
}

fn framing_cases() -> Vec<Case> {
    use CloseReason::*;
    vec![
        // RFC 9112 §6.3 (3): Apache 4.4 and 5.x reuse here; we close (smuggling).
        get(
            "content_length_with_transfer_encoding_closes",
            V11,
            200,
            &[CHUNKED, CL10],
            close(ContentLengthWithTransferEncoding),
        ),
        get(
            "content_length_with_transfer_encoding_on_http10_is_faulty_framing",
            V10,
            200,
            &[CHUNKED, CL10, ("connection", b"keep-alive")],
            CODEC_REFUSES,
        ),
        // RFC 9110 §8.6 lets a recipient read repeated identical lengths as one, and
        // the codec does: it reads 10 bytes, so the connection is as reusable as with
        // one field. (This crate used to close here while the codec read the body:
        // two answers to one question, now one.)
        get(
            "equal_duplicate_content_lengths_are_one_length",
            V11,
            200,
            &[CL10, CL10],
            KEEP,
        ),
        get(
            "content_length_list_of_equal_values_is_one_length",
            V11,
            200,
            &[("content-length", b"10, 10")],
            KEEP,
        ),
        get(
            "content_length_list_of_different_values_is_refused",
            V11,
            200,
            &[("content-length", b"10, 7")],
            CODEC_REFUSES,
        ),
        get(
            "content_length_with_ows_is_valid",
            V11,
            200,
            &[("content-length", b" 10\t")],
            KEEP,
        ),
        get(
            "content_length_with_leading_zeros_is_valid",
            V11,
            200,
            &[("content-length", b"007")],
            KEEP,
        ),
        get(
            "empty_content_length_is_invalid",
            V11,
            200,
            &[("content-length", b"")],
            CODEC_REFUSES,
        ),
        get(
            "signed_content_length_is_invalid",
            V11,
            200,
            &[("content-length", b"+10")],
            CODEC_REFUSES,
        ),
        get(
            "content_length_beyond_u64_is_invalid",
            V11,
            200,
            &[("content-length", b"18446744073709551616")],
            CODEC_REFUSES,
        ),
        get(
            "content_length_of_u64_max_is_valid",
            V11,
            200,
            &[("content-length", b"18446744073709551615")],
            KEEP,
        ),
        get(
            "non_ascii_content_length_is_invalid",
            V11,
            200,
            &[("content-length", b"1\xff")],
            CODEC_REFUSES,
        ),
        // RFC 9112 §6.3 (4): only the final coding must be chunked. Apache compares the
        // first field's whole value with "chunked" and closes here.
        get(
            "chunked_as_final_coding_is_reused",
            V11,
            200,
            &[("transfer-encoding", b"gzip, chunked")],
            KEEP,
        ),
        get(
            "final_coding_split_over_field_lines_is_reused",
            V11,
            200,
            &[
                ("transfer-encoding", b"gzip"),
                ("transfer-encoding", b"chunked"),
            ],
            KEEP,
        ),
        get(
            "chunked_coding_is_case_insensitive",
            V11,
            200,
            &[("transfer-encoding", b"CHUNKED")],
            KEEP,
        ),
        get(
            "chunked_not_final_is_refused",
            V11,
            200,
            &[("transfer-encoding", b"chunked, gzip")],
            CODEC_REFUSES,
        ),
        get(
            "non_chunked_coding_is_refused",
            V11,
            200,
            &[("transfer-encoding", b"gzip")],
            CODEC_REFUSES,
        ),
        get(
            "empty_transfer_encoding_is_not_chunked",
            V11,
            200,
            &[("transfer-encoding", b"")],
            CODEC_REFUSES,
        ),
        get(
            "chunked_applied_twice_closes",
            V11,
            200,
            &[("transfer-encoding", b"chunked, chunked")],
            CODEC_REFUSES,
        ),
        get(
            "chunked_with_parameters_is_not_chunked",
            V11,
            200,
            &[("transfer-encoding", b"chunked;q=1")],
            CODEC_REFUSES,
        ),
        // Apache treats 205 as bodiless; RFC 9112 §6.3 does not, and RFC 9110 §15.3.6
        // lets a server signal its empty content by closing.
        get(
            "reset_content_without_length_reads_until_close",
            V11,
            205,
            &[],
            close(CloseDelimitedBody),
        ),
        get(
            "reset_content_with_zero_length_is_reused",
            V11,
            205,
            &[("content-length", b"0")],
            KEEP,
        ),
        // Apache 5 ignores an unparsable length on a 204; a server that sends one may
        // send a body too.
        get(
            "no_content_with_invalid_length_closes",
            V11,
            204,
            &[("content-length", b"abc")],
            close(InvalidBodilessResponse),
        ),
        get(
            "no_content_with_duplicate_zero_lengths_is_reused",
            V11,
            204,
            &[("content-length", b"0"), ("content-length", b"0")],
            KEEP,
        ),
        get(
            "post_with_zero_length_response_is_reused",
            V11,
            201,
            &[("content-length", b"0")],
            KEEP,
        ),
    ]
}

fn bodiless_cases() -> Vec<Case> {
    use CloseReason::*;
    vec![
        get("interim_continue_needs_no_length", V11, 100, &[], KEEP),
        get(
            "early_hints_needs_no_length",
            V11,
            103,
            &[("link", b"</style.css>; rel=preload")],
            KEEP,
        ),
        get(
            "interim_response_with_transfer_encoding_closes",
            V11,
            100,
            &[CHUNKED],
            close(InvalidBodilessResponse),
        ),
        get(
            "interim_response_with_positive_length_closes",
            V11,
            103,
            &[CL10],
            close(InvalidBodilessResponse),
        ),
        // Apache reuses (a 1xx needs no length); after a 101 the connection speaks
        // another protocol and cannot go back to an HTTP/1.1 pool.
        get(
            "switching_protocols_leaves_http",
            V11,
            101,
            &[("connection", b"upgrade"), ("upgrade", b"websocket")],
            close(SwitchingProtocols),
        ),
        get("not_modified_needs_no_length", V11, 304, &[], KEEP),
        get(
            "not_modified_may_carry_the_representation_length",
            V11,
            304,
            &[CL10],
            KEEP,
        ),
        get(
            "not_modified_over_http10_needs_keep_alive",
            V10,
            304,
            &[],
            close(Http10WithoutKeepAlive),
        ),
        with_method(
            Method::HEAD,
            get(
                "head_response_may_carry_the_representation_length",
                V11,
                200,
                &[("content-length", b"1000")],
                KEEP,
            ),
        ),
        with_method(
            Method::HEAD,
            get(
                "head_response_may_carry_chunked",
                V11,
                200,
                &[CHUNKED],
                KEEP,
            ),
        ),
        with_method(
            Method::HEAD,
            get(
                "head_response_over_http10_with_keep_alive_is_reused",
                V10,
                200,
                &[("connection", b"keep-alive")],
                KEEP,
            ),
        ),
        with_method(
            Method::HEAD,
            get("head_error_response_needs_no_length", V11, 404, &[], KEEP),
        ),
        // 4.4 closes (it treats only HEAD as bodiless); 5.x reuses, since RFC 9112
        // §6.3 (2) says a 2xx to CONNECT has no body. No body, but the connection is a
        // tunnel now: pooling it as a connection to the proxy would write the next
        // proxied request into someone's tunnel. We close, with its own reason (and
        // agree with hcx-h1's framing, which reports `Tunnel`).
        with_method(
            Method::CONNECT,
            get(
                "connect_success_is_a_tunnel_never_pooled",
                V11,
                200,
                &[],
                close(CloseReason::Tunnel),
            ),
        ),
        with_method(
            Method::CONNECT,
            get(
                "connect_refusal_without_length_reads_until_close",
                V11,
                407,
                &[("proxy-authenticate", b"Basic realm=\"proxy\"")],
                close(CloseDelimitedBody),
            ),
        ),
        with_method(
            Method::CONNECT,
            get(
                "connect_refusal_with_length_is_reused",
                V11,
                407,
                &[CL10],
                KEEP,
            ),
        ),
    ]
}

fn token_cases() -> Vec<Case> {
    use CloseReason::*;
    vec![
        get(
            "keep_alive_in_odd_list_keeps_http10_alive",
            V10,
            200,
            &[CL10, ("connection", b"yadda, kEEP-alive, dumdy")],
            KEEP,
        ),
        get(
            "empty_list_elements_are_ignored",
            V10,
            200,
            &[CL10, ("connection", b", ,\t keep-alive ,,")],
            KEEP,
        ),
        get(
            "keep_alive_found_on_a_later_field_line",
            V10,
            200,
            &[
                CL10,
                ("connection", b"yadda"),
                ("connection", b"keep-alive"),
            ],
            KEEP,
        ),
        get(
            "close_on_a_later_field_line_wins",
            V11,
            200,
            &[
                CL10,
                ("connection", b"keep-alive"),
                ("connection", b"Close"),
            ],
            close(ResponseConnectionClose),
        ),
        get(
            "all_empty_connection_lines_leave_http11_default",
            V11,
            200,
            &[CL10, ("connection", b""), ("connection", b" , ")],
            KEEP,
        ),
        get(
            "proxy_connection_keep_alive_counts_without_connection",
            V10,
            200,
            &[CL10, ("proxy-connection", b"keep-alive")],
            KEEP,
        ),
        get(
            "proxy_connection_close_counts_without_connection",
            V11,
            200,
            &[CL10, ("proxy-connection", b"close")],
            close(ProxyConnectionClose),
        ),
        get(
            "malformed_proxy_connection_closes",
            V11,
            200,
            &[CL10, ("proxy-connection", b"keep alive")],
            close(ResponseConnectionMalformed),
        ),
        get(
            "non_ascii_connection_option_closes",
            V11,
            200,
            &[CL10, ("connection", b"clos\xe9")],
            close(ResponseConnectionMalformed),
        ),
        get(
            "quoted_connection_option_is_malformed",
            V11,
            200,
            &[CL10, ("connection", b"\"close\"")],
            close(ResponseConnectionMalformed),
        ),
        get(
            "upgrade_option_alone_keeps_http11",
            V11,
            200,
            &[CL10, ("connection", b"Upgrade")],
            KEEP,
        ),
    ]
}

fn request_and_version_cases() -> Vec<Case> {
    use CloseReason::*;
    vec![
        // RFC 9112 §9.3: an HTTP/1.0 request persists only with keep-alive; the
        // server closes after answering even if its response is HTTP/1.1 without
        // `close` (found missing in review).
        sent_as_http10(get(
            "http10_request_without_keep_alive_closes",
            V11,
            200,
            &[CL10],
            close(Http10RequestWithoutKeepAlive),
        )),
        sent_as_http10(with_request(
            &[("connection", b"keep-alive")],
            get(
                "http10_request_with_keep_alive_is_reused",
                V11,
                200,
                &[CL10],
                KEEP,
            ),
        )),
        with_request(
            &[("connection", b"Keep-Alive, CLOSE")],
            get(
                "request_close_wins_over_request_keep_alive",
                V11,
                200,
                &[CL10],
                close(RequestConnectionClose),
            ),
        ),
        with_request(
            &[("connection", b"keep-alive=true")],
            get(
                "malformed_request_connection_closes",
                V11,
                200,
                &[CL10],
                close(RequestConnectionMalformed),
            ),
        ),
        with_request(
            &[("connection", b"keep-alive")],
            get(
                "request_keep_alive_does_not_override_http10_response",
                V10,
                200,
                &[CL10],
                close(Http10WithoutKeepAlive),
            ),
        ),
        with_method(
            Method::POST,
            with_request(
                &[("content-length", b"5"), ("transfer-encoding", b"chunked")],
                get(
                    "request_with_length_and_chunked_closes",
                    V11,
                    200,
                    &[CL10],
                    close(RequestContentLengthWithTransferEncoding),
                ),
            ),
        ),
        Case {
            request_body_complete: false,
            ..with_method(
                Method::POST,
                with_request(
                    &[("content-length", b"1000000")],
                    get(
                        "early_response_with_unsent_body_closes",
                        V11,
                        413,
                        &[CL10],
                        close(RequestBodyIncomplete),
                    ),
                ),
            )
        },
        with_method(
            Method::POST,
            with_request(
                &[("content-length", b"5")],
                get(
                    "complete_request_body_allows_reuse",
                    V11,
                    200,
                    &[CL10],
                    KEEP,
                ),
            ),
        ),
        get(
            "http09_never_persists",
            V09,
            200,
            &[("connection", b"keep-alive"), CL10],
            close(Http09),
        ),
        // Precedence: the first rule that applies names the reason. The framing verdict
        // is the engine's floor and comes first, so the reason is the same whether the
        // engine or this strategy reports it.
        with_request(
            &[("connection", b"close")],
            get(
                "framing_is_reported_before_request_close",
                V11,
                200,
                &[],
                close(CloseDelimitedBody),
            ),
        ),
        get(
            "framing_is_reported_before_response_close",
            V11,
            200,
            &[("connection", b"close")],
            close(CloseDelimitedBody),
        ),
        get(
            "http10_with_length_without_keep_alive_closes",
            V10,
            200,
            &[CL10],
            close(Http10WithoutKeepAlive),
        ),
        with_request(
            &[("connection", b"close")],
            get(
                "request_close_is_reported_before_response_close",
                V11,
                200,
                &[CL10, ("connection", b"close")],
                close(RequestConnectionClose),
            ),
        ),
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; the codec
        // refuses the response before any reuse rule is asked.
        get(
            "http10_with_transfer_encoding_is_refused_by_the_codec",
            V10,
            200,
            &[CHUNKED],
            CODEC_REFUSES,
        ),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = apache_4_4_cases();
    cases.extend(apache_5_cases());
    cases.extend(framing_cases());
    cases.extend(bodiless_cases());
    cases.extend(token_cases());
    cases.extend(request_and_version_cases());
    cases
}

fn header_map(fields: Fields) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
        let value = HeaderValue::from_bytes(value).map_err(|e| format!("{value:?}: {e}"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[test]
fn default_strategy_follows_the_table() -> Result<(), String> {
    let cases = all_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let request = header_map(case.request)?;
        let response = header_map(case.response)?;
        let status = StatusCode::from_u16(case.status).map_err(|e| e.to_string())?;
        let head = ResponseHead::new(case.version, status, response);
        let got = match Exchange::framed(&case.method, &request, &head) {
            Err(_) => Reuse::CodecRefuses,
            Ok(exchange) => {
                let exchange = exchange
                    .with_request_body_complete(case.request_body_complete)
                    .with_request_version(case.request_version);
                match DefaultReuseStrategy.reuse(&exchange) {
                    Ok(()) => Reuse::Keep,
                    Err(reason) => Reuse::Close(reason),
                }
            }
        };
        if got != case.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn table_covers_both_apache_suites_and_our_own_rows() {
    // The port is complete: 24 rows for 4.4 (testFutureHTTP as two), 10 for what 5.x
    // adds or decides differently; and the table has at least 60 rows.
    assert_eq!(apache_4_4_cases().len(), 24);
    assert_eq!(apache_5_cases().len(), 10);
    assert!(all_cases().len() >= 60, "{} rows", all_cases().len());
}

#[test]
fn row_names_are_unique() {
    let cases = all_cases();
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate row names");
}
