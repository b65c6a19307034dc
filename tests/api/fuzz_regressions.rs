//! Requests schemathesis found answered wrongly (a 5xx, or a body that broke
//! the API document), each kept here as a regression test once fixed.
//! `conformance` checks every response below against the document too.
