//! The owner's tools: /admin, the cron's cleanup, the request log line.
//! Imports every layer but `edge`.

pub mod admin;
pub mod maintenance;
pub mod request_log;
