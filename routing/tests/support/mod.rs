//! What the tests that run Debian's HAProxy share: where it is, a port for it, and an upstream
//! that answers.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// HAProxy as e2e/frontdoor/install.sh installs it.
pub fn haproxy() -> &'static str {
    if Path::new("/usr/sbin/haproxy").exists() {
        "/usr/sbin/haproxy"
    } else {
        "haproxy"
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An upstream answering 200 `ok` to every request, one per connection; returns its port.
pub fn answer_ok() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    port
}

/// HAProxy run on `config`, killed when dropped.
pub struct Running(Child);

impl Running {
    /// Starts HAProxy with `mode` (`-db` in the foreground, `-W` master-worker), its log to
    /// `log` if given, and waits until it accepts on `port`.
    pub fn start(mode: &str, config: &Path, log: Option<&Path>, port: u16) -> Self {
        let mut command = Command::new(haproxy());
        command.args([mode, "-f"]).arg(config);
        if let Some(log) = log {
            command.stderr(Stdio::from(std::fs::File::create(log).unwrap()));
        }
        let running = Running(
            command
                .spawn()
                .expect("haproxy runs (install it with e2e/frontdoor/install.sh)"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "haproxy listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        running
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
