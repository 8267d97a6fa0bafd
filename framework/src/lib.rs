//! # Squall
//!
//! A web framework in Tornado's lineage: handler types annotated with `#[handler]`, a regex
//! routing table written with `routes!`, served by an HTTP/1.1 server on a single-threaded,
//! [`polling`]-based [`IOLoop`](ioloop::IOLoop).
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

#[allow(unused_extern_crates)]
extern crate self as squall;

pub mod escape;
pub mod executor;
pub mod httputil;
pub mod ioloop;
pub mod iostream;
pub mod netutil;
pub mod process;
pub mod task;
pub mod tcpserver;
pub mod web;
