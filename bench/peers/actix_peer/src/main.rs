//! actix-web 4 peer: `GET /plaintext` and `GET /json` on 127.0.0.1:`--port`, one worker.
//!
//! actix still runs its accept loop on a thread of its own and keeps the `System` thread; all
//! of them are in the one process whose CPU time the harness measures. actix adds `date` and
//! `content-length` and sends no `server` header. Keep-alive is left to the OS
//! (`KeepAlive::Os`) so the idle-connection test is not cut short by actix's 5 s default.

#[path = "../../peer_args.rs"]
mod peer_args;
use actix_web::http::KeepAlive;
use actix_web::{web, App, HttpResponse, HttpServer};
use peer_args::parse_port;

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

async fn plaintext() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body("Hello, World!")
}

async fn json() -> HttpResponse {
    // Serialised per request, as TechEmpower's json test requires.
    let body = serde_json::to_vec(&Message {
        message: "Hello, World!",
    })
    .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = match parse_port() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("actix_peer: {msg}\nusage: actix_peer --port N");
            std::process::exit(2);
        }
    };
    HttpServer::new(|| {
        App::new()
            .route("/plaintext", web::get().to(plaintext))
            .route("/json", web::get().to(json))
    })
    .workers(1)
    .keep_alive(KeepAlive::Os)
    .backlog(4096)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
