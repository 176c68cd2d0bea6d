//! Reading a tenant's JWKS from outside, against a real socket: one GET gives both the
//! published kids and the served revision, and a region that cannot say which revision it
//! serves has none.

use meridian_contract::{REVISION_HEADER, Revision, TenantFile};
use meridian_operator::edge::jwks::{JwksFetcher, ServedJwks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const JWKS: &str = r#"{"keys":[{"kty":"OKP","kid":"kid-1"},{"kty":"OKP","kid":"kid-2"}]}"#;

/// Answers every request on a loopback port with `status` and `headers` and the JWKS; returns
/// the URL of a JWKS there.
async fn serve(status: &'static str, headers: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/t/acme/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{JWKS}",
                JWKS.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    url
}

fn revision() -> Revision {
    Revision::of([(TenantFile::Config, &b"{}"[..])])
}

#[tokio::test]
async fn one_read_gives_the_kids_and_the_served_revision() {
    let url = serve("200 OK", format!("{REVISION_HEADER}: {}\r\n", revision())).await;
    let seen = JwksFetcher::default().fetch(&url).await;
    assert_eq!(
        seen.kids,
        Some(["kid-1".to_owned(), "kid-2".to_owned()].into())
    );
    assert_eq!(seen.revision, Some(revision()));
}

#[tokio::test]
async fn no_header_a_malformed_one_an_error_or_no_server_mean_no_served_revision() {
    let fetcher = JwksFetcher::default();
    let bare = fetcher.fetch(&serve("200 OK", String::new()).await).await;
    assert!(bare.kids.is_some() && bare.revision.is_none(), "{bare:?}");
    let malformed = serve("200 OK", format!("{REVISION_HEADER}: not-a-revision\r\n")).await;
    let malformed = fetcher.fetch(&malformed).await;
    assert!(malformed.kids.is_some() && malformed.revision.is_none());
    let failing = serve(
        "503 Service Unavailable",
        format!("{REVISION_HEADER}: {}\r\n", revision()),
    )
    .await;
    assert_eq!(fetcher.fetch(&failing).await, ServedJwks::default());

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    assert_eq!(fetcher.fetch(&gone).await, ServedJwks::default());
}
