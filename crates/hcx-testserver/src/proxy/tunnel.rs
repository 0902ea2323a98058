//! A `CONNECT` tunnel: bytes relayed both ways, one thread per direction, until either
//! side closes; then both sockets are shut down, which also wakes the other direction.

use bytes::Bytes;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

/// Relays between `client` and `target` until either side closes or fails (or shutdown
/// shuts a socket down). `early` is what the client sent after its `CONNECT` head,
/// delivered to the target first. Returns once both directions have stopped.
pub(crate) fn relay(client: &TcpStream, target: &TcpStream, early: Bytes) {
    let (Ok(client_reader), Ok(target_writer)) = (client.try_clone(), target.try_clone()) else {
        close_both(client, target);
        return;
    };
    let upstream = thread::Builder::new()
        .name(String::from("hcx-testproxy-tunnel"))
        .spawn(move || {
            let (mut from, mut to) = (client_reader, target_writer);
            if to.write_all(&early).is_ok() {
                copy(&mut from, &mut to);
            }
            close_both(&from, &to);
        });
    let (mut from, mut to) = (target, client);
    if upstream.is_ok() {
        copy(&mut from, &mut to);
    }
    close_both(client, target);
    if let Ok(upstream) = upstream {
        let _ = upstream.join();
    }
}

/// Copies until end of stream or an error on either side.
fn copy(from: &mut impl Read, to: &mut impl Write) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if to.write_all(&chunk[..n]).is_err() {
            return;
        }
    }
}

fn close_both(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}
