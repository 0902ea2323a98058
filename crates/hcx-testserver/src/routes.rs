//! Which [`Reply`] a request gets: routes by method and path, then the default.

use crate::reply::Reply;
use crate::request::RecordedRequest;
use http::Method;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A closure that computes a reply from the request.
pub(crate) type Handler = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

/// How a route (or the default) answers.
pub(crate) enum Responder {
    /// The same reply every time.
    Fixed(Box<Reply>),
    /// A closure's reply.
    Handler(Handler),
    /// The replies in turn, the last one repeated.
    Sequence {
        replies: Vec<Reply>,
        next: AtomicUsize,
    },
}

impl Responder {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        match self {
            Responder::Fixed(reply) => Reply::clone(reply),
            Responder::Handler(handler) => handler(request),
            Responder::Sequence { replies, next } => {
                let i = next.fetch_add(1, Ordering::Relaxed);
                replies
                    .get(i)
                    .or(replies.last())
                    .cloned()
                    .unwrap_or_default()
            }
        }
    }
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Responder::Fixed(reply) => f.debug_tuple("Fixed").field(reply).finish(),
            Responder::Handler(_) => f.write_str("Handler(..)"),
            Responder::Sequence { replies, .. } => {
                f.debug_tuple("Sequence").field(&replies.len()).finish()
            }
        }
    }
}

/// The route table.
#[derive(Debug)]
pub(crate) struct Routes {
    routes: Vec<(Method, String, Responder)>,
    default: Responder,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            routes: Vec::new(),
            default: Responder::Fixed(Box::new(Reply::ok())),
        }
    }
}

impl Routes {
    pub(crate) fn add(&mut self, method: Method, path: String, responder: Responder) {
        self.routes.push((method, path, responder));
    }

    pub(crate) fn set_default(&mut self, responder: Responder) {
        self.default = responder;
    }

    /// The reply for `request`: the first route with its method and path; for `HEAD`
    /// without a `HEAD` route, the first `GET` route of the path; else the default.
    pub(crate) fn respond(&self, request: &RecordedRequest) -> Reply {
        let path = request.path();
        let find = |method: &Method| {
            self.routes
                .iter()
                .find(|(m, p, _)| m == method && p == path)
                .map(|(_, _, r)| r)
        };
        let responder = find(&request.method)
            .or_else(|| (request.method == Method::HEAD).then(|| find(&Method::GET))?)
            .unwrap_or(&self.default);
        responder.respond(request)
    }
}
