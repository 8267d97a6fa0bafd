//! Streamed request bodies (Tornado's `@stream_request_body`).
//!
//! A handler annotated `#[handler(stream_request_body)]` receives its request body piece by
//! piece in `data_received` as it arrives, instead of buffered whole: uploads larger than
//! memory go straight to disk. The handler is built when the request head arrives; its
//! optional `body_started` hook sees the head first (to open a file, or refuse with an
//! error status before any body is read). Then, once the body is complete, the usual
//! lifecycle runs on the same handler value (`prepare`, then the method) with an empty body.

use std::any::Any;

use super::handler::RequestHandler;
use crate::http1::{BodyMode, BodySink, Request};

/// The sink a streaming handler's body goes to; holds the handler until the body ends.
pub(crate) struct HandlerSink<H> {
    pub(crate) handler: H,
    failed: bool,
}

impl<H: RequestHandler> BodySink for HandlerSink<H> {
    fn data(&mut self, chunk: &[u8]) -> Result<(), u16> {
        if self.failed {
            return Err(500);
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.handler.__data_received(chunk)
        })) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                log::warn!("squall: data_received refused the body: {e}");
                self.failed = true;
                Err(e.status())
            }
            Err(_) => {
                log::error!("squall: data_received panicked");
                self.failed = true;
                Err(500)
            }
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Builds the handler for a streamed request and lets it see the head.
pub(crate) fn body_sink<H: RequestHandler>(mut handler: H, request: &Request) -> BodyMode {
    match handler.__body_started(request) {
        Ok(()) => BodyMode::Stream(Box::new(HandlerSink {
            handler,
            failed: false,
        })),
        Err(e) => {
            log::warn!("squall: body_started refused the request: {e}");
            BodyMode::Reject(e.status())
        }
    }
}

/// Takes back the handler that received a streamed body, if this request had one of type `H`.
pub(crate) fn take_handler<H: RequestHandler>(request: &mut Request) -> Option<H> {
    let sink = request.take_body_sink()?;
    sink.into_any()
        .downcast::<HandlerSink<H>>()
        .ok()
        .map(|s| s.handler)
}
