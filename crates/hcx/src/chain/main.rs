//! MAIN_TRANSPORT: lease, connect, run the exchange. Apache HttpClient 5:
//! `ConnectExec` + `MainClientExec`.

use std::sync::Arc;

use hcx_exec::{Body, Error, ExecRuntime, MainExec, ResponseBody, Route, UserToken};
use http::{Request, Response};

use super::{Chain, Context, ExecHandler, Scope};

/// Decides the user token a connection is released under when the request's
/// [`Context`] has none: connections authenticated as one user (a client certificate,
/// NTLM, a per-user session) must not be lent to another. Apache HttpClient:
/// `UserTokenHandler` (its default, for NTLM and TLS principals, has no counterpart:
/// hcx's default is none).
///
/// Asked before the exchange, with the route and the request; the token it returns
/// is written to the context, so the caller sees it and a redirect hop reuses it. The
/// connection is leased with the context's token (preferring connections bound to
/// it; [`ManagerStats::state_mismatches`](crate::ManagerStats::state_mismatches)
/// counts the leases that found idle connections only in other states) and released
/// bound to the token. Any `Fn(&Route, &Request<Body>, &Context) -> Option<UserToken>`
/// closure is one.
pub trait UserTokenHandler: Send + Sync {
    /// The token the connection of this request is released under; `None`: no state.
    fn user_token(
        &self,
        route: &Route,
        request: &Request<Body>,
        context: &Context,
    ) -> Option<UserToken>;
}

impl<F> UserTokenHandler for F
where
    F: Fn(&Route, &Request<Body>, &Context) -> Option<UserToken> + Send + Sync,
{
    fn user_token(
        &self,
        route: &Route,
        request: &Request<Body>,
        context: &Context,
    ) -> Option<UserToken> {
        self(route, request, context)
    }
}

/// The last handler: one exchange over a connection leased for `scope.route`.
pub(crate) struct MainTransport {
    pub(crate) exec: MainExec,
    pub(crate) user_tokens: Option<Arc<dyn UserTokenHandler>>,
}

impl ExecHandler for MainTransport {
    fn execute(
        &self,
        mut request: Request<Body>,
        scope: &mut Scope<'_>,
        _rest: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        scope.check_route(request.uri())?;
        if scope.context.attempts() == 0 {
            // No RETRY element counted: this is the hop's one attempt.
            scope.context.set_attempts(1);
        }
        let mut owed = scope.owed.take();
        if scope.context.user_token.is_none()
            && let Some(handler) = &self.user_tokens
        {
            // The handler sees the request as it goes out.
            owed.take().add_to(request.headers_mut())?;
            scope.context.user_token = handler.user_token(&scope.route, &request, scope.context);
        }
        // MainExec leases once the request is known to be sendable: an invalid request
        // never takes a pooled connection.
        let runtime = ExecRuntime::new(scope.manager().clone())
            .with_user_token(scope.context.user_token.clone())
            .with_abort(scope.abort_handle().cloned());
        // A probe is covered by RETRY sending the request again if the connection was
        // dead: a later attempt may be RETRY's last, with nothing left to cover one, so
        // only the first probes (later ones close a connection past the limit).
        let retried;
        let exec = if scope.context.attempts() > 1 {
            retried = self.exec.clone().with_idle_probes(false);
            &retried
        } else {
            &self.exec
        };
        owed.write_with(|defaults| {
            exec.execute_with_defaults(&scope.route, request, defaults, runtime, &scope.config)
        })
    }
}
