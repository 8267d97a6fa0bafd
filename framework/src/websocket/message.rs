//! The message types: borrowed ([`Message`], what `on_message` receives and `write_message`
//! takes) and owned ([`OwnedMessage`], what the client's `read_message` returns), and the
//! error of writing to a closed connection.

use std::fmt;

/// A WebSocket message: text (valid UTF-8) or binary.
///
/// `write_message` takes anything that converts into one: `&str` and `&String` are text,
/// `&[u8]`, `&Vec<u8>` and byte arrays are binary.
///
/// # Examples
///
/// ```
/// use squall::websocket::Message;
/// assert_eq!(Message::from("hi"), Message::Text("hi"));
/// assert_eq!(Message::from(&b"\x00\x01"[..]).as_bytes(), &[0, 1]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The payload's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// Whether it is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&'a str> {
        match *self {
            Message::Text(s) => Some(s),
            Message::Binary(_) => None,
        }
    }

    /// An owned copy.
    pub fn to_owned_message(&self) -> OwnedMessage {
        match *self {
            Message::Text(s) => OwnedMessage::Text(s.to_owned()),
            Message::Binary(b) => OwnedMessage::Binary(b.to_vec()),
        }
    }
}

impl<'a> From<&'a str> for Message<'a> {
    fn from(s: &'a str) -> Self {
        Message::Text(s)
    }
}

impl<'a> From<&'a String> for Message<'a> {
    fn from(s: &'a String) -> Self {
        Message::Text(s)
    }
}

impl<'a> From<&'a [u8]> for Message<'a> {
    fn from(b: &'a [u8]) -> Self {
        Message::Binary(b)
    }
}

impl<'a> From<&'a Vec<u8>> for Message<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Message::Binary(b)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Message<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Message::Binary(b)
    }
}

impl<'a> From<&'a OwnedMessage> for Message<'a> {
    fn from(m: &'a OwnedMessage) -> Self {
        m.as_message()
    }
}

/// An owned WebSocket message (what the client reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl OwnedMessage {
    /// A borrowed view.
    pub fn as_message(&self) -> Message<'_> {
        match self {
            OwnedMessage::Text(s) => Message::Text(s),
            OwnedMessage::Binary(b) => Message::Binary(b),
        }
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        self.as_message().as_text()
    }

    /// The payload's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            OwnedMessage::Text(s) => s.as_bytes(),
            OwnedMessage::Binary(b) => b,
        }
    }
}

/// Writing to a WebSocket that is closed or closing (Tornado's `WebSocketClosedError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebSocketClosed;

impl fmt::Display for WebSocketClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the WebSocket is closed")
    }
}

impl std::error::Error for WebSocketClosed {}

impl From<WebSocketClosed> for crate::web::HttpError {
    fn from(e: WebSocketClosed) -> Self {
        crate::web::HttpError::new(500).log(e.to_string())
    }
}
