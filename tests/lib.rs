//! Shared helpers for Squall's black-box integration tests.
