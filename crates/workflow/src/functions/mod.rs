//! The functions an action calls, apart from subflows (which the runner
//! itself runs): the built-in HTTP request, local processes and podman
//! containers. Processes and containers share one protocol: the input as
//! JSON on stdin, the output as JSON on stdout, stderr into the log.

pub mod child;
pub mod container;
pub mod http_request;
