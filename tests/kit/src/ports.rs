//! Free loopback ports for a cluster's listeners.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{Error, Result};

/// Ports of one local cluster (all on 127.0.0.1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
}

impl Ports {
    /// Asks the kernel for three distinct free ports. They are released before the components bind them,
    /// so another process may take one in between; starting a cluster retries with new ports when a bind
    /// fails.
    pub fn pick() -> Result<Ports> {
        // Hold all listeners until every port is chosen, so the three differ.
        let listeners = (0..3)
            .map(|_| {
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .map_err(|e| Error::io("bind a free port on 127.0.0.1", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let port = |i: usize| -> Result<u16> {
            listeners[i]
                .local_addr()
                .map(|a| a.port())
                .map_err(|e| Error::io("read a bound port", e))
        };
        Ok(Ports {
            etcd_client: port(0)?,
            etcd_peer: port(1)?,
            apiserver: port(2)?,
        })
    }
}
