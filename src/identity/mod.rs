//! Who the person is: the browser session, the sign-in methods, consent.
//! Imports the layers below `gateway`, never `gateway`.

pub mod approval;
pub mod authorize;
pub mod browser_session;
pub mod consent;
pub mod pages;
pub mod sign_in;
