//! The body an [`execute_with`](crate::Client::execute_with) handler reads.

use std::fmt;
use std::io::{self, Read};
use std::ops::Deref;

use hcx_exec::ResponseBody;

/// The body of a response lent to an [`execute_with`](crate::Client::execute_with)
/// handler: it reads the body ([`Read`]) and looks at it (`Deref` to
/// [`ResponseBody`]: [`info`](ResponseBody::info), [`trailers`](ResponseBody::trailers),
/// [`is_end`](ResponseBody::is_end)), but cannot take it, so `execute_with` gives the
/// connection back when the handler returns, whatever it did. Apache: the entity of
/// the response an `HttpClientResponseHandler` is given.
///
/// A handler that owns another body cannot swap it in and carry this one (and its
/// connection) off:
///
/// ```compile_fail
/// fn carry_off(client: &hcx::Client, mut mine: hcx::ResponseBody) -> Result<(), hcx::Error> {
///     let request = hcx::http::Request::new(hcx::Body::empty());
///     client.execute_with(request, |response| {
///         std::mem::swap(response.body_mut(), &mut mine); // a BodyReader is no ResponseBody
///     })
/// }
/// ```
pub struct BodyReader<'a> {
    body: &'a mut ResponseBody,
}

impl<'a> BodyReader<'a> {
    pub(crate) fn new(body: &'a mut ResponseBody) -> Self {
        BodyReader { body }
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

impl Deref for BodyReader<'_> {
    type Target = ResponseBody;

    fn deref(&self) -> &ResponseBody {
        self.body
    }
}

impl fmt::Debug for BodyReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BodyReader").field(&self.body).finish()
    }
}
