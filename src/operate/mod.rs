//! The owner's tools: /admin, the cron's cleanup, the request log line.
//! Imports every layer but `edge`.
