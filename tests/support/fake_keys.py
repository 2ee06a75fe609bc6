"""Made-up provider keys for tests and screenshots: Replicate's shape, never a real key.

Keys are built here rather than written out, so the tree holds no key-like literals. They keep the
`r8_` + 36 letters and digits shape because redaction also recognises tokens by shape.
"""

from __future__ import annotations

import re

REPLICATE_PREFIX = "r8_"
REPLICATE_BODY = 36


def fake_replicate_token(label: str) -> str:
    """A fake token that says what it is for: `fake_replicate_token("wrong")` → r8_FAKEwrong000…"""
    body = "FAKE" + re.sub(r"[^A-Za-z0-9]", "", label)
    return REPLICATE_PREFIX + body[:REPLICATE_BODY].ljust(REPLICATE_BODY, "0")
