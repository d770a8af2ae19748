//! The one loop every fake AWS and vendor API of the tests runs on: a hyper HTTP/1.1 server on
//! 127.0.0.1 that answers each request with `handle`.

use bytes::Bytes;
use http_body_util::Full;
use std::future::Future;
use std::net::SocketAddr;

pub type Response = hyper::Response<Full<Bytes>>;

/// Starts the server; its address.
pub async fn serve<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let answer = handle(req);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
