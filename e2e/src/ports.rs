//! Free TCP ports on the loopback interface.
//!
//! Ports are reserved together and released together, so one call never hands out the same
//! port twice. Another process may still take a port between release and use; on a test
//! machine that window is milliseconds and the component's start failure would say so.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{Error, Result};

pub(crate) fn free_loopback_ports(count: usize) -> Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(Error::io("reserve a loopback port"))?;
    listeners
        .iter()
        .map(|l| {
            Ok(l.local_addr()
                .map_err(Error::io("read a reserved port"))?
                .port())
        })
        .collect()
}
