//! The names of the chain's elements, and the list they are composed into.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use hcx_exec::{Error, ErrorKind};

use super::ExecHandler;

/// The name of an element of the exec chain: one of hcx's own, or a handler of yours.
/// Apache HttpClient 5: `ChainElement` (and the names its builder's
/// `addExecInterceptorBefore` family takes). `Display` prints Apache's upper-case
/// names for the built-in elements. Elements are equal when their names are:
/// `Named("RETRY")` is [`Retry`](ChainElement::Retry), so no handler of yours can
/// take a built-in element's name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChainElement {
    /// Follows redirects.
    Redirect,
    /// Adjusts a route's connection limit (only with a backoff manager).
    BackOff,
    /// Asks for compressed bodies and decodes them.
    Compress,
    /// Replays requests that are safe to replay.
    Retry,
    /// Answers authentication challenges.
    Auth,
    /// Default headers, `User-Agent`, request and response interceptors.
    Protocol,
    /// Leases a connection, connects and runs the exchange. Always last.
    MainTransport,
    /// A handler of yours, by the name you gave it.
    Named(Cow<'static, str>),
}

impl ChainElement {
    /// Apache's name for a built-in element (`"REDIRECT"`), or your handler's.
    pub fn name(&self) -> &str {
        match self {
            ChainElement::Redirect => "REDIRECT",
            ChainElement::BackOff => "BACK_OFF",
            ChainElement::Compress => "COMPRESS",
            ChainElement::Retry => "RETRY",
            ChainElement::Auth => "AUTH",
            ChainElement::Protocol => "PROTOCOL",
            ChainElement::MainTransport => "MAIN_TRANSPORT",
            ChainElement::Named(name) => name,
        }
    }
}

// One rule for what names an element, its name: however it was spelt
// (`ChainElement::Retry`, `"RETRY".into()`, `Named("RETRY")`), the chain sees one name.
impl PartialEq for ChainElement {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ChainElement {}

impl std::hash::Hash for ChainElement {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Display for ChainElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ChainElement {
    /// The built-in element `name` names, if any.
    fn built_in(name: &str) -> Option<ChainElement> {
        Some(match name {
            "REDIRECT" => ChainElement::Redirect,
            "BACK_OFF" => ChainElement::BackOff,
            "COMPRESS" => ChainElement::Compress,
            "RETRY" => ChainElement::Retry,
            "AUTH" => ChainElement::Auth,
            "PROTOCOL" => ChainElement::Protocol,
            "MAIN_TRANSPORT" => ChainElement::MainTransport,
            _ => return None,
        })
    }
}

impl From<&'static str> for ChainElement {
    /// A handler's name; the built-in names (`"RETRY"`, …) name the built-in elements.
    fn from(name: &'static str) -> Self {
        ChainElement::built_in(name).unwrap_or(ChainElement::Named(Cow::Borrowed(name)))
    }
}

impl From<String> for ChainElement {
    /// A handler's name (read from configuration, say); the built-in names name the
    /// built-in elements, as from a `&'static str`.
    fn from(name: String) -> Self {
        ChainElement::built_in(&name).unwrap_or(ChainElement::Named(Cow::Owned(name)))
    }
}

/// A change the builder makes to the default chain.
pub(crate) enum ChainOp {
    First(ChainElement, Arc<dyn ExecHandler>),
    Last(ChainElement, Arc<dyn ExecHandler>),
    Before(ChainElement, ChainElement, Arc<dyn ExecHandler>),
    After(ChainElement, ChainElement, Arc<dyn ExecHandler>),
    Replace(ChainElement, Arc<dyn ExecHandler>),
}

/// The chain as an ordered list of named handlers; the last is the main transport.
/// Apache HttpClient 5: `NamedElementChain`.
#[derive(Clone, Default)]
pub(crate) struct NamedChain {
    elements: Vec<(ChainElement, Arc<dyn ExecHandler>)>,
    /// Whether the last element is the engine's own MAIN_TRANSPORT (not one that
    /// replaced it): only that one writes the fields PROTOCOL left to the codec.
    engine_sends: bool,
}

impl NamedChain {
    pub(crate) fn push(&mut self, name: ChainElement, handler: Arc<dyn ExecHandler>) {
        self.elements.push((name, handler));
    }

    /// Pushes the engine's own MAIN_TRANSPORT, the last element.
    pub(crate) fn push_engine(&mut self, handler: Arc<super::main::MainTransport>) {
        self.elements.push((ChainElement::MainTransport, handler));
        self.engine_sends = true;
    }

    /// Whether the engine's own MAIN_TRANSPORT sends (no handler replaced it).
    pub(crate) fn engine_sends(&self) -> bool {
        self.engine_sends
    }

    pub(crate) fn handlers(&self) -> &[(ChainElement, Arc<dyn ExecHandler>)] {
        &self.elements
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &ChainElement> + '_ {
        self.elements.iter().map(|(name, _)| name)
    }

    fn position(&self, name: &ChainElement) -> Result<usize, Error> {
        self.elements
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| {
                let present: Vec<_> = self.names().map(ChainElement::name).collect();
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "no element {name} in the exec chain ({}); was it disabled?",
                        present.join(", ")
                    ),
                )
            })
    }

    fn check_new(&self, name: &ChainElement) -> Result<(), Error> {
        if self.elements.iter().any(|(n, _)| n == name) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the exec chain already has an element {name}"),
            ));
        }
        Ok(())
    }

    /// Applies one builder change. "Last" is just before the main transport: nothing
    /// after it would ever run (Apache appends after it, where no request reaches).
    pub(crate) fn apply(&mut self, op: ChainOp) -> Result<(), Error> {
        match op {
            ChainOp::First(name, handler) => {
                self.check_new(&name)?;
                self.elements.insert(0, (name, handler));
            }
            ChainOp::Last(name, handler) => {
                self.check_new(&name)?;
                let at = self.position(&ChainElement::MainTransport)?;
                self.elements.insert(at, (name, handler));
            }
            ChainOp::Before(existing, name, handler) => {
                self.check_new(&name)?;
                let at = self.position(&existing)?;
                self.elements.insert(at, (name, handler));
            }
            ChainOp::After(existing, name, handler) => {
                self.check_new(&name)?;
                if existing == ChainElement::MainTransport {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "nothing can come after MAIN_TRANSPORT: it sends the request",
                    ));
                }
                let at = self.position(&existing)?;
                self.elements.insert(at + 1, (name, handler));
            }
            ChainOp::Replace(existing, handler) => {
                let at = self.position(&existing)?;
                if existing == ChainElement::MainTransport {
                    self.engine_sends = false;
                }
                self.elements[at].1 = handler;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for NamedChain {
    /// `[REDIRECT, COMPRESS, RETRY, AUTH, PROTOCOL, MAIN_TRANSPORT]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name.name())?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Chain, Scope};
    use hcx_exec::{Body, ResponseBody};
    use http::{Request, Response};

    fn pass() -> Arc<dyn ExecHandler> {
        Arc::new(
            |request: Request<Body>,
             scope: &mut Scope<'_>,
             chain: Chain<'_>|
             -> Result<Response<ResponseBody>, Error> { chain.proceed(request, scope) },
        )
    }

    fn chain() -> NamedChain {
        let mut chain = NamedChain::default();
        for name in [
            ChainElement::Redirect,
            ChainElement::Retry,
            ChainElement::MainTransport,
        ] {
            chain.push(name, pass());
        }
        chain
    }

    fn order(chain: &NamedChain) -> String {
        chain
            .names()
            .map(ChainElement::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn handlers_go_first_last_before_after_or_replace_by_name() -> Result<(), Error> {
        let mut c = chain();
        c.apply(ChainOp::First("a".into(), pass()))?;
        c.apply(ChainOp::Last("z".into(), pass()))?;
        c.apply(ChainOp::Before(ChainElement::Retry, "b".into(), pass()))?;
        c.apply(ChainOp::After(ChainElement::Retry, "c".into(), pass()))?;
        c.apply(ChainOp::Replace("RETRY".into(), pass()))?;
        assert_eq!(order(&c), "a REDIRECT b RETRY c z MAIN_TRANSPORT");
        Ok(())
    }

    #[test]
    fn unknown_names_duplicates_and_after_the_transport_are_config_errors() {
        let mut c = chain();
        let missing = c.apply(ChainOp::Before(ChainElement::Compress, "x".into(), pass()));
        assert!(missing.is_err_and(|e| e.kind() == ErrorKind::Config
            && e.to_string().contains("COMPRESS")
            && e.to_string().contains("REDIRECT, RETRY, MAIN_TRANSPORT")));
        let twice = c.apply(ChainOp::First(ChainElement::Retry, pass()));
        assert!(twice.is_err_and(|e| e.to_string().contains("already")));
        let after = c.apply(ChainOp::After(
            ChainElement::MainTransport,
            "y".into(),
            pass(),
        ));
        assert!(after.is_err());
        assert_eq!(order(&c), "REDIRECT RETRY MAIN_TRANSPORT");
    }

    #[test]
    fn built_in_names_parse_as_the_built_in_elements() {
        assert_eq!(ChainElement::from("RETRY"), ChainElement::Retry);
        assert_eq!(ChainElement::from("mine").to_string(), "mine");
        assert_eq!(ChainElement::MainTransport.to_string(), "MAIN_TRANSPORT");
    }

    #[test]
    fn a_named_element_spelt_like_a_built_in_one_is_that_element() {
        let retry = ChainElement::Named(Cow::Borrowed("RETRY"));
        assert_eq!(retry, ChainElement::Retry);
        let mut c = chain();
        let twice = c.apply(ChainOp::First(retry.clone(), pass()));
        assert!(twice.is_err_and(|e| e.to_string().contains("already")));
        assert!(c.apply(ChainOp::Before(retry, "b".into(), pass())).is_ok());
        assert_eq!(order(&c), "REDIRECT b RETRY MAIN_TRANSPORT");
    }
}
