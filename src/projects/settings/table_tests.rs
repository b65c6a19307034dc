//! The declaration table against itself and against PostHog's API document.
