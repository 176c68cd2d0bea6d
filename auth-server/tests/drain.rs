//! Draining on SIGTERM: a keep-alive connection that is idle when the drain begins is still
//! answered on its next request, told to close, and the client's following request is
//! answered on a new connection; readiness fails meanwhile. Without the drain, the graceful
//! shutdown would close the idle connection under a request already on its way.

mod common;

use std::time::Duration;

use common::*;
use meridian_contract::Algorithm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Reads one response with a body of "ok" (the liveness answer); returns its head, lowercased.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut read = Vec::new();
    let mut buffer = [0u8; 1024];
    while !read.ends_with(b"\r\n\r\nok") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert!(n > 0, "connection closed before the response: {read:?}");
        read.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8(read).unwrap().to_lowercase()
}

#[tokio::test]
async fn a_draining_server_answers_idle_keep_alive_connections_and_closes_them() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let mut stream = TcpStream::connect(server.server.addr).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    let before = read_response(&mut stream).await;
    assert!(
        !before.contains("connection: close"),
        "kept alive before the drain"
    );

    server.server.begin_drain();
    // The connection sat idle while the drain began; the next request on it is answered.
    stream.write_all(REQUEST).await.unwrap();
    let during = read_response(&mut stream).await;
    assert!(during.starts_with("http/1.1 200"), "{during}");
    assert!(during.contains("connection: close"), "{during}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "closed by the server right after"
    );

    // A real client follows: its pooled connection closes, its next request opens another.
    let issuer = server.issuer("acme");
    let form = [("grant_type", "client_credentials")];
    for _ in 0..3 {
        let (status, headers, _) =
            post_form(&issuer, "/token", Some(("svc", SVC_SECRET)), &form).await;
        assert_eq!(status, 200);
        assert_eq!(headers["connection"], "close");
    }
    let ready = http()
        .get(format!("{}/readyz", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "out of load balancers' rotation");
    server.server.shutdown().await.unwrap();
}

/// The binary itself: SIGTERM starts the drain (readiness fails at once, an idle keep-alive
/// connection is still answered and told to close), and the process exits once the drain
/// period is over, not before.
#[tokio::test]
async fn the_binary_drains_for_its_drain_period_on_sigterm_then_exits() {
    use std::process::{Command, Stdio};
    use std::time::Instant;

    const DRAIN: Duration = Duration::from_secs(2);
    let free = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (listen, admin) = (free(), free());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian-auth-server"))
        .args(["--dev", "--listen", &listen.to_string()])
        .args(["--admin-listen", &admin.to_string()])
        .args(["--drain-seconds", &DRAIN.as_secs().to_string()])
        .arg("--config-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let readyz = format!("http://{listen}/readyz");
    let status = async || {
        let answer = http().get(&readyz).send().await;
        answer.ok().map(|a| a.status().as_u16())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while status().await != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stream = TcpStream::connect(listen).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    assert!(
        !read_response(&mut stream)
            .await
            .contains("connection: close")
    );

    let terminated = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    while status().await != Some(503) {
        assert!(
            terminated.elapsed() < DRAIN,
            "readiness never failed while draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.write_all(REQUEST).await.unwrap();
    let during = read_response(&mut stream).await;
    assert!(during.starts_with("http/1.1 200"), "{during}");
    assert!(during.contains("connection: close"), "{during}");

    let exited = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            terminated.elapsed() < DRAIN + Duration::from_secs(5),
            "still running long after the drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exited.success(), "{exited}");
    assert!(
        terminated.elapsed() >= DRAIN,
        "exited after {:?}, before the {DRAIN:?} drain was over",
        terminated.elapsed()
    );
}
