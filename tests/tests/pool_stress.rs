//! The pool under load: aborts from other threads at every stage, bodies dropped
//! half-read on other threads, lease timeouts while slots come back. Every outcome
//! is checked (each answer is its own request's bytes) and the counts end consistent.

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{SAFETY, TestResult};
use hcx::{AbortHandle, Body, Client, ErrorKind, RequestConfig};
use hcx_testserver::{Reply, TestServer};
use http::Request;

/// The body the server sends for request `id`: its id, repeated, `len` bytes.
fn body_for(id: u64, len: usize) -> Vec<u8> {
    let unit = format!("<{id}>");
    unit.bytes().cycle().take(len).collect()
}

/// GETs `/id/len/framing` of `base` and checks that the answer is that request's own
/// bytes.
fn get_own(client: &Client, base: &str, id: u64, len: usize, framing: &str) -> Result<(), String> {
    let got = client
        .get(format!("{base}{id}/{len}/{framing}").as_str())
        .and_then(|r| r.into_body().into_vec())
        .map_err(|e| format!("request {id}: {e:?}"))?;
    if got != body_for(id, len) {
        return Err(format!("request {id} got another's bytes"));
    }
    Ok(())
}

/// `/id/len/framing`: answers with `body_for(id, len)`, chunked when asked.
fn echo_server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_fn(|request| {
            let mut parts = request.target.trim_start_matches('/').split('/');
            let id: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let len: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let reply = Reply::ok().body(body_for(id, len));
            match parts.next() {
                Some("chunked") => reply.chunk_size(700),
                _ => reply,
            }
        })
        .keep_requests(0)
        .start()
}

/// A cheap, deterministic per-thread sequence.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn stressed_client(per_route: usize) -> Result<Client, hcx::Error> {
    Client::builder()
        .max_per_route(per_route)
        .max_total(per_route)
        .connection_request_timeout(SAFETY)
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_drain(64 * 1024, SAFETY),
        )
        .build()
}

/// Threads send requests, each with an abort handle that another thread fires at a
/// random moment (before, while leasing, connecting, sending, reading the head or the
/// body, or never); bodies are read whole, half-read and dropped, or handed to another
/// thread to drop. Every answer read whole is its own request's; at the end nothing
/// is leased or waiting, and every connection opened is either idle or closed.
#[test]
fn aborts_at_every_stage_leak_nothing_and_never_cross_answers() -> TestResult {
    let server = echo_server()?;
    let client = stressed_client(3)?;
    let threads = 8;
    let per_thread = 60;
    let start = Arc::new(Barrier::new(threads));
    let ok = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (client, start, ok) = (client.clone(), Arc::clone(&start), Arc::clone(&ok));
            let base = server.url("/");
            thread::spawn(move || -> Result<(), String> {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 7919));
                start.wait();
                for i in 0..per_thread {
                    let id = (t * per_thread + i) as u64;
                    let len = [0usize, 10, 5000, 40_000][rng.below(4) as usize];
                    let framing = if rng.below(2) == 0 {
                        "chunked"
                    } else {
                        "length"
                    };
                    let url = format!("{base}{id}/{len}/{framing}");
                    let abort = AbortHandle::new();
                    let mut request = Request::get(url.as_str())
                        .body(Body::empty())
                        .map_err(|e| e.to_string())?;
                    request.extensions_mut().insert(abort.clone());
                    let spins = [0, 100, 1_000, 10_000, 100_000, 400_000][rng.below(6) as usize]
                        + rng.below(100);
                    let aborter = (rng.below(3) != 0).then(|| {
                        let abort = abort.clone();
                        thread::spawn(move || {
                            for _ in 0..spins {
                                std::hint::spin_loop();
                            }
                            abort.abort();
                        })
                    });
                    let outcome = client.execute(request);
                    let how = rng.below(3);
                    match outcome {
                        Ok(response) => {
                            let mut body = response.into_body();
                            match how {
                                0 => {
                                    let mut got = Vec::new();
                                    match body.read_to_end(&mut got) {
                                        Ok(_) => {
                                            if got != body_for(id, len) {
                                                return Err(format!(
                                                    "request {id} got {} bytes not its own: {:?}",
                                                    got.len(),
                                                    String::from_utf8_lossy(
                                                        &got[..got.len().min(40)]
                                                    )
                                                ));
                                            }
                                            ok.fetch_add(1, Ordering::Relaxed);
                                        }
                                        Err(e) => {
                                            let e = hcx::Error::from_io(e);
                                            if e.kind() != ErrorKind::Aborted {
                                                return Err(format!("request {id}: {e:?}"));
                                            }
                                        }
                                    }
                                }
                                1 => {
                                    let mut some = [0u8; 100];
                                    let _ = body.read(&mut some);
                                    drop(body);
                                }
                                _ => {
                                    let mut some = [0u8; 3000];
                                    let _ = body.read(&mut some);
                                    thread::spawn(move || drop(body))
                                        .join()
                                        .map_err(|_| "a drop panicked")?;
                                }
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Aborted => {}
                        Err(e) => return Err(format!("request {id}: {e:?}")),
                    }
                    if let Some(aborter) = aborter {
                        aborter.join().map_err(|_| "an aborter panicked")?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")??;
    }
    assert!(ok.load(Ordering::Relaxed) > 0, "nothing got through");
    let stats = client.stats();
    assert_eq!(stats.pool.leased, 0, "{stats:?}");
    assert_eq!(stats.pool.pending, 0, "{stats:?}");
    assert!(stats.pool.available <= 3, "{stats:?}");
    assert_eq!(
        stats.connections_opened,
        stats.closes.total() + stats.pool.available as u64,
        "every connection opened is idle or closed: {stats:?}"
    );
    client.connection_manager().pool().check_invariants()?;
    // The pooled connections still answer their own requests.
    for id in 0..10u64 {
        let got = client
            .get(server.url(&format!("/{}/{}/length", 100_000 + id, 333)))?
            .into_body()
            .into_vec()?;
        assert_eq!(got, body_for(100_000 + id, 333));
    }
    Ok(())
}

/// Lease timeouts while the pool is full and its connections come back all the while:
/// a waiter either gets a slot or times out, no slot is lost, and once the holders
/// stop every waiter left is served (no lost wake-up).
#[test]
fn lease_timeouts_racing_releases_lose_no_slot() -> TestResult {
    let server = echo_server()?;
    let client = Client::builder()
        .max_per_route(2)
        .max_total(2)
        .connection_request_timeout(Duration::from_micros(300))
        .response_timeout(Some(SAFETY))
        .build()?;
    let threads = 12;
    let start = Arc::new(Barrier::new(threads));
    let served = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (client, start, served) = (client.clone(), Arc::clone(&start), Arc::clone(&served));
            let base = server.url("/");
            thread::spawn(move || -> Result<u64, String> {
                start.wait();
                let mut timeouts = 0;
                for i in 0..80u64 {
                    let id = t as u64 * 1000 + i;
                    match client.get(format!("{base}{id}/64/length").as_str()) {
                        Ok(r) => {
                            let got = r.into_body().into_vec().map_err(|e| e.to_string())?;
                            if got != body_for(id, 64) {
                                return Err(format!("request {id} got another's bytes"));
                            }
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == ErrorKind::LeaseTimeout => timeouts += 1,
                        Err(e) => return Err(format!("request {id}: {e:?}")),
                    }
                }
                Ok(timeouts)
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")??;
    }
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    assert!(stats.pool.available <= 2, "{stats:?}");
    client.connection_manager().pool().check_invariants()?;
    assert!(served.load(Ordering::Relaxed) > 0);
    Ok(())
}

/// A route's limit changed at run time, down to 0 and up again, while threads wait for
/// its connections: every request is served in the end (a raise wakes the waiters it
/// lets in), no slot is lost, and nothing is left leased or waiting.
#[test]
fn limits_changed_under_load_wake_every_waiter_and_lose_no_slot() -> TestResult {
    let server = echo_server()?;
    let client = stressed_client(4)?;
    let route = common::route(&server.url("/"))?;
    let pool = client.connection_manager().pool().clone();
    let threads = 8;
    let per_thread = 40;
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (client, start) = (client.clone(), Arc::clone(&start));
            let base = server.url("/");
            thread::spawn(move || -> Result<(), String> {
                start.wait();
                for i in 0..per_thread {
                    let id = (t * per_thread + i) as u64;
                    get_own(&client, &base, id, 300, "length")?;
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let mut rng = Rng(12345);
    let deadline = Instant::now() + SAFETY;
    while workers.iter().any(|w| !w.is_finished()) {
        if Instant::now() > deadline {
            return Err("the workers did not finish within SAFETY".into());
        }
        let max = rng.below(5) as usize;
        pool.set_max_per_route(&route, Some(max));
        for _ in 0..rng.below(200) {
            thread::yield_now();
        }
        pool.check_invariants()?;
        if max == 0 {
            // Blocked for a moment only: the workers must get through.
            pool.set_max_per_route(&route, Some(1));
        }
    }
    pool.set_max_per_route(&route, None);
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")??;
    }
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    assert!(stats.pool.available <= 4, "{stats:?}");
    assert_eq!(
        stats.connections_opened,
        stats.closes.total() + stats.pool.available as u64,
        "{stats:?}"
    );
    pool.check_invariants()?;
    Ok(())
}

/// The manager shut down while bodies are out and requests wait for a slot: the
/// waiters fail with `Shutdown` at once, the bodies read to their end with their own
/// bytes, and their connections are closed, not pooled.
#[test]
fn a_shutdown_with_bodies_out_and_waiters_queued_ends_clean() -> TestResult {
    let server = echo_server()?;
    let client = stressed_client(2)?;
    let mut bodies = Vec::new();
    for id in 0..2u64 {
        bodies.push((
            id,
            client
                .get(server.url(&format!("/{id}/20000/chunked")))?
                .into_body(),
        ));
    }
    let waiters: Vec<_> = (0..4u64)
        .map(|i| {
            let client = client.clone();
            let url = server.url(&format!("/{}/10/length", 100 + i));
            thread::spawn(move || client.get(url.as_str()).map(|r| r.status()))
        })
        .collect();
    let deadline = std::time::Instant::now() + SAFETY;
    while client.stats().pool.pending < 4 && std::time::Instant::now() < deadline {
        thread::yield_now();
    }
    assert_eq!(client.stats().pool.pending, 4);
    client.connection_manager().shutdown();
    for waiter in waiters {
        let outcome = waiter.join().map_err(|_| "a waiter panicked")?;
        assert!(
            matches!(&outcome, Err(e) if e.kind() == ErrorKind::Shutdown),
            "{outcome:?}"
        );
    }
    // Read on other threads.
    let readers: Vec<_> = bodies
        .into_iter()
        .map(|(id, body)| thread::spawn(move || (id, body.into_vec())))
        .collect();
    for reader in readers {
        let (id, got) = reader.join().map_err(|_| "a reader panicked")?;
        assert_eq!(got?, body_for(id, 20000));
    }
    let stats = client.stats();
    assert_eq!(
        (stats.pool.leased, stats.pool.pending, stats.pool.available),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.closes.get(hcx::CloseReason::Shutdown), 2, "{stats:?}");
    server.wait_for_closed(2, SAFETY)?;
    Ok(())
}

/// `shutdown_immediate` at a random moment while threads lease, connect, send and read
/// bodies (some on other threads): every thread ends promptly, with its own bytes or
/// an error, and the pool ends empty with every connection opened closed.
#[test]
fn shutdown_immediate_at_random_moments_leaves_nothing_behind() -> TestResult {
    let server = echo_server()?;
    let mut rng = Rng(0xDEAD_BEEF);
    for round in 0..30u64 {
        let client = stressed_client(2)?;
        let threads = 5;
        let start = Arc::new(Barrier::new(threads + 1));
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let (client, start) = (client.clone(), Arc::clone(&start));
                let base = server.url("/");
                thread::spawn(move || -> Result<(), String> {
                    start.wait();
                    for i in 0..1000u64 {
                        let id = round * 1_000_000 + t * 1000 + i;
                        let len = [0usize, 50, 30_000][(i % 3) as usize];
                        let response =
                            match client.get(format!("{base}{id}/{len}/chunked").as_str()) {
                                Ok(r) => r,
                                Err(e) if e.is_shutdown() => return Ok(()),
                                Err(e) => return Err(format!("request {id}: {e:?}")),
                            };
                        let body = response.into_body();
                        let got = if i % 2 == 0 {
                            body.into_vec()
                        } else {
                            thread::spawn(move || body.into_vec())
                                .join()
                                .map_err(|_| "a reader panicked")?
                        };
                        match got {
                            Ok(got) if got == body_for(id, len) => {}
                            Ok(got) => {
                                return Err(format!(
                                    "request {id}: {} bytes, not its own",
                                    got.len()
                                ));
                            }
                            Err(e) if e.is_shutdown() => return Ok(()),
                            Err(e) => return Err(format!("request {id} body: {e:?}")),
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        start.wait();
        for _ in 0..rng.below(20_000) {
            std::hint::spin_loop();
        }
        client.connection_manager().shutdown_immediate();
        for worker in workers {
            worker.join().map_err(|_| "a worker panicked")??;
        }
        let stats = client.stats();
        assert_eq!(
            (stats.pool.leased, stats.pool.pending, stats.pool.available),
            (0, 0, 0),
            "round {round}: {stats:?}"
        );
        assert_eq!(
            stats.connections_opened,
            stats.closes.total(),
            "round {round}: {stats:?}"
        );
    }
    Ok(())
}

/// An evictor with a short idle limit closes connections while threads lease and
/// release them: no leased connection is closed under its request (every answer is
/// whole and its own), and the counts stay consistent.
#[test]
fn an_eager_evictor_racing_leases_and_releases_breaks_no_request() -> TestResult {
    let server = echo_server()?;
    let client = Client::builder()
        .max_per_route(3)
        .evict_idle_connections(Duration::from_millis(1))
        .response_timeout(Some(SAFETY))
        .connection_request_timeout(SAFETY)
        .build()?;
    let threads = 6;
    let start = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads as u64)
        .map(|t| {
            let (client, start) = (client.clone(), Arc::clone(&start));
            let base = server.url("/");
            thread::spawn(move || -> Result<(), String> {
                start.wait();
                for i in 0..60u64 {
                    let id = t * 1000 + i;
                    get_own(&client, &base, id, 2000, "chunked")?;
                    if i % 7 == 0 {
                        thread::yield_now();
                    }
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")??;
    }
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    assert_eq!(
        stats.connections_opened,
        stats.closes.total() + stats.pool.available as u64,
        "{stats:?}"
    );
    client.connection_manager().pool().check_invariants()?;
    Ok(())
}

/// Every clone of the client dropped while bodies are out on other threads: the
/// bodies read to their end with their own bytes, and their connections are then
/// closed with the pool (the server sees every connection go).
#[test]
fn bodies_outlive_their_client_and_their_connections_close_with_the_pool() -> TestResult {
    let server = echo_server()?;
    let client = Client::builder()
        .max_per_route(4)
        .evict_expired_connections()
        .response_timeout(Some(SAFETY))
        .build()?;
    let mut bodies = Vec::new();
    for id in 0..4u64 {
        bodies.push((
            id,
            client
                .get(server.url(&format!("/{id}/50000/chunked")))?
                .into_body(),
        ));
    }
    drop(client);
    let readers: Vec<_> = bodies
        .into_iter()
        .map(|(id, body)| thread::spawn(move || (id, body.into_vec())))
        .collect();
    for reader in readers {
        let (id, got) = reader.join().map_err(|_| "a reader panicked")?;
        assert_eq!(got?, body_for(id, 50000));
    }
    server.wait_for_closed(4, SAFETY)?;
    Ok(())
}

/// Threads of three users (two with a user token, one without) share a route with few
/// connections: a connection bound to one user is never lent to another, whatever the
/// interleaving.
#[test]
fn bound_connections_never_cross_users_under_load() -> TestResult {
    use std::collections::HashMap;
    use std::sync::Mutex;

    let server = echo_server()?;
    let client = stressed_client(3)?;
    // Connection id → the user it is bound to (`None`: unbound).
    let bound: Arc<Mutex<HashMap<u64, Option<String>>>> = Arc::default();
    let users = [Some("alice"), Some("bob"), None];
    let threads = 6;
    let start = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (client, start, bound) = (client.clone(), Arc::clone(&start), Arc::clone(&bound));
            let user = users[t % users.len()].map(str::to_owned);
            let base = server.url("/");
            thread::spawn(move || -> Result<(), String> {
                start.wait();
                for i in 0..50u64 {
                    let id = t as u64 * 1000 + i;
                    let mut context = hcx::chain::Context::new();
                    context.user_token = user.as_deref().map(hcx::UserToken::new);
                    let request = Request::get(format!("{base}{id}/100/length").as_str())
                        .body(Body::empty())
                        .map_err(|e| e.to_string())?;
                    let response = client
                        .execute_in(request, &mut context)
                        .map_err(|e| format!("request {id}: {e:?}"))?;
                    let info = common::info(&response);
                    {
                        // The connection is still held: nobody else can be on it.
                        let mut bound = bound.lock().map_err(|_| "poisoned")?;
                        let entry = bound.entry(info.connection_id).or_insert(None);
                        if info.reused
                            && let Some(owner) = entry.as_ref()
                            && Some(owner) != user.as_ref()
                        {
                            return Err(format!(
                                "connection {} bound to {owner} lent to {user:?}",
                                info.connection_id
                            ));
                        }
                        if user.is_some() {
                            entry.clone_from(&user);
                        }
                    }
                    let got = response
                        .into_body()
                        .into_vec()
                        .map_err(|e| format!("request {id}: {e:?}"))?;
                    if got != body_for(id, 100) {
                        return Err(format!("request {id} got another's bytes"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")??;
    }
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    client.connection_manager().pool().check_invariants()?;
    Ok(())
}

/// Two routes share a total limit below the sum of their own: while threads hammer
/// both, leased plus idle never exceeds the total, and no request starves.
#[test]
fn two_routes_under_a_total_limit_never_exceed_it() -> TestResult {
    let servers = [echo_server()?, echo_server()?];
    let client = Client::builder()
        .max_per_route(3)
        .max_total(3)
        .connection_request_timeout(SAFETY)
        .response_timeout(Some(SAFETY))
        .build()?;
    let threads = 8;
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads as u64)
        .map(|t| {
            let (client, start) = (client.clone(), Arc::clone(&start));
            let bases = [servers[0].url("/"), servers[1].url("/")];
            thread::spawn(move || -> Result<(), String> {
                start.wait();
                for i in 0..50u64 {
                    let id = t * 1000 + i;
                    let base = &bases[((t + i) % 2) as usize];
                    get_own(&client, base, id, 500, "length")?;
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let pool = client.connection_manager().pool().clone();
    let deadline = Instant::now() + SAFETY;
    while workers.iter().any(|w| !w.is_finished()) {
        if Instant::now() > deadline {
            return Err("the workers did not finish within SAFETY".into());
        }
        let (stats, _, _) = pool.snapshot();
        assert!(stats.leased + stats.available <= 3, "{stats:?}");
        thread::yield_now();
    }
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")??;
    }
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    assert!(stats.pool.available <= 3, "{stats:?}");
    pool.check_invariants()?;
    Ok(())
}
