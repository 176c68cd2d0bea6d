//! Free TCP ports on the loopback interface.
//!
//! A port is handed out at most once per process: tests of one binary run in parallel, and
//! once a reserved port is released the kernel may offer it to the next `bind(0)` — so two
//! tests could otherwise be given the same port, one component taking it first and the other's
//! readiness check answered by a stranger. Another process may still take a port between
//! release and use; on a test machine that window is milliseconds and the component's start
//! failure would say so.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Every port this process has handed out.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

pub(crate) fn free_loopback_ports(count: usize) -> Result<Vec<u16>> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    // Every listener stays bound until the end, so a port already handed out is not offered
    // again by the next bind.
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < count {
        if held.len() >= count + 1024 {
            return Err(Error::io("reserve a loopback port")(std::io::Error::other(
                "no loopback port left that this process has not handed out already",
            )));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(Error::io("reserve a loopback port"))?;
        let port = listener
            .local_addr()
            .map_err(Error::io("read a reserved port"))?
            .port();
        if handed_out.insert(port) {
            ports.push(port);
        }
        held.push(listener);
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_port_is_handed_out_twice() {
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            for port in free_loopback_ports(3).unwrap() {
                assert!(seen.insert(port), "port {port} handed out twice");
            }
        }
    }
}
