"""devmail: a standalone mail catcher with a Mailpit-style API."""
