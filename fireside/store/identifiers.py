"""Server-assigned resource ids."""

from __future__ import annotations

import os
import time
import uuid


def new_resource_id() -> str:
    """A UUID version 7: time-ordered, so new rows land at the right edge of primary-key B-trees
    instead of at random pages (random UUIDv4 keys make inserts touch the whole index)."""
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))
