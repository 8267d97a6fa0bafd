//! Tornado's chat demo: a chat room in one page, updated in real time over a WebSocket, with
//! long polling as the fallback.
//!
//! ```sh
//! cargo run --example chat                    # then open http://127.0.0.1:8888/ in two tabs
//! cargo run --example chat -- --port 9000 --address 0.0.0.0
//! CHAT_SECRET=a-long-random-secret cargo run --release --example chat
//! ```
//!
//! - `GET /` renders the room: the latest messages and a form (with its XSRF token) to post one.
//! - `POST /a/message/new` adds a message (field `body`; the XSRF token in the `_xsrf` field or
//!   the `X-XSRFToken` header) and wakes every waiting poll. It answers the message as JSON, or
//!   redirects to `next` (a local path) when the plain HTML form, without script, posted it.
//! - `GET /a/message/updates?cursor=ID` answers at once with the messages newer than `ID` (all
//!   cached messages without a cursor); when there are none it waits, without holding a thread,
//!   on a [`Condition`] until a post notifies it. A client that goes away stops its wait: the
//!   framework drops the handler's future and calls `on_connection_close`.
//! - `GET /a/message/status` reports the cache size, the number of waiting polls and of
//!   connected WebSockets.
//! - `GET /chatsocket` is the real-time path (Tornado's websocket chat demo): every message,
//!   posted over a WebSocket or with the form, goes at once to every connected socket as JSON
//!   `{"id": N, "body": "..."}`; a text message received on a socket is posted to the room.
//!   The page uses it when it can and falls back to long polling (and posting with `fetch`)
//!   when the socket fails. Cross-site pages cannot connect: `check_origin` keeps Tornado's
//!   same-origin rule, which is what stands in for the XSRF token on this path.
//!
//! Only the latest 200 messages are kept (in memory, in this process). `SIGTERM` or `SIGINT`
//! stops the server gracefully: waiting polls are answered (with no messages), requests in
//! flight finish, new connections are refused, and it exits with status 0.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use serde::Serialize;
use squall::escape::xhtml_escape;
use squall::locks::Condition;
use squall::prelude::*;
use squall::websocket::Message as WsMessage;

/// How many messages the room remembers.
const CACHE_SIZE: usize = 200;

/// One chat message.
#[derive(Clone, Debug, Serialize)]
struct Message {
    id: u64,
    body: String,
}

/// The room: a bounded message cache and the condition waiting polls sleep on. Lives on the
/// loop's thread (`Rc`, no locks): every handler runs there.
#[derive(Default)]
struct Room {
    cache: RefCell<VecDeque<Message>>,
    last_id: Cell<u64>,
    cond: Condition,
    /// Set when the server shuts down: polls answer at once instead of waiting.
    closing: Cell<bool>,
    /// The connected WebSockets (handles to each; they live on this loop too).
    sockets: RefCell<Vec<WebSocket>>,
}

impl Room {
    /// The cached messages newer than `cursor` (all of them for `None`), oldest first.
    fn since(&self, cursor: Option<u64>) -> Vec<Message> {
        let after = cursor.unwrap_or(0);
        self.cache
            .borrow()
            .iter()
            .filter(|m| m.id > after)
            .cloned()
            .collect()
    }

    /// Stores a message, drops the oldest beyond [`CACHE_SIZE`], and wakes every poll.
    fn add(&self, body: String) -> Message {
        let id = self.last_id.get() + 1;
        self.last_id.set(id);
        let message = Message { id, body };
        {
            let mut cache = self.cache.borrow_mut();
            cache.push_back(message.clone());
            while cache.len() > CACHE_SIZE {
                cache.pop_front();
            }
        }
        log::info!(
            "message {id} posted; waking {} poll(s), sending to {} socket(s)",
            self.cond.waiters(),
            self.sockets.borrow().len()
        );
        self.cond.notify_all();
        // A socket whose client stopped reading is closed by the framework once its unsent
        // output passes the limit; its write then fails and it leaves the room here.
        let json = serde_json::to_string(&message).unwrap_or_default();
        self.sockets
            .borrow_mut()
            .retain(|ws| ws.write_message(json.as_str()).is_ok());
        message
    }

    /// The server is shutting down: answers every waiting poll (with no messages; the page's
    /// script polls again, against whichever server is up by then) so that the shutdown need
    /// not wait out its grace period for polls that could wait forever.
    fn close(&self) {
        self.closing.set(true);
        self.cond.notify_all();
        // (The framework itself tells the WebSockets that the server is going away, with a
        // Close 1001; their pages reconnect.)
    }
}

/// The page. Messages are HTML-escaped; the script receives and sends over a WebSocket to
/// `/chatsocket`, falls back to long polling `/a/message/updates` and posting with `fetch` when
/// the socket cannot open, and to a plain form post (and a redirect back) without script.
const PAGE_HEAD: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Squall chat</title>
<style>
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
#inbox div { padding: .2em 0; border-bottom: 1px solid #eee; white-space: pre-wrap; }
#messageform input[name=body] { width: 30em; }
</style></head>
<body>
<h1>Squall chat</h1>
"#;

const PAGE_SCRIPT: &str = r#"<script>
"use strict";
const inbox = document.getElementById("inbox");
const form = document.getElementById("messageform");
let cursor = Number(inbox.dataset.cursor);
let socket = null;
let polling = false;

function show(message) {
  if (message.id <= cursor) return; // already shown (a poll and the socket may overlap)
  const div = document.createElement("div");
  div.textContent = message.body;
  inbox.appendChild(div);
  cursor = message.id;
}

// Real time: a WebSocket to /chatsocket. If it cannot open, or closes, fall back to polling.
function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let opened = false;
  socket = new WebSocket(scheme + location.host + "/chatsocket?cursor=" + cursor);
  socket.onopen = () => { opened = true; };
  socket.onmessage = (event) => show(JSON.parse(event.data));
  socket.onclose = () => {
    socket = null;
    if (opened) {
      setTimeout(connect, 2000); // it worked before: try again
    } else if (!polling) {
      poll(); // no WebSocket here (a proxy, an old browser): long polling
    }
  };
}

async function poll() {
  polling = true;
  while (socket === null) {
    try {
      const res = await fetch("/a/message/updates?cursor=" + cursor);
      if (!res.ok) throw new Error("HTTP " + res.status);
      const data = await res.json();
      data.messages.forEach(show);
    } catch (err) {
      console.log("poll failed, retrying in 2 s:", err);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  polling = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = form.elements.body.value;
  if (socket !== null && socket.readyState === WebSocket.OPEN) {
    socket.send(body);
  } else {
    const fields = new URLSearchParams(new FormData(form));
    fields.delete("next"); // answer with JSON, not a redirect
    await fetch("/a/message/new", {
      method: "POST",
      body: fields,
      headers: { "X-XSRFToken": fields.get("_xsrf") },
    });
  }
  form.elements.body.value = "";
  form.elements.body.focus();
});

if ("WebSocket" in window) connect(); else poll();
</script>
"#;

/// `GET /`: the room.
#[derive(Clone)]
struct MainHandler {
    room: Rc<Room>,
}

#[handler]
impl MainHandler {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let xsrf = cx.xsrf_form_html()?;
        let mut page = String::from(PAGE_HEAD);
        // The script's first cursor: the newest message rendered below.
        page.push_str(&format!(
            "<div id=\"inbox\" data-cursor=\"{}\">\n",
            self.room.last_id.get()
        ));
        for m in self.room.since(None) {
            page.push_str(&format!("<div>{}</div>\n", xhtml_escape(&m.body)));
        }
        page.push_str("</div>\n");
        page.push_str(&format!(
            "<form action=\"/a/message/new\" method=\"post\" id=\"messageform\">\n\
             <input type=\"text\" name=\"body\" autofocus autocomplete=\"off\">\n\
             <input type=\"submit\" value=\"Post\">\n\
             <input type=\"hidden\" name=\"next\" value=\"/\">\n{xsrf}\n</form>\n"
        ));
        page.push_str(PAGE_SCRIPT);
        page.push_str("</body></html>\n");
        cx.write(page);
        Ok(())
    }
}

/// `POST /a/message/new`: XSRF-checked by the framework before `post` runs.
#[derive(Clone)]
struct NewMessage {
    room: Rc<Room>,
}

#[handler]
impl NewMessage {
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let body = cx.argument("body")?;
        if body.is_empty() {
            return Err(HttpError::new(400).log("empty message"));
        }
        let message = self.room.add(body);
        match cx.argument_opt("next")? {
            // Only a local path: never an open redirect to another site.
            Some(next) if next.starts_with('/') && !next.starts_with("//") => cx.redirect(&next),
            _ => cx.write_json(&message),
        }
    }
}

#[derive(Serialize)]
struct Updates {
    messages: Vec<Message>,
}

/// `GET /a/message/updates?cursor=ID`: the long poll.
#[derive(Clone)]
struct MessageUpdates {
    room: Rc<Room>,
}

#[handler]
impl MessageUpdates {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let cursor = match cx.argument_opt("cursor")? {
            Some(c) if !c.is_empty() => Some(c.parse::<u64>()?),
            _ => None,
        };
        loop {
            // Register before looking, so a post in between cannot be missed.
            let wait = self.room.cond.wait();
            let messages = self.room.since(cursor);
            if !messages.is_empty() || self.room.closing.get() {
                return cx.write_json(&Updates { messages });
            }
            wait.await;
        }
    }

    /// The client left while waiting: its future (and its place among the condition's
    /// waiters) is already gone.
    fn on_connection_close(&mut self) {
        log::info!(
            "a poll's client went away ({} still waiting)",
            self.room.cond.waiters()
        );
    }
}

/// `GET /chatsocket?cursor=ID`: the real-time path. On open, the messages newer than the
/// cursor are sent (none are missed between the page and the socket); then every message of
/// the room arrives as it is posted. Text received is posted to the room.
#[derive(Clone)]
struct ChatSocket {
    room: Rc<Room>,
}

#[websocket_handler]
impl ChatSocket {
    fn open(&mut self, cx: &mut Context, ws: &WebSocket) -> Result<()> {
        let cursor = match cx.argument_opt("cursor")? {
            Some(c) if !c.is_empty() => Some(c.parse::<u64>()?),
            _ => None,
        };
        for m in self.room.since(cursor) {
            ws.write_message(serde_json::to_string(&m)?.as_str())?;
        }
        self.room.sockets.borrow_mut().push(ws.clone());
        Ok(())
    }

    fn on_message(&mut self, _ws: &WebSocket, message: WsMessage<'_>) -> Result<()> {
        match message.as_text() {
            Some(body) if !body.is_empty() => {
                self.room.add(body.to_owned());
                Ok(())
            }
            _ => Err(HttpError::new(400).log("empty or binary chat message")),
        }
    }

    fn on_close(&mut self, ws: &WebSocket, _code: Option<u16>, _reason: &str) {
        self.room.sockets.borrow_mut().retain(|s| s != ws);
    }
}

/// `GET /a/message/status`: how many messages are cached, the newest id, and how many polls
/// are waiting.
#[derive(Clone)]
struct Status {
    room: Rc<Room>,
}

#[handler]
impl Status {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write_json(&serde_json::json!({
            "messages": self.room.cache.borrow().len(),
            "last_id": self.room.last_id.get(),
            "waiters": self.room.cond.waiters(),
            "sockets": self.room.sockets.borrow().len(),
        }))
    }
}

fn make_app(room: Rc<Room>, secret: CookieSecrets) -> std::io::Result<Application> {
    let app = Application::with_settings(
        routes![
            (r"/", MainHandler { room: room.clone() }),
            (r"/a/message/new", NewMessage { room: room.clone() }),
            (r"/a/message/updates", MessageUpdates { room: room.clone() }),
            (r"/a/message/status", Status { room: room.clone() }),
            (r"/chatsocket", ChatSocket { room }),
        ],
        Settings {
            xsrf_cookies: true,
            cookie_secret: Some(secret),
            ..Settings::default()
        },
    )?;
    Ok(app)
}

fn main() -> std::io::Result<()> {
    squall::log::enable_pretty_logging(log::LevelFilter::Info);
    let args = common::Args::parse();
    // Unset: a random secret per start (logged); set but empty: refuses to start.
    let secret = common::cookie_secret("CHAT_SECRET");
    let room = Rc::new(Room::default());
    let server = make_app(room.clone(), secret)?.into_server();
    // SIGTERM or SIGINT: the server stops accepting and finishes the requests in flight; this
    // second handler of the same signals answers the long polls, which would otherwise hold
    // the shutdown for its whole grace period.
    let _answer_polls = squall::process::add_stop_signal_handler(server.io_loop(), move |_| {
        room.close();
    })?;
    server.run(args.port, &args.address)
}
