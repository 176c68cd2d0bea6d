//! Logs never carry secrets, tokens or key material, even on the paths that log the most:
//! a failed login, a replayed code, a reused refresh token and a refused configuration.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use meridian_contract::{Algorithm, KeyRing, TenantFile};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Drives every path that logs: a failed login, a reused refresh token, a replayed code and
/// a wrong client secret. Returns the code and token response it used.
async fn provoke_logged_events(issuer: &str) -> (String, serde_json::Value) {
    let url = authorize_url(issuer, "web", &[]);
    let browser = browser();
    let html = browser
        .get(url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("login_id", hidden_field(&html, "login_id")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", "a-wrong-password".to_owned()),
    ];
    browser
        .post(url.join("login").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    let (code, tokens) = user_tokens(issuer, "spa", None, "alice").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", "spa"),
    ];
    post_form(issuer, "/token", None, &form).await;
    post_form(issuer, "/token", None, &form).await;
    redeem(issuer, "spa", None, &code, Some(VERIFIER)).await;
    let wrong = Some(("web", "not-the-secret"));
    post_form(
        issuer,
        "/token",
        wrong,
        &[("grant_type", "client_credentials")],
    )
    .await;
    (code, tokens)
}

/// Refuses a key file whose bad value sits next to the PEM; returns the PEM's first line of
/// base64, which must never be logged.
fn refuse_a_key_file(server: &TestServer) -> String {
    let keys_path = server.dir.path().join(TenantFile::Keys.file_name("acme"));
    let ring: KeyRing = serde_json::from_slice(&std::fs::read(&keys_path).unwrap()).unwrap();
    let pem = ring.keys[0].private_key_pem.clone();
    // serde would quote the offending value in its message.
    let escaped = pem.replace('\n', "\\n");
    let broken = format!(r#"{{"keys":[{{"kid":1,"privateKeyPem":"{escaped}"}}]}}"#);
    std::fs::write(&keys_path, broken).unwrap();
    assert!(!server.server.config.reload(server.dir.path()));
    pem.lines().nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn no_secret_token_or_key_reaches_the_logs() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_env_filter("meridian_auth_server=trace")
        .init();
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let (code, tokens) = provoke_logged_events(&server.issuer("acme")).await;
    let pem_line = refuse_a_key_file(&server);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events = [
        "login failed",
        "refresh token reused",
        "presented twice",
        "configuration refused",
    ];
    for event in events {
        assert!(logs.contains(event), "{event} is logged:\n{logs}");
    }
    for (what, secret) in [
        ("password", PASSWORD),
        ("wrong password", "a-wrong-password"),
        ("client secret", "not-the-secret"),
        ("code", code.as_str()),
        ("access token", tokens["access_token"].as_str().unwrap()),
        ("refresh token", tokens["refresh_token"].as_str().unwrap()),
        ("private key", pem_line.as_str()),
    ] {
        assert!(
            !logs.contains(secret),
            "{what} leaked into the logs:\n{logs}"
        );
    }
}

/// The binary writes plain text when its output is a file or a pipe (a pod's log, a
/// collector): no terminal colour codes, which would land verbatim in every log line.
#[test]
fn log_lines_carry_no_colour_codes_when_not_on_a_terminal() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let free = |_| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let (listen, admin) = (free(0), free(1));
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian-auth-server"))
        .args(["--dev", "--listen", &listen, "--admin-listen", &admin])
        .arg("--config-dir")
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("MERIDIAN_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let loaded = line.contains("configuration loaded");
        seen.push(line);
        if loaded {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("configuration loaded")),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in piped logs: {seen:?}"
    );
}
