//! Who the person is: the browser session, the sign-in methods, consent.
//! Imports the layers below `gateway`, never `gateway`.
