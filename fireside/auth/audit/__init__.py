"""Audit: an AuditEvent for every access, sign-in and token request, to the store or a log stream."""

from fireside.auth.audit.events import AuditRecord, audit_event
from fireside.auth.audit.sinks import (
    AUDIT_LOGGER,
    SINK_KINDS,
    AuditSink,
    DisabledAuditSink,
    LogAuditSink,
    StoreAuditSink,
    open_audit_sink,
    write_audit_events,
)

__all__ = [
    "AUDIT_LOGGER",
    "SINK_KINDS",
    "AuditRecord",
    "AuditSink",
    "DisabledAuditSink",
    "LogAuditSink",
    "StoreAuditSink",
    "audit_event",
    "open_audit_sink",
    "write_audit_events",
]
