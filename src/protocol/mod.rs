//! OAuth: one file per endpoint or RFC concept, with no sign-in and no pages
//! for people. Imports `base`, `config` and `store`.
